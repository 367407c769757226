/* Upload a file into a layer with progress: POST /api/v1/imports/{layer} (multipart field "file").
   The server's answer is shown in Chinese: "已导入 n 行", or the refusal with its file, row, id and field.
   Everything from the server or the file name is written as text (textContent), never as HTML. */
(function () {
  "use strict";
  var form = document.getElementById("gs-import");
  var result = document.getElementById("gs-result");
  var input = form.querySelector(".gs-file");
  var drop = form.querySelector(".gs-drop");
  var fileName = form.querySelector(".gs-file-name");
  var progress = form.querySelector(".gs-progress");
  var bar = progress.querySelector("progress");
  var percent = progress.querySelector(".gs-percent");
  var phase = progress.querySelector(".gs-phase");
  var start = form.querySelector(".gs-start");
  var chosen = null;

  var FIELDS = {
    id: "编号", name: "名称", kind: "类型", category: "类别", geometry: "几何（位置或范围）", students: "学生数",
    status: "状态", address: "地址", license: "许可证号", school_id: "学校编号", target_id: "检查对象编号",
    target_type: "检查对象类型", inspected_at: "检查时间", result: "检查结果", follow_up_due: "复查期限",
    responsible_unit: "责任单位", responsible_person: "责任人", phone: "电话", depth_m: "水深", owner: "权属单位",
    warning_sign: "警示牌", lifebuoy: "救生圈", rescue_rope: "救生绳", rescue_pole: "救生杆", fence: "围栏",
    patrols: "巡查安排", boarding: "寄宿", closed_on: "关停日期", inspector: "检查人", findings: "检查发现"
  };
  /* English problem (pattern) -> Chinese; $1.. are the pattern's groups. The first match wins. */
  var PROBLEMS = [
    [/^missing required field/, "缺少必填内容"],
    [/^unknown value (.*); allowed: (.*)$/, "取值 $1 不在允许范围内（允许：$2）"],
    [/^(.*) is not a whole number/, "$1 不是非负整数"],
    [/^(.*) is not a finite number/, "$1 不是有效数字"],
    [/^(.*) is not a number/, "$1 不是数字"],
    [/^(.*) is not true\/false/, "$1 不是“是/否”"],
    [/^(.*) is not a valid (\w+)/, "$1 不是有效的 $2 值"],
    [/^no geometry/, "没有位置：请提供 lon/lat 两列或 wkt 列"],
    [/^missing or empty geometry/, "几何为空"],
    [/^more than ([\d,]+) vertices/, "顶点超过 $1 个，请简化或拆分图形"],
    [/^coordinates are not finite/, "坐标不是有效数字"],
    [/^wrong geometry type (\w+), expected (\w+)/, "几何类型为 $1，应为 $2"],
    [/^invalid geometry that has no area once repaired/, "多边形无效，修复后面积为零"],
    [/^invalid geometry: ([^(]*)/, "多边形无效（$1）：可勾选“自动修复无效的多边形”后重试"],
    [/^outside the service area \(it falls inside if read as (\w+)/, "位置在服务区域之外；若按 $1 坐标系读取则在区域内，请检查所选坐标系"],
    [/^outside the service area \(position ([\d.]+), ([\d.]+)/, "位置在服务区域之外（WGS84 经度 $1、纬度 $2），请检查坐标系或经纬度是否颠倒"],
    [/^outside the service area/, "位置在服务区域之外"],
    [/^duplicate id \(also in row (\d+)\)/, "编号重复（第 $1 行也使用了该编号）"],
    [/^duplicate id: already in the database/, "编号已存在：如需更新已有记录，请选择“更新”方式"],
    [/^duplicate id/, "编号重复"],
    [/^the file is empty/, "文件是空的"],
    [/^the file holds no (rows|features)/, "文件中没有数据行"],
    [/^unknown file type/, "不支持的文件类型：请使用 GeoJSON、GeoPackage、Shapefile（zip）、KML 或 CSV"],
    [/^not (GeoJSON|a GeoPackage|a Shapefile|KML|CSV|[\w ]+): /, "文件内容与其格式不符，无法读取"],
    [/^unreadable encoding/, "文字编码无法识别：请另存为 UTF-8，或在“文字编码”中选择 GBK"],
    [/^malformed (JSON|CSV)/, "$1 格式错误，无法读取"],
    [/^unknown school id/, "学校编号不存在（请先导入学校）"],
    [/^campus lies more than 500 m/, "校园范围距校门超过 500 米（学校或坐标系是否有误？）"],
    [/^inspection date lies in the future/, "检查日期晚于今天"],
    [/^refusing a zip/, "压缩包内容不安全或过大，已拒绝"],
    [/zip archive/, "压缩包无法读取，或其中 Shapefile 数量不是一个"],
    [/--mode replace would/, "“替换”方式会删除仍被其他记录引用的数据，请改用“更新”"],
    [/^rejected by the database/, "数据库拒绝了该行的数据"],
    [/district/, "超出本账号负责的区县"]
  ];
  var STATUS = {
    401: "登录已过期，请重新登录后再上传。",
    403: "没有权限导入这个图层或这些区县的数据。",
    408: "上传或导入超时，请检查网络或把文件拆小后重试。",
    413: "文件太大，超过了上传上限。",
    429: "正在进行的导入太多，请稍后再试。"
  };

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text != null) { node.textContent = String(text); }
    if (className) { node.className = className; }
    return node;
  }

  function translate(problem) {
    for (var i = 0; i < PROBLEMS.length; i += 1) {
      var match = PROBLEMS[i][0].exec(problem);
      if (match) {
        return PROBLEMS[i][1].replace(/\$(\d)/g, function (_, n) { return match[Number(n)] || ""; });
      }
    }
    return null;
  }

  /* "FILE, row 3, id 'X', field 'kind': PROBLEM. Nothing was loaded." -> its parts */
  function parse(detail) {
    var parts = {file: null, row: null, id: null, field: null, problem: detail};
    var match = /^(.*?)((?:, (?:row \d+|id '(?:[^']|\\')*'|id "[^"]*"|field '[^']*'))*): (.*?)(?:\. Nothing was loaded\.)?$/.exec(detail);
    if (!match) { return parts; }
    parts.file = match[1];
    parts.problem = match[3];
    var where = match[2] || "";
    var row = /row (\d+)/.exec(where);
    var id = /id '((?:[^'\\]|\\.)*)'|id "([^"]*)"/.exec(where);
    var field = /field '([^']*)'/.exec(where);
    if (row) { parts.row = row[1]; }
    if (id) { parts.id = id[1] != null ? id[1] : id[2]; }
    if (field) { parts.field = field[1]; }
    return parts;
  }

  function showRefusal(status, body) {
    result.textContent = "";
    var box = el("div", null, "error");
    box.setAttribute("role", "alert");
    var detail = body && body.detail;
    if (typeof detail !== "string") {
      box.appendChild(el("p", STATUS[status] || "导入失败（" + status + "）：请求参数有误，请检查所选图层、坐标系和方式。"));
      result.appendChild(box);
      return;
    }
    var parts = parse(detail);
    var chinese = translate(parts.problem);
    box.appendChild(el("p", status === 422 || status === 409 ? "未导入：文件有误，未导入任何数据。" :
      (STATUS[status] || "导入失败（" + status + "）。")));
    var table = document.createElement("table");
    table.className = "gs-refusal";
    [["文件", parts.file], ["行", parts.row && "第 " + parts.row + " 行"], ["编号", parts.id],
     ["字段", parts.field && (FIELDS[parts.field] ? FIELDS[parts.field] + "（" + parts.field + "）" : parts.field)],
     ["问题", chinese || "服务器拒绝了该文件（详见下方原文）"]].forEach(function (pair) {
      if (!pair[1]) { return; }
      var tr = document.createElement("tr");
      tr.appendChild(el("th", pair[0]));
      tr.appendChild(el("td", pair[1], "gs-refusal-" + pair[0]));
      table.appendChild(tr);
    });
    box.appendChild(table);
    var more = document.createElement("details");
    more.appendChild(el("summary", "服务器原文（供技术人员参考）"));
    more.appendChild(el("p", detail));
    box.appendChild(more);
    result.appendChild(box);
  }

  function showSuccess(body) {
    result.textContent = "";
    var rows = body.inserted + body.updated;
    var box = el("div", null, "gs-ok-box");
    box.appendChild(el("p", "已导入 " + rows + " 行", "gs-ok"));
    var facts = [
      "文件 " + body.file_name, "读取 " + body.rows_read + " 行", "新增 " + body.inserted + " 行",
      "更新 " + body.updated + " 行", "删除 " + body.deleted + " 行"
    ];
    if (body.repaired) { facts.push("修复多边形 " + body.repaired + " 个"); }
    box.appendChild(el("p", facts.join(" · "), "small"));
    if (body.ignored_columns && body.ignored_columns.length) {
      box.appendChild(el("p", "未使用的列：" + body.ignored_columns.join("、"), "small"));
    }
    result.appendChild(box);
  }

  function choose(file) {
    chosen = file || null;
    fileName.textContent = chosen ? chosen.name + "（" + (chosen.size / 1024).toFixed(1) + " KB）" : "尚未选择文件";
    result.textContent = "";
  }

  function hint() {
    var option = form.layer.options[form.layer.selectedIndex];
    form.querySelector(".gs-layer-hint").textContent = "文件内容：" + option.getAttribute("data-hint");
    form.repair.closest("label").hidden = form.layer.value !== "water_hazards" && form.layer.value !== "school_campuses";
  }

  drop.addEventListener("click", function () { input.click(); });
  drop.addEventListener("keydown", function (event) {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); input.click(); }
  });
  input.addEventListener("change", function () { choose(input.files[0]); });
  ["dragenter", "dragover"].forEach(function (name) {
    drop.addEventListener(name, function (event) { event.preventDefault(); drop.classList.add("gs-over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    drop.addEventListener(name, function (event) { event.preventDefault(); drop.classList.remove("gs-over"); });
  });
  drop.addEventListener("drop", function (event) {
    if (event.dataTransfer && event.dataTransfer.files.length) { choose(event.dataTransfer.files[0]); }
  });
  form.layer.addEventListener("change", hint);
  hint();

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    result.textContent = "";
    if (!chosen) { result.appendChild(el("p", "请先选择要导入的文件。", "error")); return; }
    if (!form.datum.value) { result.appendChild(el("p", "请选择文件的坐标系。", "error")); form.datum.focus(); return; }
    var params = new URLSearchParams({datum: form.datum.value, mode: form.mode.value});
    if (form.repair.checked && !form.repair.closest("label").hidden) { params.set("repair", "true"); }
    if (form.encoding.value) { params.set("encoding", form.encoding.value); }
    var data = new FormData();
    data.append("file", chosen, chosen.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/imports/" + encodeURIComponent(form.layer.value) + "?" + params.toString());
    xhr.setRequestHeader("X-Requested-With", "geo-safety");
    xhr.setRequestHeader("Accept", "application/json");
    progress.hidden = false;
    bar.value = 0;
    percent.textContent = "0%";
    phase.textContent = "正在上传…";
    start.disabled = true;
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      var share = Math.round(100 * e.loaded / e.total);
      bar.value = share;
      percent.textContent = share + "%";
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = 100;
      percent.textContent = "100%";
      phase.textContent = "上传完成，服务器正在检查并导入…";
    });
    xhr.addEventListener("load", function () {
      start.disabled = false;
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (ignore) { body = null; }
      if (xhr.status >= 200 && xhr.status < 300 && body) {
        phase.textContent = "完成";
        showSuccess(body);
      } else {
        phase.textContent = "未导入";
        showRefusal(xhr.status, body);
      }
    });
    xhr.addEventListener("error", function () {
      start.disabled = false;
      phase.textContent = "";
      result.textContent = "";
      result.appendChild(el("p", "网络中断，文件没有送达服务器；请检查网络后重试。", "error"));
    });
    xhr.send(data);
  });
})();
