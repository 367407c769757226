/* Planners' water-zone editor: draw, edit and delete zones on the map and save them through the API.
   Served by the app (no CDN). Writes send the session cookie plus the header the API asks of browsers. */
(function () {
  "use strict";
  var KINDS = {reservoir: "水库", pond: "池塘", river: "河流", canal: "水渠", coast: "海岸", beach: "海滩",
               pit: "坑塘/积水坑", other: "其他"};
  var MEASURES = {warning_sign: "警示牌", lifebuoy: "救生圈", rescue_rope: "救生绳", rescue_pole: "救生杆",
                  fence: "围栏"};

  function esc(text) {
    var div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  function styleFor(props) {
    var guarded = props && props.guarded;
    return {color: guarded ? "#1e8449" : "#c0392b", fillColor: guarded ? "#27ae60" : "#e74c3c",
            weight: 2, fillOpacity: 0.35, className: guarded ? "gs-zone gs-guarded" : "gs-zone gs-unguarded"};
  }

  function api(method, url, body, version) {
    var headers = {"Content-Type": "application/json", "X-Requested-With": "geo-safety"};
    if (version != null) { headers["If-Match"] = '"' + version + '"'; }
    return fetch(url, {method: method, headers: headers, credentials: "same-origin",
                       body: body ? JSON.stringify(body) : undefined})
      .then(function (response) {
        if (response.status === 204) { return null; }
        return response.json().then(function (data) {
          if (!response.ok) {
            var detail = data && data.detail;
            if (Array.isArray(detail)) {
              detail = detail.map(function (d) { return (d.loc || []).join(".") + ": " + d.msg; }).join("; ");
            }
            var error = new Error(detail || ("HTTP " + response.status));
            error.status = response.status;
            throw error;
          }
          return data;
        });
      });
  }

  window.geoSafetyHazardEditor = function (map, zones, canEdit) {
    var items = new L.FeatureGroup().addTo(map);
    var panel = document.getElementById("gs-hazard-form");
    var status = document.getElementById("gs-status");
    var pending = null;  // {layer, feature|null}

    function showForm(visible) {
      panel.style.display = visible ? "block" : "none";
      panel.parentElement.style.display = visible ? "block" : "none";  // the control box around it
    }
    if (panel) { showForm(false); }

    function say(text, isError) {
      status.textContent = text;
      status.className = isError ? "gs-error" : "gs-ok";
    }

    function popupHtml(props) {
      var missing = (props.missing || []).join(", ") || "无 none";
      return '<div class="gs-popup"><b>' + esc(props.name) + "</b> (" + esc(KINDS[props.kind] || props.kind) +
        ")<br>编号 ID: " + esc(props.id) + " · 版本 v" + esc(props.version) +
        "<br>缺少 Missing: " + esc(missing) + "<br>责任人 Responsible: " + esc(props.responsible_person || "—") +
        " " + esc(props.phone || "") + (canEdit ? '<br><a href="#" class="gs-edit-props">编辑属性 Edit</a>' : "") +
        "</div>";
    }

    function attach(layer, feature) {
      layer.feature = feature;
      layer.setStyle(styleFor(feature.properties));
      layer.bindPopup(popupHtml(feature.properties));
      layer.on("popupopen", function (e) {
        var link = e.popup.getElement().querySelector(".gs-edit-props");
        if (link) {
          link.addEventListener("click", function (ev) { ev.preventDefault(); openForm(layer, layer.feature); });
        }
      });
    }

    function add(feature) {
      L.geoJSON(feature).eachLayer(function (layer) { attach(layer, feature); items.addLayer(layer); });
    }
    zones.forEach(add);

    function field(name) { return panel.querySelector('[name="' + name + '"]'); }

    function openForm(layer, feature) {
      var p = feature ? feature.properties : {};
      pending = {layer: layer, feature: feature};
      field("name").value = p.name || "";
      field("kind").value = p.kind || "pond";
      field("responsible_unit").value = p.responsible_unit || "";
      field("responsible_person").value = p.responsible_person || "";
      field("phone").value = p.phone || "";
      Object.keys(MEASURES).forEach(function (m) { field(m).checked = !!p[m]; });
      var patrol = (p.patrols || [])[0] || {};
      field("valid_from").value = patrol.valid_from || "";
      field("valid_to").value = patrol.valid_to || "";
      field("weekdays").value = (patrol.weekdays || []).join(",");
      field("holidays").checked = !!patrol.holidays;
      field("patroller").value = patrol.patroller || "";
      showForm(true);
      say(feature ? "编辑 " + feature.properties.id : "新水域：填写属性后保存 New zone: fill in and save", false);
    }

    function formProperties() {
      var props = {name: field("name").value.trim(), kind: field("kind").value,
                   responsible_unit: field("responsible_unit").value.trim() || null,
                   responsible_person: field("responsible_person").value.trim() || null,
                   phone: field("phone").value.trim() || null};
      Object.keys(MEASURES).forEach(function (m) { props[m] = field(m).checked; });
      if (field("valid_from").value || field("valid_to").value || field("weekdays").value) {
        props.patrols = [{valid_from: field("valid_from").value, valid_to: field("valid_to").value,
                          weekdays: field("weekdays").value.split(/[,，\s]+/).filter(Boolean).map(Number),
                          holidays: field("holidays").checked, patroller: field("patroller").value.trim() || null}];
      } else {
        props.patrols = [];
      }
      return props;
    }

    if (!panel) { return; }  // read-only: no form
    panel.querySelector(".gs-save").addEventListener("click", function (e) {
      e.preventDefault();
      if (!pending) { return; }
      var job = pending;
      var request;
      if (job.feature) {
        request = api("PATCH", "/api/v1/hazards/" + encodeURIComponent(job.feature.id),
                      {properties: formProperties()}, job.feature.properties.version);
      } else {
        request = api("POST", "/api/v1/hazards",
                      {type: "Feature", datum: "wgs84", geometry: job.layer.toGeoJSON().geometry,
                       properties: formProperties()});
      }
      request.then(function (saved) {
        items.removeLayer(job.layer);
        if (map.hasLayer(job.layer)) { map.removeLayer(job.layer); }
        add(saved);
        pending = null;
        showForm(false);
        say("已保存 Saved " + saved.id + " (v" + saved.properties.version + ")", false);
      }).catch(function (error) {
        say("未保存 Not saved: " + error.message, true);
      });
    });
    panel.querySelector(".gs-cancel").addEventListener("click", function (e) {
      e.preventDefault();
      if (pending && !pending.feature) { map.removeLayer(pending.layer); }
      pending = null;
      showForm(false);
      say("", false);
    });

    if (!canEdit) { return; }
    var drawControl = new L.Control.Draw({
      draw: {polygon: {allowIntersection: false, showArea: true}, rectangle: true, polyline: false,
             circle: false, marker: false, circlemarker: false},
      edit: {featureGroup: items}
    });
    map.addControl(drawControl);

    map.on(L.Draw.Event.CREATED, function (e) {
      e.layer.addTo(map);
      openForm(e.layer, null);
    });
    map.on(L.Draw.Event.EDITED, function (e) {
      e.layers.eachLayer(function (layer) {
        var f = layer.feature;
        api("PATCH", "/api/v1/hazards/" + encodeURIComponent(f.id),
            {geometry: layer.toGeoJSON().geometry, datum: "wgs84"}, f.properties.version)
          .then(function (saved) { attach(layer, saved); say("已保存形状 Saved shape of " + saved.id, false); })
          .catch(function (error) { say("未保存 Not saved " + f.id + ": " + error.message, true); });
      });
    });
    map.on(L.Draw.Event.DELETED, function (e) {
      e.layers.eachLayer(function (layer) {
        var f = layer.feature;
        api("DELETE", "/api/v1/hazards/" + encodeURIComponent(f.id), null, f.properties.version)
          .then(function () { say("已删除 Deleted " + f.id + "（历史保留 history kept）", false); })
          .catch(function (error) { items.addLayer(layer); say("未删除 Not deleted: " + error.message, true); });
      });
    });
  };
})();
