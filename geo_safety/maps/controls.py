"""Small Leaflet controls written for these maps (no plugin, no CDN): legend, panel, locate-me."""

from __future__ import annotations

import json

from branca.element import MacroElement
from jinja2 import Template


class HtmlControl(MacroElement):
    """A Leaflet control showing fixed HTML (a legend or a summary panel)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var control = L.control({position: {{ this.position|tojson }}});
            control.onAdd = function () {
                var div = L.DomUtil.create('div', {{ this.css_class|tojson }});
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            control.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html: str, position: str = "bottomright", css_class: str = "gs-legend") -> None:
        super().__init__()
        self._name = "HtmlControl"
        self.html, self.position, self.css_class = html, position, css_class


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
                L.popup().setLatLng(map.getCenter())
                    .setContent('<span class="gs-locate-error">无法定位 Location unavailable: ' +
                                L.Util.template('{m}', {m: e.message}) + '</span>').openOn(map);
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "LocateControl"


def legend_html(title: str, rows: list[tuple[str, str, str]]) -> str:
    """Rows of (swatch kind 'dot' | 'ring' | 'line', colour, label)."""
    items = []
    for kind, colour, label in rows:
        if kind == "ring":
            swatch = f'<span class="gs-ring" style="border-color:{colour}"></span>'
        elif kind == "line":
            swatch = f'<span class="gs-swatch" style="background:{colour};height:3px;border-radius:0"></span>'
        else:
            swatch = f'<span class="gs-swatch" style="background:{colour}"></span>'
        items.append(f"<div>{swatch}{label}</div>")
    return f"<h4>{title}</h4>" + "".join(items)


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
<div id="gs-hazard-form" style="display:none">
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
