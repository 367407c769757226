/* The field app's service worker: the app shell from the cache, the day's data network-first with the
   cached copy when there is no network, basemap tiles cache-first. Visits are NOT queued here: the page
   keeps its own outbox in IndexedDB (background sync is not reliable on every phone). */
"use strict";
var VERSION = "__VERSION__";
var SHELL = ["__SHELL__"];
var SHELL_CACHE = "gs-shell-" + VERSION;
var DATA_CACHE = "gs-data-v1";
var TILE_CACHE = "gs-tiles-v1";

//: the basemap the day's map draws (fetched before this worker controlled the page, so kept now)
var DATA = ["/api/v1/basemap", "/api/v1/basemap/features"];

function keep(cacheName, urls) {
  return caches.open(cacheName).then(function (cache) {
    return Promise.all(urls.map(function (url) {
      return fetch(url, {credentials: "same-origin", cache: "no-cache"}).then(function (response) {
        if (response.ok) { return cache.put(url, response); }
        return null;
      }).catch(function () { return null; });
    }));
  });
}

self.addEventListener("install", function (event) {
  event.waitUntil(Promise.all([keep(SHELL_CACHE, SHELL), keep(DATA_CACHE, DATA)])
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf("gs-shell-") === 0 && k !== SHELL_CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function networkFirst(request, cacheName, fallbackKey) {
  return fetch(request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(cacheName).then(function (cache) { cache.put(fallbackKey || request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.open(cacheName).then(function (cache) {
      return cache.match(fallbackKey || request).then(function (hit) {
        return hit || caches.match(fallbackKey || request, {ignoreSearch: true}).then(function (any) {
          if (any) { return any; }
          return new Response(JSON.stringify({detail: "离线且本机没有缓存 offline, nothing cached"}),
                              {status: 503, headers: {"Content-Type": "application/json"}});
        });
      });
    });
  });
}

function cacheFirst(request, cacheName) {
  return caches.match(request).then(function (hit) {
    if (hit) { return hit; }
    return fetch(request).then(function (response) {
      if (response.ok && response.status === 200) {
        var copy = response.clone();
        caches.open(cacheName).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    }).catch(function () { return new Response("", {status: 504}); });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate" && url.pathname === "/app/today") {
    event.respondWith(networkFirst(request, SHELL_CACHE, "/app/today"));
  } else if (url.pathname.indexOf("/tiles/") === 0) {
    event.respondWith(cacheFirst(request, TILE_CACHE));
  } else if (url.pathname.indexOf("/api/v1/plans/") === 0 || url.pathname.indexOf("/api/v1/basemap") === 0 ||
             url.pathname === "/api/v1/checklists") {
    event.respondWith(networkFirst(request, DATA_CACHE));
  } else if (url.pathname.indexOf("/static/") === 0 || url.pathname === "/app/manifest.webmanifest") {
    event.respondWith(cacheFirst(request, SHELL_CACHE));
  }
});
