/* Planners' water-zone editor: find zones (list, search, filters, a URL per zone), edit their shapes with
   Leaflet-Geoman (vertices of every part, parts, holes, moving), edit every attribute, save with If-Match,
   settle a stale version, and read each zone's history. Served by the app (no CDN, no inline script or style).
   Text from data only ever reaches the page through textContent or input values. */
(function () {
  "use strict";

  var KINDS = {pond: "池塘", pit: "坑塘/积水坑", reservoir: "水库", river: "河流", canal: "水渠", coast: "海岸",
               beach: "海滩", other: "其他水域"};
  var MEASURES = {warning_sign: "警示牌", lifebuoy: "救生圈", rescue_rope: "救生绳", rescue_pole: "救生杆",
                  fence: "围栏"};
  var MISSING = Object.assign({responsible_person: "责任人", patrol: "巡查安排"}, MEASURES);
  var FIELDS = Object.assign({name: "名称", kind: "类型", depth_m: "水深（米）", owner: "权属单位",
                              responsible_unit: "责任单位", responsible_person: "责任人", phone: "联系电话",
                              patrols: "巡查安排", note: "备注", district_code: "所属区县", geometry: "形状",
                              deleted_at: "删除时间", id: "编号"}, MEASURES);
  var TEXT_FIELDS = ["name", "owner", "responsible_unit", "responsible_person", "phone"];
  var ACTIONS = {create: "新建", update: "修改", "delete": "删除", restore: "恢复", baseline: "初始记录"};
  var WEEKDAYS = ["", "一", "二", "三", "四", "五", "六", "日"];
  /* Chinese text for each stable error code of the API; an unknown code falls back to the server's detail. */
  var CODE_TEXT = {
    "zone.invalid_geometry": "形状无效：边线自相交，或部分、洞相互重叠。请调整顶点，或选择“自动修复后保存”。",
    "zone.not_geojson": "形状数据无法识别。",
    "zone.geometry_type": "水域必须是多边形。",
    "zone.too_small": "面积不足 10 平方米，不能作为水域。",
    "zone.too_big": "面积超过 100 平方公里，请检查形状。",
    "zone.too_many_vertices": "顶点超过 20,000 个，请简化形状或拆分为几个水域。",
    "zone.outside_service_area": "形状位于本市服务范围之外。",
    "zone.no_service_area": "尚未载入行政区界，暂时无法保存水域。",
    "zone.outside_scope": "该水域不在您负责的区县内，您无权保存。",
    "zone.crosses_district": "该水域延伸进其他区县；只有全市权限的规划员可以跨区县绘制。",
    "zone.not_found": "找不到该水域（可能已被删除，或不在您负责的区县内）。",
    "zone.deleted": "该水域已被删除，可在修改历史中查看。",
    "version.stale": "别人已修改此水域，您的修改尚未保存。",
    "version.required": "保存时缺少版本号，请刷新页面后重试。",
    "version.malformed": "版本号格式不正确，请刷新页面后重试。",
    "validation.name.required": "请填写名称。",
    "validation.name": "名称无效。",
    "validation.kind.required": "请选择类型。",
    "validation.kind": "类型无效，请从列表中选择。",
    "validation.depth_m": "水深应为 0 到 9999 米之间的数字。",
    "validation.patrols": "巡查安排有误：请检查日期与星期。",
    "validation.unknown_property": "提交了无法识别的属性，请刷新页面后重试。",
    "validation.invalid": "输入无效，请检查后重试。",
    "validation.request": "请求格式无效，请刷新页面后重试。",
    "validation.category": "取值不在允许的列表中。",
    "auth.unauthenticated": "登录已过期，请重新登录。",
    "auth.forbidden": "您的账号无权进行此操作。",
    "not_found": "找不到请求的对象。",
    "request.too_large": "提交的内容过大。",
    "request.too_many": "请求过于频繁，请稍后再试。",
    "request.timeout": "请求超时，请稍后再试。",
    "request.out_of_range": "输入的日期或数字超出范围。",
    "service.database_unavailable": "数据库暂时不可用，请稍后再试。",
    "service.busy": "服务繁忙，请稍后再试。",
    "internal": "服务器内部错误（已记录），请稍后再试或联系管理员。",
    "network": "无法连接服务器，请检查网络后重试。"
  };
  /* Geoman's own zh texts, completed with the strings its zh file lacks (Geoman falls back to English for them). */
  var GEOMAN_ZH = {
    tooltips: {placeMarker: "单击放置标记", placeMarkerTouch: "点击地图放置标记", firstVertex: "单击放置首个顶点",
               continueLine: "单击继续绘制", finishLine: "单击任一已有顶点以完成", finishPoly: "单击第一个顶点以完成",
               finishRect: "单击完成", startCircle: "单击放置圆心", finishCircle: "单击完成圆形",
               placeCircleMarker: "单击放置圆形标记", placeText: "单击放置文字",
               selectFirstLayerFor: "选择第一个图层以{action}", selectSecondLayerFor: "选择第二个图层以{action}"},
    actions: {finish: "完成", cancel: "取消", removeLastVertex: "撤销最后一个顶点"},
    buttonTitles: {drawMarkerButton: "绘制标记", drawPolyButton: "绘制多边形", drawLineButton: "绘制线段",
                   drawCircleButton: "绘制圆形", drawRectButton: "绘制长方形", editButton: "编辑图层",
                   dragButton: "拖拽图层", cutButton: "剪切图层", deleteButton: "删除图层",
                   drawCircleMarkerButton: "绘制圆形标记", snappingButton: "将拖动的顶点吸附到其他图层和顶点",
                   pinningButton: "将共享顶点固定在一起", rotateButton: "旋转图层", drawTextButton: "绘制文字",
                   scaleButton: "缩放图层", autoTracingButton: "自动描线", snapGuidesButton: "显示对齐辅助线",
                   unionButton: "合并图层", differenceButton: "相减图层"},
    measurements: {totalLength: "总长度", segmentLength: "线段长度", area: "面积", radius: "半径",
                   perimeter: "周长", height: "高", width: "宽", coordinates: "位置", coordinatesMarker: "标记位置"}
  };
  var TOOL_HINTS = {
    vertices: "拖动顶点修改形状；拖动边线中点可增加顶点；右键单击顶点可删除。每个部分和洞都可编辑。",
    drag: "按住水域拖动到新位置。",
    "add-part": "在地图上绘制新的部分，单击第一个顶点完成。",
    "add-hole": "在水域某一部分的内部绘制洞（如岛屿），单击第一个顶点完成。",
    "remove-part": "单击要删除的部分或洞。"
  };
  var STYLE_SELECTED = {color: "#1f5fbf", weight: 4, dashArray: null};
  var STYLE_MINE = {color: "#e67e22", weight: 3, dashArray: "6 4", fillColor: "#e67e22", fillOpacity: 0.25};
  var STYLE_STORED = {color: "#1f5fbf", weight: 3, dashArray: null, fillColor: "#1f5fbf", fillOpacity: 0.2,
                      interactive: false};
  var TIME = new Intl.DateTimeFormat("zh-CN", {timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
                                              day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23"});

  /* ---------------------------------------------------------------- small helpers */
  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text != null) { node.textContent = String(text); }
    if (className) { node.className = className; }
    return node;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function q(root, selector) { return root.querySelector(selector); }
  function qa(root, selector) { return Array.prototype.slice.call(root.querySelectorAll(selector)); }
  function when(iso) { return iso ? TIME.format(new Date(iso)) + "（北京时间）" : "—"; }

  function styleFor(props) {
    var guarded = props && props.guarded;
    return {color: guarded ? "#1e8449" : "#c0392b", fillColor: guarded ? "#27ae60" : "#e74c3c", weight: 2,
            fillOpacity: 0.35, dashArray: null};
  }

  /* GeoJSON (Multi)Polygon -> Leaflet latlngs, always as parts -> rings -> points (a "multi" L.Polygon). */
  function toLatLngs(geometry) {
    if (!geometry) { return []; }
    if (geometry.type === "Polygon") { return [L.GeoJSON.coordsToLatLngs(geometry.coordinates, 1)]; }
    return L.GeoJSON.coordsToLatLngs(geometry.coordinates, 2);
  }
  function copyLatLngs(value) {
    return Array.isArray(value) ? value.map(copyLatLngs) : L.latLng(value.lat, value.lng);
  }
  function partsOf(layer) {
    var latlngs = layer.getLatLngs();
    return latlngs.length && !Array.isArray(latlngs[0][0]) ? [latlngs] : latlngs;  // a flat polygon: one part
  }
  function geometryOf(layer) {
    return {type: "MultiPolygon", coordinates: partsOf(layer).map(function (part) {
      return part.map(function (ring) {
        var coords = ring.map(function (p) { return [+p.lng.toFixed(7), +p.lat.toFixed(7)]; });
        if (coords.length) { coords.push(coords[0].slice()); }
        return coords;
      });
    })};
  }
  /* Area of a ring on the sphere (m²), as Leaflet.draw and Turf approximate it. */
  function ringArea(ring) {
    var r = 6378137, area = 0, n = ring.length, d2r = Math.PI / 180;
    for (var i = 0; i < n; i++) {
      var a = ring[i], b = ring[(i + 1) % n];
      area += (b.lng - a.lng) * d2r * (2 + Math.sin(a.lat * d2r) + Math.sin(b.lat * d2r));
    }
    return Math.abs(area * r * r / 2);
  }
  function describeParts(parts) {
    var holes = 0, area = 0;
    parts.forEach(function (part) {
      part.forEach(function (ring, i) { area += i ? -ringArea(ring) : ringArea(ring); if (i) { holes += 1; } });
    });
    var size = area >= 1e6 ? "约 " + (area / 1e6).toFixed(2) + " 平方公里" : "约 " + Math.round(area) + " 平方米";
    return parts.length + " 个部分" + (holes ? "，" + holes + " 个洞" : "") + "，" + size;
  }
  function describeGeometry(geometry) { return geometry ? describeParts(toLatLngs(geometry)) : "（无）"; }

  function inRing(latlng, ring) {
    var inside = false, x = latlng.lng, y = latlng.lat;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i].lng, yi = ring[i].lat, xj = ring[j].lng, yj = ring[j].lat;
      if (((yi > y) !== (yj > y)) && (x < (xj - xi) * (y - yi) / (yj - yi) + xi)) { inside = !inside; }
    }
    return inside;
  }

  /* Values as the API stores them, for comparing what changed. */
  function normPatrols(list) {
    return (list || []).map(function (p) {
      return {valid_from: p.valid_from || "", valid_to: p.valid_to || "",
              weekdays: (p.weekdays || []).map(Number).sort(), holidays: !!p.holidays,
              patroller: (p.patroller || "").trim() || null};
    });
  }
  function norm(key, value) {
    if (key === "patrols") { return JSON.stringify(normPatrols(value)); }
    if (key === "depth_m") { return value == null || value === "" ? null : Number(value); }
    if (MEASURES[key]) { return !!value; }
    if (typeof value === "string") { return value.trim() || null; }
    return value == null ? null : value;
  }
  function formatValue(key, value, districts) {
    if (key === "geometry") { return describeGeometry(value); }
    if (value == null || value === "") { return "（空）"; }
    if (MEASURES[key]) { return value ? "有" : "无"; }
    if (key === "kind") { return KINDS[value] || value; }
    if (key === "district_code") { return (districts[value] ? districts[value] + " " : "") + value; }
    if (key === "deleted_at" || key === "updated_at") { return when(value); }
    if (key === "patrols") {
      var list = typeof value === "string" ? JSON.parse(value) : value;
      if (!list.length) { return "（无）"; }
      return list.map(function (p, i) {
        var days = (p.weekdays || []).map(function (d) { return WEEKDAYS[d]; }).join("、");
        return "第 " + (i + 1) + " 条：" + p.valid_from + " 至 " + p.valid_to + "，" +
          (days ? "每周" + days : "不按星期") + (p.holidays ? "，节假日巡查" : "") +
          (p.patroller ? "，巡查人 " + p.patroller : "");
      }).join("；");
    }
    return String(value);
  }

  /* One request to the API: resolves to {ok, status, code, detail, data}; never rejects. */
  function api(method, url, body, version) {
    var headers = {"X-Requested-With": "geo-safety", "Accept": "application/json"};
    if (body) { headers["Content-Type"] = "application/json"; }
    if (version != null) { headers["If-Match"] = '"' + version + '"'; }
    return fetch(url, {method: method, headers: headers, credentials: "same-origin",
                       body: body ? JSON.stringify(body) : undefined})
      .then(function (response) {
        if (response.status === 204) { return {ok: true, status: 204, data: null}; }
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (response.ok) { return {ok: true, status: response.status, data: data}; }
          var detail = data && data.detail;
          if (Array.isArray(detail)) {
            detail = detail.map(function (d) { return (d.loc || []).join(".") + ": " + d.msg; }).join("; ");
          }
          return {ok: false, status: response.status, code: (data && data.code) || "http." + response.status,
                  detail: detail || "", data: data};
        });
      }, function () { return {ok: false, status: 0, code: "network", detail: ""}; });
  }
  function errorText(result) {
    var text = CODE_TEXT[result.code] || result.detail || CODE_TEXT.internal;
    return text + "（错误代码 " + result.code + "）";
  }

  /* ---------------------------------------------------------------- the editor */
  window.geoSafetyHazardEditor = function (map, zones, canEdit, districtList, day) {
    var side = document.getElementById("gs-hz-side");
    var form = document.getElementById("gs-hazard-form");
    var status = document.getElementById("gs-status");
    var conflictBox = document.getElementById("gs-hz-conflict");
    var listPane = document.getElementById("gs-hz-list");
    var historyPane = document.getElementById("gs-hz-history");
    var districts = {};
    (districtList || []).forEach(function (d) { districts[d.code] = d.name; });
    var items = L.featureGroup().addTo(map);
    var byId = {};          // id -> {feature, layer}
    var session = null;     // the zone open in the form: {id, layer, feature, base, shapeChanged, isNew}
    var tool = null;        // the active shape tool
    var conflict = null;    // {stored, layer} while a stale save is shown
    var mark = null;        // where the server found a self-intersection
    var sort = {key: "name", dir: 1};
    var historyMap = null, historyLayers = null;
    var viewKey = "gs-hz-view|" + (new URLSearchParams(location.search).get("district") || "");

    document.body.classList.add("gs-hz");
    map.invalidateSize();
    chineseControls();

    function say(text, kind) {
      status.textContent = text || "";
      status.className = kind ? "gs-" + kind : "";
    }

    /* -------- tabs */
    function showTab(name) {
      qa(side, ".gs-hz-tabs [data-tab]").forEach(function (b) {
        b.setAttribute("aria-selected", b.getAttribute("data-tab") === name ? "true" : "false");
      });
      qa(side, ".gs-hz-pane").forEach(function (pane) { pane.hidden = pane.getAttribute("data-pane") !== name; });
      if (name === "history") { loadHistory(); }
    }
    qa(side, ".gs-hz-tabs [data-tab]").forEach(function (b) {
      b.addEventListener("click", function () { showTab(b.getAttribute("data-tab")); });
    });

    /* -------- zones on the map */
    function setGuardClass(layer, props) {
      var node = layer.getElement && layer.getElement();
      if (!node) { return; }
      node.classList.toggle("gs-guarded", !!props.guarded);
      node.classList.toggle("gs-unguarded", !props.guarded);
      node.setAttribute("data-zone", props.id);
    }
    function addZone(feature) {
      var props = feature.properties;
      var layer = L.polygon(toLatLngs(feature.geometry), Object.assign(styleFor(props), {
        className: "gs-zone " + (props.guarded ? "gs-guarded" : "gs-unguarded")}));
      layer.zoneId = feature.id;
      layer.bindTooltip(function () {
        var entry = byId[layer.zoneId];
        return el("span", (entry ? entry.feature.properties.name : "") + "（" + layer.zoneId + "）");
      }, {sticky: true});
      layer.on("click", function (e) {
        if (tool === "remove-part" && session && session.layer === layer) { removePartAt(e.latlng); return; }
        if (tool) { return; }
        select(layer.zoneId, {zoom: false});
      });
      items.addLayer(layer);
      setGuardClass(layer, props);
      byId[feature.id] = {feature: feature, layer: layer};
      return layer;
    }
    zones.forEach(addZone);

    function refreshCounts() {
      var all = Object.keys(byId).map(function (id) { return byId[id].feature.properties; });
      qa(side, ".gs-zone-count").forEach(function (n) { n.textContent = all.length; });
      qa(side, ".gs-unguarded-count").forEach(function (n) {
        n.textContent = all.filter(function (p) { return !p.guarded; }).length;
      });
    }

    /* -------- the list */
    var districtSelect = q(listPane, "[name=f_district]");
    Object.keys(districts).sort().forEach(function (code) {
      var option = el("option", districts[code]);
      option.value = code;
      districtSelect.appendChild(option);
    });
    function sortValue(p, key) {
      if (key === "kind") { return KINDS[p.kind] || p.kind; }
      if (key === "district") { return districts[p.district_code] || p.district_code || ""; }
      if (key === "missing") { return (p.missing || []).length; }
      return String(p[key] == null ? "" : p[key]);
    }
    function renderList() {
      var text = q(listPane, "[name=q]").value.trim().toLowerCase();
      var kind = q(listPane, "[name=f_kind]").value;
      var district = districtSelect.value;
      var guard = q(listPane, "[name=f_guard]").value;
      var missing = q(listPane, "[name=f_missing]").value;
      var rows = Object.keys(byId).map(function (id) { return byId[id].feature.properties; }).filter(function (p) {
        if (text && [p.name, p.id, p.responsible_person, p.responsible_unit].join(" ").toLowerCase()
          .indexOf(text) < 0) { return false; }
        if (kind && p.kind !== kind) { return false; }
        if (district && p.district_code !== district) { return false; }
        if (guard === "guarded" && !p.guarded) { return false; }
        if (guard === "unguarded" && p.guarded) { return false; }
        if (missing === "any" && !(p.missing || []).length) { return false; }
        if (missing && missing !== "any" && (p.missing || []).indexOf(missing) < 0) { return false; }
        return true;
      });
      rows.sort(function (a, b) {
        var x = sortValue(a, sort.key), y = sortValue(b, sort.key);
        var c = typeof x === "number" ? x - y : x.localeCompare(y, "zh-CN");
        return (c || a.id.localeCompare(b.id)) * sort.dir;
      });
      var body = q(listPane, "tbody");
      clear(body);
      rows.forEach(function (p) {
        var tr = document.createElement("tr");
        tr.setAttribute("data-zone", p.id);
        if (session && session.id === p.id) { tr.className = "gs-selected"; }
        tr.appendChild(el("td", p.id));
        tr.appendChild(el("td", p.name));
        tr.appendChild(el("td", KINDS[p.kind] || p.kind));
        tr.appendChild(el("td", districts[p.district_code] || p.district_code));
        var lacks = (p.missing || []).map(function (m) { return MISSING[m] || m; });
        var cell = el("td", lacks.length ? "缺" + lacks.length + "项" : "已落实", lacks.length ? "gs-bad" : "gs-good");
        if (lacks.length) { cell.title = "缺少：" + lacks.join("、"); }
        tr.appendChild(cell);
        tr.addEventListener("click", function () { select(p.id, {zoom: true}); });
        body.appendChild(tr);
      });
      q(listPane, ".gs-hz-count").textContent = "共 " + rows.length + " 处（全部 " + Object.keys(byId).length + " 处）";
      qa(listPane, "th [data-sort]").forEach(function (b) {
        b.classList.toggle("gs-sorted-asc", b.getAttribute("data-sort") === sort.key && sort.dir > 0);
        b.classList.toggle("gs-sorted-desc", b.getAttribute("data-sort") === sort.key && sort.dir < 0);
      });
    }
    qa(listPane, "input, select").forEach(function (input) { input.addEventListener("input", renderList); });
    qa(listPane, "th [data-sort]").forEach(function (b) {
      b.addEventListener("click", function () {
        var key = b.getAttribute("data-sort");
        sort = {key: key, dir: sort.key === key ? -sort.dir : 1};
        renderList();
      });
    });

    /* -------- selecting a zone */
    function zoomTo(layer) { map.fitBounds(layer.getBounds(), {padding: [40, 40], maxZoom: 17, animate: false}); }
    function dirty() { return session && (session.isNew || session.shapeChanged || changedProps().length > 0); }

    function select(id, options) {
      var entry = byId[id];
      if (!entry) { say("找不到水域 " + id + "（可能已被删除，或不在您负责的区县内）。", "error"); return; }
      if (session && session.id === id) {
        if (options.zoom) { zoomTo(entry.layer); }
        showTab("form");
        return;
      }
      if (dirty()) { say("当前水域有未保存的修改：请先保存或取消。", "error"); return; }
      endSession();
      session = {id: id, layer: entry.layer, feature: entry.feature, base: copyLatLngs(entry.layer.getLatLngs()),
                 shapeChanged: false, isNew: false, loading: true};
      entry.layer.setStyle(STYLE_SELECTED);
      entry.layer.bringToFront();
      if (options.zoom) { zoomTo(entry.layer); }
      if (location.hash !== "#" + id) { history.replaceState(null, "", location.pathname + location.search + "#" + id); }
      fillForm(entry.feature);
      showTab(options.tab || "form");
      renderList();
      api("GET", "/api/v1/hazards/" + encodeURIComponent(id)).then(function (result) {
        if (!session || session.id !== id) { return; }
        session.loading = false;
        if (!result.ok) { say(errorText(result), "error"); return; }
        var fresh = result.data;
        if (fresh.properties.version !== entry.feature.properties.version) {  // changed since the page was made
          entry.layer.setLatLngs(toLatLngs(fresh.geometry));
          session.base = copyLatLngs(entry.layer.getLatLngs());
        }
        entry.feature = fresh;
        session.feature = fresh;
        fillForm(fresh);
        updateShapeInfo();
      });
    }

    function endSession() {
      setTool(null);
      hideConflict();
      clearMark();
      if (!session) { return; }
      if (session.isNew) {
        items.removeLayer(session.layer);
      } else if (byId[session.id]) {
        session.layer.setLatLngs(copyLatLngs(session.base));
        session.layer.setStyle(styleFor(byId[session.id].feature.properties));
      }
      session = null;
      fillForm(null);
    }

    /* -------- the form */
    function field(name) { return form.querySelector('[name="' + name + '"]'); }
    function patrolRows() { return qa(form, ".gs-patrol-list .gs-patrol"); }
    function renumberPatrols() {
      patrolRows().forEach(function (row, i) { q(row, ".gs-patrol-no").textContent = "第 " + (i + 1) + " 条"; });
    }
    function addPatrol(patrol) {
      var template = document.getElementById("gs-patrol-template");
      var row = template.content.firstElementChild.cloneNode(true);
      var p = patrol || {};
      q(row, "[data-key=valid_from]").value = p.valid_from || "";
      q(row, "[data-key=valid_to]").value = p.valid_to || "";
      q(row, "[data-key=holidays]").checked = !!p.holidays;
      q(row, "[data-key=patroller]").value = p.patroller || "";
      qa(row, "[data-weekday]").forEach(function (box) {
        box.checked = (p.weekdays || []).indexOf(Number(box.getAttribute("data-weekday"))) >= 0;
      });
      q(row, ".gs-patrol-remove").addEventListener("click", function () {
        row.parentNode.removeChild(row);
        renumberPatrols();
        touched();
      });
      q(form, ".gs-patrol-list").appendChild(row);
      renumberPatrols();
      if (!canEdit) { qa(row, "input, button").forEach(function (i) { i.disabled = true; }); }
      return row;
    }
    q(form, ".gs-patrol-add").addEventListener("click", function () {
      var row = addPatrol(null);
      q(row, "[data-key=valid_from]").focus();
      touched();
    });

    function fillForm(feature) {
      clearErrors();
      var p = feature ? feature.properties : {};
      var blank = !session;
      form.classList.toggle("gs-readonly", !canEdit || blank);
      q(form, ".gs-hz-form-title").textContent = blank ? "未选择水域：在列表或地图上选择一处水域" :
        session.isNew ? "新水域" : (p.name || "") + "（" + (p.id || session.id) + "）";
      q(form, ".gs-hz-form-version").textContent = !blank && p.version ? "第 " + p.version + " 版" : "";
      TEXT_FIELDS.forEach(function (name) { field(name).value = p[name] || ""; });
      field("kind").value = p.kind || "pond";
      field("depth_m").value = p.depth_m == null ? "" : p.depth_m;
      Object.keys(MEASURES).forEach(function (m) { field(m).checked = !!p[m]; });
      clear(q(form, ".gs-patrol-list"));
      (p.patrols || []).forEach(addPatrol);
      qa(form, "input, select").forEach(function (input) { input.disabled = !canEdit || blank; });
      qa(form, ".gs-shape-tools button, .gs-save, .gs-cancel, .gs-delete, .gs-patrol-add")
        .forEach(function (b) { b.disabled = !canEdit || blank; });
      q(form, ".gs-delete").disabled = !canEdit || blank || session.isNew;
      q(form, ".gs-delete").textContent = "删除水域";
      q(form, ".gs-show-history").disabled = blank || session.isNew;
      updateShapeInfo();
    }

    function formProps() {
      var props = {name: field("name").value.trim(), kind: field("kind").value};
      ["owner", "responsible_unit", "responsible_person", "phone"].forEach(function (name) {
        props[name] = field(name).value.trim() || null;
      });
      var depth = field("depth_m").value.trim();
      props.depth_m = depth === "" ? null : Number(depth);
      Object.keys(MEASURES).forEach(function (m) { props[m] = field(m).checked; });
      props.patrols = patrolRows().map(function (row) {
        return {valid_from: q(row, "[data-key=valid_from]").value, valid_to: q(row, "[data-key=valid_to]").value,
                weekdays: qa(row, "[data-weekday]").filter(function (b) { return b.checked; })
                  .map(function (b) { return Number(b.getAttribute("data-weekday")); }),
                holidays: q(row, "[data-key=holidays]").checked,
                patroller: q(row, "[data-key=patroller]").value.trim() || null};
      });
      return props;
    }
    /* Names of the properties that differ from the version read. */
    function changedProps() {
      if (!session || session.loading) { return []; }
      var mine = formProps(), stored = session.feature ? session.feature.properties : {};
      return Object.keys(mine).filter(function (k) { return norm(k, mine[k]) !== norm(k, stored[k]); });
    }

    function clearErrors() {
      qa(form, ".gs-field-error, .gs-form-error").forEach(function (n) { clear(n); });
      qa(form, ".gs-invalid").forEach(function (n) { n.classList.remove("gs-invalid"); });
    }
    /* A message beside the field it concerns (``name``, ``geometry``, ``patrols``… or ``_form``). */
    function showError(name, text, scope) {
      var root = scope || form;
      var slot = q(root, '[data-error-for="' + name + '"]') || q(form, '[data-error-for="_form"]');
      slot.textContent = text;
      var wrap = slot.closest(".gs-field");
      if (wrap) { wrap.classList.add("gs-invalid"); }
      return slot;
    }

    /* Checks made before sending, with the same rules as the server; true when the form may be sent. */
    function validate() {
      clearErrors();
      var ok = true, props = formProps();
      function bad(name, text, scope) { showError(name, text, scope); ok = false; }
      if (!props.name) { bad("name", "请填写名称。"); }
      var depth = field("depth_m");
      if (depth.value.trim() !== "" && (!isFinite(props.depth_m) || props.depth_m < 0 || props.depth_m > 9999)) {
        bad("depth_m", "水深应为 0 到 9999 米之间的数字。");
      } else if (depth.validity && depth.validity.badInput) {
        bad("depth_m", "水深应为 0 到 9999 米之间的数字。");
      }
      if (props.phone && !/^[0-9０-９+＋\-－()（）\s转#]{3,40}$/.test(props.phone)) {
        bad("phone", "联系电话只能包含数字、空格、+、-、括号或“转”。");
      }
      patrolRows().forEach(function (row, i) {
        var p = props.patrols[i];
        if (!p.valid_from) { bad("valid_from", "请选择起始日期。", row); }
        if (!p.valid_to) { bad("valid_to", "请选择截止日期。", row); }
        if (p.valid_from && p.valid_to && p.valid_to < p.valid_from) {
          bad("valid_to", "截止日期不能早于起始日期。", row);
        }
        if (!p.weekdays.length && !p.holidays) { bad("weekdays", "请至少选择一天，或勾选节假日巡查。", row); }
      });
      if (session && !partsOf(session.layer).length) { bad("geometry", "水域至少要有一个部分。"); }
      if (!ok) {
        var first = q(form, ".gs-invalid input, .gs-invalid select, .gs-field-error:not(:empty)");
        if (first && first.focus) { first.focus(); }
        say("未保存：请按提示修改标红的项。", "error");
      }
      return ok;
    }

    /* A refusal from the server, beside its field when the code names one. */
    function showServerError(result) {
      var text = errorText(result), code = result.code || "";
      var match = /^validation\.([a-z_]+)/.exec(code);
      if (code.indexOf("zone.") === 0) {
        var slot = showError("geometry", text);
        if (code === "zone.invalid_geometry") { offerRepair(slot, result.detail); }
      } else if (match && match[1] === "patrols") {
        var n = /patrol (\d+)/.exec(result.detail || "");
        var row = n ? patrolRows()[Number(n[1]) - 1] : null;
        var which = /valid_to/.test(result.detail) ? "valid_to" : /weekday/.test(result.detail) ? "weekdays" :
          /valid_from/.test(result.detail) ? "valid_from" : null;
        if (row && which) { showError(which, text, row); } else { showError("patrols", text); }
      } else if (match && q(form, '[data-error-for="' + match[1] + '"]')) {
        showError(match[1], text);
      } else {
        showError("_form", text);
      }
      say("未保存：" + text, "error");
    }
    function offerRepair(slot, detail) {
      var button = el("button", "自动修复后保存", "gs-repair");
      button.type = "button";
      button.addEventListener("click", function () { save({repair: true}); });
      slot.appendChild(document.createElement("br"));
      slot.appendChild(button);
      var at = /\[([-\d.]+) ([-\d.]+)\]/.exec(detail || "");
      if (at) {
        clearMark();
        mark = L.circleMarker([Number(at[2]), Number(at[1])], {radius: 9, color: "#a40000", weight: 3,
                                                               fill: false, className: "gs-problem"}).addTo(map);
        mark.bindTooltip(el("span", "问题位置"), {permanent: true, direction: "right"});
      }
    }
    function clearMark() { if (mark) { map.removeLayer(mark); mark = null; } }

    function touched() {
      if (session && !session.loading) {
        say("有未保存的修改（" + (session.id || "新水域") + "）。", "busy");
      }
    }
    form.addEventListener("input", touched);
    form.addEventListener("change", touched);

    /* -------- shapes */
    function updateShapeInfo() {
      var info = q(form, ".gs-shape-info");
      if (!session) { info.textContent = ""; return; }
      info.textContent = "当前形状：" + describeParts(partsOf(session.layer)) +
        (session.shapeChanged ? "（已修改，未保存）" : "") + (tool ? "。" + TOOL_HINTS[tool] : "");
    }
    function shapeEdited() {
      if (!session) { return; }
      session.shapeChanged = true;
      clearMark();
      updateShapeInfo();
      touched();
    }
    function setTool(name) {
      var layer = session && session.layer;
      if (tool && layer) {
        if (tool === "vertices" && layer.pm) { layer.pm.disable(); }
        if (tool === "drag" && layer.pm) { layer.pm.disableLayerDrag(); }
      }
      if (tool === "add-part" || tool === "add-hole") { map.pm.disableDraw(); }
      tool = name && name !== tool && layer ? name : null;
      if (tool === "vertices") { layer.pm.enable({allowSelfIntersection: false, snappable: true}); }
      if (tool === "drag") { layer.pm.enableLayerDrag(); }
      if (tool === "add-part" || tool === "add-hole") {
        map.pm.enableDraw("Polygon", {allowSelfIntersection: false, snappable: true});
      }
      qa(form, ".gs-shape-tools [data-tool]").forEach(function (b) {
        b.setAttribute("aria-pressed", b.getAttribute("data-tool") === tool ? "true" : "false");
      });
      updateShapeInfo();
    }
    function replaceShape(parts) {
      var again = tool === "vertices" || tool === "drag" ? tool : null;
      setTool(null);
      session.layer.setLatLngs(parts);
      shapeEdited();
      if (again) { setTool(again); }
    }
    qa(form, ".gs-shape-tools [data-tool]").forEach(function (button) {
      button.addEventListener("click", function () {
        if (!session) { return; }
        var name = button.getAttribute("data-tool");
        if (name === "undo-shape") {
          if (session.isNew) { return; }
          setTool(null);
          session.layer.setLatLngs(copyLatLngs(session.base));
          session.shapeChanged = false;
          updateShapeInfo();
          say("已还原为第 " + session.feature.properties.version + " 版的形状。", "ok");
          return;
        }
        setTool(name);
      });
    });
    function removePartAt(latlng) {
      var parts = copyLatLngs(partsOf(session.layer));
      for (var i = 0; i < parts.length; i++) {
        if (!inRing(latlng, parts[i][0])) { continue; }
        for (var h = 1; h < parts[i].length; h++) {
          if (inRing(latlng, parts[i][h])) {
            parts[i].splice(h, 1);
            replaceShape(parts);
            say("已删除一个洞（未保存）。", "busy");
            return;
          }
        }
        if (parts.length === 1) {
          say("这是唯一的部分，不能删除；要删除整个水域，请用“删除水域”。", "error");
          return;
        }
        parts.splice(i, 1);
        replaceShape(parts);
        say("已删除一个部分（未保存）。", "busy");
        return;
      }
      say("请单击水域的某一部分或某个洞。", "error");
    }
    map.on("click", function (e) { if (tool === "remove-part" && session) { removePartAt(e.latlng); } });

    /* Geoman: the drawing toolbar (new zones) and the drawings of new parts and holes. */
    if (canEdit && map.pm) {
      map.pm.setLang("zh", GEOMAN_ZH, "en");
      map.pm.addControls({position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false,
                          drawCircle: false, drawText: false, editMode: false, dragMode: false, cutPolygon: false,
                          removalMode: false, rotateMode: false, drawPolygon: true, drawRectangle: true});
      map.pm.setGlobalOptions({allowSelfIntersection: false, snappable: true, snapDistance: 12});
      // while drawing, clicks on a zone must reach Geoman (a hole is drawn on top of its zone)
      map.on("pm:drawstart", function () { map.getContainer().classList.add("gs-drawing"); });
      map.on("pm:drawend", function () { map.getContainer().classList.remove("gs-drawing"); });
      map.on("pm:create", function (e) {
        var drawn = e.layer, ring = drawn.getLatLngs()[0];
        map.removeLayer(drawn);
        if (session && (tool === "add-part" || tool === "add-hole")) {
          var parts = copyLatLngs(partsOf(session.layer));
          var drawing = tool;
          setTool(null);
          if (drawing === "add-part") {
            parts.push([copyLatLngs(ring)]);
            replaceShape(parts);
            say("已添加一个部分（未保存）。", "busy");
            return;
          }
          var host = parts.filter(function (part) {
            return ring.every(function (p) { return inRing(p, part[0]); });
          })[0];
          if (!host) { say("洞必须完全位于水域某一部分的内部。", "error"); return; }
          host.push(copyLatLngs(ring));
          replaceShape(parts);
          say("已添加一个洞（未保存）。", "busy");
          return;
        }
        if (dirty()) { say("当前水域有未保存的修改：请先保存或取消，再绘制新水域。", "error"); return; }
        endSession();
        var layer = L.polygon([copyLatLngs(ring)], Object.assign({}, STYLE_SELECTED, {
          className: "gs-zone gs-new", fillColor: "#1f5fbf", fillOpacity: 0.25}));
        items.addLayer(layer);
        watchLayer(layer);
        session = {id: null, layer: layer, feature: null, base: null, shapeChanged: true, isNew: true};
        layer.on("click", function (ev) { if (tool === "remove-part") { removePartAt(ev.latlng); } });
        fillForm(null);
        showTab("form");
        field("name").focus();
        say("新水域：填写属性后保存。", "busy");
      });
    }
    function watchLayer(layer) {
      layer.on("pm:edit pm:dragend pm:vertexremoved pm:vertexadded", shapeEdited);
    }
    Object.keys(byId).forEach(function (id) { watchLayer(byId[id].layer); });

    /* -------- saving */
    function save(options) {
      if (!session || !canEdit) { return; }
      if (!validate()) { return; }
      setTool(null);
      clearMark();
      var job = session, props = formProps(), request;
      var repair = options && options.repair ? "?repair=true" : "";
      var version = options && options.version != null ? options.version :
        job.feature ? job.feature.properties.version : null;
      var before = job.feature;
      if (job.isNew) {
        request = api("POST", "/api/v1/hazards" + repair,
                      {type: "Feature", datum: "wgs84", geometry: geometryOf(job.layer), properties: props});
      } else {
        var changes = {};
        (options && options.fields ? options.fields : changedProps()).forEach(function (k) { changes[k] = props[k]; });
        if (!Object.keys(changes).length && !job.shapeChanged) { say("没有需要保存的修改。", "ok"); return; }
        var body = {properties: changes};
        if (job.shapeChanged) { body.geometry = geometryOf(job.layer); body.datum = "wgs84"; }
        request = api("PATCH", "/api/v1/hazards/" + encodeURIComponent(job.id) + repair, body, version);
      }
      say("正在保存……", "busy");
      q(form, ".gs-save").disabled = true;
      request.then(function (result) {
        q(form, ".gs-save").disabled = false;
        if (session !== job) { return; }
        if (result.ok) { saved(job, before, result.data); return; }
        if (result.code === "version.stale") { showConflict(job); return; }
        showServerError(result);
      });
    }
    function saved(job, before, feature) {
      var props = feature.properties, layer = job.layer;
      hideConflict();
      layer.setLatLngs(toLatLngs(feature.geometry));   // exactly what the server stored
      if (job.isNew) {
        items.removeLayer(layer);
        layer = addZone(feature);
        watchLayer(layer);
      } else {
        byId[feature.id].feature = feature;
      }
      layer.setStyle(Object.assign(styleFor(props), STYLE_SELECTED));
      setGuardClass(layer, props);
      var what;
      if (job.isNew) {
        what = "已保存新水域 " + feature.id + "，第 " + props.version + " 版";
      } else {
        var keys = Object.keys(FIELDS).filter(function (k) {
          return k !== "geometry" && before && norm(k, before.properties[k]) !== norm(k, props[k]);
        }).map(function (k) { return FIELDS[k]; });
        if (job.shapeChanged) { keys.unshift("形状"); }
        what = "已保存 " + feature.id + "，第 " + props.version + " 版" + (keys.length ? "（修改了" + keys.join("、") + "）" : "");
      }
      session = {id: feature.id, layer: layer, feature: feature, base: copyLatLngs(layer.getLatLngs()),
                 shapeChanged: false, isNew: false};
      if (location.hash !== "#" + feature.id) {
        history.replaceState(null, "", location.pathname + location.search + "#" + feature.id);
      }
      fillForm(feature);
      refreshCounts();
      renderList();
      historyFor = null;
      say(what + "。已存形状：" + describeGeometry(feature.geometry) +
          (feature.repaired ? "（已自动修复）" : "") + "；" + (props.guarded ? "防护已落实。" : "防护未落实：缺" +
          props.missing.map(function (m) { return MISSING[m] || m; }).join("、") + "。"), "ok");
    }
    form.addEventListener("submit", function (e) { e.preventDefault(); save(null); });
    q(form, ".gs-cancel").addEventListener("click", function () {
      if (!session) { return; }
      var id = session.id, isNew = session.isNew;
      endSession();
      if (!isNew && id) { select(id, {zoom: false}); }
      say("已取消，未保存任何修改。", "ok");
    });
    q(form, ".gs-show-history").addEventListener("click", function () { showTab("history"); });
    var deleteArmed = null;
    q(form, ".gs-delete").addEventListener("click", function () {
      if (!session || session.isNew) { return; }
      var button = this;
      if (!deleteArmed) {
        button.textContent = "确认删除？再点一次";
        deleteArmed = setTimeout(function () { deleteArmed = null; button.textContent = "删除水域"; }, 5000);
        return;
      }
      clearTimeout(deleteArmed);
      deleteArmed = null;
      var job = session, version = job.feature.properties.version;
      api("DELETE", "/api/v1/hazards/" + encodeURIComponent(job.id), null, version).then(function (result) {
        if (!result.ok) {
          if (result.code === "version.stale") { showConflict(job); return; }
          showServerError(result);
          return;
        }
        setTool(null);
        items.removeLayer(job.layer);
        delete byId[job.id];
        session = null;
        fillForm(null);
        refreshCounts();
        renderList();
        showTab("list");
        say("已删除 " + job.id + "（删除前为第 " + version + " 版；历史记录保留）。", "ok");
      });
    });

    /* -------- a stale version: both shapes on the map, the differences, reload or overwrite */
    function showConflict(job) {
      Promise.all([api("GET", "/api/v1/hazards/" + encodeURIComponent(job.id)),
                   api("GET", "/api/v1/hazards/" + encodeURIComponent(job.id) + "/history")]).then(function (got) {
        if (session !== job) { return; }
        if (!got[0].ok) { showServerError(got[0]); return; }
        var stored = got[0].data, last = got[1].ok ? got[1].data[got[1].data.length - 1] : null;
        hideConflict();
        conflict = {stored: stored, layer: L.polygon(toLatLngs(stored.geometry), Object.assign({}, STYLE_STORED, {
          className: "gs-conflict-stored"})).addTo(map)};
        job.layer.setStyle(STYLE_MINE);
        job.layer.bringToFront();
        map.fitBounds(conflict.layer.getBounds().extend(job.layer.getBounds()), {padding: [60, 60], maxZoom: 18,
                                                                                    animate: false});
        var mine = formProps(), changes = q(conflictBox, ".gs-hz-conflict-changes");
        clear(changes);
        changedProps().forEach(function (k) {
          if (norm(k, mine[k]) === norm(k, stored.properties[k])) { return; }
          changes.appendChild(el("li", FIELDS[k] + "：我的 " + formatValue(k, mine[k], districts) + "；已存 " +
                                       formatValue(k, stored.properties[k], districts)));
        });
        if (job.shapeChanged) {
          changes.appendChild(el("li", "形状：我的 " + describeParts(partsOf(job.layer)) + "；已存 " +
                                       describeGeometry(stored.geometry)));
        }
        q(conflictBox, ".gs-hz-conflict-text").textContent = job.id + " 在您编辑期间已被" +
          (last && last.actor ? " " + last.actor + " " : "别人") + (last ? "于 " + when(last.at) : "") +
          "保存为第 " + stored.properties.version + " 版；您编辑的是第 " + job.feature.properties.version +
          " 版。您的修改尚未保存。";
        conflictBox.hidden = false;
        say("未保存：" + CODE_TEXT["version.stale"] + "（错误代码 version.stale）", "error");
      });
    }
    function hideConflict() {
      if (conflict) { map.removeLayer(conflict.layer); conflict = null; }
      conflictBox.hidden = true;
      if (session && byId[session.id]) { session.layer.setStyle(STYLE_SELECTED); }
    }
    q(conflictBox, ".gs-conflict-reload").addEventListener("click", function () {
      if (!session || !conflict) { return; }
      var stored = conflict.stored, layer = session.layer;
      hideConflict();
      setTool(null);
      byId[stored.id].feature = stored;
      layer.setLatLngs(toLatLngs(stored.geometry));
      layer.setStyle(Object.assign(styleFor(stored.properties), STYLE_SELECTED));
      setGuardClass(layer, stored.properties);
      session = {id: stored.id, layer: layer, feature: stored, base: copyLatLngs(layer.getLatLngs()),
                 shapeChanged: false, isNew: false};
      fillForm(stored);
      renderList();
      refreshCounts();
      historyFor = null;
      say("已载入最新的第 " + stored.properties.version + " 版；您的修改已放弃。", "ok");
    });
    q(conflictBox, ".gs-conflict-overwrite").addEventListener("click", function () {
      if (!session || !conflict) { return; }
      var stored = conflict.stored, fields = changedProps();
      hideConflict();
      session.feature = stored;
      byId[stored.id].feature = stored;
      save({version: stored.properties.version, fields: fields});
    });

    /* -------- history */
    var historyFor = null;
    function ensureHistoryMap() {
      if (!historyMap) {
        historyMap = L.map("gs-hz-history-map", {attributionControl: false, zoomControl: true, pmIgnore: true});
        historyLayers = L.layerGroup().addTo(historyMap);
        chineseZoom(historyMap);
      }
      historyMap.invalidateSize();
    }
    function drawHistoryShapes(entry) {
      ensureHistoryMap();
      historyLayers.clearLayers();
      var bounds = null;
      [[entry.old_values && entry.old_values.geometry, "gs-history-old", {color: "#1f5fbf", weight: 5,
                                                                          fillOpacity: 0.15}],
       [entry.new_values && entry.new_values.geometry, "gs-history-new", {color: "#e67e22", weight: 2,
                                                                          dashArray: "6 4", fillOpacity: 0.15}]]
        .forEach(function (spec) {
          if (!spec[0]) { return; }
          var shape = L.polygon(toLatLngs(spec[0]), Object.assign({className: spec[1], pmIgnore: true}, spec[2]));
          historyLayers.addLayer(shape);
          bounds = bounds ? bounds.extend(shape.getBounds()) : L.latLngBounds(shape.getBounds().getSouthWest(),
                                                                               shape.getBounds().getNorthEast());
        });
      if (bounds) { historyMap.fitBounds(bounds, {padding: [12, 12], maxZoom: 18, animate: false}); }
    }
    function loadHistory() {
      var title = q(historyPane, ".gs-hz-history-title"), list = q(historyPane, ".gs-hz-history-list");
      if (!session || session.isNew) {
        title.textContent = session ? "新水域尚无修改历史" : "请先在列表或地图上选择一处水域";
        clear(list);
        if (historyLayers) { historyLayers.clearLayers(); }
        return;
      }
      var id = session.id;
      ensureHistoryMap();
      if (historyFor === id + "@" + session.feature.properties.version) { return; }
      historyFor = id + "@" + session.feature.properties.version;
      title.textContent = "正在载入 " + id + " 的修改历史……";
      clear(list);
      api("GET", "/api/v1/hazards/" + encodeURIComponent(id) + "/history").then(function (result) {
        if (!session || session.id !== id) { return; }
        if (!result.ok) { title.textContent = errorText(result); historyFor = null; return; }
        var entries = result.data.slice().reverse();
        title.textContent = (session.feature.properties.name || "") + "（" + id + "）的修改历史：共 " +
          entries.length + " 条";
        var first = null;
        entries.forEach(function (entry) {
          var li = el("li");
          li.setAttribute("data-version", entry.version);
          var head = el("div", null, "gs-when");
          head.textContent = "第 " + entry.version + " 版 · " + (ACTIONS[entry.action] || entry.action) + " · " +
            when(entry.at);
          li.appendChild(head);
          li.appendChild(el("div", "操作人：" + (entry.actor || "（未记录）") +
                                   (entry.client ? "　来源：" + entry.client : ""), "gs-who"));
          var table = document.createElement("table");
          var keys = entry.old_values ? entry.changed : ["name", "kind", "district_code", "geometry"];
          keys.filter(function (k) { return k !== "updated_at" && k !== "version"; }).forEach(function (k) {
            var tr = document.createElement("tr");
            tr.appendChild(el("th", FIELDS[k] || k));
            var td = document.createElement("td");
            if (entry.old_values) {
              td.appendChild(el("del", formatValue(k, entry.old_values[k], districts)));
              td.appendChild(document.createTextNode(" → "));
            }
            td.appendChild(el("ins", formatValue(k, entry.new_values[k], districts)));
            tr.appendChild(td);
            table.appendChild(tr);
          });
          li.appendChild(table);
          li.addEventListener("click", function () {
            qa(list, "li").forEach(function (n) { n.classList.remove("gs-selected"); });
            li.classList.add("gs-selected");
            drawHistoryShapes(entry);
          });
          list.appendChild(li);
          if (!first && (entry.changed.indexOf("geometry") >= 0 || !entry.old_values)) { first = li; }
        });
        if (first) { first.click(); }
      });
    }

    /* -------- Chinese controls, the remembered view, a URL per zone */
    function chineseZoom(target) {
      var zoom = target.zoomControl;
      if (!zoom) { return; }
      [[zoom._zoomInButton, "放大"], [zoom._zoomOutButton, "缩小"]].forEach(function (pair) {
        if (pair[0]) { pair[0].title = pair[1]; pair[0].setAttribute("aria-label", pair[1]); }
      });
    }
    function chineseControls() {
      chineseZoom(map);
      if (map.attributionControl) {
        map.attributionControl.setPrefix('<a href="https://leafletjs.com" title="开源地图库">Leaflet</a>');
      }
    }
    function remember() {
      try {
        var c = map.getCenter();
        localStorage.setItem(viewKey, JSON.stringify({lat: c.lat, lng: c.lng, zoom: map.getZoom()}));
      } catch (e) { /* storage may be off: the view is then simply not kept */ }
    }
    function restoreView() {
      try {
        var view = JSON.parse(localStorage.getItem(viewKey) || "null");
        if (view && isFinite(view.lat) && isFinite(view.lng) && isFinite(view.zoom)) {
          map.setView([view.lat, view.lng], view.zoom, {animate: false});
        }
      } catch (e) { /* a damaged entry: keep the default view */ }
    }
    function zoneFromUrl() {
      var fromHash = decodeURIComponent(location.hash.replace(/^#/, ""));
      return fromHash || new URLSearchParams(location.search).get("zone");
    }
    window.addEventListener("hashchange", function () {
      var id = zoneFromUrl();
      if (id && (!session || session.id !== id)) { select(id, {zoom: true}); }
    });

    refreshCounts();
    renderList();
    var wanted = zoneFromUrl(), ready = false;
    function start() {  // after the opening zoom: a view set during its animation is undone at its end
      ready = true;
      if (session) { return map.on("moveend", remember); }  // chosen before the opening zoom ended
      if (wanted && byId[wanted]) { select(wanted, {zoom: true}); } else {
        restoreView();
        if (wanted) { say("找不到水域 " + wanted + "（可能已被删除，或不在您负责的区县内）。", "error"); }
      }
      map.on("moveend", remember);
    }
    fillForm(null);
    showTab("list");
    // Leaflet starts the opening fitBounds' zoom animation in the next animation frame, so look after it
    requestAnimationFrame(function () {
      if (map._animatingZoom) { map.once("zoomend", start); } else { start(); }
    });
    window.geoSafetyHazardEditor.state = function () {  // for tests and the browser console
      return {session: session && {id: session.id, shapeChanged: session.shapeChanged, isNew: session.isNew,
                                   version: session.feature && session.feature.properties.version},
              tool: tool, conflict: !!conflict, ready: ready};
    };
    window.geoSafetyHazardEditor.layer = function (id) { return byId[id] && byId[id].layer; };
  };
})();
