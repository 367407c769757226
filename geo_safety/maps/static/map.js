/* The map pages' own helpers, served by the app (no CDN, no inline handlers).
   Text from data is only ever put on screen with textContent: a name like "<img onerror=…>" shows as typed.
   Colours arrive as data-colour attributes and are set through the DOM, so the pages need no inline style. */
(function () {
  "use strict";
  var COLOUR = /^#[0-9a-fA-F]{3,8}$/;

  function text(tag, value, className) {
    var node = document.createElement(tag);
    node.textContent = value == null ? "" : String(value);
    if (className) { node.className = className; }
    return node;
  }

  /* Paint every [data-colour] swatch below root with its colour (background, or border for rings), and every
     legend symbol with its data-fill / data-edge (a heat ramp's fill is its colours separated by spaces). */
  function paint(root) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-colour]"), function (node) {
      var colour = node.getAttribute("data-colour");
      if (!COLOUR.test(colour)) { return; }
      if (node.classList.contains("gs-ring")) { node.style.borderColor = colour; }
      else { node.style.background = colour; }
    });
    Array.prototype.forEach.call(root.querySelectorAll(".gs-sym"), function (node) {
      var fill = (node.getAttribute("data-fill") || "").split(" ").filter(function (c) { return COLOUR.test(c); });
      var edge = node.getAttribute("data-edge");
      if (fill.length > 1) { node.style.background = "linear-gradient(to right, " + fill.join(", ") + ")"; }
      else if (fill.length === 1) { node.style.background = fill[0]; }
      if (edge && COLOUR.test(edge)) { node.style.borderColor = edge; }
    });
  }

  /* Buttons that jump the map to data-bounds; legend parts that follow the chosen base layer (data-layer). */
  function wire(map, div) {
    Array.prototype.forEach.call(div.querySelectorAll(".gs-jump"), function (button) {
      L.DomEvent.on(button, "click", function () { map.fitBounds(JSON.parse(button.getAttribute("data-bounds"))); });
    });
    var parts = div.querySelectorAll("[data-layer]");
    if (!parts.length) { return; }
    function show(name) {
      Array.prototype.forEach.call(parts, function (part, i) {
        part.hidden = name == null ? i > 0 : part.getAttribute("data-layer") !== name;
      });
    }
    show(null);
    map.on("baselayerchange", function (event) { show(event.name); });
  }

  /* A popup table of the feature's properties: one row per field that has a value. */
  function tableFor(props, fields, aliases) {
    var wrap = text("div", null, "gs-popup");
    var table = document.createElement("table");
    fields.forEach(function (field, i) {
      var value = props[field];
      if (value == null || value === "") { return; }
      var row = document.createElement("tr");
      row.appendChild(text("th", aliases[i] || field));
      row.appendChild(text("td", value, "gs-" + field.replace(/[^a-z0-9_-]/gi, "")));
      table.appendChild(row);
    });
    wrap.appendChild(table);
    return wrap;
  }

  function props(layer) { return (layer && layer.feature && layer.feature.properties) || {}; }

  /* A legend that folds to one button: on a phone (narrow screen) it starts folded, so the map is not hidden
     behind it; the button shows or hides the rest. Returns the element its content goes into. */
  function foldable(div) {
    var button = text("button", "图例", "gs-fold");
    var body = text("div", null, "gs-fold-body");
    button.type = "button";
    div.appendChild(button);
    div.appendChild(body);
    function set(folded) {
      div.classList.toggle("gs-folded", folded);
      button.setAttribute("aria-expanded", String(!folded));
      button.textContent = folded ? "图例 ▸" : "图例 ▾";
    }
    set(window.matchMedia("(max-width: 600px)").matches);
    L.DomEvent.on(button, "click", function () { set(!div.classList.contains("gs-folded")); });
    return body;
  }

  window.geoSafety = {
    paint: paint,
    foldable: foldable,
    tableFor: tableFor,
    /* Bind a popup table to every feature of a GeoJSON layer. */
    table: function (layer, fields, aliases) {
      layer.bindPopup(function (clicked) { return tableFor(props(clicked), fields, aliases); }, {maxWidth: 320});
    },
    /* Bind a one-line tooltip: a property's value, after an optional fixed prefix. */
    label: function (layer, field, prefix) {
      layer.bindTooltip(function (hovered) {
        return text("span", (prefix || "") + (props(hovered)[field] == null ? "" : props(hovered)[field]));
      }, {sticky: true});
    },
    /* A fixed HTML control (legend, summary) built by the server from escaped values. */
    control: function (map, position, className, markup) {
      var control = L.control({position: position});
      control.onAdd = function () {
        var div = L.DomUtil.create("div", className);
        var body = /(^| )gs-legend( |$)/.test(className) ? foldable(div) : div;
        body.innerHTML = markup;  // written by the server, every value from data escaped there
        paint(div);
        wire(map, div);
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
      };
      control.addTo(map);
      return control;
    },
    /* Numbered stops of a plan: a marker per feature with its number, a popup table and its name as tooltip. */
    stops: function (group, collection, fields, aliases) {
      (collection.features || []).forEach(function (feature) {
        var p = feature.properties || {};
        // a stop already visited today keeps its place, ticked off
        var sign = {pass: "✓", fail: "✗"}[p.result] || "·";
        var icon = text("div", p.done ? String(p.route_order) + sign : p.route_order,
                        "gs-due" + (p.violation ? " gs-violation" : "") +
                        (p.done ? " gs-done gs-result-" + String(p.result || "pass").replace(/[^a-z_]/g, "") : ""));
        if (!p.done && COLOUR.test(p._fill || "")) { icon.style.background = p._fill; }
        var c = feature.geometry.coordinates;
        var marker = L.marker([c[1], c[0]], {
          icon: L.divIcon({html: icon, className: "gs-due-icon", iconSize: [28, 28], iconAnchor: [14, 14]}),
          title: String(p.route_order) + ". " + (p.name || "")
        });
        marker.feature = feature;
        marker.bindPopup(tableFor(p, fields, aliases), {maxWidth: 320});
        marker.bindTooltip(text("span", String(p.route_order) + ". " + (p.name || "")));
        group.addLayer(marker);
      });
    }
  };
})();
