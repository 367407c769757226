"""The embedded default database: a project-local PostgreSQL + PostGIS cluster.

Used when no ``GEO_SAFETY_DATABASE_URL`` is given. The cluster lives under ``GEO_SAFETY_HOME``
(default ``.geo_safety/``), listens on 127.0.0.1 only (no Unix socket, so no path-length or
permission trouble), and requires a password that is generated at ``initdb`` and kept in a
credentials file readable by its owner only. ``initdb`` refuses to run as root, so when we are
root the server runs as the unprivileged ``postgres`` system user (created by Debian's
``postgresql`` package); if that user cannot reach the project folder (e.g. under a private home),
the data folder moves to a per-project folder under ``/var/lib/postgresql`` and the home keeps a
pointer to it.

That folder outlives the home when the home is deleted. Its name comes from the home's path and a
marker file in it names the home, so a new cluster at the same path finds it: the deleted home's
server is stopped and its data removed (nobody holds its password any more), and the data of other
homes is never touched. ``destroy`` removes a cluster and its data wherever they are.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from geo_safety.errors import DatabaseUnavailable
from geo_safety.settings import Settings

SUPERUSER = "geo_safety"
DATABASE = "geo_safety"
SERVICE_USER = "postgres"
_SYSTEM_FALLBACK = Path("/var/lib/postgresql/geo_safety")
#: In a data folder outside the home: the home it belongs to (PostgreSQL ignores unknown files there).
HOME_MARKER = "geo_safety_home"


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def find_pg_bindir() -> Path:
    """The newest PostgreSQL server whose installation also has PostGIS.

    ``GEO_SAFETY_PG_BINDIR`` wins; otherwise Debian's ``/usr/lib/postgresql/N/bin``, then ``PATH``.
    """
    explicit = os.environ.get("GEO_SAFETY_PG_BINDIR")
    if explicit:
        return Path(explicit)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    with_postgis = [
        c for c in candidates if glob.glob(f"/usr/share/postgresql/{Path(c).parent.name}/extension/postgis.control")
    ]
    for choice in with_postgis or candidates:
        if (Path(choice) / "initdb").exists():
            return Path(choice)
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise DatabaseUnavailable(
        "PostgreSQL server binaries not found. On Debian/Ubuntu: "
        "`apt-get install postgresql postgresql-15-postgis-3` (the postgis package matching your server), "
        "or set GEO_SAFETY_DATABASE_URL to an existing PostGIS."
    )


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    port: int
    database: str
    data_dir: str


class LocalCluster:
    """Start, stop and inspect the project-local cluster described by ``settings``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home_dir
        self.credentials_file = self.home / "credentials.json"
        self.as_root = os.geteuid() == 0
        #: What ``start``/``init`` did beyond starting (e.g. removing a deleted home's cluster), for the CLI to say.
        self.notes: list[str] = []

    # -- paths and credentials -------------------------------------------------------------------
    def credentials(self) -> Credentials:
        return Credentials(**json.loads(self.credentials_file.read_text()))

    def is_initialised(self) -> bool:
        if not self.credentials_file.exists():
            return False
        return (Path(self.credentials().data_dir) / "PG_VERSION").exists()

    @property
    def data_dir(self) -> Path:
        return Path(self.credentials().data_dir)

    def url(self, database: str | None = None) -> str:
        c = self.credentials()
        return f"postgresql+psycopg://{c.user}:{c.password}@127.0.0.1:{c.port}/{database or c.database}"

    def libpq_url(self, database: str | None = None) -> str:
        return self.url(database).replace("postgresql+psycopg://", "postgresql://")

    # -- running server commands -------------------------------------------------------------------
    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server binary, as the ``postgres`` user when we are root."""
        prefix = ["runuser", "-u", SERVICE_USER, "--"] if self.as_root else []
        return subprocess.run(prefix + args, capture_output=True, text=True, check=check, cwd="/")

    def _service_user_can_use(self, folder: Path) -> bool:
        probe = subprocess.run(["runuser", "-u", SERVICE_USER, "--", "test", "-w", str(folder)], check=False)
        return probe.returncode == 0

    def _recorded_data_dir(self, usable: bool = False) -> Path | None:
        """The data folder the credentials name (``usable``: only if a cluster is in it), else None."""
        try:
            folder = self.data_dir
        except (OSError, ValueError, TypeError):  # no credentials, or a damaged file
            return None
        return folder if not usable or (folder / "PG_VERSION").exists() else None

    @property
    def fallback_dir(self) -> Path:
        """Where this home's data goes when the ``postgres`` user cannot reach the home (root only)."""
        return _SYSTEM_FALLBACK / hashlib.sha1(str(self.home).encode()).hexdigest()[:12]

    def _owned_fallback(self) -> Path | None:
        """This home's folder under ``/var/lib/postgresql/geo_safety`` if it exists and is this home's.

        A folder without a marker (made before markers existed) is this home's by its name alone.
        """
        folder = self.fallback_dir
        if not folder.is_dir():
            return None
        marker = folder / HOME_MARKER
        if marker.exists() and marker.read_text().strip() != str(self.home):
            return None
        return folder

    def _remove_data(self, data_dir: Path) -> None:
        """Stop the server of ``data_dir`` if one runs there, then delete the folder."""
        if (data_dir / "postmaster.pid").exists():
            pg_ctl = find_pg_bindir() / "pg_ctl"
            self._run([str(pg_ctl), "stop", "-D", str(data_dir), "-m", "fast", "-w", "-t", "60"], check=False)
        if self.as_root and data_dir.exists():
            self._run(["rm", "-rf", str(data_dir)], check=False)
        shutil.rmtree(data_dir, ignore_errors=True)

    def _clear_orphans(self) -> None:
        """Before a new cluster: remove what a deleted home of this path left outside it.

        Its credentials went with the home, so its data can never be opened by this home again (it is not
        reused), and its server, if still running, would hold the port. Folders of other homes are kept.
        """
        orphan = self._owned_fallback()
        if orphan is None or not any(orphan.iterdir()) or orphan == self._recorded_data_dir(usable=True):
            return
        self._remove_data(orphan)
        self.notes.append(f"removed the database a deleted {self.home} had left in {orphan}")

    def _choose_data_dir(self) -> Path:
        wanted = self.home / "pgdata"
        if not self.as_root:
            return wanted
        _require_service_user()
        wanted.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.chown(wanted, SERVICE_USER, SERVICE_USER)
        if self._service_user_can_use(wanted):
            return wanted
        wanted.rmdir()
        fallback = self.fallback_dir
        if fallback.exists() and self._owned_fallback() is None:
            raise DatabaseUnavailable(
                f"{fallback} belongs to another geo_safety home ({(fallback / HOME_MARKER).read_text().strip()}); "
                "it is left alone. Set GEO_SAFETY_HOME to another folder."
            )
        fallback.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.chown(fallback, SERVICE_USER, SERVICE_USER)
        shutil.chown(_SYSTEM_FALLBACK, SERVICE_USER, SERVICE_USER)
        return fallback

    def init(self) -> None:
        """``initdb`` a new cluster with a generated password (no-op if one exists)."""
        if self.is_initialised():
            return
        bindir = find_pg_bindir()
        self.home.mkdir(parents=True, exist_ok=True)
        os.chmod(self.home, 0o711)
        if self.as_root:
            self._clear_orphans()
        data_dir = self._choose_data_dir()
        if data_dir.exists() and any(data_dir.iterdir()):
            raise DatabaseUnavailable(
                f"{data_dir} holds a database whose credentials ({self.credentials_file}) are gone; "
                "`geo-safety db destroy` removes it"
            )
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        password = secrets.token_urlsafe(24)
        with tempfile.NamedTemporaryFile("w", delete=False, prefix="gs-pw-") as pwfile:
            pwfile.write(password + "\n")
        try:
            if self.as_root:
                shutil.chown(pwfile.name, SERVICE_USER, SERVICE_USER)
            result = self._run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data_dir),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile.name}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                ],
                check=False,
            )
        finally:
            os.unlink(pwfile.name)
        if result.returncode != 0:
            raise DatabaseUnavailable(f"initdb failed in {data_dir}:\n{result.stderr.strip()}")
        if data_dir != self.home / "pgdata":
            (data_dir / HOME_MARKER).write_text(f"{self.home}\n")
        with open(data_dir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# geo_safety local cluster\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.settings.db_port}\n"
                "unix_socket_directories = ''\n"
                "shared_buffers = 256MB\n"
                "work_mem = 32MB\n"
                "maintenance_work_mem = 256MB\n"
                "max_wal_size = 2GB\n"
                "logging_collector = on\n"
                "log_directory = 'log'\n"
            )
        creds = Credentials(SUPERUSER, password, self.settings.db_port, DATABASE, str(data_dir))
        fd = os.open(self.credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(creds.__dict__, out, indent=2)

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        status = self._run([str(find_pg_bindir() / "pg_ctl"), "status", "-D", str(self.data_dir)], check=False)
        return status.returncode == 0

    def start(self) -> None:
        """Init if needed, start if stopped, wait until it accepts connections, create the database."""
        self.init()
        if not self.is_running():
            log = self.data_dir / "startup.log"
            result = self._run(
                [str(find_pg_bindir() / "pg_ctl"), "start", "-D", str(self.data_dir), "-w", "-t", "60", "-l", str(log)],
                check=False,
            )
            if result.returncode != 0:
                tail = ""
                if self.as_root:
                    tail = self._run(["tail", "-n", "20", str(log)], check=False).stdout
                elif log.exists():
                    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
                raise DatabaseUnavailable(
                    f"the local database did not start (port {self.credentials().port} busy? "
                    f"set GEO_SAFETY_DB_PORT before the first start):\n{result.stderr.strip()}\n{tail}"
                )
        wait_until_ready(self.libpq_url("postgres"))
        ensure_database(self.libpq_url("postgres"), self.credentials().database)

    def stop(self) -> bool:
        """Stop the server (fast shutdown: transactions are rolled back, committed data is kept)."""
        if not self.is_running():
            return False
        self._run([str(find_pg_bindir() / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w"])
        return True

    def data_folders(self) -> list[Path]:
        """Every folder holding this home's cluster, found also after the home was deleted.

        The folder its credentials name, the home's own ``pgdata`` and this home's folder under
        ``/var/lib/postgresql/geo_safety`` (the credentials went with a deleted home; its path did not).
        """
        found = [self._recorded_data_dir(), self.home / "pgdata", self._owned_fallback()]
        return [folder for folder in dict.fromkeys(found) if folder is not None and folder.exists()]

    def destroy(self) -> list[Path]:
        """Stop the cluster and delete its data wherever it is, and its credentials; the folders removed."""
        folders = self.data_folders()
        for folder in folders:
            self._remove_data(folder)
        self.credentials_file.unlink(missing_ok=True)
        return folders


def _require_service_user() -> None:
    import pwd

    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise DatabaseUnavailable(
            "running as root needs the unprivileged 'postgres' user to own the server "
            "(Debian's postgresql package creates it): apt-get install postgresql"
        ) from None


def wait_until_ready(libpq_url: str, timeout_s: float = 60.0) -> None:
    """Poll until the server accepts connections (it may still be recovering after a crash)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(libpq_url, connect_timeout=3):
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise DatabaseUnavailable(f"database not ready after {timeout_s:.0f} s: {exc}") from exc
            time.sleep(0.3)


def ensure_database(admin_libpq_url: str, name: str) -> None:
    """Create database ``name`` with PostGIS if missing, connecting through ``admin_libpq_url``."""
    with psycopg.connect(admin_libpq_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    target = psycopg.conninfo.make_conninfo(admin_libpq_url, dbname=name)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def drop_database(admin_libpq_url: str, name: str) -> None:
    with psycopg.connect(admin_libpq_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
