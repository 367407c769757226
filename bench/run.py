"""Run every benchmark side by side in one go, print the table and write ``bench/RESULTS.md``.

    .venv/bin/python -m bench.run            # builds both worlds afresh (about 10 minutes on 2 cores)
    .venv/bin/python -m bench.run --reuse    # keeps worlds already built by an earlier run

Figures are wall-clock on this machine with nothing else running; ratios compare figures taken in
this same run (province ÷ city, service ÷ floor), never against a number from another day.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import text

from bench import apiload, fieldload, importing, mapload, queries
from bench.world import BENCH_DIR, Server, World, build
from geo_safety import migrate
from geo_safety.db import make_engine
from geo_safety.ruleset import RuleSet, load_rules
from geo_safety.services import duestate
from geo_safety.services.sample import SCALES

SECTIONS = ("import", "queries", "load", "maps", "field", "mixed", "mixed-province")


def machine(world: World) -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line))
    with world.engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar_one()
        postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    gdal = subprocess.run(["ogrinfo", "--version"], capture_output=True, text=True).stdout.strip() or "no GDAL"
    import pyarrow
    import shapely

    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory {mem_kb / 1024**2:.1f} GiB; {platform.platform()}",
        f"- PostgreSQL {pg}, PostGIS {postgis}; {gdal}; Python {platform.python_version()}, shapely "
        f"{shapely.__version__}, pyarrow {pyarrow.__version__}",
        f"- run at {datetime.now().astimezone().isoformat(timespec='seconds')}",
    ]


def existing(server: Server, scale: str) -> World | None:
    name = f"geo_safety_bench_{scale}"
    settings = server.settings.model_copy(update={"database_url": server.url(name)})
    try:
        engine = make_engine(settings)
        with engine.connect() as conn:
            if conn.execute(text("SELECT count(*) FROM premises")).scalar_one() == SCALES[scale].premises:
                return World(scale, name, settings, engine)
    except Exception:  # not built yet
        return None
    return None


def fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.run")
    parser.add_argument("--reuse", action="store_true", help="keep worlds built by an earlier run")
    parser.add_argument("--load-seconds", type=int, default=60)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections (default: all)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    server = Server.local()
    rules = load_rules()
    lines: list[str] = ["# Benchmark results", ""]
    only = set(args.only.split(","))

    worlds: dict[str, World] = {}
    for scale in ("city", "province") if only - {"mixed"} else ("city",):  # the city's mixed load needs the city only
        world = existing(server, scale) if args.reuse else None
        if world is None:
            print(f"building the {scale} world …", flush=True)
            world = build(server, scale)
        migrate.upgrade(world.engine)  # a reused world may predate the newest migration
        ensure_started = time.perf_counter()
        duestate.ensure(world.engine, rules)  # as `geo-safety serve` does at start
        world.load_seconds["due state"] = time.perf_counter() - ensure_started
        worlds[scale] = world
    city, province = worlds["city"], worlds.get("province")
    lines += ["## Machine", "", *machine(city), ""]

    lines += ["## Worlds (generated, loaded through `geo-safety load`)", ""]
    lines += [
        "| scale | districts | schools | premises | water zones | inspections | load s (premises) |",
        "|---|---|---|---|---|---|---|",
    ]
    for world in worlds.values():
        size = SCALES[world.scale]
        with world.engine.connect() as conn:
            n_districts = conn.execute(text("SELECT count(*) FROM districts")).scalar_one()
            n_insp = conn.execute(text("SELECT count(*) FROM inspections")).scalar_one()
        premises_s = world.load_seconds.get("premises")
        lines.append(
            f"| {world.scale} | {n_districts} | {size.schools:,} | {size.premises:,} | {size.hazards:,} | {n_insp:,} |"
            f" {fmt(premises_s, 1) if premises_s else 'reused'} |"
        )
    lines.append("")
    lines += [
        "The due state kept at write time (migration 0010) recomputed for the rules, as a server does once when it "
        "starts with rules the database has not seen: "
        + ", ".join(f"{w.scale} {fmt(w.load_seconds['due state'], 1)} s" for w in worlds.values())
        + " (0.0 s: already computed for these rules).",
        "",
    ]

    shown = 0

    def progress(label: str) -> None:
        nonlocal shown
        print("\n".join(lines[shown:]), flush=True)  # what is measured so far, in case a later step fails
        shown = len(lines)
        print(f"{label} …", flush=True)

    section_starts: dict[str, int] = {}
    if "import" in only:
        progress("import benchmark")
        section_starts["import"] = len(lines)
        lines += import_section(server)
    if "queries" in only:
        progress("queries")
        section_starts["queries"] = len(lines)
        lines += query_section(city, province, rules)
    if "load" in only:
        progress("API under load")
        section_starts["load"] = len(lines)
        lines += load_section(city, province, args.load_seconds)
    if "maps" in only:
        progress("maps")
        section_starts["maps"] = len(lines)
        lines += maps_section(city, province)
    if "field" in only:
        progress("field app")
        section_starts["field"] = len(lines)
        lines += fieldload.section(fieldload.run(server))
    if "mixed" in only:
        progress("mixed load")
        section_starts["mixed"] = len(lines)
        lines += mixed_section(city, args.load_seconds, MIXED_RUNS)
    if "mixed-province" in only and province is not None:
        progress("mixed load, province")
        section_starts["mixed-province"] = len(lines)
        lines += mixed_section(province, args.load_seconds, MIXED_RUNS_PROVINCE)
    lines.append(f"Whole run: {fmt(time.perf_counter() - started)} s.")
    print("\n".join(lines[shown:]))
    if only != set(SECTIONS):  # sections measured on their own: the rest of RESULTS.md stays as it was
        bounds = [*sorted(section_starts.values()), len(lines) - 1]
        for start, end in itertools.pairwise(bounds):
            replace_section(lines[start:end])
        return 0
    report = "\n".join(lines) + "\n"
    (BENCH_DIR / "RESULTS.md").write_text(report)
    return 0


def replace_section(block: list[str]) -> None:
    """Put ``block`` (starting with its ``## `` heading) in place of its section of RESULTS.md, or at its end."""
    path = BENCH_DIR / "RESULTS.md"
    body = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    text_block = "\n".join(block).rstrip() + "\n"
    start = body.find(block[0])
    if start >= 0:
        following = re.search(r"^(## |Whole run:)", body[start + 1 :], flags=re.MULTILINE)
        end = start + 1 + following.start() if following else len(body)
        body = body[:start] + text_block + "\n" + body[end:]
    else:
        whole = re.search(r"^Whole run:", body, flags=re.MULTILINE)
        at = whole.start() if whole else len(body)
        body = body[:at].rstrip() + "\n\n" + text_block + "\n" + body[at:]
    path.write_text(body.rstrip() + "\n", encoding="utf-8")


def _import_target_parts(
    x: importing.Load, ogr: importing.Load | None, floor: importing.Load
) -> list[tuple[str, bool]]:
    """Issue 17's import target of ``x``'s tool, each part judged on its own (ratios: to the peers of the same run)."""
    memory = (f"≤ 1 GB RSS ({fmt(x.peak_mb or 0)} MB)", (x.peak_mb or 0) <= 1024)
    if x.tool == "geo-safety load":
        parts = [(f"≥ 160k rows/s ({fmt(x.rows_per_s)})", x.rows_per_s >= 160_000)]
        if ogr is not None:
            ratio = x.rows_per_s / ogr.rows_per_s
            parts.append((f"≥ 2× ogr2ogr ({fmt(ratio, 2)}×)", ratio >= 2))
        ratio = x.rows_per_s / floor.rows_per_s
        return [*parts, (f"≥ ½ `\\copy` ({fmt(ratio, 2)}×)", ratio >= 0.5), memory]
    if x.tool == "geo-safety load, schools present":
        return [(f"≥ 100k rows/s ({fmt(x.rows_per_s)})", x.rows_per_s >= 100_000), memory]
    return []


def import_section(server: Server) -> list[str]:
    lines: list[str] = []
    loads = importing.run(server)
    ogr = next((x for x in loads if x.tool.startswith("ogr2ogr")), None)
    floor = next(x for x in loads if "floor" in x.tool)
    lines += ["## Import: 1,000,000 premises from GeoPackage into an empty `premises` table", ""]
    lines += [
        "| tool | rows | s | rows/s | peak MB | ÷ ogr2ogr | ÷ \\copy floor | what it does |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for x in loads:
        lines.append(
            f"| {x.tool} | {x.rows:,} | {fmt(x.seconds, 1)} | {fmt(x.rows_per_s)} | "
            f"{fmt(x.peak_mb) if x.peak_mb else '–'} | {fmt(x.rows_per_s / ogr.rows_per_s, 2) if ogr else '–'} | "
            f"{fmt(x.rows_per_s / floor.rows_per_s, 2)} | {x.note} |"
        )
    lines.append("")
    lines += ["Issue 17's import targets (every part must be met):", ""]
    for x in loads:
        if parts := _import_target_parts(x, ogr, floor):
            judged = "; ".join(f"{words}: {'met' if ok else 'missed'}" for words, ok in parts)
            lines.append(f"- {x.tool}: {judged} → **{'met' if all(ok for _, ok in parts) else 'missed'}**")
    lines.append("")
    return lines


def query_section(city: World, province: World, rules: RuleSet) -> list[str]:
    lines: list[str] = []
    timings = queries.run(city.engine, rules, "city", rounds=5)
    timings += queries.run(province.engine, rules, "province", rounds=3)
    lines += [
        "## Queries through the service (each district in turn; the whole area twice), beside the in-memory floor",
        "",
        "| query | scale | samples | p50 ms | p95 ms | whole area ms | floor ms (one district) | service ÷ floor (p50)"
        " | answers |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in timings:
        floor_ms = min(t.floor_ms)
        lines.append(
            f"| {t.what} | {t.scale} | {len(t.samples_ms)} | {fmt(t.p50, 1)} | {fmt(t.p95, 1)} | "
            f"{fmt(min(t.whole_ms))} | {fmt(floor_ms, 1)} | {fmt(t.p50 / floor_ms, 2)} | {t.agree} |"
        )
    lines.append("")
    by = {(t.what, t.scale): t for t in timings}
    lines += [f"Issue 17's targets at province scale, today ({queries.DAY}):", ""]
    for what, kind, target in (
        ("due list", "p95", 100),
        ("due list", "whole", 2000),
        ("hotspots", "p95", 50),
    ):
        t = by[(what, "province")]
        value = t.p95 if kind == "p95" else min(t.whole_ms)
        label = "one district p95" if kind == "p95" else "whole province"
        verdict = "met" if value <= target else "missed"
        lines.append(f"- {what}, {label}: {fmt(value, 1)} ms, target ≤ {target:,} ms: **{verdict}**")
    lines += ["Growth from city to province (the province has 20 districts of about twice the city's density):", ""]
    for what in ("due list", "hotspots"):
        c, p = by[(what, "city")], by[(what, "province")]
        lines.append(
            f"- {what}: one district p50 ×{p.p50 / c.p50:.1f}, p95 ×{p.p95 / c.p95:.1f}; "
            f"whole area ×{min(p.whole_ms) / min(c.whole_ms):.1f}"
        )
    lines.append("")
    codes_p = queries.districts(province.engine)
    plan = queries.explain(province.engine, rules, codes_p[0])
    lines += [
        f"EXPLAIN ANALYZE of today's due list for district {codes_p[0]} at province scale:",
        "",
        "```",
        plan,
        "```",
        "",
    ]

    return lines


def load_section(city: World, province: World, seconds: int) -> list[str]:
    lines: list[str] = []
    results = []
    for world in (city, province):
        codes = queries.districts(world.engine)
        results.append(apiload.run(world, codes, seconds=seconds))
    lines += [
        "## API under load: 50 concurrent inspectors, today's plan and the inspection map for random districts",
        "",
        "| scale | server | seconds | requests | req/s | errors | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.scale} | {r.workers} uvicorn workers | {fmt(r.seconds)} | {r.requests:,} | {fmt(r.rps, 1)} | "
            f"{r.errors} | {fmt(r.p50_ms)} | {fmt(r.p95_ms)} | {fmt(r.p99_ms)} | {fmt(r.max_ms)} |{r.note}"
        )
    lines.append("")

    return lines


MIXED_RUNS = (("snapshot", False), ("snapshot", True), ("versions", False), ("versions", True))
#: at province scale only today's keying: the snapshot keys' collapse is shown at city scale already
MIXED_RUNS_PROVINCE = (("versions", False), ("versions", True))
#: issue 17's targets for the mixed load (p95 ms per kind of request; 0 errors)
MIXED_TARGETS_P95_MS = {"plan": 300, "map": 1000}


def mixed_section(world: World, seconds: int, runs: tuple[tuple[str, bool], ...]) -> list[str]:
    """Issue 17's day: inspectors reading and writing, planners editing, before and after per-district keys."""
    codes = queries.districts(world.engine)
    floor = apiload.generator_floor()
    results = []
    for keys, writes in runs:
        print(f"  mixed load, {world.scale}: {'writes' if writes else 'read-only'}, {keys} keys …", flush=True)
        results.append(apiload.run_mixed(world, codes, writes=writes, keys=keys, seconds=seconds))
    first = results[0]
    lines = [
        "## Mixed load (issue 17): 50 inspectors reading and recording visits, 2 planners editing zones, "
        + world.scale,
        "",
        f"`geo-safety serve --workers 2`, {world.scale} world ({len(codes)} districts), {fmt(first.seconds)} s per "
        "run. Each "
        f"inspector (own account, own district, round robin) sends a request every {apiload.PACE_S:g} s: their "
        f"stored plan and their district's inspection map in turn, every {apiload.VISIT_EVERY}th a visit to the "
        "next stop of their plan (multipart, half with a 10 kB JPEG); planners `GET` a random zone and `PATCH` it "
        f"with If-Match every {apiload.PLANNER_PACE_S:g} s. Read-only runs send a plan request in each visit's "
        "slot and have no planners. *snapshot keys*: the cache as before issue 17 (any write anywhere drops "
        "every answer); *versions keys*: per-district data versions (migration 0009). Offered: "
        f"{fmt(first.offered_rps, 1)} req/s read-only, {fmt(results[1].offered_rps, 1)} req/s mixed. "
        "Targets: 0 errors, p95 ≤ 300 ms for the plan, ≤ 1 s for the map page.",
        "",
        "| run | request | requests | req/s | errors | p50 ms | p95 ms | p99 ms | max ms | target |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for k in r.kinds:
            rate = k.requests / r.seconds
            name = f"**{k.kind}**" if k.kind == "all" else k.kind
            target = MIXED_TARGETS_P95_MS.get(k.kind)
            verdict = "–" if target is None else ("met" if k.p95_ms <= target and not k.errors else "missed")
            lines.append(
                f"| {r.label} | {name} | {k.requests:,} | {fmt(rate, 1)} | {k.errors} | {fmt(k.p50_ms)} | "
                f"{fmt(k.p95_ms)} | {fmt(k.p99_ms)} | {fmt(k.max_ms)} | {verdict} |"
            )
    lines += [
        "",
        "Cache (both server processes; *served*: a hit or an answer shared with a concurrent computation, "
        "*computed*: a miss):",
        "",
        "| run | due lists served / computed | served | inspection maps served / computed | served | load avg before |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        cells = []
        for answer in ("due", "today-map"):
            served, computed = r.hit_rate(answer)
            total = served + computed
            cells += [f"{served:,} / {computed:,}", f"{100 * served / total:.0f} %" if total else "–"]
        lines.append(f"| {r.label} | {' | '.join(cells)} | {r.load_before:.1f} |")
    cpu = max(r.generator_cpu_s / r.seconds for r in results)
    lines += [
        "",
        f"The generator (httpx, asyncio, one process): at most {100 * cpu:.0f} % of one core during these runs. "
        f"Alone against a stub server that answers at once (50 connections, closed loop, {fmt(floor.seconds)} s): "
        f"{fmt(floor.rps)} req/s, p50 {fmt(floor.p50_ms, 1)} ms, p99 {fmt(floor.p99_ms, 1)} ms, "
        f"{fmt(floor.cpu_ms_per_request, 2)} ms of CPU per request.",
        "",
    ]
    errors = sorted({e for r in results for e in r.error_samples})
    if errors:
        lines += ["Errors seen (first of each kind):", "", *[f"- `{e}`" for e in errors[:8]], ""]
    return lines


def maps_section(city: World, province: World) -> list[str]:
    lines: list[str] = []
    map_rows = []
    for world in (city, province):
        codes = queries.districts(world.engine)
        token = apiload.inspector_token(world, codes)
        proc, base = apiload.serve(world, 1)
        try:
            pages = {
                "inspection map (one district)": f"/maps/inspection/today?district={codes[0]}",
                "district hotspot map": f"/maps/districts/{codes[0]}",
            }
            map_rows += mapload.run(world.scale, base, token, pages)
        finally:
            apiload.stop(proc)
    lines += [
        "## Map pages (headless Chromium, median of 3 cold loads)",
        "",
        "Served pages are shells that load their data layers for the view after `load` (issue 17): *data drawn* is "
        "what a user waits for; *all KB* every response of the page as transferred. Targets: ≤ 2 MB, ≤ 2 s.",
        "",
        "| scale | page | HTML KB | all KB | load ms | data drawn ms | panel counts ms | features drawn | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in map_rows:
        met = m.all_bytes <= 2 * 1024**2 and m.drawn_ms <= 2000
        lines.append(
            f"| {m.scale} | {m.page} | {m.bytes / 1024:.1f} | {m.all_bytes / 1024:.0f} | {fmt(m.load_ms)} | "
            f"{fmt(m.drawn_ms)} | {fmt(m.panel_ms)} | {m.features} | {'met' if met else 'missed'} |"
        )
    lines.append("")
    return lines


if __name__ == "__main__":
    sys.exit(main())
