"""Backups with PostgreSQL's own tools: ``pg_dump`` custom format out, ``pg_restore`` in one transaction."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from geo_safety.db import database_url
from geo_safety.errors import DatabaseUnavailable, InvalidInput
from geo_safety.localdb import find_pg_bindir
from geo_safety.settings import Settings


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


def restore(settings: Settings, source: Path) -> None:
    """Replace the database's contents with a backup, all or nothing (``--single-transaction``)."""
    if not source.exists() or source.stat().st_size == 0:
        raise InvalidInput(f"{source}: no such backup file, or it is empty")
    with source.open("rb") as handle:
        if handle.read(5) != b"PGDMP":
            raise InvalidInput(f"{source}: not a pg_dump custom-format file")
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
