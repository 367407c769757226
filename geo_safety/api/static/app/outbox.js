/* The phone's outbox: visits and their photos kept in IndexedDB until the server has acknowledged them.
   A visit and its photos are one unit with one id made here (client_id); sending it twice stores it once.
   Nothing is deleted before the server said yes; a refused visit stays, with the server's reason. */
(function () {
  "use strict";
  var DB_NAME = "geo-safety-field";
  var dbPromise = null;

  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = function () {
          var d = request.result;
          if (!d.objectStoreNames.contains("outbox")) { d.createObjectStore("outbox", {keyPath: "client_id"}); }
          if (!d.objectStoreNames.contains("kv")) { d.createObjectStore("kv"); }
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return dbPromise;
  }

  function run(store, mode, work) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var tx = d.transaction(store, mode);
        var result = work(tx.objectStore(store));
        tx.oncomplete = function () { resolve(result && "result" in result ? result.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error || new Error("aborted")); };
      });
    });
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  /* ---- photos: resized on the phone (long side ≤ 1600 px), their own EXIF (time, GPS) carried over ---- */
  var MAX_SIDE = 1600;

  /* The APP1 (EXIF) segment of a JPEG, or null. */
  function exifSegment(bytes) {
    if (bytes[0] !== 0xff || bytes[1] !== 0xd8) { return null; }
    var i = 2;
    while (i + 4 <= bytes.length && bytes[i] === 0xff) {
      var marker = bytes[i + 1];
      var length = (bytes[i + 2] << 8) | bytes[i + 3];
      if (marker === 0xe1 && bytes[i + 4] === 0x45 && bytes[i + 5] === 0x78) {  // "Ex"
        return bytes.slice(i, i + 2 + length);
      }
      if (marker === 0xda) { break; }  // start of scan: no more headers
      i += 2 + length;
    }
    return null;
  }

  /* The pixels are drawn upright, so the copied EXIF must say "no rotation" (Orientation = 1). */
  function clearOrientation(segment) {
    var tiff = 10;  // FF E1 len(2) "Exif\0\0"
    var little = segment[tiff] === 0x49;
    var view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
    var ifd = tiff + view.getUint32(tiff + 4, little);
    if (ifd + 2 > segment.length) { return segment; }
    var count = view.getUint16(ifd, little);
    for (var k = 0; k < count; k++) {
      var entry = ifd + 2 + k * 12;
      if (entry + 12 > segment.length) { break; }
      if (view.getUint16(entry, little) === 0x0112) { view.setUint16(entry + 8, 1, little); }
    }
    return segment;
  }

  function withExif(jpegBlob, segment) {
    if (!segment) { return Promise.resolve(jpegBlob); }
    return jpegBlob.arrayBuffer().then(function (buffer) {
      var bytes = new Uint8Array(buffer);
      return new Blob([bytes.slice(0, 2), segment, bytes.slice(2)], {type: "image/jpeg"});
    });
  }

  function resize(file) {
    return file.arrayBuffer().then(function (buffer) {
      var segment = exifSegment(new Uint8Array(buffer));
      if (segment) {
        try { segment = clearOrientation(segment); } catch (e) { segment = null; }
      }
      return createImageBitmap(file, {imageOrientation: "from-image"}).then(function (bitmap) {
        var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(bitmap.width * scale);
        canvas.height = Math.round(bitmap.height * scale);
        canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        return new Promise(function (resolve, reject) {
          canvas.toBlob(function (blob) {
            if (blob) { resolve(blob); } else { reject(new Error("照片无法处理")); }
          }, "image/jpeg", 0.85);
        }).then(function (blob) { return withExif(blob, segment); });
      });
    });
  }

  /* ---- the outbox ---- */
  var listeners = [];
  function changed() { listeners.forEach(function (f) { try { f(); } catch (e) { /* a view's problem */ } }); }

  var outbox = {
    uuid: uuid,
    resize: resize,
    onChange: function (f) { listeners.push(f); },
    all: function () {
      return run("outbox", "readonly", function (s) { return s.getAll(); }).then(function (items) {
        return (items || []).sort(function (a, b) { return a.created_at < b.created_at ? -1 : 1; });
      });
    },
    add: function (item) {
      item.state = "pending";
      item.created_at = new Date().toISOString();
      return run("outbox", "readwrite", function (s) { s.put(item); }).then(changed);
    },
    put: function (item) { return run("outbox", "readwrite", function (s) { s.put(item); }).then(changed); },
    remove: function (id) { return run("outbox", "readwrite", function (s) { s.delete(id); }).then(changed); },
    get: function (key) { return run("kv", "readonly", function (s) { return s.get(key); }); },
    set: function (key, value) { return run("kv", "readwrite", function (s) { s.put(value, key); }); },

    /* Send what is waiting, oldest first. Returns {sent, refused, waiting}. */
    sync: (function () {
      var running = null;
      function once(onSent) {
        var report = {sent: 0, refused: 0, waiting: 0, error: null};
        return outbox.all().then(function (items) {
          var chain = Promise.resolve(true);
          items.forEach(function (item) {
            chain = chain.then(function (goOn) {
              if (!goOn || item.state === "refused") {
                if (item.state !== "refused") { report.waiting += 1; }
                return goOn;
              }
              return send(item).then(function (outcome) {
                if (outcome.ok) {
                  report.sent += 1;
                  return outbox.remove(item.client_id).then(function () {
                    if (onSent) { onSent(item, outcome.body); }
                    return true;
                  });
                }
                if (outcome.refused) {
                  report.refused += 1;
                  item.state = "refused";
                  item.error = outcome.reason;
                  return outbox.put(item).then(function () { return true; });
                }
                report.waiting += 1;  // no network, server busy or away, logged out: keep it and stop for now
                report.error = outcome.reason;
                item.error = outcome.reason;
                item.attempts = (item.attempts || 0) + 1;
                return outbox.put(item).then(function () { return false; });
              });
            });
          });
          return chain.then(function () { return report; });
        });
      }
      return function (onSent) {
        if (!running) {
          running = once(onSent).then(function (r) { running = null; return r; },
                                      function (e) { running = null; throw e; });
        }
        return running;
      };
    })()
  };

  function reasonOf(body, status) {
    var detail = body && body.detail;
    if (Array.isArray(detail)) {
      detail = detail.map(function (d) { return (d.loc || []).join(".") + ": " + d.msg; }).join("; ");
    }
    return (detail ? String(detail) : "") || ("HTTP " + status);
  }

  function send(item) {
    var form = new FormData();
    form.append("visit", JSON.stringify(item.visit));
    (item.photos || []).forEach(function (blob, i) { form.append("photos", blob, "photo-" + (i + 1) + ".jpg"); });
    return fetch("/api/v1/visits", {
      method: "POST", body: form, credentials: "same-origin", headers: {"X-Requested-With": "geo-safety"}
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        if (response.ok) { return {ok: true, body: body}; }
        var reason = reasonOf(body, response.status);
        if (response.status === 401) {
          return {ok: false, reason: "登录已过期，请重新登录后自动上传（记录已保留）：" + reason};
        }
        if (response.status >= 500 || response.status === 408 || response.status === 429) {
          return {ok: false, reason: "服务器暂时不可用，稍后自动重试：" + reason};
        }
        return {ok: false, refused: true, reason: reason};
      });
    }, function () {
      return {ok: false, reason: "没有网络，联网后自动上传"};
    });
  }

  window.geoSafetyOutbox = outbox;
})();
