"""A first load into an empty ``premises`` table (``services.bulkload``, migration 0012) against the trigger path.

The first load sets aside keys, indexes and insert triggers and does their work once afterwards; a load through
the staging table (district-limited) writes the same rows through the triggers. Both must leave the same status
history, links, due state and data versions, and the schema as it was, whether the load commits or is rejected.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from geo_safety.errors import ImportRejected
from geo_safety.ruleset import load_rules
from geo_safety.services import bulkload, duestate
from geo_safety.services.imports import load_file
from tests.conftest import DATA_DIR

DISTRICTS = ("450502", "450503", "450512", "450521")
SAMPLE = DATA_DIR / "sample"
#: the tables whose keys, indexes and triggers a first load of premises sets aside
FAMILY = ("premises", "premise_school_links", "premise_due", "premise_status_history", "inspections")


@pytest.fixture
def schools(beihai: Engine) -> Engine:
    """Boundaries, the sample's schools and campuses, and the rules stored (as a running service keeps them)."""
    for layer, name in (("schools", "schools.geojson"), ("school_campuses", "school_campuses.geojson")):
        load_file(beihai, layer, SAMPLE / name, datum="wgs84", mode="upsert")
    assert duestate.ensure(beihai, load_rules())
    return beihai


@pytest.fixture
def premises_file(tmp_path: Path) -> Path:
    """The sample's premises, with a few closed ones carrying a closure day (a status history row each)."""
    frame = pd.read_csv(SAMPLE / "premises.csv", dtype=str)
    closed = frame.index[::97]
    frame.loc[closed, "status"] = "closed"
    frame["closed_on"] = None
    frame.loc[closed[::2], "closed_on"] = "2026-03-01"
    path = tmp_path / "premises.csv"
    frame.to_csv(path, index=False)
    return path


def _direct_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names the layers each first load (``DirectLoad``) wrote, as it happens."""
    seen: list[str] = []
    original = bulkload.DirectLoad.apply

    def apply(self: bulkload.DirectLoad, mode: str, file_name: str) -> tuple[int, int, int]:
        seen.append(self.layer.name)
        return original(self, mode, file_name)

    monkeypatch.setattr(bulkload.DirectLoad, "apply", apply)
    return seen


def _versions(conn: Connection) -> dict[str, int]:
    rows = conn.execute(text("SELECT district_code, version FROM data_versions WHERE layer = 'premises'"))
    return {code: version for code, version in rows}


def _written(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {
            "history": [
                tuple(r)
                for r in conn.execute(
                    text(
                        "SELECT premise_id, status, valid_from, source, inspection_id FROM premise_status_history "
                        "ORDER BY premise_id, valid_from"
                    )
                )
            ],
            "links": [
                tuple(r)
                for r in conn.execute(
                    text(
                        "SELECT premise_id, school_id, round(distance_m::numeric, 6) FROM premise_school_links "
                        "ORDER BY 1, 2"
                    )
                )
            ],
            "due": [tuple(r) for r in conn.execute(text("SELECT d::text FROM premise_due d ORDER BY premise_id"))],
        }


def _schema(engine: Engine) -> dict[str, list[tuple]]:
    """Constraints (with whether they are validated), indexes and triggers (with their state) of the family."""
    tables = ", ".join(f"'{t}'::regclass" for t in FAMILY)
    with engine.connect() as conn:
        return {
            "constraints": sorted(
                tuple(r)
                for r in conn.execute(
                    text(
                        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated "
                        f"FROM pg_constraint WHERE conrelid IN ({tables}) OR confrelid IN ({tables})"
                    )
                )
            ),
            "indexes": sorted(
                tuple(r)
                for r in conn.execute(
                    text(
                        f"SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                        f"WHERE indrelid IN ({tables})"
                    )
                )
            ),
            "triggers": sorted(
                tuple(r)
                for r in conn.execute(
                    text(  # a foreign key's own triggers are named by their new oids: counted, not named
                        "SELECT tgrelid::regclass::text, CASE WHEN tgisinternal THEN 'RI' ELSE tgname END, tgenabled,"
                        f" count(*) FROM pg_trigger WHERE tgrelid IN ({tables}) GROUP BY 1, 2, 3"
                    )
                )
            ),
            "temporary": [
                tuple(r) for r in conn.execute(text("SELECT relname FROM pg_class WHERE relpersistence = 't'"))
            ],
        }


def _empty_premises(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM premises"))  # cascades to history and due state; links by the service
        conn.execute(text("DELETE FROM premise_school_links"))


def test_a_first_load_writes_what_the_triggers_write(
    schools: Engine, premises_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = _direct_loads(monkeypatch)
    with schools.connect() as conn:
        before = _versions(conn)
    first = load_file(schools, "premises", premises_file, datum="wgs84")
    assert direct == ["premises"], "an unrestricted load into the empty table is a first load"
    bulk = _written(schools)
    with schools.connect() as conn:
        after_bulk = _versions(conn)

    _empty_premises(schools)
    with schools.connect() as conn:
        before_staged = _versions(conn)
    staged = load_file(schools, "premises", premises_file, datum="wgs84", allowed_districts=DISTRICTS)
    assert direct == ["premises"], "a district-limited load goes through the staging table and the triggers"
    assert staged.inserted == first.inserted == 3000
    through_triggers = _written(schools)
    with schools.connect() as conn:
        after_staged = _versions(conn)

    closed = pd.read_csv(premises_file, dtype=str).query("status == 'closed'")
    assert len(bulk["history"]) == len(closed) > 31 and {r[3] for r in bulk["history"]} == {"import"}
    assert sum(r[2] is not None for r in bulk["history"]) == closed["closed_on"].notna().sum() == 16
    assert len(bulk["links"]) > 2000 and len(bulk["due"]) > 500, "the sample's premises reach many schools"
    for kind in ("history", "links", "due"):
        assert bulk[kind] == through_triggers[kind], kind
    raised = {code for code, version in after_bulk.items() if version > before.get(code, 0)}
    raised_staged = {code for code, version in after_staged.items() if version > before_staged.get(code, 0)}
    assert raised == raised_staged == set(DISTRICTS)


def test_a_first_load_leaves_the_schema_as_it_was(schools: Engine, premises_file: Path, tmp_path: Path) -> None:
    schema = _schema(schools)
    assert any(name == "fk_inspections_premise_id_premises" for _, name, _, _ in schema["constraints"])

    frame = pd.read_csv(premises_file, dtype=str)
    frame.loc[2500, "id"] = frame.loc[7, "id"]
    duplicated = tmp_path / "duplicated.csv"
    frame.to_csv(duplicated, index=False)
    with pytest.raises(
        ImportRejected, match=rf"row 2501, id '{frame.loc[7, 'id']}', field 'id': duplicate id \(also in row 8\)"
    ):
        load_file(schools, "premises", duplicated, datum="wgs84")
    assert _schema(schools) == schema
    with schools.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM premises")).scalar_one() == 0

    load_file(schools, "premises", premises_file, datum="wgs84")
    assert _schema(schools) == schema
    with schools.connect() as conn:
        orphans = "SELECT count(*) FROM inspections i LEFT JOIN premises p ON p.id = i.premise_id"
        assert conn.execute(text(f"{orphans} WHERE i.premise_id IS NOT NULL AND p.id IS NULL")).scalar_one() == 0


def test_the_set_aside_refuses_a_table_holding_rows(schools: Engine, premises_file: Path) -> None:
    load_file(schools, "premises", premises_file, datum="wgs84")
    with schools.connect() as conn, pytest.raises(DBAPIError, match="needs an empty table"):
        conn.execute(text("SELECT geo_safety_bulk_load_begin('premises')"))
    with schools.connect() as conn:  # other tables: nothing to set aside
        conn.execute(text("SELECT geo_safety_bulk_load_begin('schools'), geo_safety_bulk_load_end('schools')"))
        conn.rollback()
