"""Reads from a streaming replica while the primary takes the writes (issue 17, "past one machine").

```
.venv/bin/python -m bench.replica                 # ~4 minutes on 2 cores: city world, 15 s per phase
.venv/bin/python -m bench.replica --seconds 30    # longer phases
```

What it does, in one run:

1. A second PostgreSQL cluster on this machine, a hot standby of the project's local cluster (the one holding
   the ``geo_safety_bench_*`` worlds): ``pg_basebackup -R -X stream -c fast`` into a temp folder, started on a
   free port as the ``postgres`` OS user when we are root (as ``geo_safety.localdb`` runs its server). It
   streams without a permanent slot (``wal_receiver_create_temp_slot``: the slot dies with the connection, so
   nothing is left on the primary to hold WAL back). The primary needs ``wal_level`` replica, a free WAL
   sender and a ``replication`` line in ``pg_hba.conf``: all PostgreSQL 15 defaults of a fresh ``initdb``,
   checked here and never changed (a cluster without them is reported, not reconfigured). The standby is
   stopped and its folder removed at the end, whatever happens.
2. Two ``geo-safety serve --workers 2``: one on the primary, one on the replica (``GEO_SAFETY_DATABASE_URL``
   pointing at it). A quick check of what the replica-backed server answers (read endpoints, and the writes a
   read-only database must refuse).
3. Load: a writer records a visit every ``1 / --writes-per-s`` seconds through the primary's server
   (``POST /api/v1/visits``, as the phone app does) and times how long each visit takes to become visible on
   the replica; meanwhile ``wrk`` (1 thread, ``--connections``) reads ``/api/v1/inspections/today`` or the OGC
   items of premises for random districts, from the replica's server and from the primary's, in ABBA order so
   drift falls on both. The replay lag is sampled twice a second: bytes (primary's ``pg_current_wal_lsn()``
   minus the replica's ``pg_last_wal_replay_lsn()``), the primary's ``pg_stat_replication.replay_lag`` and
   the primary's clock minus ``pg_last_xact_replay_timestamp()``.

Everything shares the same 2 cores (both clusters, both servers, wrk, the writer): the figures show the
mechanism and what it costs, not a scale-out gain. The benchmark's visits are deleted at the end (on the
primary; the deletion replicates).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import text

from bench.apiload import _free_port, remove_visits, serve, stop, wrk_path
from bench.world import Server, World
from geo_safety.db import make_engine
from geo_safety.localdb import SERVICE_USER, LocalCluster, find_pg_bindir
from geo_safety.rules import LOCAL_TZ
from geo_safety.ruleset import load_rules
from geo_safety.services import duestate
from geo_safety.services.audit import Actor
from geo_safety.services.users import add_user

APPLICATION_NAME = "geo_safety_bench_replica"
READS = {
    "today": "/api/v1/inspections/today?district=",
    "ogc items": "/collections/premises/items?limit=100&district=",
}
LUA = """
local districts = {%(districts)s}
local token = "%(token)s"
local prefix = "%(prefix)s"
request = function()
  local d = districts[math.random(#districts)]
  return wrk.format("GET", prefix .. d, {["Authorization"] = "Bearer " .. token})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "errors": %%d, "p50_us": %%d, "p95_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def lsn(value: str) -> int:
    high, low = value.split("/")
    return (int(high, 16) << 32) + int(low, 16)


# --- the standby ---------------------------------------------------------------------------------------------


def primary_readiness(admin_url: str) -> dict[str, str]:
    """What streaming replication needs of the primary, as it is set now (nothing is changed)."""
    with psycopg.connect(admin_url) as conn:
        shown = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("wal_level", "max_wal_senders", "max_replication_slots", "hot_standby")
        }
        senders = conn.execute("SELECT count(*) FROM pg_stat_replication").fetchone()[0]
        hba = conn.execute(
            "SELECT count(*) FROM pg_hba_file_rules WHERE 'replication' = ANY(database) "
            "AND (type = 'local' OR address IN ('127.0.0.1', 'samehost', 'all', '0.0.0.0'))"
        ).fetchone()[0]
        may = conn.execute("SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    shown["wal senders in use"] = str(senders)
    shown["pg_hba replication lines for 127.0.0.1"] = str(hba)
    shown["role may replicate"] = str(bool(may and may[0]))
    problems = []
    if shown["wal_level"] not in ("replica", "logical"):
        problems.append("wal_level must be replica (needs a restart of the primary)")
    if int(shown["max_wal_senders"]) <= senders:
        problems.append("no free WAL sender (max_wal_senders; needs a restart)")
    if not hba:
        problems.append("pg_hba.conf has no 'host replication' line for 127.0.0.1 (a reload is enough)")
    if shown["role may replicate"] != "True":
        problems.append("the role lacks REPLICATION")
    shown["problems"] = "; ".join(problems)
    return shown


class Replica:
    """A hot standby of ``cluster`` in a temp folder, on a free port; ``with`` stops and removes it."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.credentials = cluster.credentials()
        self.bindir = find_pg_bindir()
        self.port = _free_port()
        self.folder: Path | None = None
        self.base_backup_s = float("nan")
        self.start_s = float("nan")

    @property
    def data_dir(self) -> Path:
        assert self.folder is not None
        return self.folder / "data"

    def libpq_url(self, database: str) -> str:
        c = self.credentials
        return f"postgresql://{c.user}:{c.password}@127.0.0.1:{self.port}/{database}"

    def _run(self, args: list[str], timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", SERVICE_USER, "--"] if os.geteuid() == 0 else []
        env = {**os.environ, "PGPASSWORD": self.credentials.password}  # not on the command line (ps shows it)
        return subprocess.run(
            prefix + args, capture_output=True, text=True, check=False, cwd="/", env=env, timeout=timeout
        )

    def __enter__(self) -> Replica:
        self.folder = Path(tempfile.mkdtemp(prefix="geo-safety-replica-"))
        try:
            if os.geteuid() == 0:
                shutil.chown(self.folder, SERVICE_USER, SERVICE_USER)
            self._base_backup()
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _base_backup(self) -> None:
        started = time.perf_counter()
        result = self._run(
            [
                str(self.bindir / "pg_basebackup"),
                "-h", "127.0.0.1",
                "-p", str(self.credentials.port),
                "-U", self.credentials.user,
                "-D", str(self.data_dir),
                "-R",  # standby.signal + primary_conninfo in postgresql.auto.conf
                "-X", "stream",  # WAL during the copy through a temporary slot
                "-c", "fast",  # an immediate checkpoint instead of waiting for the next one
                "--no-sync",  # a throwaway copy
            ]
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"pg_basebackup failed:\n{result.stderr.strip()}")
        self.base_backup_s = time.perf_counter() - started

    def _start(self) -> None:
        options = " ".join(
            [
                f"-p {self.port}",
                f"-c cluster_name={APPLICATION_NAME}",  # its walreceiver's application_name on the primary
                "-c wal_receiver_create_temp_slot=on",  # the primary keeps WAL for it only while it is connected
                "-c hot_standby=on",
                "-c logging_collector=off",
            ]
        )
        started = time.perf_counter()
        log = self.folder / "replica.log"
        result = self._run(
            [
                str(self.bindir / "pg_ctl"),
                "start",
                "-D",
                str(self.data_dir),
                "-w",
                "-t",
                "300",
                "-l",
                str(log),
                "-o",
                options,
            ]
        )
        if result.returncode != 0:
            tail = self._run(["tail", "-n", "20", str(log)]).stdout
            raise RuntimeError(f"the replica did not start:\n{result.stderr.strip()}\n{tail}")
        self.start_s = time.perf_counter() - started

    def __exit__(self, *exc: object) -> None:
        if self.folder is None:
            return
        if (self.data_dir / "postmaster.pid").exists():
            self._run([str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "immediate", "-w"], 120)
        if os.geteuid() == 0:
            self._run(["rm", "-rf", str(self.folder)], 300)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def refusals(self) -> list[str]:
        """The replica's ERROR lines with the statements they name, shortened, each once."""
        log = self.folder / "replica.log"
        text_ = self._run(["cat", str(log)]).stdout if os.geteuid() == 0 else log.read_text(errors="replace")
        found: list[str] = []
        for line in text_.splitlines():
            for tag in ("ERROR:", "STATEMENT:"):
                if tag in line:
                    entry = " ".join(line.split(tag, 1)[1].split())[:160]
                    if f"{tag} {entry}" not in found:
                        found.append(f"{tag} {entry}")
        return found

    def wait_caught_up(self, admin_url: str, timeout_s: float = 300.0) -> float:
        """Until the replica is in recovery and has replayed what the primary had written when asked; seconds."""
        started = time.perf_counter()
        with psycopg.connect(admin_url, autocommit=True) as primary:
            target = lsn(primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])
        while time.perf_counter() - started < timeout_s:
            try:
                with psycopg.connect(self.libpq_url("postgres"), connect_timeout=3) as conn:
                    recovering, replayed = conn.execute(
                        "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text"
                    ).fetchone()
                if recovering and replayed and lsn(replayed) >= target:
                    return time.perf_counter() - started
            except psycopg.OperationalError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the replica did not catch up within {timeout_s:.0f} s")


# --- measuring -----------------------------------------------------------------------------------------------


@dataclass
class LagSample:
    at: float
    bytes: int
    replay_lag_s: float | None  # pg_stat_replication.replay_lag (None when the primary was idle)
    since_replay_s: float | None  # primary's now() - replica's pg_last_xact_replay_timestamp()


class LagSampler(threading.Thread):
    def __init__(self, primary_url: str, replica_url: str, every_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.primary_url, self.replica_url, self.every_s = primary_url, replica_url, every_s
        self.samples: list[LagSample] = []
        self.halt = threading.Event()

    def run(self) -> None:
        with (
            psycopg.connect(self.primary_url, autocommit=True) as p,
            psycopg.connect(self.replica_url, autocommit=True) as r,
        ):
            while not self.halt.wait(self.every_s):
                current, now, lag = p.execute(
                    "SELECT pg_current_wal_lsn()::text, now(), "
                    "(SELECT extract(epoch FROM replay_lag) FROM pg_stat_replication WHERE application_name = %s)",
                    (APPLICATION_NAME,),
                ).fetchone()
                replayed, replayed_at = r.execute(
                    "SELECT pg_last_wal_replay_lsn()::text, pg_last_xact_replay_timestamp()"
                ).fetchone()
                self.samples.append(
                    LagSample(
                        time.perf_counter(),
                        max(0, lsn(current) - lsn(replayed)),
                        None if lag is None else float(lag),
                        None if replayed_at is None else (now - replayed_at).total_seconds(),
                    )
                )


@dataclass
class Writes:
    recorded: int = 0
    errors: list[str] = field(default_factory=list)
    client_ids: list[str] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    visible_ms: list[float] = field(default_factory=list)  # from the primary's 201 until the replica shows it
    not_visible: int = 0


class Writer(threading.Thread):
    """Visits through the primary's server at a steady pace; each one then awaited on the replica."""

    def __init__(self, base: str, token: str, targets: list[tuple], replica_url: str, per_s: float) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.targets, self.replica_url, self.per_s = base, token, targets, replica_url, per_s
        self.writes = Writes()
        self.halt = threading.Event()

    def run(self) -> None:
        rng = random.Random(17)
        targets = list(self.targets)
        rng.shuffle(targets)
        headers = {"Authorization": f"Bearer {self.token}"}
        with (
            httpx.Client(base_url=self.base, timeout=30.0) as client,
            psycopg.connect(self.replica_url, autocommit=True) as replica,
        ):
            next_at = time.perf_counter()
            while targets and not self.halt.is_set():
                self.halt.wait(max(0.0, next_at - time.perf_counter()))
                if self.halt.is_set():
                    return
                next_at += 1 / self.per_s
                premise, lon, lat = targets.pop()
                client_id = str(uuid.uuid4())
                visit = {
                    "client_id": client_id,
                    "target_type": "premise",
                    "target_id": premise,
                    "result": "pass",
                    "findings": "副本压力测试",
                    "inspected_at": datetime.now(LOCAL_TZ).isoformat(timespec="seconds"),
                    "position": {"lon": lon, "lat": lat, "accuracy_m": 8.0},
                }
                started = time.perf_counter()
                try:
                    response = client.post(
                        "/api/v1/visits",
                        files=[("visit", (None, json.dumps(visit, ensure_ascii=False)))],
                        headers=headers,
                    )
                except httpx.HTTPError as exc:
                    self.writes.errors.append(f"{type(exc).__name__} {exc}")
                    continue
                done = time.perf_counter()
                self.writes.client_ids.append(client_id)
                if response.status_code >= 400:
                    self.writes.errors.append(f"{response.status_code} {response.text[:160]}")
                    continue
                self.writes.recorded += 1
                self.writes.latency_ms.append((done - started) * 1000)
                while time.perf_counter() - done < 10:
                    if replica.execute("SELECT 1 FROM inspections WHERE client_id = %s", (client_id,)).fetchone():
                        self.writes.visible_ms.append((time.perf_counter() - done) * 1000)
                        break
                    time.sleep(0.002)
                else:
                    self.writes.not_visible += 1


@dataclass
class Phase:
    side: str  # "replica" or "primary"
    read: str  # a key of READS
    seconds: float
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else float("nan")


def wrk_phase(
    wrk: str, base: str, side: str, read: str, token: str, codes: list[str], seconds: int, connections: int
) -> Phase:
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "reads.lua"
        script.write_text(
            LUA % {"districts": ", ".join(f'"{c}"' for c in codes), "token": token, "prefix": READS[read]}
        )
        out = subprocess.run(
            [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script), base],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    f = json.loads(out.strip().splitlines()[-1])
    return Phase(
        side,
        read,
        f["duration_us"] / 1e6,
        f["requests"],
        f["errors"],
        f["p50_us"] / 1000,
        f["p95_us"] / 1000,
        f["p99_us"] / 1000,
    )


def read_only_check(base: str, token: str, code: str, target: tuple) -> list[tuple[str, int, str]]:
    """What the replica-backed server answers: (request, status, the start of an error's body)."""
    headers = {"Authorization": f"Bearer {token}"}
    visit = {
        "client_id": str(uuid.uuid4()),
        "target_type": "premise",
        "target_id": target[0],
        "result": "pass",
        "inspected_at": datetime.now(LOCAL_TZ).isoformat(timespec="seconds"),
        "position": {"lon": target[1], "lat": target[2], "accuracy_m": 8.0},
    }
    requests = [
        ("GET", "/health", {}),
        ("GET", f"/api/v1/inspections/today?district={code}", {}),
        ("GET", f"/api/v1/inspections/due?district={code}&limit=50", {}),
        ("GET", f"/collections/premises/items?limit=100&district={code}", {}),
        ("GET", f"/maps/inspection/today/data?district={code}", {}),
        ("GET", f"/api/v1/plans/today?district={code}", {}),
        ("POST", "/api/v1/visits", {"files": [("visit", (None, json.dumps(visit)))]}),
    ]
    answers = []
    with httpx.Client(base_url=base, timeout=60.0, headers=headers) as client:
        for method, path, kw in requests:
            response = client.request(method, path, **kw)
            body = "" if response.status_code < 400 else " ".join(response.text.split())[:200]
            answers.append((f"{method} {path}", response.status_code, body))
    return answers


def describe(values: list[float], digits: int = 1) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(ordered):.{digits}f}, p95 {p95:.{digits}f}, max {ordered[-1]:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="city", choices=("city", "province"))
    parser.add_argument("--seconds", type=int, default=15, help="length of each read phase")
    parser.add_argument("--connections", type=int, default=20, help="wrk's connections")
    parser.add_argument("--writes-per-s", type=float, default=2.0, help="visits recorded per second")
    args = parser.parse_args()

    server = Server.local()
    if server.settings.database_url:
        raise SystemExit("bench.replica needs the project's local cluster (GEO_SAFETY_DATABASE_URL is set)")
    cluster = LocalCluster(server.settings)
    wrk = wrk_path()
    if wrk is None:
        raise SystemExit("wrk is not available")
    name = f"geo_safety_bench_{args.scale}"
    primary_settings = server.settings.model_copy(update={"database_url": server.url(name)})
    primary = World(args.scale, name, primary_settings, make_engine(primary_settings))

    readiness = primary_readiness(server.admin_url)
    print("primary:", ", ".join(f"{k} {v}" for k, v in readiness.items() if k != "problems"))
    if readiness["problems"]:
        raise SystemExit("the primary is not ready for streaming replication: " + readiness["problems"])

    with ExitStack() as cleanup:
        # the primary's server first: its start stores the rules' due state if needed, before the copy
        primary_proc, primary_base = serve(primary, 2)
        cleanup.callback(stop, primary_proc)
        with primary.engine.connect() as conn:
            codes = conn.execute(text("SELECT DISTINCT district_code FROM premises ORDER BY 1")).scalars().all()
            targets = conn.execute(
                text(
                    "SELECT d.premise_id, ST_X(p.geom), ST_Y(p.geom) FROM premise_due d JOIN premises p "
                    "ON p.id = d.premise_id WHERE p.status = 'open' ORDER BY md5(d.premise_id) LIMIT 5000"
                )
            ).all()
            cluster_bytes = conn.execute(text("SELECT sum(pg_database_size(datname)) FROM pg_database")).scalar_one()
        if not targets:
            raise SystemExit(f"{name} has no due premises to visit")
        token = add_user(
            primary.engine,
            primary.settings,
            Actor.command_line(),
            f"bench-replica-{uuid.uuid4().hex[:8]}",
            "inspector",
            tuple(codes),
        ).token

        replica = cleanup.enter_context(Replica(cluster))
        caught_up_s = replica.wait_caught_up(server.admin_url)
        print(
            f"replica: base backup of the whole cluster ({float(cluster_bytes) / 1e9:.2f} GB) "
            f"{replica.base_backup_s:.1f} s, start {replica.start_s:.1f} s, caught up {caught_up_s:.1f} s later"
        )
        replica_url = primary.settings.database_url.replace(f":{replica.credentials.port}/", f":{replica.port}/")
        replica_settings = primary.settings.model_copy(update={"database_url": replica_url})
        replica_world = World(args.scale, name, replica_settings, make_engine(replica_settings))
        cleanup.callback(replica_world.engine.dispose)
        replica_proc, replica_base = serve(replica_world, 2)
        cleanup.callback(stop, replica_proc)

        print("\nthe replica-backed server, before the load:")
        for request, status, body in read_only_check(replica_base, token, codes[0], tuple(targets[0])):
            print(f"  {status}  {request}  {body}")
        print("  what the replica refused (its log):")
        for line in replica.refusals():
            print(f"    {line}")
        with replica_world.engine.connect() as conn:
            stored = conn.execute(text("SELECT fingerprint FROM due_rules_meta")).scalar_one_or_none()
        same = stored == duestate.fingerprint(load_rules(primary.settings.rules, primary.settings.calendar))
        started = "wrote nothing" if same else "tried to write"
        print(f"  stored due rules equal the server's: {same} (so its start {started})")

        sampler = LagSampler(server.libpq_url(name), replica.libpq_url(name))
        writer = Writer(primary_base, token, [tuple(t) for t in targets], replica.libpq_url(name), args.writes_per_s)

        def halt() -> None:
            writer.halt.set()
            sampler.halt.set()
            for thread in (writer, sampler):
                if thread.is_alive():
                    thread.join(timeout=30)
            removed = remove_visits(primary, writer.writes.client_ids)
            print(f"\nremoved the benchmark's {removed} visits on the primary")

        cleanup.callback(halt)
        load = os.getloadavg()[0]
        sampler.start()
        writer.start()
        time.sleep(2)
        phases = []
        print("\nreads while the writer writes:")
        for read in READS:
            for side in ("replica", "primary", "primary", "replica"):
                base = replica_base if side == "replica" else primary_base
                phases.append(wrk_phase(wrk, base, side, read, token, list(codes), args.seconds, args.connections))
                print(f"  {side:8} {read:10} {phases[-1].rps:7.1f} req/s  p50 {phases[-1].p50_ms:.0f} ms")
    report(args, phases, writer.writes, sampler.samples, load)


def report(args: argparse.Namespace, phases: list[Phase], writes: Writes, lag: list[LagSample], load: float) -> None:
    print(
        f"\n{args.scale} world, wrk -t1 -c{args.connections}, {args.seconds} s per phase (ABBA), writer "
        f"{args.writes_per_s:g} visits/s through the primary's server; both servers --workers 2; "
        f"load average {load:.1f} as the load began\n"
    )
    print("| reads | served by | req/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for p in phases:
        print(f"| {p.read} | {p.side} | {p.rps:.1f} | {p.p50_ms:.0f} | {p.p95_ms:.0f} | {p.p99_ms:.0f} | {p.errors} |")
    print("\n| reads | served by | req/s (sum of both phases ÷ time) |")
    print("|---|---|---:|")
    for read in READS:
        for side in ("replica", "primary"):
            mine = [p for p in phases if p.read == read and p.side == side]
            total = sum(p.requests for p in mine) / sum(p.seconds for p in mine)
            print(f"| {read} | {side} | {total:.1f} |")
    first_error = f": {writes.errors[0]}" if writes.errors else ""
    print(
        f"\nwrites: {writes.recorded} visits recorded ({len(writes.errors)} errors{first_error}); "
        f"POST latency ms {describe(writes.latency_ms, 0)}"
    )
    print(
        f"visible on the replica after the primary's 201, ms: {describe(writes.visible_ms)}"
        f"{f'; {writes.not_visible} not within 10 s' if writes.not_visible else ''}"
    )
    print(f"replay lag, {len(lag)} samples every 0.5 s:")
    print(f"  bytes behind (primary's current WAL - replica's replayed): {describe([s.bytes for s in lag], 0)}")
    replay_lag = [s.replay_lag_s * 1000 for s in lag if s.replay_lag_s is not None]
    print(f"  pg_stat_replication.replay_lag, ms: {describe(replay_lag)}")
    print(
        "  primary now() - pg_last_xact_replay_timestamp(), ms: "
        f"{describe([s.since_replay_s * 1000 for s in lag if s.since_replay_s is not None])}"
    )


if __name__ == "__main__":
    main()
