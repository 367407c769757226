"""A real PostGIS for the tests, in throwaway databases; never the user's ``.geo_safety`` data.

With ``GEO_SAFETY_TEST_DATABASE_URL`` (a superuser URL to any PostGIS server) the tests create and
drop their own databases there; otherwise they start a throwaway local cluster in a temp folder.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety import migrate
from geo_safety.db import make_engine
from geo_safety.localdb import LocalCluster, drop_database, ensure_database
from geo_safety.services.bundled import load_boundaries
from geo_safety.settings import PROJECT_DIR, Settings

DATA_DIR = PROJECT_DIR / "data"
TABLES = (
    "inspections",
    "import_runs",
    "water_hazards",
    "water_hazard_history",
    "premises",
    "schools",
    "districts",
    "audit_log",
    "premise_school_links",
    "hazard_school_links",
    "inspection_photos",
    "day_plans",
    "premise_status_history",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """libpq URL of a role that may create databases."""
    external = os.environ.get("GEO_SAFETY_TEST_DATABASE_URL")
    if external:
        yield external.replace("postgresql+psycopg://", "postgresql://")
        return
    home = tmp_path_factory.mktemp("pg")
    cluster = LocalCluster(Settings(home=home, db_port=free_port()))
    cluster.start()
    try:
        yield cluster.libpq_url("postgres")
    finally:
        cluster.destroy()


def new_database(admin_url: str) -> tuple[str, str]:
    name = f"geo_safety_test_{uuid.uuid4().hex[:10]}"
    ensure_database(admin_url, name)
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=name)
    params = psycopg.conninfo.conninfo_to_dict(url)
    sa_url = (
        f"postgresql+psycopg://{params['user']}:{params.get('password', '')}@{params.get('host', '127.0.0.1')}"
        f":{params.get('port', 5432)}/{name}"
    )
    return name, sa_url


@pytest.fixture(scope="session")
def settings(admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings pointing at a migrated throwaway database, dropped after the session."""
    name, url = new_database(admin_url)
    home = tmp_path_factory.mktemp("home")
    test_settings = Settings(database_url=url, home=home, data_dir=DATA_DIR)
    engine = make_engine(test_settings)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield test_settings
    finally:
        drop_database(admin_url, name)


@pytest.fixture(scope="session")
def session_engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(session_engine: Engine) -> Engine:
    """The test database, emptied before each test."""
    with session_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    return session_engine


@pytest.fixture
def beihai(engine: Engine) -> Engine:
    """The test database holding the real Beihai district boundaries (the service area)."""
    load_boundaries(engine, DATA_DIR)
    return engine


def table_checksums(engine: Engine) -> dict[str, str]:
    """md5 of every layer's full content, to prove a rejected import changed nothing."""
    sums = {}
    with engine.connect() as conn:
        for table in TABLES:
            sums[table] = conn.execute(
                text(f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t")
            ).scalar_one()
    return sums


def auth(token: str) -> dict[str, str]:
    """The header an API client sends."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app with its lifespan, for one test (modules that need another client define their own)."""
    from geo_safety.api.app import create_app

    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA_DIR


def fresh_sample(engine: Engine, data_dir: Path) -> None:
    """Empty every table (users too) and load the bundled Beihai sample (for module-scoped fixtures)."""
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)}, users, api_tokens, web_sessions RESTART IDENTITY CASCADE"))
    from geo_safety.services.bundled import load_sample

    load_sample(engine, data_dir)


#: Whole modules that are slow by nature (schema fuzzing as every role, the notebook, outages and big files).
SLOW_MODULES = {"test_fuzz", "test_reliability", "test_sample"}
BROWSER_NAMES = {"browser_page", "phone_page", "live_server", "sync_playwright"}


@pytest.hookimpl(tryfirst=True)  # before pytest's -m selection reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Lanes: ``browser`` (a real Chromium or server), ``slow``; the fast lane is ``-m "not browser and not slow"``.

    A test is a browser test when its code uses the browser helpers, so new tests land in the right lane by
    themselves.
    """
    for item in items:
        function = getattr(item, "function", None)
        names = set(getattr(getattr(function, "__code__", None), "co_names", ()))
        if names & BROWSER_NAMES:
            item.add_marker(pytest.mark.browser)
        module_object = getattr(item, "module", None)  # doctests of geo_safety/ have none
        module = module_object.__name__.rsplit(".", 1)[-1] if module_object is not None else ""
        if module in SLOW_MODULES or "notebook" in item.name:
            item.add_marker(pytest.mark.slow)
