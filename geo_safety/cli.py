"""``geo-safety``: run the service, manage the local database, load files, generate the sample."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo_safety.errors import GeoSafetyError
from geo_safety.settings import Settings, get_settings

if TYPE_CHECKING:
    from datetime import date, datetime

    from sqlalchemy import Engine

    from geo_safety.localdb import LocalCluster
    from geo_safety.ruleset import RuleSet
    from geo_safety.services.users import NewCredentials


def _engine(settings: Settings) -> Engine:
    from geo_safety.db import make_engine

    return make_engine(settings)


# -- db ------------------------------------------------------------------------------------------------
def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from geo_safety import migrate
    from geo_safety.localdb import LocalCluster

    external = bool(settings.database_url)
    cluster = LocalCluster(settings)
    if args.action == "start":
        if external:
            print("GEO_SAFETY_DATABASE_URL is set: the database is external; nothing to start.")
            return 0
        cluster.start()
        for note in cluster.notes:
            print(note)
        print(f"local database running on 127.0.0.1:{cluster.credentials().port} (data in {cluster.data_dir})")
    elif args.action == "destroy":
        if external:
            print("GEO_SAFETY_DATABASE_URL is set: the database is external; nothing to destroy here.")
            return 0
        return _destroy(cluster, args.yes)
    elif args.action == "stop":
        if external:
            print("GEO_SAFETY_DATABASE_URL is set: the database is external; nothing to stop.")
            return 0
        print("local database stopped" if cluster.stop() else "local database was not running")
    elif args.action == "status":
        if external:
            print(f"external database: {_redact(settings.database_url or '')}")
        elif not cluster.is_initialised():
            print("local database not created yet (run `geo-safety db start`)")
            return 3
        else:
            running = cluster.is_running()
            print(f"local database {'running' if running else 'stopped'} (data in {cluster.data_dir})")
            if not running:
                return 3
        print(f"schema revision: {migrate.current(_engine(settings)) or 'none (run `geo-safety db migrate`)'}")
    elif args.action == "url":
        from geo_safety.db import database_url

        print(database_url(settings))
    elif args.action == "migrate":
        migrate.upgrade(_engine(settings))
        print(f"schema at revision {migrate.current(_engine(settings))}")
    elif args.action in ("backup", "restore"):
        from geo_safety.services import backup

        if not args.file:
            raise GeoSafetyError(f"db {args.action} needs a FILE")
        if args.action == "backup":
            print(f"wrote {backup.backup(settings, Path(args.file))}")
        else:
            terminated = backup.restore(settings, Path(args.file), force=args.force)
            note = f" (disconnected {terminated} other session(s); a running service reconnects)" if terminated else ""
            print(f"restored {args.file}{note}")
    return 0


def _destroy(cluster: LocalCluster, assume_yes: bool) -> int:
    """Delete the local cluster wherever its data is, once the operator confirmed (or gave ``--yes``)."""
    folders = cluster.data_folders()
    if not folders and not cluster.credentials_file.exists():
        print(f"no local database for {cluster.home}; nothing to destroy")
        return 0
    print("this deletes the local database and every row in it:")
    for item in [*folders, cluster.credentials_file]:
        print(f"  {item}")
    if not assume_yes:
        if not sys.stdin.isatty():
            raise GeoSafetyError("db destroy needs a confirmation: run it in a terminal or pass --yes")
        if input("type 'yes' to delete it: ").strip().lower() != "yes":
            print("nothing deleted")
            return 1
    removed = cluster.destroy()
    print(f"local database destroyed ({len(removed)} data folder(s) removed)")
    return 0


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# -- loading -------------------------------------------------------------------------------------------
def _parse_map(pairs: Sequence[str]) -> dict[str, str]:
    rename: dict[str, str] = {}
    for pair in pairs:
        source, sep, dest = pair.partition("=")
        if not sep or not source or not dest:
            raise GeoSafetyError(f"--map takes SRC=DEST, got {pair!r}")
        rename[source] = dest
    return rename


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    from geo_safety.services.imports import load_file

    result = load_file(
        _engine(settings),
        args.layer,
        Path(args.file),
        datum=args.datum,
        mode=args.mode,
        rename=_parse_map(args.map),
        repair=args.repair,
        encoding=args.encoding,
        chunk_rows=settings.import_chunk_rows,
        progress=sys.stderr.isatty(),
    )
    print(result.summary())
    return 0


def cmd_boundaries(args: argparse.Namespace, settings: Settings) -> int:
    from geo_safety.services.bundled import load_boundaries

    print(load_boundaries(_engine(settings), settings.data_dir).summary())
    return 0


def cmd_sample(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "generate":
        from geo_safety.services.sample import generate

        counts = generate(
            Path(args.out), settings.data_dir, scale=args.scale, seed=args.seed, premises_format=args.premises_format
        )
        print(json.dumps(counts, ensure_ascii=False))
        return 0
    from geo_safety.services.bundled import load_sample

    results = load_sample(
        _engine(settings), settings.data_dir, only_if_empty=args.if_empty, progress=sys.stderr.isatty()
    )
    if not results:
        print("the database already holds data; sample not loaded (drop --if-empty to load it anyway)")
    for result in results:
        print(result.summary())
    return 0


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    from geo_safety.services import users
    from geo_safety.services.audit import Actor

    engine, actor = _engine(settings), Actor.command_line()
    if args.action == "add":
        if not args.name or not args.role:
            raise GeoSafetyError("users add needs NAME and --role")
        _print_credentials([users.add_user(engine, settings, actor, args.name, args.role, tuple(args.district))])
    elif args.action == "list":
        for row in users.list_users(engine):
            state = "disabled" if row["disabled_at"] else "active"
            scope = ",".join(row["districts"]) or "city"
            print(f"{row['name']:<24} {row['role']:<10} {scope:<22} {state}{'  (demo)' if row['is_demo'] else ''}")
    elif args.action == "disable":
        users.disable_user(engine, actor, _need_name(args))
        print(f"{args.name} disabled: its tokens and sessions no longer work")
    elif args.action == "token":
        issued = users.issue_token(engine, settings, actor, _need_name(args))
        print(f"new API token for {args.name} (shown once): {issued.token}")
        print(f"  id {issued.id}, expires {issued.expires_at:%Y-%m-%d %H:%M %Z}")
    elif args.action == "tokens":
        print(f"{'id':>6}  {'issued':<16}  {'expires':<16}  state")
        for t in users.list_tokens(engine, _need_name(args)):
            state = "revoked" if t["revoked_at"] else ("expired" if t["expires_at"] <= _now() else "active")
            print(f"{t['id']:>6}  {t['created_at']:%Y-%m-%d %H:%M}  {t['expires_at']:%Y-%m-%d %H:%M}  {state}")
    elif args.action == "revoke-token":
        if args.token_id is None:
            raise GeoSafetyError("users revoke-token needs NAME and TOKEN_ID (see `geo-safety users tokens NAME`)")
        users.revoke_token(engine, actor, _need_name(args), args.token_id)
        print(f"token {args.token_id} of {args.name} revoked; its other tokens still work")
    elif args.action == "reset-password":
        password = users.reset_password(engine, actor, _need_name(args))
        print(f"new password for {args.name} (shown once): {password}; every browser session of it has ended")
    elif args.action == "demo":
        if settings.is_production:
            raise GeoSafetyError("demo users are not created in production")
        print("Demo accounts (synthetic sample data; passwords and tokens are new on every run):")
        _print_credentials(users.reset_demo_users(engine, settings, actor))
    return 0


def _now() -> datetime:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _need_name(args: argparse.Namespace) -> str:
    if not args.name:
        raise GeoSafetyError(f"users {args.action} needs a NAME")
    name: str = args.name
    return name


def _print_credentials(created: Sequence[NewCredentials]) -> None:
    for c in created:
        scope = ",".join(c.districts) or "city"
        print(f"  {c.name:<22} role={c.role:<9} districts={scope:<8} password={c.password}  token={c.token}")


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from geo_safety.services import audit

    try:
        since = datetime.fromisoformat(args.since)
    except ValueError:
        raise GeoSafetyError(f"--since takes an ISO date or date-time, got {args.since!r}") from None
    if since.tzinfo is None:
        since = since.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    for row in audit.entries_since(_engine(settings), since, limit=args.limit):
        target = f"{row['target_type'] or ''}:{row['target_id'] or ''}".strip(":")
        details = json.dumps(row["details"], ensure_ascii=False) if row["details"] else ""
        print(
            f"{row['at'].isoformat(timespec='seconds')}  {row['actor']:<20} {row['action']:<16} {target:<30} "
            f"{row['client'] or ''}  {details}"
        )
    return 0


def _day(value: str | None) -> date:
    from datetime import date

    from geo_safety.rules import today_local

    try:
        return date.fromisoformat(value) if value else today_local()
    except ValueError:
        raise GeoSafetyError(f"dates take YYYY-MM-DD, got {value!r}") from None


def cmd_map(args: argparse.Namespace, settings: Settings) -> int:
    from geo_safety.ruleset import load_rules
    from geo_safety.services import features

    day = _day(args.date)
    engine = _engine(settings)
    rules = load_rules(settings.rules, settings.calendar)
    features.check_district(engine, args.district)
    if args.kind == "today":
        from geo_safety.services.maps import today_map_html

        html = today_map_html(
            engine,
            rules,
            settings,
            day,
            (args.district,) if args.district else None,
            limit=args.limit,
            inline_assets=True,
        ).html
        Path(args.output).write_text(html, encoding="utf-8")
        print(f"wrote {args.output} ({len(html.encode()) / 1e6:.1f} MB, self-contained)")
        return 0
    return _district_maps(args, settings, engine, rules, day)


def _district_maps(args: argparse.Namespace, settings: Settings, engine: Engine, rules: RuleSet, day: date) -> int:
    import time

    from tqdm import tqdm

    from geo_safety.maps.render import OVERVIEW_TITLE, district_map, district_title, overview_map, render_html
    from geo_safety.maps.tiles import basemap
    from geo_safety.services.maps import district_data, overview_data
    from geo_safety.sql import districts as sql_districts

    if not args.all and not args.district:
        raise GeoSafetyError("name a district with --district CODE, or pass --all")
    with engine.connect() as conn:
        codes = [args.district] if args.district else list(conn.execute(sql_districts.CODES).scalars())
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tiles = basemap(settings.tiles, settings.tianditu_key)
    started = time.perf_counter()
    written = []
    for code in tqdm(codes, desc="district maps", unit=" district", disable=not sys.stderr.isatty()):
        data = district_data(engine, rules, day, code)
        target = out / f"district_{code}_{day}.html"
        page = render_html(district_map(data, tiles, inline_assets=True), district_title(data), tiles)
        target.write_text(page.html, encoding="utf-8")
        written.append(target)
        if args.png:
            from geo_safety.maps.png import district_png

            written.append(district_png(data, out / f"district_{code}_{day}.png"))
        if args.pdf:
            from geo_safety.maps.png import district_pdf

            written.append(district_pdf(data, out / f"district_{code}_{day}.pdf"))
    if args.all:
        target = out / f"city_overview_{day}.html"
        overview = overview_map(overview_data(engine, rules, day), day.isoformat(), tiles, inline_assets=True)
        target.write_text(render_html(overview, OVERVIEW_TITLE, tiles).html, encoding="utf-8")
        written.append(target)
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} files in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_calendar(args: argparse.Namespace, settings: Settings) -> int:
    """Which coming dates lack official holidays or vacation dates (exit 1 then, so a cron job can mail it)."""
    from geo_safety.keyperiods import load_calendar

    calendar = load_calendar(settings.calendar)
    today = _day(args.date)
    if args.json:
        status = calendar.status(today)
        print(json.dumps(status, ensure_ascii=False, indent=2))
        return 1 if status["warnings"] else 0
    warnings = calendar.check(today)
    print(f"日历文件 calendar file: {settings.calendar or '(packaged calendar_default.toml)'}")
    print(f"官方放假安排来源 official days from: {'; '.join(calendar.sources) or '-'}")
    print(f"已设寒假的年份 winter vacation dates for: {', '.join(map(str, sorted(calendar.winter_years))) or '-'}")
    for warning in warnings:
        print(f"警告 WARNING {warning.year} {warning.kind}: {warning.message}")
    if not warnings:
        print(f"正常 OK: the dates from {today} have official holidays and vacation dates")
    return 1 if warnings else 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from geo_safety.ruleset import load_rules
    from geo_safety.services import features, reports

    engine = _engine(settings)
    features.check_district(engine, args.district)
    report = reports.programme(
        engine,
        load_rules(settings.rules, settings.calendar),
        _day(args.date_from),
        _day(args.date_to),
        (args.district,) if args.district else None,
    )
    if args.format == "json":
        _emit(args.output, json.dumps(report, ensure_ascii=False, indent=2, default=str))
        return 0
    scope = reports.scope_name(report, args.district is None)
    if args.format == "csv":
        _emit(args.output, reports.to_csv(report))
    elif args.format == "html":
        _emit(args.output, reports.to_html(report, scope)[0])
    else:
        if not args.output:
            raise GeoSafetyError(f"--format {args.format} needs --output FILE.{args.format}")
        from geo_safety.rules import today_local

        data = (
            reports.to_xlsx(report, scope)
            if args.format == "xlsx"
            else reports.to_pdf(report, scope, str(today_local()))
        )
        Path(args.output).write_bytes(data)
        print(f"wrote {args.output}")
    return 0


def _emit(output: str | None, text_: str) -> None:
    if output:
        Path(output).write_text(text_, encoding="utf-8")
        print(f"wrote {output}")
    else:
        print(text_)


def cmd_qgis_project(args: argparse.Namespace, settings: Settings) -> int:
    """A QGIS project of every OGC API layer, styled like the web maps; needs no QGIS here."""
    from geo_safety import qgis_project

    options: dict[str, Any] = {"authcfg": args.authcfg}
    try:  # the service area and today's risk classes from the database, when it is at hand
        options.update(_qgis_data(settings))
    except Exception as exc:  # the project is useful without them
        print(f"note: no database ({type(exc).__name__}); default extent (Beihai) and risk classes used")
    out = qgis_project.write_project(Path(args.out), args.url, **options)
    print(f"wrote {out}: {len(qgis_project.layer_specs())} groups of OGC API layers from {args.url}")
    print(
        f"In QGIS, create a Basic authentication configuration with the id '{args.authcfg}' "
        "(user name + API token as the password), then open the project (see the README, 'QGIS')."
    )
    return 0


def _qgis_data(settings: Settings) -> dict[str, Any]:
    from geo_safety import qgis_project
    from geo_safety.maps.render import risk_breaks
    from geo_safety.rules import today_local
    from geo_safety.ruleset import load_rules
    from geo_safety.services import hotspots
    from geo_safety.sql import districts as sql_districts

    engine = _engine(settings)
    with engine.connect() as conn:
        box = conn.execute(sql_districts.EXTENT).one()
    found = hotspots.drowning_hotspots(
        engine, load_rules(settings.rules, settings.calendar), today_local(), None, limit=hotspots.MAX_PAGE
    )
    data: dict[str, Any] = {}
    if box[0] is not None:
        data["extent"] = tuple(float(v) for v in box)
    breaks = risk_breaks([f["properties"]["risk_score"] for f in found["features"]])
    if breaks and len(set(breaks)) == len(breaks) and breaks[0] > 0:
        data["risk_breaks"] = (*breaks[:-1], qgis_project.OPEN_END)
    return data


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from geo_safety.api.app import create_app
    from geo_safety.api.requestlog import configure

    configure()  # JSON lines with the request id and tracebacks, on stderr
    # idle keep-alive connections are closed; request bodies have their own deadline (BodyLimit)
    # proxy_headers=False: the app itself decides whom to believe about X-Forwarded-For (``trusted_proxies``)
    base = f"http://{args.host}:{args.port}"
    print(
        f"geo_safety serving on {base}  (log in: {base}/login, health: {base}/health, API: {base}/openapi.json)",
        flush=True,
    )
    multi = args.workers > 1  # each worker process builds its app from the environment's settings
    uvicorn.run(
        "geo_safety.api.app:create_serving_app" if multi else create_app(settings, serving=True),
        factory=multi,
        host=args.host,
        port=args.port,
        workers=args.workers if multi else None,
        log_level="warning" if multi else "info",
        timeout_keep_alive=settings.keep_alive_s,
        timeout_graceful_shutdown=30,
        proxy_headers=False,
    )
    return 0


# -- parser ---------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from geo_safety.crs import Datum
    from geo_safety.layers import LAYERS
    from geo_safety.services.imports import MODES
    from geo_safety.services.sample import SCALES

    parser = argparse.ArgumentParser(prog="geo-safety", description="Campus-safety GIS service.")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the database: start|stop|status|url|migrate|backup FILE|restore FILE|destroy")
    db.add_argument("action", choices=["start", "stop", "status", "url", "migrate", "backup", "restore", "destroy"])
    db.add_argument("file", nargs="?", help="backup/restore: the pg_dump custom-format file")
    db.add_argument(
        "--force", action="store_true", help="restore: disconnect other sessions (e.g. a running service) first"
    )
    db.add_argument("--yes", action="store_true", help="destroy: do not ask for a confirmation")
    db.set_defaults(func=cmd_db)

    load = sub.add_parser("load", help="load a GeoJSON, GeoPackage, zipped Shapefile, KML or CSV file into a layer")
    load.add_argument("layer", choices=list(LAYERS))
    load.add_argument("file")
    load.add_argument(
        "--datum",
        required=True,
        choices=[d.value for d in Datum],
        help="datum of the file's coordinates (GCJ-02 for AMap/Tencent, BD-09 for Baidu)",
    )
    load.add_argument("--mode", default="append", choices=MODES)
    load.add_argument("--map", action="append", default=[], metavar="SRC=DEST", help="rename a column")
    load.add_argument("--repair", action="store_true", help="make invalid geometries valid (and count them)")
    load.add_argument("--encoding", help="text encoding of a CSV or Shapefile, e.g. gbk")
    load.set_defaults(func=cmd_load)

    boundaries = sub.add_parser("boundaries", help="load the bundled Beihai district boundaries")
    boundaries.add_argument("action", choices=["load"])
    boundaries.set_defaults(func=cmd_boundaries)

    sample = sub.add_parser("sample", help="load or generate the synthetic sample")
    sample.add_argument("action", choices=["load", "generate"])
    sample.add_argument("--if-empty", action="store_true", help="load only into a database without schools")
    sample.add_argument("--scale", default="sample", choices=list(SCALES))
    sample.add_argument("--seed", type=int, default=20261101)
    sample.add_argument("--out", default="sample-out")
    sample.add_argument("--premises-format", default="csv", choices=["csv", "gpkg"])
    sample.set_defaults(func=cmd_sample)

    users = sub.add_parser("users", help="accounts: add|list|disable|token|tokens|revoke-token|reset-password|demo")
    users.add_argument(
        "action", choices=["add", "list", "disable", "token", "tokens", "revoke-token", "reset-password", "demo"]
    )
    users.add_argument("name", nargs="?")
    users.add_argument("token_id", nargs="?", type=int, help="revoke-token: the id `users tokens NAME` shows")
    users.add_argument("--role", choices=["inspector", "planner", "viewer", "admin"])
    users.add_argument(
        "--district",
        action="append",
        default=[],
        metavar="CODE",
        help="district code the account covers (repeat; none = the whole city)",
    )
    users.set_defaults(func=cmd_users)

    audit = sub.add_parser("audit", help="the audit trail of writes")
    audit.add_argument("--since", required=True, help="ISO date or date-time (Asia/Shanghai unless given)")
    audit.add_argument("--limit", type=int, default=1000)
    audit.set_defaults(func=cmd_audit)

    maps = sub.add_parser("map", help="write maps as self-contained HTML files (and PNGs)")
    maps.add_argument("kind", choices=["today", "districts"])
    maps.add_argument("--district", help="district code (adcode)")
    maps.add_argument("--all", action="store_true", help="districts: every district and the city overview")
    maps.add_argument("--date", help="YYYY-MM-DD; default: today in Asia/Shanghai")
    maps.add_argument("--limit", type=int, default=20, help="today: stops on the route")
    maps.add_argument("-o", "--output", default="today.html", help="today: the HTML file")
    maps.add_argument("--out-dir", default="maps", help="districts: folder for the files")
    maps.add_argument("--png", action="store_true", help="districts: also a static PNG per district")
    maps.add_argument("--pdf", action="store_true", help="districts: also a printable A4 PDF per district")
    maps.set_defaults(func=cmd_map)

    report = sub.add_parser("report", help="programme statistics for a period")
    report.add_argument("--from", dest="date_from", required=True, help="YYYY-MM-DD")
    report.add_argument("--to", dest="date_to", required=True, help="YYYY-MM-DD")
    report.add_argument("--district")
    report.add_argument("--format", default="json", choices=["json", "csv", "xlsx", "html", "pdf"])
    report.add_argument("--output", help="file to write (default: print)")
    report.set_defaults(func=cmd_report)

    calendar = sub.add_parser("calendar", help="key-period calendar: check which coming dates lack official days")
    calendar.add_argument("action", choices=["check"])
    calendar.add_argument("--date", help="check as of YYYY-MM-DD; default: today in Asia/Shanghai")
    calendar.add_argument("--json", action="store_true", help="print the status as JSON (as /health shows it)")
    calendar.set_defaults(func=cmd_calendar)

    qgis = sub.add_parser("qgis-project", help="write a QGIS project with every OGC API layer, styled like the maps")
    qgis.add_argument("--out", required=True, help="the project file (.qgz, or .qgs for plain XML)")
    qgis.add_argument("--url", default="http://127.0.0.1:8000", help="the service as QGIS will reach it")
    qgis.add_argument("--authcfg", default="gsafety", help="id of the QGIS Basic authentication configuration")
    qgis.set_defaults(func=cmd_qgis_project)

    serve = sub.add_parser("serve", help="serve the web app and API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="processes (one per core is usual in production)")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, get_settings()) or 0)
    except GeoSafetyError as exc:
        print(f"geo-safety: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
