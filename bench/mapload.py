"""Map pages: HTML size and the time headless Chromium takes to fire ``load``, from the live server.

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


@dataclass
class MapResult:
    scale: str
    page: str
    bytes: int
    load_ms: float
    features: str


def _size(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return len(response.read())


def run(scale: str, base: str, token: str, pages: dict[str, str]) -> list[MapResult]:
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            for name, path in pages.items():
                url = base + path
                size = _size(url, token)
                timings = []
                for _ in range(3):
                    context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {token}"})
                    page = context.new_page()
                    started = time.perf_counter()
                    page.goto(url, wait_until="load", timeout=120_000)
                    timings.append((time.perf_counter() - started) * 1000)
                    markers = page.locator(".leaflet-interactive, .leaflet-marker-icon").count()
                    context.close()
                results.append(MapResult(scale, name, size, statistics.median(timings), f"{markers:,} drawn"))
        finally:
            browser.close()
    return results
