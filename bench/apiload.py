"""50 simulated inspectors for 60 s against ``geo-safety serve --workers 2``, on loopback.

The server runs as production would on this machine (one process per core); load and server share the two
cores, as they would on one small VM.

- ``run``: read-only saturation with ``wrk`` (Debian's package): a Lua script picks a random district per
  request and alternates between ``/api/v1/inspections/today`` and ``/maps/inspection/today``; its ``done``
  hook prints the latency percentiles and every kind of error as JSON.
- ``run_mixed`` (issue 17): a day's mix from an asyncio/httpx generator, since each inspector is a person with
  an account, a district, a stored plan and a pace, which wrk's per-thread Lua cannot keep apart, and visits
  are multipart with photos. Each inspector opens their plan and the map of their own district in turn, one
  request every ``PACE_S``, every tenth a visit to the next stop of their plan (``POST /api/v1/visits``, a
  fresh ``client_id``, a small JPEG half of the time), so a visit about every 30 s; two planners edit a zone
  every ``PLANNER_PACE_S`` (``GET`` for the ETag, ``PATCH`` with If-Match). The read-only twin sends a plan
  request in each visit's slot. The server's cache counts hits and computations per process
  (``GEO_SAFETY_CACHE_STATS``); ``GEO_SAFETY_CACHE_KEYS=snapshot`` runs the cache as keyed before issue 17.
  The generator's own cost is measured too: its CPU seconds during the run, and ``generator_floor`` (the same
  client against a stub server that answers at once).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import text

from bench.world import World
from geo_safety import migrate
from geo_safety.rules import LOCAL_TZ
from geo_safety.services.audit import Actor
from geo_safety.services.users import add_user

LUA = """
local districts = {%(districts)s}
local token = "%(token)s"
local n = 0
request = function()
  n = n + 1
  local d = districts[math.random(#districts)]
  local path = "/api/v1/inspections/today?district=" .. d
  if n %% 2 == 0 then path = "/maps/inspection/today?district=" .. d end
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "bytes": %%d, "connect": %%d, "read": %%d, "write": %%d, ' ..
    '"status": %%d, "timeout": %%d, "p50_us": %%d, "p95_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


@dataclass
class LoadResult:
    scale: str
    workers: int
    connections: int
    seconds: float
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    note: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk_path() -> str | None:
    """wrk, installed from Debian's packages when missing and we may (root)."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0:
        return found
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
    return shutil.which("wrk")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(world: World, workers: int, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "GEO_SAFETY_DATABASE_URL": world.settings.database_url or "", **(extra_env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "geo_safety.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            with urllib.request.urlopen(base + "/health", timeout=2):
                return proc, base
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise RuntimeError("the server did not start")


def stop(proc: subprocess.Popen) -> None:
    """Stop the server and its workers (killed if they have not shut down within 15 s)."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


def inspector_token(world: World, codes: list[str]) -> str:
    name = f"bench-inspector-{int(time.time())}"
    return add_user(world.engine, world.settings, Actor.command_line(), name, "inspector", tuple(codes)).token


def run(world: World, codes: list[str], *, seconds: int = 60, connections: int = 50, workers: int = 2) -> LoadResult:
    wrk = wrk_path()
    if wrk is None:
        return LoadResult(world.scale, workers, connections, 0, 0, 0, *(float("nan"),) * 4, "wrk not available")
    token = inspector_token(world, codes)
    proc, base = serve(world, workers)
    try:
        with tempfile.TemporaryDirectory() as folder:
            script = Path(folder) / "inspectors.lua"
            script.write_text(LUA % {"districts": ", ".join(f'"{c}"' for c in codes), "token": token})
            out = subprocess.run(
                [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script), base],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
    finally:
        stop(proc)
    figures = json.loads(out.strip().splitlines()[-1])
    errors = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    return LoadResult(
        world.scale,
        workers,
        connections,
        figures["duration_us"] / 1e6,
        figures["requests"],
        errors,
        figures["p50_us"] / 1000,
        figures["p95_us"] / 1000,
        figures["p99_us"] / 1000,
        figures["max_us"] / 1000,
    )


# --- the mixed load of issue 17 -----------------------------------------------------------------------------

#: seconds between one inspector's requests: ten requests, one of them a visit, every 30 s
PACE_S = 3.0
VISIT_EVERY = 10
PLANNER_PACE_S = 10.0
PLAN, MAP, VISIT, ZONE_READ, ZONE_EDIT = "plan", "map", "visit", "zone read", "zone edit"
KINDS = (PLAN, MAP, VISIT, ZONE_READ, ZONE_EDIT)


@dataclass
class KindFigures:
    kind: str
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class MixedResult:
    scale: str
    label: str  # e.g. "read-only, snapshot keys"
    writes: bool
    keys: str
    seconds: float
    offered_rps: float
    kinds: list[KindFigures]
    cache: dict[str, int]
    generator_cpu_s: float
    error_samples: list[str] = field(default_factory=list)
    load_before: float = float("nan")  # the machine's 1-minute load average as the run began

    @property
    def requests(self) -> int:
        return sum(k.requests for k in self.kinds)

    @property
    def errors(self) -> int:
        return sum(k.errors for k in self.kinds)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def all(self) -> KindFigures | None:
        return next((k for k in self.kinds if k.kind == "all"), None)

    def hit_rate(self, answer: str) -> tuple[int, int]:
        """(served from the cache, computed) of one kind of answer, summed over the server's processes."""
        served = self.cache.get(f"{answer}:hit", 0) + self.cache.get(f"{answer}:shared", 0)
        return served, self.cache.get(f"{answer}:miss", 0)


@dataclass
class Sample:
    kind: str
    ms: float
    ok: bool
    detail: str = ""


def small_jpeg() -> bytes:
    """A 320×240 JPEG (about 10 kB), as a phone's photo shrunk for a slow link might be."""
    from PIL import Image

    rng = np.random.default_rng(17)
    pixels = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=60)
    return out.getvalue()


def _figures(kind: str, samples: list[Sample]) -> KindFigures:
    ms = np.array([s.ms for s in samples]) if samples else np.array([float("nan")])
    return KindFigures(
        kind,
        len(samples),
        sum(not s.ok for s in samples),
        float(np.percentile(ms, 50)),
        float(np.percentile(ms, 95)),
        float(np.percentile(ms, 99)),
        float(ms.max()),
    )


async def _timed(client: httpx.AsyncClient, kind: str, samples: list[Sample], method: str, url: str, **kw):
    started = time.perf_counter()
    try:
        response = await client.request(method, url, **kw)
        await response.aread()
        ok = response.status_code < 400
        detail = "" if ok else f"{kind} {response.status_code} {response.text[:160]}"
    except httpx.HTTPError as exc:
        response, ok, detail = None, False, f"{kind} {type(exc).__name__} {exc}"
    samples.append(Sample(kind, (time.perf_counter() - started) * 1000, ok, detail))
    return response


async def _inspector(
    client: httpx.AsyncClient,
    token: str,
    district: str,
    deadline: float,
    writes: bool,
    samples: list[Sample],
    client_ids: list[str],
    photo: bytes,
    rng: random.Random,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    slot = rng.randrange(VISIT_EVERY)  # inspectors are not in step
    next_at = time.perf_counter() + rng.uniform(0, PACE_S)
    stops: list[dict] = []
    while True:
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        if time.perf_counter() >= deadline:
            return
        next_at += PACE_S
        slot += 1
        pending = [s for s in stops if s["status"] == "pending"]
        visit_slot = slot % VISIT_EVERY == 0
        if visit_slot and writes and stops:
            stop = pending[0] if pending else rng.choice(stops)
            client_id = str(uuid.uuid4())
            client_ids.append(client_id)
            visit = {
                "client_id": client_id,
                "target_type": stop["target_type"],
                "target_id": stop["target_id"],
                "result": "pass" if rng.random() < 0.8 else "fail",
                "findings": "压力测试",
                "inspected_at": datetime.now(LOCAL_TZ).isoformat(timespec="seconds"),
                "position": {"lon": stop["lon"], "lat": stop["lat"], "accuracy_m": 8.0},
            }
            files: list[tuple[str, tuple]] = [("visit", (None, json.dumps(visit, ensure_ascii=False)))]
            if rng.random() < 0.5:
                files.append(("photos", ("photo.jpg", photo, "image/jpeg")))
            await _timed(client, VISIT, samples, "POST", "/api/v1/visits", files=files, headers=headers)
            stop["status"] = "done"
        elif slot % 2 == 0 and not visit_slot:
            await _timed(client, MAP, samples, "GET", f"/maps/inspection/today?district={district}", headers=headers)
        else:
            response = await _timed(
                client, PLAN, samples, "GET", f"/api/v1/plans/today?district={district}", headers=headers
            )
            if response is not None and response.status_code == 200:
                stops = response.json()["stops"]


async def _planner(
    client: httpx.AsyncClient,
    token: str,
    zones: list[str],
    deadline: float,
    samples: list[Sample],
    rng: random.Random,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    next_at = time.perf_counter() + rng.uniform(0, PLANNER_PACE_S)
    n = 0
    while True:
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        if time.perf_counter() >= deadline:
            return
        next_at += PLANNER_PACE_S
        zone = rng.choice(zones)
        read = await _timed(client, ZONE_READ, samples, "GET", f"/api/v1/hazards/{zone}", headers=headers)
        if read is None or read.status_code != 200:
            continue
        n += 1
        await _timed(
            client,
            ZONE_EDIT,
            samples,
            "PATCH",
            f"/api/v1/hazards/{zone}",
            json={"properties": {"note": f"巡查压力测试 {n}"}},
            headers={**headers, "If-Match": read.headers["etag"]},
        )


async def _mixed(
    base: str,
    inspectors: list[tuple[str, str]],
    planners: list[str],
    zones: list[str],
    seconds: float,
    writes: bool,
) -> tuple[list[Sample], list[str], float]:
    rng = random.Random(17)
    samples: list[Sample] = []
    client_ids: list[str] = []
    photo = small_jpeg()
    limits = httpx.Limits(max_connections=len(inspectors) + len(planners) + 4)
    async with httpx.AsyncClient(base_url=base, timeout=30.0, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + seconds
        tasks = [
            _inspector(client, token, district, deadline, writes, samples, client_ids, photo, rng)
            for token, district in inspectors
        ]
        if writes:
            tasks += [_planner(client, token, zones, deadline, samples, rng) for token in planners]
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return samples, client_ids, elapsed


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _bench_users(world: World, codes: list[str], inspectors: int, planners: int) -> tuple[list, list[str]]:
    stamp = f"{int(time.time())}-{uuid.uuid4().hex[:4]}"
    people = []
    for n in range(inspectors):
        code = codes[n % len(codes)]
        user = add_user(
            world.engine, world.settings, Actor.command_line(), f"bench-mixed-{stamp}-{n}", "inspector", (code,)
        )
        people.append((user.token, code))
    bosses = [
        add_user(world.engine, world.settings, Actor.command_line(), f"bench-planner-{stamp}-{n}", "planner").token
        for n in range(planners)
    ]
    return people, bosses


def remove_visits(world: World, client_ids: list[str]) -> int:
    """Take the benchmark's visits out again, so the world stays as generated for the next run."""
    if not client_ids:
        return 0
    with world.engine.begin() as conn:
        ids = (
            conn.execute(
                text("SELECT id FROM inspections WHERE client_id = ANY(CAST(:c AS uuid[]))"), {"c": client_ids}
            )
            .scalars()
            .all()
        )
        conn.execute(text("DELETE FROM inspection_photos WHERE inspection_id = ANY(:i)"), {"i": list(ids)})
        conn.execute(text("DELETE FROM premise_status_history WHERE inspection_id = ANY(:i)"), {"i": list(ids)})
        conn.execute(text("DELETE FROM inspections WHERE id = ANY(:i)"), {"i": list(ids)})
    return len(ids)


def run_mixed(
    world: World,
    codes: list[str],
    *,
    writes: bool,
    keys: str = "versions",
    seconds: int = 60,
    inspectors: int = 50,
    planners: int = 2,
    workers: int = 2,
) -> MixedResult:
    """One run of the day's mix (``writes``) or its read-only twin, with the cache keyed by ``keys``."""
    migrate.upgrade(world.engine)  # a reused world may predate the newest migration
    people, bosses = _bench_users(world, codes, inspectors, planners)
    with world.engine.connect() as conn:
        zones = conn.execute(text("SELECT id FROM water_hazards WHERE deleted_at IS NULL ORDER BY id")).scalars().all()
    with tempfile.TemporaryDirectory() as stats_dir:
        env = {"GEO_SAFETY_CACHE_STATS": stats_dir, "GEO_SAFETY_CACHE_KEYS": keys}
        proc, base = serve(world, workers, env)
        load_before = os.getloadavg()[0]
        try:
            cpu = _cpu_s()
            samples, client_ids, elapsed = asyncio.run(_mixed(base, people, bosses, list(zones), seconds, writes))
            cpu = _cpu_s() - cpu
        finally:
            stop(proc)
        cache: dict[str, int] = {}
        for path in Path(stats_dir).glob("*.json"):
            for name, n in json.loads(path.read_text()).items():
                cache[name] = cache.get(name, 0) + n
    remove_visits(world, client_ids)
    kinds = [_figures(k, [s for s in samples if s.kind == k]) for k in KINDS if any(s.kind == k for s in samples)]
    kinds.append(_figures("all", samples))
    offered = len(people) / PACE_S + (2 * len(bosses) / PLANNER_PACE_S if writes else 0)
    label = f"{'mixed' if writes else 'read-only'}, {keys} keys"
    errors = sorted({s.detail for s in samples if not s.ok})[:5]
    return MixedResult(world.scale, label, writes, keys, elapsed, offered, kinds, cache, cpu, errors, load_before)


STUB = """
import asyncio, sys
BODY = b'{"status": "ok"}'
RESPONSE = b"HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\ncontent-length: %d\\r\\n\\r\\n" % len(BODY) + BODY
async def handle(reader, writer):
    try:
        while True:
            await reader.readuntil(b"\\r\\n\\r\\n")
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


@dataclass
class GeneratorFloor:
    seconds: float
    requests: int
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def generator_floor(seconds: float = 5.0, connections: int = 50) -> GeneratorFloor:
    """The generator alone: the same httpx client, closed loop, against a stub that answers at once."""
    port = _free_port()
    stub = subprocess.Popen([sys.executable, "-c", STUB, str(port)], start_new_session=True)
    try:
        for _ in range(50):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)

        async def loop() -> tuple[list[Sample], float]:
            samples: list[Sample] = []
            limits = httpx.Limits(max_connections=connections)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as client:
                started = time.perf_counter()
                deadline = started + seconds

                async def one() -> None:
                    while time.perf_counter() < deadline:
                        await _timed(client, "stub", samples, "GET", "/health")

                await asyncio.gather(*(one() for _ in range(connections)))
                return samples, time.perf_counter() - started

        cpu = _cpu_s()
        samples, elapsed = asyncio.run(loop())
        cpu = _cpu_s() - cpu
    finally:
        os.killpg(stub.pid, signal.SIGTERM)
        stub.wait(timeout=10)
    figures = _figures("stub", samples)
    return GeneratorFloor(elapsed, len(samples), figures.p50_ms, figures.p99_ms, cpu * 1000 / max(1, len(samples)))
