"""Small Leaflet controls written for these maps (no plugin, no CDN): legend, panel, locate-me."""

from __future__ import annotations

import html
import json

from branca.element import MacroElement
from jinja2 import Template


class HtmlControl(MacroElement):
    """A Leaflet control showing fixed HTML (a legend or a summary panel) that we built with escaped values."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        geoSafety.control({{ this._parent.get_name() }}, {{ this.position|tojson }}, {{ this.css_class|tojson }},
                          {{ this.html|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, html: str, position: str = "bottomright", css_class: str = "gs-legend") -> None:
        super().__init__()
        self._name = "HtmlControl"
        self.html, self.position, self.css_class = html, position, css_class


class TablePopup(MacroElement):
    """A popup table of chosen properties on every feature of its parent GeoJSON layer, written as text.

    folium's ``GeoJsonPopup`` puts property values into ``innerHTML``; a stored name such as
    ``<img src=x onerror=…>`` would run. Here values only ever become ``textContent`` (``map.js``).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        geoSafety.table({{ this._parent.get_name() }}, {{ this.fields|tojson }}, {{ this.aliases|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, fields: list[str], aliases: list[str]) -> None:
        super().__init__()
        self._name = "TablePopup"
        self.fields, self.aliases = fields, aliases


class Label(MacroElement):
    """A tooltip of one property (after a fixed prefix) on every feature of its parent GeoJSON layer, as text."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        geoSafety.label({{ this._parent.get_name() }}, {{ this.field|tojson }}, {{ this.prefix|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, field: str, prefix: str = "") -> None:
        super().__init__()
        self._name = "Label"
        self.field, self.prefix = field, prefix


class Stops(MacroElement):
    """The day's numbered stops (a FeatureCollection with ``route_order``) added to its parent layer group."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        geoSafety.stops({{ this._parent.get_name() }}, {{ this.collection|tojson }}, {{ this.fields|tojson }},
                        {{ this.aliases|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, collection: dict, fields: list[str], aliases: list[str]) -> None:
        super().__init__()
        self._name = "Stops"
        self.collection, self.fields, self.aliases = collection, fields, aliases


class LocateControl(MacroElement):
    """'Where am I': Leaflet's own geolocation, drawn as an accuracy circle. Phones give WGS84, like the map."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var mark = null;
            var control = L.control({position: 'topleft'});
            control.onAdd = function () {
                var div = L.DomUtil.create('div', 'leaflet-bar gs-locate');
                div.innerHTML = '<a href="#" title="定位 Locate me" role="button">◎</a>';
                L.DomEvent.on(div, 'click', function (e) {
                    L.DomEvent.preventDefault(e);
                    map.locate({setView: true, maxZoom: 17, enableHighAccuracy: true});
                });
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            control.addTo(map);
            map.on('locationfound', function (e) {
                if (mark) { map.removeLayer(mark); }
                mark = L.circle(e.latlng, {radius: e.accuracy, color: '#1f5fbf', weight: 1}).addTo(map);
            });
            map.on('locationerror', function (e) {
                var note = document.createElement('span');
                note.className = 'gs-locate-error';
                note.textContent = '无法定位 Location unavailable: ' + e.message;
                L.popup().setLatLng(map.getCenter()).setContent(note).openOn(map);
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "LocateControl"


def legend_html(title: str, rows: list[tuple[str, str, str]]) -> str:
    """Rows of (swatch kind 'dot' | 'ring' | 'line', colour, label); colours are painted by ``map.js``.

    >>> legend_html("图例", [("ring", "#5b2c6f", "违规 <b>")])
    '<h4>图例</h4><div><span class="gs-ring" data-colour="#5b2c6f"></span>违规 &lt;b&gt;</div>'
    """
    classes = {"ring": "gs-ring", "line": "gs-swatch gs-line", "dot": "gs-swatch"}
    items = [
        f'<div><span class="{classes[kind]}" data-colour="{html.escape(colour)}"></span>{html.escape(label)}</div>'
        for kind, colour, label in rows
    ]
    return f"<h4>{html.escape(title)}</h4>" + "".join(items)


def to_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


class HazardEditor(MacroElement):
    """Runs ``hazard_editor.js`` on this map with the zones (GeoJSON Features) and whether the user may edit."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        geoSafetyHazardEditor({{ this._parent.get_name() }}, {{ this.zones|tojson }}, {{ this.can_edit|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, zones: list[dict], can_edit: bool) -> None:
        super().__init__()
        self._name = "HazardEditor"
        self.zones, self.can_edit = zones, can_edit


HAZARD_FORM = """
<div id="gs-hazard-form" hidden>
  <h4>水域属性 Zone</h4>
  <label>名称 Name <input name="name" required></label>
  <label>类型 Kind <select name="kind">
    <option value="pond">池塘 pond</option><option value="pit">坑塘 pit</option>
    <option value="reservoir">水库 reservoir</option><option value="river">河流 river</option>
    <option value="canal">水渠 canal</option><option value="coast">海岸 coast</option>
    <option value="beach">海滩 beach</option><option value="other">其他 other</option></select></label>
  <label>责任单位 Unit <input name="responsible_unit"></label>
  <label>责任人 Person <input name="responsible_person"></label>
  <label>电话 Phone <input name="phone"></label>
  <fieldset><legend>防护措施 Measures</legend>
    <label><input type="checkbox" name="warning_sign"> 警示牌</label>
    <label><input type="checkbox" name="lifebuoy"> 救生圈</label>
    <label><input type="checkbox" name="rescue_rope"> 救生绳</label>
    <label><input type="checkbox" name="rescue_pole"> 救生杆</label>
    <label><input type="checkbox" name="fence"> 围栏</label></fieldset>
  <fieldset><legend>巡查 Patrol</legend>
    <label>从 From <input name="valid_from" type="date"></label>
    <label>至 To <input name="valid_to" type="date"></label>
    <label>星期 Weekdays (1-7) <input name="weekdays" placeholder="6,7"></label>
    <label><input type="checkbox" name="holidays"> 节假日 holidays</label>
    <label>巡查人 Patroller <input name="patroller"></label></fieldset>
  <button class="gs-save" type="button">保存 Save</button> <button class="gs-cancel" type="button">取消</button>
</div>
"""
