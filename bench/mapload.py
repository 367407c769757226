"""Map pages: HTML size, every byte the page fetched, the time headless Chromium takes to fire ``load`` and the
time until the map's data is drawn, from the live server.

Since issue 17 a served map page is a small shell that fetches its data layers for the view after ``load``
(``mapdata.js``); the user waits for the data, so that is timed too: from the navigation's start until the map's
container says ``data-gs-data="drawn"``, and until a district map's counts are in its panel (their own
request). Pages without data layers are drawn at ``load``. Bytes are the bodies of every response of the page
(document, scripts, styles, basemap, data), as received (``encodedDataLength``: gzip'd where the server
compressed).

Chromium is Debian's (``/usr/bin/chromium``) driven by Playwright, started with the flags the browser
tests use; each page is loaded three times in a fresh context (no cache) and the median is kept.
"""

from __future__ import annotations

import statistics
import time
import urllib.request
from dataclasses import dataclass

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
#: true once the page's data layers are drawn (pages without data layers: at once)
DRAWN = """() => {
  const map = document.querySelector('.folium-map');
  if (!map) { return false; }
  if (!document.querySelector('script[src$="mapdata.js"]') && !map.dataset.gsData) { return true; }
  return map.dataset.gsData === 'drawn';
}"""
#: true once a district map's counts are in its panel (or their request failed); other pages: at once
PANEL = """() => {
  const slot = document.querySelector('.gs-summary-slot');
  return !slot || !!document.querySelector('.gs-summary') || slot.textContent.indexOf('无法加载') >= 0;
}"""


@dataclass
class MapResult:
    scale: str
    page: str
    bytes: int  # the HTML page as served (uncompressed)
    load_ms: float
    features: str
    drawn_ms: float = float("nan")  # until the data layers are drawn
    panel_ms: float = float("nan")  # until a district map's counts are shown (else as drawn_ms)
    all_bytes: int = 0  # every response of the page, as transferred
    requests: int = 0


def _size(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return len(response.read())


def _wait(page, predicate: str, timeout_s: float = 120.0) -> None:
    """Poll (the pages' CSP forbids the ``eval`` that ``wait_for_function`` needs)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            raise TimeoutError("the map's data was not drawn")
        page.wait_for_timeout(20)


def run(scale: str, base: str, token: str, pages: dict[str, str]) -> list[MapResult]:
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            for name, path in pages.items():
                url = base + path
                size = _size(url, token)
                loads, drawn, panels, transferred, counts = [], [], [], [], []
                markers = 0
                for _ in range(3):
                    context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {token}"})
                    page = context.new_page()
                    cdp = context.new_cdp_session(page)
                    cdp.send("Network.enable")
                    received: dict[str, int] = {}
                    cdp.on(
                        "Network.loadingFinished",
                        lambda e, received=received: received.__setitem__(e["requestId"], int(e["encodedDataLength"])),
                    )
                    started = time.perf_counter()
                    page.goto(url, wait_until="load", timeout=120_000)
                    loads.append((time.perf_counter() - started) * 1000)
                    _wait(page, DRAWN)
                    drawn.append((time.perf_counter() - started) * 1000)  # polling adds at most 20 ms
                    _wait(page, PANEL)
                    panels.append((time.perf_counter() - started) * 1000)
                    page.wait_for_timeout(300)  # late responses (basemap) counted too
                    transferred.append(sum(received.values()))
                    counts.append(len(received))
                    markers = page.evaluate(
                        "(() => { const m = document.querySelector('.folium-map'); "
                        "const icons = document.querySelectorAll('.leaflet-marker-icon').length; "
                        "return m.dataset.gsFeatures ? Number(m.dataset.gsFeatures) + icons : "
                        "document.querySelectorAll('.leaflet-interactive').length + icons; })()"
                    )
                    context.close()
                results.append(
                    MapResult(
                        scale,
                        name,
                        size,
                        statistics.median(loads),
                        f"{markers:,} drawn",
                        statistics.median(drawn),
                        statistics.median(panels),
                        int(statistics.median(transferred)),
                        int(statistics.median(counts)),
                    )
                )
        finally:
            browser.close()
    return results
