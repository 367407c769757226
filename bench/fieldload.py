"""The inspector's phone app (issue 14): the first load of the day on a slow link, and reopening it offline.

    .venv/bin/python -m bench.fieldload          # throwaway cluster in a temp folder, about a minute

A server (``geo-safety serve``, one process) runs on the bundled Beihai sample with one inspector of 450502.
Headless Chromium (Debian's) opens ``/app/today`` as a phone (390×844, touch, zh-CN, geolocation) after
logging in through ``/login`` on an unthrottled link; the page is ready when ``#stops > li`` is drawn
(timed in the page, from the navigation's start to the next animation frame after the first stop appears).

- **cold, 1 Mbit/s**: a fresh context (no cache), DevTools' ``Network.emulateNetworkConditions`` at
  125,000 B/s down and up and 300 ms latency per request; median of 3.
- **offline reopen**: the same context once the service worker controls the page, ``set_offline(True)``,
  reload; median of 3.
- **floors**: the same cold load unthrottled on loopback (what the machine itself costs), and the transfer
  floor of the emulated link computed from the observed waterfall: along the chain of requests that leads to
  the day's plan (document → the scripts it names → the plan ``fetch``), every wave costs at least one RTT
  per round of six requests (HTTP/1.1, six connections per host) plus its bytes at 125,000 B/s. DevTools'
  emulation adds its latency per request and charges no DNS or TCP handshake, so neither does this floor; a
  real link adds one RTT for the first connection and one more when wave 2 opens new ones.

Requests a service worker makes are not throttled by the page's emulation (they belong to another target):
their number is reported beside the figures so their share of a real link is visible.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench.apiload import _free_port, serve, stop
from bench.world import BENCH_DIR, Server, World
from geo_safety.localdb import LocalCluster
from geo_safety.services.audit import Actor
from geo_safety.services.bundled import load_sample
from geo_safety.services.users import add_user
from geo_safety.settings import PROJECT_DIR, Settings

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
DISTRICT = "450502"
HERE = (109.12, 21.48)  # the phone stands in 海城区, near the first stops
BANDWIDTH = 125_000  # bytes/s: 1 Mbit/s
RTT_MS = 300.0
CONNECTIONS = 6  # Chromium's HTTP/1.1 connections per host
TARGET_COLD_MS = 3000.0
TARGET_OFFLINE_MS = 1000.0
RUNS = 3
DATABASE = "geo_safety_bench_field"
INSPECTOR = "bench-field"
PLAN_PATH = "/api/v1/plans/today"

#: Marks the moment the first stop is drawn: the animation frame after ``#stops > li`` appears.
READY_SCRIPT = """
(() => {
  const seen = () => {
    if (!document.querySelector('#stops > li')) { return false; }
    window.__gsSeen = performance.now();
    requestAnimationFrame(() => { window.__gsReady = performance.now(); });
    return true;
  };
  new MutationObserver((_, observer) => { if (seen()) { observer.disconnect(); } })
    .observe(document, {childList: true, subtree: true});
})();
"""


@dataclass
class Fetched:
    """One row of the waterfall, times in ms from the document request."""

    url: str
    start_ms: float
    end_ms: float | None = None
    bytes: int = 0
    status: int = 0
    encoding: str = ""
    mime: str = ""
    cached: bool = False
    initiator: str | None = None
    wave: int = 0

    @property
    def path(self) -> str:
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Load:
    ready_ms: float
    fcp_ms: float | None
    wall_ms: float
    waterfall: list[Fetched] = field(default_factory=list)
    worker: list[tuple[str, int, int]] = field(default_factory=list)  # the service worker's (path, status, bytes)

    def before_ready(self) -> list[Fetched]:
        return [r for r in self.waterfall if r.end_ms is not None and r.end_ms <= self.ready_ms and not r.cached]

    @property
    def bytes_before_ready(self) -> int:
        return sum(r.bytes for r in self.before_ready())

    @property
    def bytes_total(self) -> int:
        return sum(r.bytes for r in self.waterfall if not r.cached)


@dataclass
class Floor:
    """The least time the chain of waves to the plan can take: each wave on it costs at least one RTT plus
    its bytes at 125,000 B/s (``emulated``, the rules of DevTools' emulation), and on a real link also the
    TCP handshakes and one more round per six requests of a wave (``real``)."""

    emulated_round_trips: int
    real_round_trips: int
    bytes: int
    chain: list[tuple[int, int, int]]  # (wave, requests it needed, their bytes)

    @property
    def ms(self) -> float:
        return self.emulated_round_trips * RTT_MS + self.bytes / BANDWIDTH * 1000

    @property
    def real_ms(self) -> float:
        return self.real_round_trips * RTT_MS + self.bytes / BANDWIDTH * 1000


@dataclass
class FieldResult:
    cold: list[Load]
    offline: list[Load]
    loopback: list[Load]
    stops: int
    chromium: str = ""

    @staticmethod
    def median(loads: list[Load]) -> Load:
        ordered = sorted(loads, key=lambda x: x.ready_ms)
        return ordered[len(ordered) // 2]


# -- the waterfall, from the page's DevTools session -----------------------------------------------------


class Recorder:
    """Collects the page's requests from CDP Network events (sizes as sent on the wire, gzip or not)."""

    def __init__(self, cdp) -> None:
        self.rows: dict[str, Fetched] = {}
        self.origin: float | None = None
        self.raw_initiators: dict[str, dict] = {}
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.loadingFailed", self._failed)
        cdp.on("Network.requestServedFromCache", self._from_cache)

    def reset(self) -> None:
        self.rows.clear()
        self.raw_initiators.clear()
        self.origin = None

    def _ms(self, timestamp: float) -> float:
        if self.origin is None:
            self.origin = timestamp
        return (timestamp - self.origin) * 1000

    def _sent(self, event: dict) -> None:
        url = event["request"]["url"]
        if url.startswith(("data:", "blob:")):
            return
        if event.get("type") == "Document" and event.get("redirectResponse") is None:
            self.origin = None  # a navigation starts the clock
        self.rows[event["requestId"]] = Fetched(url, self._ms(event["timestamp"]))
        self.raw_initiators[event["requestId"]] = event.get("initiator") or {}

    def _response(self, event: dict) -> None:
        row = self.rows.get(event["requestId"])
        if row is None:
            return
        response = event["response"]
        headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
        row.status = response.get("status", 0)
        row.encoding = headers.get("content-encoding", "")
        row.mime = response.get("mimeType", "")
        row.cached = row.cached or bool(response.get("fromDiskCache") or response.get("fromServiceWorker"))

    def _finished(self, event: dict) -> None:
        row = self.rows.get(event["requestId"])
        if row is not None:
            row.end_ms = self._ms(event["timestamp"])
            row.bytes = int(event.get("encodedDataLength", 0))

    def _failed(self, event: dict) -> None:
        row = self.rows.get(event["requestId"])
        if row is not None:
            row.end_ms = self._ms(event["timestamp"])

    def _from_cache(self, event: dict) -> None:
        row = self.rows.get(event["requestId"])
        if row is not None:
            row.cached = True

    def waterfall(self) -> list[Fetched]:
        """The rows in order with their wave: 1 for the document, +1 for each request that had to wait for
        the one that started it (the parser of the document or a stylesheet, or a script's call stack)."""
        rows = sorted(self.rows.items(), key=lambda item: item[1].start_ms)
        wave_of: dict[str, int] = {}
        for request_id, row in rows:
            source = _initiator_url(self.raw_initiators.get(request_id, {}))
            row.initiator = source
            if not wave_of:
                row.wave = 1
            else:
                row.wave = wave_of.get(source or "", 1) + 1
            wave_of.setdefault(row.url, row.wave)
        return [row for _, row in rows]


def _initiator_url(initiator: dict) -> str | None:
    if initiator.get("url"):
        return initiator["url"]
    stack = initiator.get("stack")
    while stack:
        for frame in stack.get("callFrames", []):
            if frame.get("url"):
                return frame["url"]
        stack = stack.get("parent")
    return None


def floor_of(load: Load) -> Floor:
    """The floor of the chain of waves that ends with the plan's request, from the observed waterfall.

    A wave on the chain needs the requests of that wave which started before the chain's next request (for
    the last wave, the plan alone). DevTools' emulation delays each response by the latency after the
    socket pool has done its work, so it charges one RTT per wave whatever the number of requests; a real
    link also pays a TCP handshake for the first connection, one for the new connections of the first wide
    wave, and one more round per six requests of a wave (HTTP/1.1, six connections per host).
    """
    rows = load.before_ready()
    plan = next((r for r in rows if r.path.startswith(PLAN_PATH)), None)
    if plan is None:
        return Floor(0, 0, 0, [])
    by_url = {r.url: r for r in rows}
    links: list[Fetched] = []
    node: Fetched | None = plan
    while node is not None:
        links.append(node)
        node = by_url.get(node.initiator or "") if node.wave > 1 else None
    links.reverse()
    chain: list[tuple[int, int, int]] = []
    real = 1  # the first connection's handshake
    widened = False
    total = 0
    for link, following in zip(links, [*links[1:], None], strict=True):
        if following is None:
            members = [link]
        else:
            members = [r for r in rows if r.wave == link.wave and r.start_ms <= following.start_ms]
        size = sum(r.bytes for r in members)
        chain.append((link.wave, len(members), size))
        real += math.ceil(len(members) / CONNECTIONS)
        if len(members) > 1 and not widened:
            real += 1  # new connections for a wave wider than one
            widened = True
        total += size
    return Floor(len(chain), real, total, chain)


# -- the browser ------------------------------------------------------------------------------------------


def _phone(browser):
    return browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        geolocation={"longitude": HERE[0], "latitude": HERE[1]},
        permissions=["geolocation"],
    )


def _log_in(page, base: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", INSPECTOR)
    page.fill("input[name=password]", password)
    page.locator("button[type=submit]").click()
    page.wait_for_load_state("load")
    if urlsplit(page.url).path.startswith("/login"):
        raise RuntimeError("the benchmark inspector could not log in")


def _wait_ready(page, timeout_s: float = 60.0) -> tuple[float, float | None]:
    """(ms to the first drawn stop, ms to the first contentful paint), both from the navigation's start."""
    page.locator("#stops > li").first.wait_for(state="visible", timeout=timeout_s * 1000)
    deadline = time.monotonic() + 5
    while (ready := page.evaluate("() => window.__gsReady || null")) is None:
        if time.monotonic() > deadline:
            raise TimeoutError("the ready mark was not set")
        page.wait_for_timeout(20)
    fcp = page.evaluate(
        "() => (performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint') || {})"
        ".startTime ?? null"
    )
    return float(ready), (float(fcp) if fcp is not None else None)


def _settle(page, recorder: Recorder, quiet_s: float = 1.5, limit_s: float = 30.0) -> None:
    """Wait until no request of the page has been pending for ``quiet_s`` (bytes after ready count too)."""
    deadline = time.monotonic() + limit_s
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        if any(r.end_ms is None for r in recorder.rows.values()):
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        page.wait_for_timeout(100)


def _throttle(cdp, on: bool) -> None:
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": RTT_MS if on else 0,
            "downloadThroughput": BANDWIDTH if on else -1,
            "uploadThroughput": BANDWIDTH if on else -1,
        },
    )


def _one(browser, base: str, password: str, throttled: bool, offline_after: bool) -> tuple[Load, Load | None, int]:
    """A fresh phone: log in, open the day (throttled or not), then optionally reopen it offline."""
    context = _phone(browser)
    worker: list[tuple[str, int, int]] = []

    def keep(request) -> None:  # the service worker's own requests (not under the page's emulation)
        if request.service_worker is None:
            return
        response = request.response()
        sizes = request.sizes()
        path = urlsplit(request.url).path
        worker.append(
            (path, response.status if response else 0, sizes["responseBodySize"] + sizes["responseHeadersSize"])
        )

    context.on("requestfinished", keep)
    try:
        context.add_init_script(READY_SCRIPT)
        page = context.new_page()
        _log_in(page, base, password)
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        recorder = Recorder(cdp)
        _throttle(cdp, throttled)
        recorder.reset()
        worker.clear()
        started = time.perf_counter()
        page.goto(base + "/app/today", wait_until="commit", timeout=120_000)
        ready, fcp = _wait_ready(page)
        wall = (time.perf_counter() - started) * 1000
        stops = page.locator("#stops > li").count()
        _settle(page, recorder)
        first = Load(ready, fcp, wall, recorder.waterfall(), list(worker))
        second = None
        if offline_after:
            deadline = time.monotonic() + 60
            while not page.evaluate("() => !!(navigator.serviceWorker && navigator.serviceWorker.controller)"):
                if time.monotonic() > deadline:
                    raise TimeoutError("the service worker never took control of the page")
                page.wait_for_timeout(100)
            _throttle(cdp, False)
            context.set_offline(True)
            recorder.reset()
            started = time.perf_counter()
            page.reload(wait_until="commit", timeout=60_000)
            ready, fcp = _wait_ready(page)
            second = Load(ready, fcp, (time.perf_counter() - started) * 1000, recorder.waterfall())
        return first, second, stops
    finally:
        context.close()


def measure(base: str, password: str, runs: int = RUNS) -> FieldResult:
    from playwright.sync_api import sync_playwright

    cold, offline, loopback = [], [], []
    stops = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        version = browser.version
        try:
            for _ in range(runs):
                first, second, stops = _one(browser, base, password, throttled=True, offline_after=True)
                cold.append(first)
                if second is not None:
                    offline.append(second)
            for _ in range(runs):
                loopback.append(_one(browser, base, password, throttled=False, offline_after=False)[0])
        finally:
            browser.close()
    return FieldResult(cold, offline, loopback, stops, version)


# -- the server ------------------------------------------------------------------------------------------


@contextmanager
def temporary_server() -> Iterator[Server]:
    """A throwaway PostgreSQL cluster in a temp folder (like the tests'), destroyed afterwards."""
    with tempfile.TemporaryDirectory(prefix="geo-safety-fieldload-") as home:
        cluster = LocalCluster(Settings(home=Path(home), db_port=_free_port()))
        cluster.start()
        try:
            yield Server(Settings(home=Path(home)), cluster.libpq_url("postgres"))
        finally:
            cluster.destroy()


def run(server: Server, runs: int = RUNS) -> FieldResult:
    """Load the bundled sample into ``geo_safety_bench_field``, serve it and measure; the database is dropped."""
    settings, engine = server.fresh(DATABASE)
    try:
        load_sample(engine, PROJECT_DIR / "data")
        password = add_user(engine, settings, Actor.command_line(), INSPECTOR, "inspector", (DISTRICT,)).password
        proc, base = serve(World("field", DATABASE, settings, engine), 1)
        try:
            return measure(base, password or "", runs)
        finally:
            stop(proc)
    finally:
        engine.dispose()
        server.drop(DATABASE)


# -- the report ------------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _kb(value: int) -> str:
    return f"{value / 1024:,.1f}"


def section(result: FieldResult) -> list[str]:
    """The "Field app" section of RESULTS.md (also printed)."""
    cold, offline, loop = (FieldResult.median(x) for x in (result.cold, result.offline, result.loopback))
    floor = floor_of(cold)
    met_cold = cold.ready_ms <= TARGET_COLD_MS
    met_offline = offline.ready_ms <= TARGET_OFFLINE_MS
    text_rows = [r for r in cold.before_ready() if re.search(r"(text|javascript|json|css|svg)", r.mime)]
    plain = [r for r in text_rows if not r.encoding and r.bytes > 1400]
    gzipped = sum(1 for r in text_rows if r.encoding)
    lines = [
        "## Field app: the inspector's day on a phone (issue 14)",
        "",
        f"`python -m bench.fieldload`: headless Chromium as a phone (390×844, touch, zh-CN), `/app/today` for one "
        f"inspector of {DISTRICT} on the bundled Beihai sample ({result.stops} stops drawn); the page is ready when "
        f"the first stop is drawn. Median of {len(result.cold)} fresh phones; times from the navigation's start. "
        f"Chromium {result.chromium}, run at {datetime.now().astimezone().isoformat(timespec='seconds')}.",
        "",
        "| load | ready ms | first paint ms | target ms | met | bytes before ready KB | all bytes KB | ÷ floor |",
        "|---|---|---|---|---|---|---|---|",
        f"| cold, 1 Mbit/s, 300 ms RTT | {_ms(cold.ready_ms)} | {_ms(cold.fcp_ms)} | {_ms(TARGET_COLD_MS)} | "
        f"{'yes' if met_cold else '**no**'} | {_kb(cold.bytes_before_ready)} | {_kb(cold.bytes_total)} | "
        f"{cold.ready_ms / floor.ms:.2f} (emulated-link floor) |",
        f"| reopen offline from the cache | {_ms(offline.ready_ms)} | {_ms(offline.fcp_ms)} | "
        f"{_ms(TARGET_OFFLINE_MS)} | {'yes' if met_offline else '**no**'} | {_kb(offline.bytes_total)} | "
        f"{_kb(offline.bytes_total)} | {offline.ready_ms / loop.ready_ms:.2f} (loopback) |",
        f"| floor: cold on loopback, unthrottled | {_ms(loop.ready_ms)} | {_ms(loop.fcp_ms)} | – | – | "
        f"{_kb(loop.bytes_before_ready)} | {_kb(loop.bytes_total)} | 1.00 |",
        f"| floor: transfer on the emulated link | {_ms(floor.ms)} | – | – | – | {_kb(floor.bytes)} | – | 1.00 |",
        f"| floor: transfer on a real link (TCP handshakes, 6 connections) | {_ms(floor.real_ms)} | – | – | – | "
        f"{_kb(floor.bytes)} | – | {cold.ready_ms / floor.real_ms:.2f} |",
        "",
        f"- runs (ready ms): cold {', '.join(_ms(x.ready_ms) for x in result.cold)}; offline "
        f"{', '.join(_ms(x.ready_ms) for x in result.offline)}; loopback "
        f"{', '.join(_ms(x.ready_ms) for x in result.loopback)}",
        f"- floors = round trips × {RTT_MS:.0f} ms + {_kb(floor.bytes)} KB ÷ 125 KB/s, with "
        f"{floor.emulated_round_trips} round trips on the emulated link and {floor.real_round_trips} on a real one. "
        "The chain to the plan, by wave (requests it waited for, KB): "
        + "; ".join(f"wave {w}: {n} ({_kb(b)})" for w, n, b in floor.chain)
        + ". DevTools' emulation delays each response by its latency once the socket pool is done, so it charges "
        "one RTT per wave and no DNS/TCP handshake; a real link adds the first connection's handshake, the "
        f"handshakes of the connections a wide wave opens, and a round per {CONNECTIONS} requests of a wave "
        "(HTTP/1.1).",
        f"- cold ÷ loopback {cold.ready_ms / loop.ready_ms:.1f}; compressed text responses before ready: "
        f"{gzipped} of {len(text_rows)}"
        + (f"; sent plain: {', '.join(f'{r.path} ({_kb(r.bytes)} KB)' for r in plain)}" if plain else "")
        + ".",
        f"- the service worker's own requests during the cold load (install; outside the page's emulation, so "
        f"not throttled): {len(cold.worker)}, {_kb(sum(b for _, _, b in cold.worker))} KB, statuses "
        + ", ".join(
            f"{code}×{sum(1 for _, c, _ in cold.worker if c == code)}"
            for code in sorted({c for _, c, _ in cold.worker})
        )
        + ".",
        "",
        "Waterfall of the median cold load (ms from the document request; wave = how many requests had to finish "
        "one after the other before this one could start):",
        "",
        "| wave | start | end | KB | gzip | request |",
        "|---|---|---|---|---|---|",
    ]
    for row in cold.waterfall:
        if row.start_ms > cold.ready_ms:
            continue
        lines.append(
            f"| {row.wave} | {_ms(row.start_ms)} | {_ms(row.end_ms)} | {_kb(row.bytes)} | "
            f"{'yes' if row.encoding else ('cache' if row.cached else 'no')} | {row.path} |"
        )
    lines += ["", f"Ready at {_ms(cold.ready_ms)} ms.", ""]
    return lines


def write_results(lines: list[str]) -> Path:
    """Replace (or add, before the closing "Whole run" line) the field app's section of ``RESULTS.md``."""
    path = BENCH_DIR / "RESULTS.md"
    body = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    block = "\n".join(lines).rstrip() + "\n"
    start = body.find("## Field app")
    if start >= 0:
        following = re.search(r"^(## |Whole run:)", body[start + 1 :], flags=re.MULTILINE)
        end = start + 1 + following.start() if following else len(body)
        body = body[:start] + block + "\n" + body[end:]
    else:
        whole = re.search(r"^Whole run:", body, flags=re.MULTILINE)
        at = whole.start() if whole else len(body)
        body = body[:at].rstrip() + "\n\n" + block + "\n" + body[at:]
    path.write_text(body.rstrip() + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.fieldload", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = parser.parse_args(argv)
    with temporary_server() as server:
        lines = section(run(server, args.runs))
    print("\n".join(lines))
    if not args.no_write:
        print(f"wrote the field app section of {write_results(lines).relative_to(PROJECT_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
