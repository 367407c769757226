"""Small Leaflet controls written for these maps (no plugin, no CDN): legend, panel, locate-me."""

from __future__ import annotations

import html
import json
from typing import Any

from branca.element import MacroElement
from jinja2 import Template


class _Control(MacroElement):
    """The base of the controls below: a MacroElement with an annotated constructor."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca leaves MacroElement.__init__ unannotated


class HtmlControl(_Control):
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


class MetricScale(_Control):
    """Leaflet's own controls for readers here: a scale bar in metres only (folium's adds miles), zoom buttons
    titled in Chinese, and the attribution without Leaflet's flag (a plain credit)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            L.control.scale({imperial: false, maxWidth: 160}).addTo(map);
            if (map.zoomControl) {
                [[map.zoomControl._zoomInButton, '放大'], [map.zoomControl._zoomOutButton, '缩小']].forEach(
                    function (pair) { pair[0].title = pair[1]; pair[0].setAttribute('aria-label', pair[1]); });
            }
            if (map.attributionControl) { map.attributionControl.setPrefix('Leaflet'); }
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MetricScale"


class BundledBasemap(_Control):
    """The light basemap drawn from the bundled real data (land, sea, district lines, town names; basemap.js)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        geoSafetyBasemap({{ this._parent.get_name() }}, {{ this.source|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, source: str) -> None:
        super().__init__()
        self._name = "BundledBasemap"
        self.source = source


class TablePopup(_Control):
    """A popup table of chosen properties on every feature of its parent GeoJSON layer, written as text.

    folium's own GeoJSON popup class puts property values into ``innerHTML``; a stored name such as
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


class Label(_Control):
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


class Stops(_Control):
    """The day's numbered stops (a FeatureCollection with ``route_order``) added to its parent layer group."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        geoSafety.stops({{ this._parent.get_name() }}, {{ this.collection|tojson }}, {{ this.fields|tojson }},
                        {{ this.aliases|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, collection: dict[str, Any], fields: list[str], aliases: list[str]) -> None:
        super().__init__()
        self._name = "Stops"
        self.collection, self.fields, self.aliases = collection, fields, aliases


class DataLayers(_Control):
    """The map's data layers drawn by ``mapdata.js`` from ``source``: a URL of the app (fetched for the view,
    again when it moves) or the data itself (a file with no server behind it). ``options`` as ``geoSafety.data``
    takes them (``summary``: a district's counts, URL or data)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        geoSafety.data({{ this._parent.get_name() }}, {{ this.source|tojson }}, {{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, source: str | dict[str, Any], options: dict[str, Any] | None = None) -> None:
        super().__init__()
        self._name = "DataLayers"
        self.source, self.options = source, options or {}


class LocateControl(_Control):
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
                div.innerHTML = '<a href="#" title="定位到我的位置" aria-label="定位到我的位置" role="button">◎</a>';
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
                note.textContent = '无法定位（请允许浏览器使用位置）：' + e.message;
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


class HazardEditor(_Control):
    """Runs ``hazard_editor.js`` on this map: the zones (GeoJSON Features), the districts (code, name) for the
    list's filter, the day of the guard state and whether the user may edit."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        geoSafetyHazardEditor({{ this._parent.get_name() }}, {{ this.zones|tojson }}, {{ this.can_edit|tojson }},
                              {{ this.districts|tojson }}, {{ this.day|tojson }});
        {% endmacro %}
        """
    )

    def __init__(
        self, zones: list[dict[str, Any]], can_edit: bool, districts: list[dict[str, Any]] | None = None, day: str = ""
    ) -> None:
        super().__init__()
        self._name = "HazardEditor"
        self.zones, self.can_edit, self.districts, self.day = zones, can_edit, districts or [], day


_KINDS = (
    ("pond", "池塘"),
    ("pit", "坑塘/积水坑"),
    ("reservoir", "水库"),
    ("river", "河流"),
    ("canal", "水渠"),
    ("coast", "海岸"),
    ("beach", "海滩"),
    ("other", "其他水域"),
)
_MEASURES = (
    ("warning_sign", "警示牌"),
    ("lifebuoy", "救生圈"),
    ("rescue_rope", "救生绳"),
    ("rescue_pole", "救生杆"),
    ("fence", "围栏"),
)
_KIND_OPTIONS = "".join(f'<option value="{k}">{t}</option>' for k, t in _KINDS)
_MISSING_OPTIONS = "".join(
    f'<option value="{k}">{t}</option>'
    for k, t in (*_MEASURES, ("responsible_person", "责任人"), ("patrol", "巡查安排"))
)


def _error_slot(name: str) -> str:
    return f'<div class="gs-field-error" data-error-for="{name}" role="alert"></div>'


def _text_field(name: str, label: str, extra: str = "") -> str:
    return (
        f'<div class="gs-field" data-field="{name}"><label for="gs-f-{name}">{label}</label>'
        f'<input id="gs-f-{name}" name="{name}" {extra}>{_error_slot(name)}</div>'
    )


_WEEKDAYS = "".join(
    f'<label class="gs-day"><input type="checkbox" data-weekday="{n}"><span>{d}</span></label>'
    for n, d in enumerate("一二三四五六日", start=1)
)

#: one patrol row, cloned by the editor for each patrol
PATROL_TEMPLATE = f"""
<template id="gs-patrol-template">
  <fieldset class="gs-patrol"><legend>巡查安排 <span class="gs-patrol-no"></span></legend>
    <div class="gs-field gs-half"><label>起始日期 <input type="date" data-key="valid_from"></label>
      <div class="gs-field-error" data-error-for="valid_from" role="alert"></div></div>
    <div class="gs-field gs-half"><label>截止日期 <input type="date" data-key="valid_to"></label>
      <div class="gs-field-error" data-error-for="valid_to" role="alert"></div></div>
    <div class="gs-field"><span class="gs-label">星期</span><span class="gs-days">{_WEEKDAYS}</span>
      <div class="gs-field-error" data-error-for="weekdays" role="alert"></div></div>
    <div class="gs-field"><label class="gs-switch"><input type="checkbox" data-key="holidays">
      <span>节假日也巡查</span></label></div>
    <div class="gs-field"><label>巡查人 <input data-key="patroller" maxlength="100"></label></div>
    <button type="button" class="gs-patrol-remove">删除此巡查安排</button>
  </fieldset>
</template>
"""

HAZARD_FORM = f"""
<form id="gs-hazard-form" class="gs-hz-form" novalidate>
  <div class="gs-hz-form-head"><b class="gs-hz-form-title">未选择水域</b>
    <span class="gs-hz-form-version"></span></div>
  <div class="gs-form-error" data-error-for="_form" role="alert"></div>
  <fieldset class="gs-shape-tools"><legend>形状</legend>
    <button type="button" data-tool="vertices" aria-pressed="false">编辑顶点</button>
    <button type="button" data-tool="drag" aria-pressed="false">整体移动</button>
    <button type="button" data-tool="add-part" aria-pressed="false">添加部分</button>
    <button type="button" data-tool="add-hole" aria-pressed="false">挖洞</button>
    <button type="button" data-tool="remove-part" aria-pressed="false">删除部分或洞</button>
    <button type="button" data-tool="undo-shape">还原形状</button>
    <div class="gs-shape-info"></div>
    {_error_slot("geometry")}
  </fieldset>
  {_text_field("name", "名称（必填）", 'maxlength="200" required')}
  <div class="gs-field" data-field="kind"><label for="gs-f-kind">类型（必填）</label>
    <select id="gs-f-kind" name="kind">{_KIND_OPTIONS}</select>{_error_slot("kind")}</div>
  {_text_field("depth_m", "水深（米）", 'type="number" min="0" max="9999" step="0.1" inputmode="decimal"')}
  {_text_field("owner", "权属单位", 'maxlength="200"')}
  {_text_field("responsible_unit", "责任单位", 'maxlength="200"')}
  {_text_field("responsible_person", "责任人", 'maxlength="100"')}
  {_text_field("phone", "联系电话", 'type="tel" maxlength="40"')}
  <fieldset class="gs-measures"><legend>防护措施</legend>
    {"".join(f'<label><input type="checkbox" name="{k}"> {t}</label>' for k, t in _MEASURES)}
  </fieldset>
  <div class="gs-patrols" data-field="patrols"><div class="gs-patrol-list"></div>
    {_error_slot("patrols")}
    <button type="button" class="gs-patrol-add">添加巡查安排</button></div>
  <div class="gs-form-actions">
    <button type="submit" class="gs-save">保存</button>
    <button type="button" class="gs-cancel">取消</button>
    <button type="button" class="gs-show-history">修改历史</button>
    <button type="button" class="gs-delete">删除水域</button>
  </div>
</form>
{PATROL_TEMPLATE}
"""


def hazard_sidebar(day: str, zones: int, unguarded: int, form: bool) -> str:
    """The editor's side panel: summary and status, the zone list with its filters, the form, the history."""
    return f"""
<aside id="gs-hz-side" class="gs-hz-side">
  <header class="gs-hz-head"><h1>危险水域</h1>
    <div class="gs-hz-summary">日期 {html.escape(day)} · 水域 <b class="gs-zone-count">{zones}</b> 处，
      未落实防护 <b class="gs-unguarded-count">{unguarded}</b> 处</div>
    <div id="gs-status" role="status" aria-live="polite"></div></header>
  <nav class="gs-hz-tabs" role="tablist">
    <button type="button" role="tab" data-tab="list">水域列表</button>
    <button type="button" role="tab" data-tab="form">{"属性与形状" if form else "详细信息"}</button>
    <button type="button" role="tab" data-tab="history">修改历史</button></nav>
  <section class="gs-hz-pane" data-pane="list" id="gs-hz-list">
    <input type="search" name="q" placeholder="按名称、编号或责任人搜索" aria-label="搜索">
    <div class="gs-hz-filters">
      <label>类型 <select name="f_kind"><option value="">全部</option>{_KIND_OPTIONS}</select></label>
      <label>区县 <select name="f_district"><option value="">全部</option></select></label>
      <label>防护 <select name="f_guard"><option value="">全部</option><option value="guarded">已落实</option>
        <option value="unguarded">未落实</option></select></label>
      <label>缺少 <select name="f_missing"><option value="">不限</option><option value="any">任一项</option>
        {_MISSING_OPTIONS}</select></label>
    </div>
    <div class="gs-hz-count"></div>
    <table class="gs-hz-table"><thead><tr>
      <th><button type="button" data-sort="id">编号</button></th>
      <th><button type="button" data-sort="name">名称</button></th>
      <th><button type="button" data-sort="kind">类型</button></th>
      <th><button type="button" data-sort="district">区县</button></th>
      <th><button type="button" data-sort="missing">缺项</button></th></tr></thead><tbody></tbody></table>
    {'<p class="gs-hint">新建水域：用地图左上角的“绘制多边形”或“绘制长方形”。</p>' if form else ""}
  </section>
  <section class="gs-hz-pane" data-pane="form" id="gs-hz-form-pane">{HAZARD_FORM}</section>
  <section class="gs-hz-pane" data-pane="history" id="gs-hz-history">
    <h2 class="gs-hz-history-title">请先在列表中选择水域</h2>
    <div id="gs-hz-history-map" class="gs-hz-history-map"></div>
    <div class="gs-hz-history-legend"><span class="gs-key gs-key-old"></span>修改前
      <span class="gs-key gs-key-new"></span>修改后</div>
    <ol class="gs-hz-history-list"></ol>
  </section>
</aside>
<div id="gs-hz-conflict" class="gs-hz-conflict" role="alertdialog" aria-labelledby="gs-hz-conflict-title" hidden>
  <h2 id="gs-hz-conflict-title">保存冲突：别人已修改此水域</h2>
  <p class="gs-hz-conflict-text"></p>
  <div><span class="gs-key gs-key-mine"></span>我的修改（未保存）</div>
  <div><span class="gs-key gs-key-stored"></span>已保存的最新版本</div>
  <ul class="gs-hz-conflict-changes"></ul>
  <button type="button" class="gs-conflict-reload">放弃我的修改，载入最新版本</button>
  <button type="button" class="gs-conflict-overwrite">以我的修改覆盖最新版本</button>
</div>
"""
