"""The synthetic sample: reproducible, inside the real boundaries, and loadable by the CLI."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from geo_safety.cli import main
from geo_safety.services.bundled import load_sample
from geo_safety.services.sample import generate


def test_shipped_sample_is_exactly_what_the_generator_makes(tmp_path: Path, data_dir: Path) -> None:
    counts = generate(tmp_path, data_dir, scale="sample", seed=20261101)
    assert counts["schools"] == 300 and counts["premises"] == 3000 and counts["water_hazards"] == 150
    for name in (
        "schools.geojson",
        "school_campuses.geojson",
        "premises.csv",
        "water_hazards.geojson",
        "inspections.csv",
    ):
        assert filecmp.cmp(tmp_path / name, data_dir / "sample" / name, shallow=False), name


def test_another_seed_gives_another_world(tmp_path: Path, data_dir: Path) -> None:
    generate(tmp_path, data_dir, scale="sample", seed=7)
    assert not filecmp.cmp(tmp_path / "premises.csv", data_dir / "sample" / "premises.csv", shallow=False)


def test_sample_has_the_promised_mix(data_dir: Path) -> None:
    schools = json.loads((data_dir / "sample/schools.geojson").read_text())["features"]
    kinds = {f["properties"]["kind"] for f in schools}
    assert kinds == {"kindergarten", "primary", "junior", "senior", "nine_year", "twelve_year", "vocational", "special"}
    assert all(f["properties"]["name"].startswith("示例") for f in schools)
    premises = pd.read_csv(data_dir / "sample/premises.csv")
    assert premises["category"].nunique() == 10
    hazards = json.loads((data_dir / "sample/water_hazards.geojson").read_text())["features"]
    focus = [f for f in hazards if f["properties"]["id"].startswith("WH-F")]
    assert len(focus) == 13 and all("approximate" in f["properties"]["note"] for f in focus)
    assert {f["properties"]["kind"] for f in hazards} == {
        "reservoir",
        "pond",
        "river",
        "canal",
        "coast",
        "beach",
        "pit",
        "other",
    }
    measures = pd.DataFrame([f["properties"] for f in hazards])
    all_measures = measures[["warning_sign", "lifebuoy", "rescue_rope", "rescue_pole", "fence"]].all(axis=1)
    assert 0.3 < all_measures.mean() < 0.9  # a realistic mix of guarded and unguarded


def test_sample_loads_into_every_district(beihai: Engine, data_dir: Path) -> None:
    results = load_sample(beihai, data_dir)
    assert [r.layer for r in results] == [
        "districts",
        "schools",
        "school_campuses",
        "premises",
        "water_hazards",
        "inspections",
    ]
    with beihai.connect() as conn:
        per_district = dict(conn.execute(text("SELECT district_code, count(*) FROM schools GROUP BY 1")).all())
        campuses_near_gate = conn.execute(
            text(
                "SELECT bool_and(ST_DWithin(geom::geography, campus::geography, 1)) FROM schools "
                "WHERE campus IS NOT NULL"
            )
        ).scalar_one()
    assert set(per_district) == {"450502", "450503", "450512", "450521"}
    assert campuses_near_gate
    assert load_sample(beihai, data_dir, only_if_empty=True) == []


def test_cli_load_reports_counts_and_names_the_bad_row(
    beihai: Engine, settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from geo_safety import settings as settings_module

    monkeypatch.setenv("GEO_SAFETY_DATABASE_URL", settings.database_url)
    settings_module.get_settings.cache_clear()
    try:
        table = pd.DataFrame(
            {
                "编号": ["A1", "A2"],
                "name": ["甲", "乙"],
                "category": ["hotel", "bar"],
                "lon": [109.118, 109.2],
                "lat": [21.482, 21.66],
            }
        )
        table.to_csv(tmp_path / "shops.csv", index=False)
        assert main(["load", "premises", str(tmp_path / "shops.csv"), "--datum", "wgs84", "--map", "编号=id"]) == 2
        err = capsys.readouterr().err
        assert "shops.csv, row 2, id 'A2', field 'category': unknown value 'bar'" in err
        table.loc[1, "category"] = "hotel"
        table.to_csv(tmp_path / "shops.csv", index=False)
        assert main(["load", "premises", str(tmp_path / "shops.csv"), "--datum", "wgs84", "--map", "编号=id"]) == 0
        assert "2 rows read from shops.csv (wgs84), 2 inserted" in capsys.readouterr().out
    finally:
        settings_module.get_settings.cache_clear()
