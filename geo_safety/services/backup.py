"""Backups with PostgreSQL's own tools: ``pg_dump`` custom format out, ``pg_restore`` in one transaction."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from geo_safety.db import database_url
from geo_safety.errors import Conflict, DatabaseUnavailable, InvalidInput
from geo_safety.localdb import find_pg_bindir
from geo_safety.settings import Settings
from geo_safety.sql import maintenance as sql_maintenance


def _libpq(settings: Settings) -> tuple[str, dict[str, str]]:
    """A password-free URL plus the environment that carries the password (never on a command line)."""
    url = make_url(database_url(settings))
    env = {"PGPASSWORD": url.password or ""}
    plain = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return plain, env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    import os

    result = subprocess.run(args, capture_output=True, text=True, env={**os.environ, **env}, check=False)
    if result.returncode != 0:
        raise DatabaseUnavailable(f"{what} failed: {result.stderr.strip()[-2000:]}")


def backup(settings: Settings, target: Path) -> Path:
    """Dump the whole database (schema, layers, history, users) to ``target`` in pg_dump's custom format."""
    url, env = _libpq(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    _run([str(find_pg_bindir() / "pg_dump"), "--format=custom", "--no-owner", f"--file={target}", url], env, "pg_dump")
    return target


class SessionsConnected(Conflict):
    """Other sessions (a running service, a psql) are connected to the database a restore would replace."""


def connected_sessions(settings: Settings) -> list[str]:
    """Other client sessions connected to the database: ``"pid who (address)"`` each."""
    with _connect(settings) as conn:
        return [f"{pid} {who} ({addr or 'local'})" for pid, who, addr in conn.execute(sql_maintenance.OTHER_SESSIONS)]


def _terminate_others(settings: Settings) -> int:
    with _connect(settings) as conn:
        return sum(1 for (done,) in conn.execute(sql_maintenance.TERMINATE_OTHER_SESSIONS) if done)


def _connect(settings: Settings) -> psycopg.Connection:
    url, env = _libpq(settings)
    return psycopg.connect(url, password=env["PGPASSWORD"] or None, autocommit=True, connect_timeout=10)


def restore(settings: Settings, source: Path, *, force: bool = False) -> int:
    """Replace the database's contents with a backup, all or nothing (``--single-transaction``).

    The restore drops and recreates the PostGIS extension, and a server process that used the old one keeps
    its type and operator ids cached: a running service would answer every spatial request with 500
    (``no spatial operator found``) until restarted. So while other sessions are connected the restore is
    refused (:class:`SessionsConnected`, naming them); with ``force`` they are terminated before the restore
    and once more after it (anything that connected meanwhile). The service's pool re-checks its connections
    (``pool_pre_ping``) and opens fresh ones: a running service keeps working. Returns the sessions terminated.
    """
    if not source.exists() or source.stat().st_size == 0:
        raise InvalidInput(f"{source}: no such backup file, or it is empty")
    with source.open("rb") as handle:
        if handle.read(5) != b"PGDMP":
            raise InvalidInput(f"{source}: not a pg_dump custom-format file")
    terminated = 0
    if force:
        terminated += _terminate_others(settings)
    else:
        others = connected_sessions(settings)
        if others:
            raise SessionsConnected(
                f"{len(others)} other session(s) are connected to the database ({'; '.join(others[:5])}): "
                "a running geo_safety service would fail every spatial request after the restore until restarted. "
                "Stop the service first, or restore with --force to disconnect them (the service reconnects)."
            )
    url, env = _libpq(settings)
    _run(
        [
            str(find_pg_bindir() / "pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={url}",
            str(source),
        ],
        env,
        "pg_restore",
    )
    if force:
        terminated += _terminate_others(settings)
    return terminated
