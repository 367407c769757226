/* The inspector's day on a phone: the fixed plan of the day as a list and a map, the visit form, the outbox.
   Everything from data is written with textContent; the page has no inline script or style (strict CSP). */
(function () {
  "use strict";
  var outbox = window.geoSafetyOutbox;
  var root = document.getElementById("app");
  var districts = (root.getAttribute("data-districts") || "").split(",").filter(Boolean);
  var names = {};
  try { names = JSON.parse(root.getAttribute("data-names") || "{}"); } catch (e) { names = {}; }
  function districtName(code) { return names[code] || code; }
  var state = {plan: null, district: districts[0] || null, fix: null, view: "list", open: null, pending: {},
               map: null, layers: null, markers: {}, warnings: {}};
  var OFF_SITE_M = 100;  // the rules' off-site distance (README: "more than 100 m from the target")
  var RESULT_CN = {pass: "合格", fail: "不合格", closed: "已关闭", not_found: "未找到"};
  var MEASURES = [["warning_sign", "警示牌"], ["lifebuoy", "救生圈"], ["rescue_rope", "救生绳"],
                  ["rescue_pole", "救生杆"], ["fence", "围栏"]];
  // 百度: the web link, which works without the app installed (it offers to open the app when there is one)
  var NAV = [["amap", "高德地图"], ["tencent", "腾讯地图"], ["baidu_web", "百度地图"], ["geo", "其他地图"]];

  function $(id) { return document.getElementById(id); }
  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text != null) { node.textContent = String(text); }
    if (className) { node.className = className; }
    return node;
  }
  function show(node, visible) { node.hidden = !visible; }

  /* ---------- where am I ---------- */
  function haversine(lat1, lon1, lat2, lon2) {
    var r = 6371008.8, p = Math.PI / 180;
    var a = Math.sin((lat2 - lat1) * p / 2) * Math.sin((lat2 - lat1) * p / 2) +
      Math.cos(lat1 * p) * Math.cos(lat2 * p) * Math.sin((lon2 - lon1) * p / 2) * Math.sin((lon2 - lon1) * p / 2);
    return 2 * r * Math.asin(Math.sqrt(a));
  }
  function distanceText(stop) {
    if (!state.fix) { return "距离未知（未定位）"; }
    var d = haversine(state.fix.lat, state.fix.lon, stop.lat, stop.lon);
    return "距我 " + (d < 1000 ? Math.round(d) + " 米" : (d / 1000).toFixed(1) + " 公里");
  }
  function watchPosition() {
    if (!navigator.geolocation) { return; }
    navigator.geolocation.watchPosition(function (p) {
      state.fix = {lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy, at: Date.now()};
      updateDistances();
      drawMe();
      updatePositionLine();
    }, function () { /* shown where a position is needed */ }, {enableHighAccuracy: true, maximumAge: 30000});
  }

  /* ---------- the plan ---------- */
  function planUrl() {
    return "/api/v1/plans/today" + (state.district ? "?district=" + encodeURIComponent(state.district) : "");
  }
  function loadPlan() {
    show($("loading"), true);
    return fetch(planUrl(), {credentials: "same-origin", mode: "cors"}).then(function (response) {
      if (response.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); }
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body && body.detail ? String(body.detail) : "HTTP " + response.status); }
        return body;
      });
    }).then(function (plan) {
      state.plan = plan;
      return outbox.set("plan:" + (state.district || ""), plan).catch(function () { return null; });
    }, function (error) {
      return outbox.get("plan:" + (state.district || "")).then(function (kept) {
        if (!kept) { throw error; }
        state.plan = kept;  // the copy kept on this phone: the day still works offline
      });
    }).then(function () {
      show($("loading"), false);
      return refreshPending().then(render);
    }).catch(function (error) {
      $("loading").textContent = "无法加载今日计划：" + error.message;
    });
  }

  function refreshPending() {
    return outbox.all().then(function (items) {
      state.pending = {};
      items.forEach(function (item) { state.pending[item.visit.target_type + ":" + item.visit.target_id] = item; });
      var waiting = items.filter(function (i) { return i.state !== "refused"; }).length;
      var refused = items.length - waiting;
      var badge = $("outbox-badge");
      badge.textContent = waiting + " 条待上传" + (refused ? "，" + refused + " 条被拒绝（点此查看）" : "");
      badge.classList.toggle("has-refused", refused > 0);
      show(badge, items.length > 0);
      renderOutbox(items);
    });
  }

  function stopKey(stop) { return stop.target_type + ":" + stop.target_id; }
  function stopState(stop) {
    var queued = state.pending[stopKey(stop)];
    if (queued && queued.state === "refused") { return "refused"; }
    if (queued) { return "queued"; }
    return stop.status === "done" ? "done" : "pending";
  }
  var STATE_CN = {done: "✓ 已检查", queued: "✓ 已记录（待上传）", refused: "⚠ 被拒绝", pending: ""};

  /* What the list and the sheet say of a stop: the result of today's visit, and any warning the server gave. */
  function stateText(stop) {
    var status = stopState(stop);
    var queued = state.pending[stopKey(stop)];
    var result = (stop.visit && stop.visit.result) || (queued && queued.visit.result);
    var text = STATE_CN[status];
    if ((status === "done" || status === "queued") && result) {
      text = (result === "pass" ? "✓ " : "✗ ") + RESULT_CN[result] + (status === "queued" ? "（待上传）" : "");
    }
    var warning = state.warnings[stopKey(stop)];
    return {text: text, result: result, warning: warning && chinesePart(warning)};
  }

  /* The server's messages are "中文 (English)": the phone shows the Chinese. */
  function chinesePart(message) {
    return String(message).split("；").map(function (part) { return part.replace(/\s*\([^()]*[A-Za-z][^()]*\)\s*$/, ""); })
      .join("；");
  }

  function groupOf(stop) {
    return ((state.plan && state.plan.groups) || []).filter(function (g) { return g.key === stop.group; })[0];
  }

  function render() {
    var plan = state.plan;
    if (!plan) { return; }
    $("day").textContent = plan.date + (plan.districts ? " · " + plan.districts.map(districtName).join("、") : " · 全市");
    var stops = plan.stops || [];
    var done = stops.filter(function (s) { return stopState(s) === "done" || stopState(s) === "queued"; }).length;
    $("summary").textContent = "共 " + stops.length + " 处，已完成 " + done + " 处" +
      (plan.route_length_m ? "，路线约 " + (plan.route_length_m / 1000).toFixed(1) + " 公里" : "");
    var notice = $("notice");
    notice.textContent = plan.notice || "";
    show(notice, !!plan.notice);
    var list = $("stops");
    list.textContent = "";
    var groups = plan.groups || [];
    var lastGroup = null;
    stops.forEach(function (stop) {
      if (groups.length > 1 && stop.group !== lastGroup) {  // islands are planned apart: say where each part starts
        var part = groupOf(stop);
        var heading = el("li", (part ? part.name : stop.group) + (part && !part.mainland ? "（需乘船前往，单独规划）" : "") +
                         (part ? " · " + part.stops + " 处" : ""), "group-heading");
        list.appendChild(heading);
        lastGroup = stop.group;
      }
      list.appendChild(stopItem(stop));
    });
    drawMap();
    if (state.open) {
      var again = stops.filter(function (s) { return stopKey(s) === state.open; })[0];
      if (again) { openSheet(again); }
    }
  }

  function stopItem(stop) {
    var status = stopState(stop);
    var said = stateText(stop);
    var li = el("li", null, "stop stop-" + status + (stop.violation ? " stop-violation" : "") +
                (said.result ? " result-" + said.result : "") + (said.warning ? " has-warning" : ""));
    li.setAttribute("data-key", stopKey(stop));
    var button = el("button", null, "stop-button");
    button.type = "button";
    var number = el("span", stop.order, "stop-number");
    var body = el("span", null, "stop-body");
    body.appendChild(el("span", stop.name, "stop-name"));
    body.appendChild(el("span", [stop.category_cn, stop.reason_cn].filter(Boolean).join(" · "), "stop-meta"));
    var extra = el("span", distanceText(stop), "stop-distance");
    body.appendChild(extra);
    if (said.text) { body.appendChild(el("span", said.text, "stop-state")); }
    if (said.warning) { body.appendChild(el("span", "⚠ " + said.warning, "stop-warning")); }
    button.appendChild(number);
    button.appendChild(body);
    button.addEventListener("click", function () { openSheet(stop); });
    li.appendChild(button);
    return li;
  }

  function updateDistances() {
    if (!state.plan) { return; }
    (state.plan.stops || []).forEach(function (stop) {
      var node = document.querySelector('li[data-key="' + CSS.escape(stopKey(stop)) + '"] .stop-distance');
      if (node) { node.textContent = distanceText(stop); }
    });
  }

  /* ---------- a stop's sheet: what to check, navigate, call, record ---------- */
  function row(dl, label, value) {
    if (value == null || value === "") { return; }
    dl.appendChild(el("dt", label));
    dl.appendChild(el("dd", value));
  }

  function openSheet(stop) {
    state.open = stopKey(stop);
    $("sheet-title").textContent = stop.order + ". " + stop.name;
    var body = $("sheet-body");
    body.textContent = "";
    var status = stopState(stop);
    var said = stateText(stop);
    if (said.text) {
      body.appendChild(el("p", said.text, "sheet-state stop-" + status + (said.result ? " result-" + said.result : "")));
    }
    if (said.warning) { body.appendChild(el("p", "⚠ " + said.warning, "stop-warning")); }
    var part = groupOf(stop);
    if (part && !part.mainland) {
      body.appendChild(el("p", "此处位于" + part.name + "，与大陆检查点分开规划，需乘船前往。", "notice"));
    }
    var queued = state.pending[stopKey(stop)];
    if (queued && queued.state === "refused") {
      body.appendChild(el("p", "服务器拒绝：" + (queued.error || ""), "error"));
    }
    var dl = el("dl", null, "facts");
    row(dl, "类别", stop.category_cn || stop.category);
    row(dl, "原因", stop.reason_cn || stop.reason);
    if (stop.violation) { row(dl, "违规", "位于禁止设立的距离内"); }
    row(dl, "最近学校", stop.nearest_school_name);
    if (stop.distance_m != null) {
      row(dl, "距学校", (stop.distance_m < 0.5 ? "在校园范围内" : Math.round(stop.distance_m) + " 米") +
        (stop.rule_distance_m ? "（规定 " + Math.round(stop.rule_distance_m) + " 米内）" : ""));
    }
    row(dl, "上次检查", stop.visit ? "今天（" + (RESULT_CN[stop.visit.result] || "") + "）" :
                                  stop.last_inspected_on || "从未检查");
    row(dl, "地址", stop.address);
    row(dl, "责任人", stop.responsible_person);
    row(dl, "位置", distanceText(stop));
    body.appendChild(dl);
    if (stop.checklist && stop.checklist.length) {
      body.appendChild(el("h3", "检查要点"));
      var ul = el("ul", null, "check-hints");
      stop.checklist.forEach(function (c) { ul.appendChild(el("li", c)); });
      body.appendChild(ul);
    }
    var links = el("div", null, "links");
    NAV.forEach(function (pair) {
      var url = stop.nav && stop.nav[pair[0]];
      if (!url) { return; }
      var a = el("a", "导航 " + pair[1], "link-button nav-" + pair[0]);
      a.href = url;
      a.target = "_blank";  // the app and its state stay open behind the map app
      a.rel = "noopener";
      links.appendChild(a);
    });
    if (stop.phone) {
      var call = el("a", "☎ 拨打 " + (stop.responsible_person ? stop.responsible_person + " " : "") + stop.phone,
                    "link-button call");
      call.href = stop.tel || "tel:" + String(stop.phone).replace(/[^0-9+]/g, "");
      links.appendChild(call);
    }
    body.appendChild(links);
    if (stop.visit && stop.visit.id) { body.appendChild(visitPhotos(stop.visit)); }
    var record = el("button", status === "done" || status === "queued" ? "再次记录" : "记录检查",
                    "primary record");
    record.type = "button";
    record.addEventListener("click", function () { openVisit(stop); });
    body.appendChild(record);
    $("sheet").classList.remove("folded");
    show($("sheet"), true);
    highlight(stop);
    if (state.view === "list") {  // keep the opened stop's card in sight above the sheet
      var card = document.querySelector('li[data-key="' + CSS.escape(stopKey(stop)) + '"]');
      if (card) { card.scrollIntoView({block: "start"}); }
    }
  }

  /* The day's visit and its photos (thumbnails; a tap opens the full photo), for those who may see them. */
  function visitPhotos(visit) {
    var box = el("div", null, "visit-photos");
    box.appendChild(el("h3", "今日记录：" + (RESULT_CN[visit.result] || visit.result)));
    var list = el("ul", null, "photo-list");
    box.appendChild(list);
    fetch("/api/v1/inspections/" + encodeURIComponent(visit.id) + "/photos", {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (found) {
        ((found && found.photos) || []).forEach(function (photo) {
          var li = el("li", null, "photo");
          var link = document.createElement("a");
          link.href = photo.url;
          link.target = "_blank";
          link.rel = "noopener";
          var img = document.createElement("img");
          img.src = photo.thumb_url;
          img.alt = "照片 " + photo.seq;
          img.loading = "lazy";
          link.appendChild(img);
          li.appendChild(link);
          if (photo.flags && photo.flags.length) { li.appendChild(el("span", "⚠ " + photo.flags.join(", "), "hint")); }
          list.appendChild(li);
        });
      }).catch(function () { return null; });
    return box;
  }

  function closeSheet() { state.open = null; show($("sheet"), false); highlight(null); }

  /* ---------- the visit form ---------- */
  var photos = [];
  var visitStop = null;

  function addDays(isoDay, days) {
    var d = new Date(isoDay + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  function openVisit(stop) {
    visitStop = stop;
    photos = [];
    var form = $("visit-form");
    form.reset();
    $("visit-target").textContent = stop.order + ". " + stop.name + " · " + (stop.category_cn || stop.category || "");
    var items = $("checklist-items");
    items.textContent = "";
    var zone = stop.target_type === "water_hazard";
    $("checklist-legend").textContent = zone ? "现场已有的防护措施" : "发现的问题";
    var options = zone ?
      (stop.measures && stop.measures.length ?
        stop.measures.map(function (m) { return [m.key, m.label + (m.required ? "（必需）" : ""), m.present]; }) :
        MEASURES) :
      (stop.checklist || []).map(function (c) { return [c, c]; });
    options.forEach(function (pair) {
      var label = el("label", null, "check");
      var box = document.createElement("input");
      box.type = "checkbox";
      box.name = zone ? "measure" : "checklist";
      box.value = pair[0];
      box.checked = !!pair[2];
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + pair[1]));
      items.appendChild(label);
    });
    show($("checklist"), options.length > 0);
    form.elements.follow_up_due.value = addDays(state.plan.date, stop.follow_up_days || 7);
    show($("follow-up-row"), false);
    $("photo-list").textContent = "";
    show($("visit-error"), false);
    updatePositionLine();
    show($("visit"), true);
    form.querySelector("input[name=result]").focus();
  }

  function updatePositionLine() {
    var line = $("position");
    if (!line) { return; }
    if (!state.fix) { line.textContent = "正在定位…（定位失败时仍可保存）"; return; }
    line.textContent = "位置：" + state.fix.lat.toFixed(5) + ", " + state.fix.lon.toFixed(5) +
      "（精度 ±" + Math.round(state.fix.accuracy) + " 米）";
    line.classList.remove("far");
    if (visitStop) {
      var away = haversine(state.fix.lat, state.fix.lon, visitStop.lat, visitStop.lon);
      if (away > OFF_SITE_M) {  // the server will flag it; say so before saving, not after
        line.textContent += "。⚠ 您距此处约 " + (away < 1000 ? Math.round(away) + " 米" : (away / 1000).toFixed(1) + " 公里") +
          "，保存后将标记为非现场";
        line.classList.add("far");
      }
    }
  }

  function renderPhotos() {
    var list = $("photo-list");
    list.textContent = "";
    photos.forEach(function (blob, i) {
      var li = el("li", null, "photo");
      var img = document.createElement("img");
      img.alt = "照片 " + (i + 1);
      img.src = URL.createObjectURL(blob);
      li.appendChild(img);
      var remove = el("button", "删除", "secondary small");
      remove.type = "button";
      remove.addEventListener("click", function () { photos.splice(i, 1); renderPhotos(); });
      li.appendChild(remove);
      list.appendChild(li);
    });
  }

  function saveVisit(event) {
    event.preventDefault();
    var form = $("visit-form");
    var result = form.querySelector("input[name=result]:checked");
    if (!result) {
      $("visit-error").textContent = "请选择检查结果";
      show($("visit-error"), true);
      return;
    }
    var stop = visitStop;
    var ticked = Array.prototype.map.call(form.querySelectorAll("input[name=checklist]:checked"),
                                          function (b) { return b.value; });
    var visit = {
      client_id: outbox.uuid(),
      target_type: stop.target_type,
      target_id: stop.target_id,
      result: result.value,
      checklist: ticked,
      findings: form.elements.findings.value.trim(),
      inspected_at: new Date().toISOString()
    };
    if (result.value === "fail" && form.elements.follow_up_due.value) {
      visit.follow_up_due = form.elements.follow_up_due.value;
    }
    if (stop.target_type === "water_hazard") {
      visit.measures = {};
      form.querySelectorAll("input[name=measure]").forEach(function (box) { visit.measures[box.value] = box.checked; });
    }
    if (state.fix) {
      visit.position = {lon: state.fix.lon, lat: state.fix.lat, datum: "wgs84", accuracy_m: state.fix.accuracy};
    }
    $("visit-save").disabled = true;
    outbox.add({client_id: visit.client_id, visit: visit, photos: photos.slice(), label: stop.order + ". " + stop.name})
      .then(function () {
        show($("visit"), false);
        closeSheet();  // back to the list, where the stop is now ticked off in place
        return refreshPending();
      }).then(function () {
        render();
        syncNow();
      }).catch(function (error) {
        $("visit-error").textContent = "无法保存到本机：" + error.message;
        show($("visit-error"), true);
      }).then(function () { $("visit-save").disabled = false; });
  }

  /* ---------- sending ---------- */
  function markSent(item, saved) {
    var key = item.visit.target_type + ":" + item.visit.target_id;
    var warnings = (saved && saved.warnings) || [];
    if (warnings.length) { state.warnings[key] = warnings.join("；"); } else { delete state.warnings[key]; }
    outbox.set("warnings", state.warnings).catch(function () { return null; });
    if (!state.plan) { return; }
    (state.plan.stops || []).forEach(function (stop) {
      if (stop.target_type === item.visit.target_type && stop.target_id === item.visit.target_id) {
        stop.status = "done";
        stop.visit = {id: saved && saved.id, result: item.visit.result, inspected_at: item.visit.inspected_at};
      }
    });
    outbox.set("plan:" + (state.district || ""), state.plan).catch(function () { return null; });
  }
  function syncNow() {
    return outbox.sync(markSent).then(function (report) {
      return refreshPending().then(function () {
        render();
        return report;
      });
    }).catch(function () { return null; });
  }

  function renderOutbox(items) {
    var list = $("outbox-list");
    list.textContent = "";
    if (!items.length) { list.appendChild(el("li", "没有待上传的记录", "empty")); }
    items.forEach(function (item) {
      var li = el("li", null, "outbox-item " + (item.state === "refused" ? "refused" : "waiting"));
      li.appendChild(el("strong", item.label || item.visit.target_id));
      li.appendChild(el("span", (RESULT_CN[item.visit.result] || item.visit.result) + " · " +
        (item.photos || []).length + " 张照片 · " + new Date(item.created_at).toLocaleString("zh-CN")));
      if (item.state === "refused") {
        li.appendChild(el("span", "被服务器拒绝：" + (item.error || ""), "error"));
        var discard = el("button", "放弃这条记录", "secondary small");
        discard.type = "button";
        discard.addEventListener("click", function () {
          if (window.confirm("确定放弃这条记录吗？它将从本机删除。")) {
            outbox.remove(item.client_id).then(refreshPending).then(render);
          }
        });
        li.appendChild(discard);
      } else {
        li.appendChild(el("span", item.error || "等待上传", "hint"));
      }
      list.appendChild(li);
    });
  }

  /* ---------- the map ---------- */
  function ensureMap() {
    if (state.map) { return state.map; }
    var map = L.map("map", {zoomControl: false, attributionControl: true});
    L.control.zoom({zoomInTitle: "放大", zoomOutTitle: "缩小"}).addTo(map);
    map.attributionControl.setPrefix(false);
    map.getContainer().classList.add("gs-sea");
    state.map = map;
    state.layers = {route: L.layerGroup().addTo(map), stops: L.layerGroup().addTo(map), me: L.layerGroup().addTo(map)};
    var legend = L.control({position: "bottomleft"});
    legend.onAdd = function () {
      var box = L.DomUtil.create("div", "map-legend");
      [["marker-pending", "待检查（编号）"], ["marker-result-pass", "合格 ✓"], ["marker-result-fail", "不合格 ✗"],
       ["marker-result-closed", "已关闭/未找到"], ["marker-violation", "违规（禁止设立）"],
       ["gs-route-key", "建议路线"]].forEach(function (pair) {
        var item = el("div", null, "legend-item");
        item.appendChild(el("span", null, "legend-swatch " + pair[0]));
        item.appendChild(document.createTextNode(pair[1]));
        box.appendChild(item);
      });
      return box;
    };
    legend.addTo(map);
    fetch("/api/v1/basemap", {credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (info) {
        if (info && info.tiles_url) {
          L.tileLayer(info.tiles_url, {minZoom: info.minzoom || 0, maxZoom: 19, maxNativeZoom: info.maxzoom || 18,
                                       attribution: info.attribution || ""}).addTo(map);
          prefetchTiles(info);
        }
        if (window.geoSafetyBasemap && (!info || !info.tiles_url)) {
          window.geoSafetyBasemap(map, (info && info.features_url) || "/api/v1/basemap/features");
        }
      }).catch(function () { if (window.geoSafetyBasemap) { window.geoSafetyBasemap(map, "/api/v1/basemap/features"); } });
    return map;
  }

  function drawMap() {
    if (!state.plan || state.view !== "map") { return; }
    var map = ensureMap();
    state.layers.route.clearLayers();
    state.layers.stops.clearLayers();
    state.markers = {};
    var route = state.plan.route;
    if (route && route.coordinates) {
      var lines = route.type === "MultiLineString" ? route.coordinates : [route.coordinates];
      lines.forEach(function (line) {
        L.polyline(line.map(function (c) { return [c[1], c[0]]; }),
                   {color: "#1f5fbf", weight: 4, opacity: 0.7, dashArray: "8 6", className: "gs-route"})
          .addTo(state.layers.route);
      });
    }
    var bounds = [];
    (state.plan.stops || []).forEach(function (stop) {
      var status = stopState(stop);
      var said = stateText(stop);
      var visited = status === "done" || status === "queued";
      // a visited stop keeps its number, with the result's sign and colour (fail ≠ closed ≠ pass)
      var icon = el("div", visited ? stop.order + (said.result === "pass" ? "✓" : said.result === "fail" ? "✗" : "·") :
                                     stop.order,
                    "stop-marker marker-" + status + (stop.violation ? " marker-violation" : "") +
                    (visited && said.result ? " marker-result-" + said.result : ""));
      var marker = L.marker([stop.lat, stop.lon], {
        icon: L.divIcon({html: icon, className: "stop-icon", iconSize: [44, 44], iconAnchor: [22, 22]}),
        title: stop.order + ". " + stop.name, keyboard: true
      });
      marker.on("click", function () { openSheet(stop); });
      marker.addTo(state.layers.stops);
      state.markers[stopKey(stop)] = marker;
      bounds.push([stop.lat, stop.lon]);
    });
    if (!state.fitted && bounds.length) {
      // open on the land part still to be worked (islands are planned apart: one view would show specks)
      var stops = state.plan.stops || [];
      var next = stops.filter(function (s) { return stopState(s) === "pending"; })[0] || stops[0];
      var part = stops.filter(function (s) { return s.group === next.group; })
        .map(function (s) { return [s.lat, s.lon]; });
      map.fitBounds(part.length ? part : bounds, {padding: [40, 40], maxZoom: 16});
      state.fitted = true;
    }
    drawMe();
  }

  function drawMe() {
    if (!state.map || !state.fix) { return; }
    state.layers.me.clearLayers();
    L.circle([state.fix.lat, state.fix.lon], {radius: state.fix.accuracy, color: "#1f5fbf", weight: 1,
                                              fillOpacity: 0.1, interactive: false}).addTo(state.layers.me);
    L.circleMarker([state.fix.lat, state.fix.lon], {radius: 9, color: "#fff", weight: 3, fillColor: "#1f5fbf",
                                                    fillOpacity: 1, className: "gs-me"}).addTo(state.layers.me);
  }

  function highlight(stop) {
    Object.keys(state.markers).forEach(function (key) {
      var node = state.markers[key].getElement();
      if (node) { node.classList.toggle("selected", !!stop && key === stopKey(stop)); }
    });
    if (stop && state.map && state.view === "map") {
      // keep the marker in the part of the map the sheet does not cover
      var sheetHeight = $("sheet").hidden ? 0 : $("sheet").getBoundingClientRect().height;
      var point = state.map.project([stop.lat, stop.lon]).add([0, sheetHeight / 2]);
      state.map.panTo(state.map.unproject(point));
    }
  }

  /* Tiles of the day's area (stops ± 1 km), so the basemap is there offline; at most a few hundred. */
  function prefetchTiles(info) {
    if (!state.plan || !(state.plan.stops || []).length || !info.tiles_url) { return; }
    var lats = state.plan.stops.map(function (s) { return s.lat; });
    var lons = state.plan.stops.map(function (s) { return s.lon; });
    var pad = 0.01;
    var south = Math.min.apply(null, lats) - pad, north = Math.max.apply(null, lats) + pad;
    var west = Math.min.apply(null, lons) - pad, east = Math.max.apply(null, lons) + pad;
    var urls = [];
    var top = Math.min(info.maxzoom || 16, 16);
    for (var z = Math.max(info.minzoom || 0, 10); z <= top && urls.length < 400; z++) {
      var n = Math.pow(2, z);
      var x0 = Math.floor((west + 180) / 360 * n), x1 = Math.floor((east + 180) / 360 * n);
      var y = function (lat) {
        var r = lat * Math.PI / 180;
        return Math.floor((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2 * n);
      };
      for (var x = x0; x <= x1; x++) {
        for (var yy = y(north); yy <= y(south); yy++) {
          urls.push(info.tiles_url.replace("{z}", z).replace("{x}", x).replace("{y}", yy));
        }
      }
    }
    urls.slice(0, 400).forEach(function (u) { fetch(u, {credentials: "same-origin"}).catch(function () { return null; }); });
  }

  /* ---------- switching views, network state ---------- */
  function fitMapHeight() {
    var view = $("map-view");
    var top = view.getBoundingClientRect().top + window.scrollY;
    view.style.height = Math.max(240, window.innerHeight - top) + "px";
  }

  function setView(view) {
    state.view = view;
    ["list", "map"].forEach(function (v) {
      show($(v + "-view"), v === view);
      $("tab-" + v).setAttribute("aria-selected", v === view ? "true" : "false");
    });
    if (view === "map") {
      fitMapHeight();
      ensureMap();
      setTimeout(function () { state.map.invalidateSize(); drawMap(); }, 0);
    }
  }

  function networkChanged() {
    var online = navigator.onLine;
    var net = $("net");
    net.textContent = online ? "在线" : "离线";
    net.classList.toggle("offline", !online);
    if (online) { syncNow(); }
  }

  function replan() {
    if (!state.fix) { window.alert("还没有定位，请稍候再试"); return; }
    if (!navigator.onLine) { window.alert("离线时不能重新规划"); return; }
    var body = {position: {lon: state.fix.lon, lat: state.fix.lat, datum: "wgs84"}};
    if (state.district) { body.district = state.district; }
    if (state.plan) { body.date = state.plan.date; }
    fetch("/api/v1/plans/today/replan", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-Requested-With": "geo-safety"}, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (plan) {
        if (!r.ok) { throw new Error(plan && plan.detail ? String(plan.detail) : "HTTP " + r.status); }
        state.plan = plan;
        state.fitted = false;
        outbox.set("plan:" + (state.district || ""), plan).catch(function () { return null; });
        render();
        var notice = $("notice");
        notice.textContent = "已从您的位置重新规划：剩余检查点的编号已更新（已完成的不变）。" + (plan.notice ? " " + plan.notice : "");
        show(notice, true);
        window.scrollTo(0, 0);
      });
    }).catch(function (error) { window.alert("重新规划失败：" + error.message); });
  }

  function start() {
    if (districts.length > 1) {
      var select = $("district");
      districts.forEach(function (code) {
        var option = el("option", districtName(code));
        option.value = code;
        select.appendChild(option);
      });
      select.addEventListener("change", function () {
        state.district = select.value;
        state.fitted = false;
        closeSheet();
        loadPlan();
      });
      show(select, true);
    }
    document.querySelectorAll(".tabs button").forEach(function (b) {
      b.addEventListener("click", function () { setView(b.getAttribute("data-view")); });
    });
    $("sheet-close").addEventListener("click", closeSheet);
    $("sheet-fold").addEventListener("click", function () { $("sheet").classList.toggle("folded"); });
    $("visit-cancel").addEventListener("click", function () {
      var form = $("visit-form");
      var started = form.querySelector("input[name=result]:checked") || photos.length ||
        form.elements.findings.value.trim() || form.querySelector("input[name=checklist]:checked");
      if (started && !window.confirm("放弃这次记录吗？已填写的内容和照片不会保存。")) { return; }
      show($("visit"), false);
    });
    $("visit-form").addEventListener("submit", saveVisit);
    $("visit-form").addEventListener("change", function (e) {
      if (e.target.name === "result") { show($("follow-up-row"), e.target.value === "fail"); }
    });
    $("photo-input").addEventListener("change", function (e) {
      var files = Array.prototype.slice.call(e.target.files || []);
      e.target.value = "";
      Promise.all(files.map(outbox.resize)).then(function (blobs) {
        photos = photos.concat(blobs).slice(0, 8);
        renderPhotos();
      }).catch(function (error) {
        $("visit-error").textContent = "照片无法读取：" + error.message;
        show($("visit-error"), true);
      });
    });
    $("outbox-badge").addEventListener("click", function () { show($("outbox"), true); });
    $("outbox-close").addEventListener("click", function () { show($("outbox"), false); });
    $("outbox-send").addEventListener("click", syncNow);
    $("replan").addEventListener("click", replan);
    $("locate").addEventListener("click", function () {
      if (state.fix && state.map) { state.map.setView([state.fix.lat, state.fix.lon], 16); }
    });
    window.addEventListener("resize", function () { if (state.view === "map") { fitMapHeight(); state.map.invalidateSize(); } });
    window.addEventListener("online", networkChanged);
    window.addEventListener("offline", networkChanged);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) { syncNow(); } });
    setInterval(function () { if (navigator.onLine) { syncNow(); } }, 30000);
    if (navigator.storage && navigator.storage.persist) { navigator.storage.persist().catch(function () { return false; }); }
    networkChanged();
    watchPosition();
    outbox.get("warnings").then(function (kept) { state.warnings = kept || {}; }, function () { return null; })
      .then(loadPlan).then(function () {
      // after the plan is drawn: the worker's install must not compete with it on a slow link
      if ("serviceWorker" in navigator) {
        navigator.serviceWorker.register("/app/sw.js", {scope: "/app/"}).catch(function () { return null; });
      }
      return syncNow();
    });
  }

  window.geoSafetyInspector = {state: state, sync: syncNow, reload: loadPlan};
  start();
})();
