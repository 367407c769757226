"""The embedded local cluster, the migrations and the health endpoint, against real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from geo_safety import migrate
from geo_safety.api.app import create_app
from geo_safety.cli import main
from geo_safety.db import make_engine
from geo_safety.localdb import LocalCluster, drop_database
from geo_safety.settings import Settings
from tests.conftest import free_port, new_database
from tests.test_layer_schema import schema_mismatches


def test_local_cluster_keeps_data_across_stop_and_start(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    settings = Settings(home=tmp_path / "home", db_port=free_port())
    cluster = LocalCluster(settings)
    try:
        cluster.start()
        assert cluster.is_running()
        data = cluster.data_dir
        creds = (tmp_path / "home" / "credentials.json").stat()
        assert creds.st_mode & 0o077 == 0  # the generated password is readable by its owner only
        with psycopg.connect(cluster.libpq_url(), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('北海')")
            assert conn.execute("SELECT postgis_lib_version()").fetchone()[0].startswith("3")
        assert cluster.stop() is True
        assert not cluster.is_running()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(cluster.libpq_url(), connect_timeout=2)
        cluster.start()
        with psycopg.connect(cluster.libpq_url()) as conn:
            assert conn.execute("SELECT v FROM kept").fetchone() == ("北海",)
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(cluster.libpq_url().replace(cluster.credentials().password, "wrong"), connect_timeout=2)
    finally:
        cluster.destroy()
    assert not (tmp_path / "home" / "credentials.json").exists()
    assert not data.exists()  # the data too, also where it lives outside the home (root: /var/lib/postgresql)


def test_cli_says_an_external_database_is_not_started(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from geo_safety import settings as settings_module

    monkeypatch.setenv("GEO_SAFETY_DATABASE_URL", settings.database_url or "")
    settings_module.get_settings.cache_clear()
    try:
        assert main(["db", "start"]) == 0
        assert "external" in capsys.readouterr().out
        assert main(["db", "stop"]) == 0
        assert "external" in capsys.readouterr().out
        assert main(["db", "status"]) == 0
        out = capsys.readouterr().out
        assert f"schema revision: {migrate.head()}" in out and "***" in out  # the password is not printed
    finally:
        settings_module.get_settings.cache_clear()


def test_migrations_go_up_and_down(admin_url: str) -> None:
    name, url = new_database(admin_url)
    engine = make_engine(Settings(database_url=url))
    try:
        migrate.upgrade(engine)
        assert migrate.current(engine) == migrate.head()
        tables = set(inspect(engine).get_table_names())
        assert {
            "districts",
            "schools",
            "premises",
            "water_hazards",
            "inspections",
            "import_runs",
            "users",
            "api_tokens",
            "web_sessions",
            "audit_log",
            "premise_school_links",
            "hazard_school_links",
        } <= tables
        # the models and the migrations describe the same columns (tests/test_layer_schema.py has the details)
        assert schema_mismatches(engine) == []
        with engine.connect() as conn:
            srids = dict(
                conn.execute(text("SELECT f_table_name || '.' || f_geometry_column, srid FROM geometry_columns")).all()
            )
            gist = conn.execute(
                text("SELECT count(*) FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'")
            ).scalar_one()
        assert set(srids.values()) == {4326} and len(srids) == 6
        assert gist == 9  # geometry on every layer, geography on schools and zones (0005 dropped premises')
        migrate.downgrade(engine)
        assert migrate.current(engine) is None
        assert not {"districts", "schools"} & set(inspect(engine).get_table_names())
        migrate.upgrade(engine)
        assert migrate.current(engine) == migrate.head()
        assert schema_mismatches(engine) == []  # down and up again: the same shape
    finally:
        engine.dispose()
        drop_database(admin_url, name)


def test_health_reports_layers_and_503_when_the_database_is_down(beihai, settings: Settings) -> None:
    from uuid import uuid4

    from geo_safety.services import users
    from geo_safety.services.audit import Actor

    token = users.add_user(beihai, settings, Actor("t"), f"health-{uuid4().hex[:8]}", "viewer").token
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json() == {"status": "ok"}  # anonymous: alive, nothing more
        body = client.get("/health", headers={"Authorization": f"Bearer {token}"}).json()
    assert body["status"] == "ok" and body["schema_revision"] == migrate.head()
    assert body["layers"]["districts"] == 4
    down = Settings(database_url=f"postgresql://nobody:x@127.0.0.1:{free_port()}/none")
    with TestClient(create_app(down)) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert "not reachable" in response.json()["detail"]
    assert "nobody" not in response.text  # no connection details leak


def test_migration_0005_links_the_rows_already_stored_as_the_service_does(admin_url: str, data_dir: Path) -> None:
    """0005 is frozen SQL (it imports nothing of today's package): on a populated database its links equal the
    service's own (same pairs, distances within 0.5 m)."""
    from geo_safety.services.bundled import load_sample

    name, url = new_database(admin_url)
    engine = make_engine(Settings(database_url=url))
    try:
        migrate.upgrade(engine)
        load_sample(engine, data_dir)
        links = ("premise_school_links", "hazard_school_links")
        with engine.connect() as conn:
            service = {t: {tuple(r[:2]): r[2] for r in conn.execute(text(f"SELECT * FROM {t}"))} for t in links}
        migrate.downgrade(engine, "0004")
        migrate.upgrade(engine, "0005")
        with engine.connect() as conn:
            frozen = {t: {tuple(r[:2]): r[2] for r in conn.execute(text(f"SELECT * FROM {t}"))} for t in links}
        for table in links:
            assert service[table] and frozen[table].keys() == service[table].keys(), table
            assert max(abs(frozen[table][k] - service[table][k]) for k in service[table]) < 0.5, table
    finally:
        engine.dispose()
        drop_database(admin_url, name)
