"""The local cluster after its home was deleted (issue 15 item 4), and ``geo-safety db destroy``.

As root the server runs as ``postgres``, which cannot reach pytest's temp folders (root's ``pytest-of-root`` folder is
0700), so these clusters keep their data under ``/var/lib/postgresql/geo_safety/``: outside the home, where it
outlives the home's deletion.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg
import pytest

from geo_safety.cli import main
from geo_safety.errors import DatabaseUnavailable
from geo_safety.localdb import HOME_MARKER, LocalCluster
from geo_safety.settings import Settings
from tests.conftest import free_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the data folder outside the home is for root-run clusters")


def table_exists(cluster: LocalCluster, name: str) -> bool:
    with psycopg.connect(cluster.libpq_url(), connect_timeout=5) as conn:
        return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


@pytest.mark.slow  # four initdb runs: ~15–35 s on two cores
def test_starting_again_after_the_home_was_deleted(tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    first = LocalCluster(Settings(home=home, db_port=port))
    neighbour = LocalCluster(Settings(home=tmp_path / "neighbour", db_port=free_port()))
    clusters = [first, neighbour]
    try:
        first.start()
        neighbour.start()
        old_data = first.data_dir
        assert old_data == first.fallback_dir and not old_data.is_relative_to(home)
        assert (old_data / HOME_MARKER).read_text().strip() == str(home)
        for cluster, table in ((first, "old_rows"), (neighbour, "neighbour_rows")):
            with psycopg.connect(cluster.libpq_url(), autocommit=True) as conn:
                conn.execute(f"CREATE TABLE {table} (v text); INSERT INTO {table} VALUES ('北海')")

        shutil.rmtree(home)  # while its server runs: the data and the server outlive the home
        again = LocalCluster(Settings(home=home, db_port=port))
        clusters.append(again)
        again.start()
        assert again.is_running() and again.data_dir == old_data
        assert not table_exists(again, "old_rows")  # a new cluster, never the deleted home's data
        assert any("deleted" in note for note in again.notes)
        assert table_exists(neighbour, "neighbour_rows") and neighbour.is_running()  # another home: untouched

        again.stop()
        shutil.rmtree(home)  # and once more with the server stopped
        third = LocalCluster(Settings(home=home, db_port=port))
        clusters.append(third)
        third.start()
        assert third.is_running() and not table_exists(third, "old_rows")
    finally:
        for cluster in reversed(clusters):
            cluster.destroy()
    assert not first.fallback_dir.exists() and not neighbour.fallback_dir.exists()


def test_a_folder_of_another_home_is_never_reused(tmp_path: Path) -> None:
    cluster = LocalCluster(Settings(home=tmp_path / "home", db_port=free_port()))
    squatter = cluster.fallback_dir
    squatter.mkdir(parents=True)
    try:
        (squatter / HOME_MARKER).write_text("/elsewhere/.geo_safety\n")
        (squatter / "PG_VERSION").write_text("15\n")
        with pytest.raises(DatabaseUnavailable, match="another geo_safety home"):
            cluster.start()
        assert (squatter / "PG_VERSION").exists()
        assert cluster.destroy() == []  # not this home's: destroy leaves it too
        assert (squatter / "PG_VERSION").exists()
    finally:
        shutil.rmtree(squatter)


def test_cli_destroy_asks_then_removes_the_data_wherever_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from geo_safety import settings as settings_module

    home, port = tmp_path / "home", free_port()
    monkeypatch.delenv("GEO_SAFETY_DATABASE_URL", raising=False)
    monkeypatch.setenv("GEO_SAFETY_HOME", str(home))
    monkeypatch.setenv("GEO_SAFETY_DB_PORT", str(port))
    settings_module.get_settings.cache_clear()
    cluster = LocalCluster(Settings(home=home, db_port=port))
    try:
        assert main(["db", "start"]) == 0
        data = cluster.data_dir
        capsys.readouterr()

        monkeypatch.setattr("sys.stdin.isatty", lambda: True)
        monkeypatch.setattr("builtins.input", lambda prompt: "no")
        assert main(["db", "destroy"]) == 1
        assert str(data) in capsys.readouterr().out and cluster.is_running()

        monkeypatch.setattr("sys.stdin.isatty", lambda: False)
        assert main(["db", "destroy"]) == 2  # no terminal to ask in: refused, nothing deleted
        assert "--yes" in capsys.readouterr().err and cluster.is_running()

        shutil.rmtree(home)  # the home is gone; the data (and its server) are not
        assert main(["db", "destroy", "--yes"]) == 0
        assert "destroyed" in capsys.readouterr().out
        assert not data.exists()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(f"postgresql://x:y@127.0.0.1:{port}/postgres", connect_timeout=2)
        assert main(["db", "destroy", "--yes"]) == 0
        assert "nothing to destroy" in capsys.readouterr().out
    finally:
        cluster.destroy()
        settings_module.get_settings.cache_clear()
