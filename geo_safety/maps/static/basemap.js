/* The light basemap a field worker gets when the bureau gave no basemap file: land, sea, district lines and
   town names drawn as vectors from the app's own GeoJSON (/api/v1/basemap/features), so it works with no
   network beyond the app. Needs basemap.css. Names are written with textContent only, never as HTML.

   geoSafetyBasemap(map, url[, options]) → Promise of {land, lines, towns} (Leaflet layers, already on the map)
   or null. Instead of a URL, the GeoJSON object itself may be given (files handed out with no server).
   options.labelMinZoom: town names from this zoom on (default 10). On a failed fetch (offline, not logged in)
   the map stays as it was and the promise resolves to null, with a console warning (not an error). */
(function () {
  "use strict";
  var LAND = {stroke: false, fill: true, fillColor: "#f3efe6", fillOpacity: 1, interactive: false};
  var LINE = {color: "#8a8a8a", weight: 1.2, opacity: 0.9, dashArray: "6 4", fill: false, interactive: false};
  var TOWN = {radius: 3, color: "#6b665c", weight: 1, fillColor: "#ffffff", fillOpacity: 1, interactive: false};

  function pane(map, name, zIndex) {
    if (!map.getPane(name)) {
      map.createPane(name).style.zIndex = String(zIndex);  // DOM property, not inline markup: CSP allows it
      map.getPane(name).style.pointerEvents = "none";
    }
    return name;
  }

  function ofClass(kind) {
    return function (feature) { return feature && feature.properties && feature.properties["class"] === kind; };
  }

  function label(name) {
    var span = document.createElement("span");
    span.textContent = name == null ? "" : String(name);
    return span;
  }

  function draw(map, data, options) {
    var minZoom = options.labelMinZoom == null ? 10 : options.labelMinZoom;
    // below tiles (200): a bureau's raster tiles cover it, missing tiles let it show through
    var under = pane(map, "gsBasemap", 150);
    var labels = pane(map, "gsBasemapLabels", 390);  // above the basemap, below the data (overlayPane, 400)
    var land = L.geoJSON(data, {filter: ofClass("land"), style: LAND, pane: under, interactive: false});
    var lines = L.geoJSON(data, {filter: ofClass("district_line"), style: LINE, pane: under, interactive: false});
    var towns = L.geoJSON(data, {
      filter: ofClass("town"),
      pane: labels,
      interactive: false,
      pointToLayer: function (feature, latlng) {
        var dot = L.circleMarker(latlng, L.extend({pane: labels}, TOWN));
        dot.bindTooltip(label(feature.properties.name), {
          permanent: true, direction: "right", className: "gs-basemap-town-label", pane: labels, interactive: false
        });
        return dot;
      }
    });
    map.getContainer().classList.add("gs-basemap-sea");
    land.addTo(map);
    lines.addTo(map);
    towns.addTo(map);
    function showLabels() {
      map.getContainer().classList.toggle("gs-basemap-labels-hidden", map.getZoom() < minZoom);
    }
    map.on("zoomend", showLabels);
    showLabels();
    return {land: land, lines: lines, towns: towns};
  }

  window.geoSafetyBasemap = function (map, url, options) {
    if (url && typeof url === "object") {  // the GeoJSON itself, e.g. inlined in a self-contained map file
      return Promise.resolve(draw(map, url, options || {}));
    }
    var request = {credentials: "same-origin", headers: {Accept: "application/geo+json"}};
    return fetch(url || "/api/v1/basemap/features", request)
      .then(function (response) {
        if (!response.ok) { throw new Error("basemap: HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) { return draw(map, data, options || {}); })
      .catch(function (err) {
        if (window.console) { console.warn("basemap not drawn:", err && err.message ? err.message : err); }
        return null;
      });
  };
}());
