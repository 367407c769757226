"""50 simulated inspectors for 60 s: today's plan and the inspection map for random districts, on loopback.

The server runs as production would on this machine: ``geo-safety serve --workers 2`` (one process per
core). The load comes from ``wrk`` (Debian's package) with a Lua script that picks a random district
per request and alternates between ``/api/v1/inspections/today`` and ``/maps/inspection/today``; its
``done`` hook prints the latency percentiles and every kind of error as JSON. Load and server share
the two cores, as they would on one small VM.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.world import World
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


def serve(world: World, workers: int) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "GEO_SAFETY_DATABASE_URL": world.settings.database_url or ""}
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
