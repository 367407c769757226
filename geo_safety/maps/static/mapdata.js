/* The data layers of a map page: fetched from the app's own API for the part of the map in view (and again
   when the view moves), or given whole in a file written by the command line. Needs Leaflet and map.js.

   geoSafety.data(map, source, options) → Promise resolved once the first data is drawn.
     source: a URL of this app (JSON as geo_safety.maps.viewdata.view_of writes it; bbox=west,south,east,north
             and zoom are added) or that JSON itself.
     options.summary: a URL or the object of a district's counts, written into the panel's .gs-summary-slot
             once the map's data is drawn.
   When the data is drawn the map's container gets data-gs-data="drawn", data-gs-draws (how many times the
   data was drawn: once per view fetched) and a "gs:drawn" event.

   Text from data only ever reaches the page as textContent (popups, tooltips, legend, notes). Many features
   are drawn on a canvas (one element for all), a few as SVG (one element each, styled by class). */
(function () {
  "use strict";
  var COLOUR = /^#[0-9a-fA-F]{3,8}$/;
  var CANVAS_OVER = 300;  // features in one response beyond which they are painted on a canvas

  function text(tag, value, className) {
    var node = document.createElement(tag);
    node.textContent = value == null ? "" : String(value);
    if (className) { node.className = className; }
    return node;
  }

  function colour(value, fallback) { return COLOUR.test(value || "") ? value : fallback; }

  function pathStyle(base, props) {
    var style = {};
    Object.keys(base || {}).forEach(function (k) { style[k] = base[k]; });
    if (props._fill) { style.fillColor = colour(props._fill, style.fillColor); }
    if (props._edge) { style.color = colour(props._edge, style.color); }
    if (typeof props._radius === "number") { style.radius = props._radius; }
    return style;
  }

  /* One legend built from the rows the server computed for what it sent: the same markup as the server's
     legend (maps.render.legend), painted by map.js. */
  function legendPart(rows, notes) {
    var part = text("div", null, "gs-legend-part");
    part.appendChild(text("h4", "图例"));
    rows.forEach(function (row) {
      var line = text("div", null, "gs-row");
      var sym = text("span", null, "gs-sym gs-sym-" + String(row.shape).replace(/[^a-z]/g, "") +
                     " gs-size-" + (Number(row.size) || 0));
      if (row.fill != null) { sym.setAttribute("data-fill", row.fill); }
      if (row.edge != null) { sym.setAttribute("data-edge", row.edge); }
      line.appendChild(sym);
      line.appendChild(document.createTextNode(row.label));
      part.appendChild(line);
    });
    (notes || []).forEach(function (note) { part.appendChild(text("div", note, "gs-note")); });
    window.geoSafety.paint(part);
    return part;
  }

  function bindText(layer, spec) {
    var fields = spec.popup_fields || [], aliases = spec.popup_aliases || [];
    if (fields.length) {
      layer.bindPopup(function (clicked) {
        return window.geoSafety.tableFor((clicked.feature && clicked.feature.properties) || {}, fields, aliases);
      }, {maxWidth: 320});
    }
    if (spec.label) {
      layer.bindTooltip(function (hovered) {
        var p = (hovered.feature && hovered.feature.properties) || {};
        return text("span", (spec.label_prefix || "") + (p[spec.label] == null ? "" : p[spec.label]));
      }, {sticky: true});
    }
  }

  function drawLayer(group, spec, renderer) {
    var features = spec.features || [];
    if (spec.kind === "heat") {
      if (features.length && L.heatLayer) {
        group.addLayer(L.heatLayer(features.map(function (f) {
          var c = f.geometry.coordinates;
          return [c[1], c[0], Number(f.properties.w) || 0];
        }), spec.style || {}));
      }
      return;
    }
    var layer = L.geoJSON({type: "FeatureCollection", features: features}, {
      renderer: renderer,
      style: function (feature) { return pathStyle(spec.style, feature.properties || {}); },
      pointToLayer: function (feature, latlng) {
        var style = pathStyle(spec.style, feature.properties || {});
        style.renderer = renderer;
        return L.circleMarker(latlng, style);
      }
    });
    bindText(layer, spec);
    group.addLayer(layer);
  }

  function ofSource(source, view) {
    if (typeof source !== "string") { return Promise.resolve(source); }
    var url = source;
    if (view) { url += (url.indexOf("?") >= 0 ? "&" : "?") + view; }
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}}).then(
      function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      });
  }

  function summaryInto(slot, data) {
    while (slot.firstChild) { slot.removeChild(slot.firstChild); }
    var table = text("table", null, "gs-summary");
    [["学校", data.schools], ["学生", data.students], ["溺水隐患点", data.hotspots],
     ["未达标水域", data.unguarded_zones], ["违规场所", data.violations], ["待查场所", data.premises_due],
     ["近30天检查", data.inspections_30d]].forEach(function (row, i) {
      var tr = document.createElement("tr");
      tr.appendChild(text("th", row[0]));
      tr.appendChild(text("td", row[1], "gs-" + i));
      table.appendChild(tr);
    });
    slot.appendChild(table);
    slot.appendChild(text("div", "未达标水域缺少："));
    var list = text("ul", null, "gs-missing");
    var missing = data.unguarded_by_missing || [];
    if (!missing.length) { list.appendChild(text("li", "无")); }
    missing.forEach(function (m) { list.appendChild(text("li", m.label + "：" + m.count)); });
    slot.appendChild(list);
  }

  window.geoSafety.data = function (map, source, options) {
    options = options || {};
    var container = map.getContainer();
    var groups = {}, order = [], control = null, legend = null, status = null, seq = 0, timer = null, draws = 0;
    var svg = L.svg(), canvas = L.canvas({padding: 0.5});

    function view() {
      var b = map.getBounds();
      var w = b.getWest(), s = b.getSouth(), e = b.getEast(), n = b.getNorth();
      var dx = (e - w) * 0.25, dy = (n - s) * 0.25;  // a margin: a short pan needs no new request
      var box = [Math.max(w - dx, -180), Math.max(s - dy, -90), Math.min(e + dx, 180), Math.min(n + dy, 90)];
      return "bbox=" + box.map(function (v) { return v.toFixed(5); }).join(",") + "&zoom=" + map.getZoom();
    }

    function say(message) {
      if (!status && !message) { return; }
      if (!status) {
        var c = L.control({position: "bottomleft"});
        c.onAdd = function () { status = L.DomUtil.create("div", "gs-panel gs-data-status"); return status; };
        c.addTo(map);
      }
      status.textContent = message || "";
      status.hidden = !message;
    }

    function draw(data) {
      var count = 0;
      (data.layers || []).forEach(function (spec) { count += (spec.features || []).length; });
      var renderer = count > CANVAS_OVER ? canvas : svg;
      (data.layers || []).forEach(function (spec) {
        var group = groups[spec.key];
        if (!group) {
          group = groups[spec.key] = L.featureGroup().addTo(map);
          order.push([spec.name, group]);
        }
        group.clearLayers();
        drawLayer(group, spec, renderer);
      });
      if (!control && order.length) {
        var overlays = {};
        order.forEach(function (pair) { overlays[pair[0]] = pair[1]; });
        control = L.control.layers(null, overlays, {collapsed: true}).addTo(map);
      }
      if (!legend) {
        var lc = L.control({position: "bottomright"});
        lc.onAdd = function () {
          var div = L.DomUtil.create("div", "gs-legend");
          legend = window.geoSafety.foldable(div);
          L.DomEvent.disableClickPropagation(div);
          L.DomEvent.disableScrollPropagation(div);
          return div;
        };
        lc.addTo(map);
      }
      while (legend.firstChild) { legend.removeChild(legend.firstChild); }
      legend.appendChild(legendPart((options.legend || []).concat(data.legend || []), data.notes));
      container.setAttribute("data-gs-data", "drawn");
      container.setAttribute("data-gs-features", String(count));
      container.setAttribute("data-gs-draws", String(++draws));
      container.dispatchEvent(new CustomEvent("gs:drawn", {detail: {features: count}}));
    }

    function load() {
      var mine = ++seq;
      return ofSource(source, typeof source === "string" ? view() : null).then(function (data) {
        if (mine !== seq) { return; }  // a newer view was asked for meanwhile
        say("");
        draw(data);
      }, function (error) {
        if (mine !== seq) { return; }
        say("地图数据加载失败（" + error.message + "），请检查网络后移动地图重试。");
        console.warn("map data:", error);
      });
    }

    var first = load();
    if (typeof source === "string") {
      map.on("moveend", function () {
        clearTimeout(timer);
        timer = setTimeout(load, 150);
      });
    }
    if (options.summary) {
      var counts = ofSource(options.summary, null);
      Promise.all([counts, first]).then(function (done) {
        var slot = container.querySelector(".gs-summary-slot") || document.querySelector(".gs-summary-slot");
        if (slot) { summaryInto(slot, done[0]); }
      }, function (error) {
        var slot = document.querySelector(".gs-summary-slot");
        if (slot) { slot.textContent = "统计暂时无法加载（" + error.message + "）。"; }
      });
    }
    return first;
  };
})();
