"""Issue 13, write scope: every write path (API, import, command line) applies the same role and district checks.

A planner limited to districts D may write only zones of D: ``replace`` touches only their rows, an upsert cannot
take over another district's zone, and a zone may not reach into another district. Zones of districts the caller
may not see answer 404 exactly like ids that do not exist.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety.errors import Forbidden
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.services.imports import load_file
from geo_safety.settings import Settings
from tests.conftest import DATA_DIR, table_checksums

SETUP = Actor("test-setup", "pytest")
SAMPLE = DATA_DIR / "sample" / "water_hazards.geojson"
HAICHENG, YINHAI, TIESHANGANG, HEPU = "450502", "450503", "450512", "450521"
ACCOUNTS = {
    "planner_hc": ("planner", (HAICHENG,)),
    "planner": ("planner", ()),
    "admin": ("admin", ()),
    "viewer": ("viewer", ()),
    "inspector_hc": ("inspector", (HAICHENG,)),
}


@pytest.fixture
def tokens(beihai: Engine, settings: Settings) -> dict[str, str]:
    """The bundled sample's 150 water zones in the four Beihai districts, and one account per role."""
    load_file(beihai, "water_hazards", SAMPLE, datum="wgs84")
    with beihai.begin() as conn:
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions RESTART IDENTITY CASCADE"))
    return {
        name: users.add_user(beihai, settings, SETUP, name, role, districts).token
        for name, (role, districts) in ACCOUNTS.items()
    }


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def live_per_district(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT district_code, count(*) FROM water_hazards WHERE deleted_at IS NULL GROUP BY 1")
        ).all()
    return {code: n for code, n in rows}


def clean_ids(engine: Engine, district: str) -> list[str]:
    """Zones of ``district`` that lie wholly inside it and touch no other district."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    """SELECT h.id FROM water_hazards h JOIN districts d ON d.code = h.district_code
                        WHERE h.district_code = :code AND ST_CoveredBy(h.geom, d.geom)
                          AND NOT EXISTS (SELECT 1 FROM districts o
                                           WHERE o.code <> h.district_code AND ST_Intersects(o.geom, h.geom))
                        ORDER BY h.id"""
                ),
                {"code": district},
            ).scalars()
        )


def reach_m2(engine: Engine, hazard_id: str, district: str) -> float:
    """How much of a stored zone lies in ``district`` (and not in its own)."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                """SELECT ST_Area(ST_Difference(ST_Intersection(h.geom, o.geom), own.geom)::geography)
                     FROM water_hazards h JOIN districts o ON o.code = :code
                     JOIN districts own ON own.code = h.district_code WHERE h.id = :id"""
            ),
            {"id": hazard_id, "code": district},
        ).scalar_one()


def sample_features() -> dict[str, dict]:
    return {f["properties"]["id"]: f for f in json.loads(SAMPLE.read_text(encoding="utf-8"))["features"]}


def feature_file(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), "utf-8")
    return path


def upload(client: TestClient, token: str, path: Path, mode: str):
    return client.post(
        f"/api/v1/imports/water_hazards?datum=wgs84&mode={mode}",
        headers=auth(token),
        files={"file": (path.name, path.read_bytes())},
    )


# A zone of 海城区 (assigned there by its representative point) that reaches ~19 ha into 银海区.
STRADDLING = "WH-00150"


def test_the_straddling_sample_zone_is_what_the_tests_assume(tokens, beihai: Engine) -> None:
    assert live_per_district(beihai) == {HAICHENG: 54, YINHAI: 23, TIESHANGANG: 12, HEPU: 61}
    with beihai.connect() as conn:
        district = conn.execute(text("SELECT district_code FROM water_hazards WHERE id = :id"), {"id": STRADDLING})
        assert district.scalar_one() == HAICHENG
    assert reach_m2(beihai, STRADDLING, YINHAI) > 100_000


# -- finding 3: replace touches only the caller's rows --------------------------------------------------------
def test_a_district_planners_replace_leaves_other_districts_alone(
    tokens, client: TestClient, beihai: Engine, tmp_path: Path
) -> None:
    before = live_per_district(beihai)
    keep = clean_ids(beihai, HAICHENG)[:3]
    features = sample_features()
    path = feature_file(tmp_path / "haicheng.geojson", [features[i] for i in keep])
    response = upload(client, tokens["planner_hc"], path, "replace")
    assert response.status_code == 201, response.text
    assert response.json()["deleted"] == before[HAICHENG] - 3
    after = live_per_district(beihai)
    assert after == {**before, HAICHENG: 3}


def test_a_city_wide_replace_still_replaces_the_city(
    tokens, client: TestClient, beihai: Engine, tmp_path: Path
) -> None:
    keep = clean_ids(beihai, HAICHENG)[:3]
    features = sample_features()
    path = feature_file(tmp_path / "city.geojson", [features[i] for i in keep])
    response = upload(client, tokens["planner"], path, "replace")
    assert response.status_code == 201, response.text
    assert response.json()["deleted"] == 147
    assert live_per_district(beihai) == {HAICHENG: 3}


def test_replace_by_the_service_function_with_allowed_districts(tokens, beihai: Engine, tmp_path: Path) -> None:
    keep = clean_ids(beihai, HAICHENG)[:2]
    features = sample_features()
    path = feature_file(tmp_path / "z.geojson", [features[i] for i in keep])
    before = live_per_district(beihai)
    result = load_file(beihai, "water_hazards", path, datum="wgs84", mode="replace", allowed_districts=(HAICHENG,))
    assert result.deleted == before[HAICHENG] - 2
    assert live_per_district(beihai) == {**before, HAICHENG: 2}


# -- finding 4: an upsert may not take over another district's zone -------------------------------------------
def test_an_upsert_cannot_take_over_another_districts_zone(
    tokens, client: TestClient, beihai: Engine, tmp_path: Path
) -> None:
    victim = clean_ids(beihai, HEPU)[0]
    features = sample_features()
    hijack = copy.deepcopy(features[clean_ids(beihai, HAICHENG)[0]])
    hijack["properties"].update(
        id=victim, name="被接管", warning_sign=True, lifebuoy=True, rescue_rope=True, rescue_pole=True, fence=True
    )
    before = table_checksums(beihai)
    response = upload(client, tokens["planner_hc"], feature_file(tmp_path / "hijack.geojson", [hijack]), "upsert")
    assert response.status_code == 403, response.text
    detail = response.json()["detail"]
    assert "row 1" in detail and victim in detail and "outside your districts" in detail
    assert HEPU not in detail  # which district holds the id is not revealed
    assert table_checksums(beihai) == before
    # the single-feature API refuses the same write (and does not reveal the zone either)
    patch = client.patch(
        f"/api/v1/hazards/{victim}", headers=auth(tokens["planner_hc"], **{"If-Match": '"1"'}), json={"properties": {}}
    )
    assert patch.status_code == 404


def test_an_upsert_cannot_move_a_zone_into_another_district(
    tokens, client: TestClient, beihai: Engine, tmp_path: Path
) -> None:
    features = sample_features()
    moved = copy.deepcopy(features[clean_ids(beihai, HAICHENG)[0]])
    moved["geometry"] = features[clean_ids(beihai, HEPU)[0]]["geometry"]
    before = table_checksums(beihai)
    response = upload(client, tokens["planner_hc"], feature_file(tmp_path / "moved.geojson", [moved]), "upsert")
    assert response.status_code == 403, response.text
    assert HEPU in response.json()["detail"]
    assert table_checksums(beihai) == before


def test_an_upsert_cannot_revive_another_districts_deleted_zone(
    tokens, client: TestClient, beihai: Engine, tmp_path: Path
) -> None:
    victim = clean_ids(beihai, HEPU)[0]
    with beihai.begin() as conn:
        conn.execute(text("UPDATE water_hazards SET deleted_at = now() WHERE id = :id"), {"id": victim})
    features = sample_features()
    revived = copy.deepcopy(features[clean_ids(beihai, HAICHENG)[0]])
    revived["properties"]["id"] = victim
    before = table_checksums(beihai)
    response = upload(client, tokens["planner_hc"], feature_file(tmp_path / "revive.geojson", [revived]), "upsert")
    assert response.status_code == 403, response.text
    assert table_checksums(beihai) == before


def test_a_district_planner_may_upsert_their_own_districts_zones(
    tokens, client: TestClient, beihai: Engine, tmp_path: Path
) -> None:
    """Including zones a city-wide planner drew across the district line: unchanged, they may be updated."""
    with beihai.connect() as conn:
        own = list(
            conn.execute(text("SELECT id FROM water_hazards WHERE district_code = :c"), {"c": HAICHENG}).scalars()
        )
    features = sample_features()
    mine = [copy.deepcopy(features[i]) for i in own]
    for feature in mine:
        feature["properties"]["lifebuoy"] = True
    assert STRADDLING in own
    response = upload(client, tokens["planner_hc"], feature_file(tmp_path / "mine.geojson", mine), "upsert")
    assert response.status_code == 201, response.text
    assert response.json()["updated"] == len(own) == 54


# -- finding 13: a zone may not reach into districts beyond the planner's scope ------------------------------
def _as_new_zone(feature: dict) -> dict:
    props = {k: v for k, v in feature["properties"].items() if k not in ("id", "note")}
    return {"type": "Feature", "datum": "wgs84", "geometry": feature["geometry"], "properties": props}


def test_a_new_zone_reaching_into_another_district_is_refused(tokens, client: TestClient, beihai: Engine) -> None:
    body = _as_new_zone(sample_features()[STRADDLING])
    before = table_checksums(beihai)
    refused = client.post("/api/v1/hazards", headers=auth(tokens["planner_hc"]), json=body)
    assert refused.status_code == 403, refused.text
    assert YINHAI in refused.json()["detail"] and "m²" in refused.json()["detail"]
    assert table_checksums(beihai) == before
    # a city-wide planner (and an admin) may draw across district lines
    assert client.post("/api/v1/hazards", headers=auth(tokens["planner"]), json=body).status_code == 201
    assert client.post("/api/v1/hazards", headers=auth(tokens["admin"]), json=body).status_code == 201


def test_a_zone_inside_the_planners_district_is_accepted(tokens, client: TestClient, beihai: Engine) -> None:
    body = _as_new_zone(sample_features()[clean_ids(beihai, HAICHENG)[0]])
    created = client.post("/api/v1/hazards", headers=auth(tokens["planner_hc"]), json=body)
    assert created.status_code == 201, created.text
    assert created.json()["properties"]["district_code"] == HAICHENG


def test_a_patch_may_not_stretch_a_zone_into_another_district(tokens, client: TestClient, beihai: Engine) -> None:
    features = sample_features()
    zid = clean_ids(beihai, HAICHENG)[0]
    before = table_checksums(beihai)
    moved = client.patch(
        f"/api/v1/hazards/{zid}",
        headers=auth(tokens["planner_hc"], **{"If-Match": '"1"'}),
        json={"geometry": features[STRADDLING]["geometry"], "datum": "wgs84"},
    )
    assert moved.status_code == 403, moved.text
    assert YINHAI in moved.json()["detail"]
    assert table_checksums(beihai) == before
    # properties of a zone that already straddles (drawn by a city-wide planner) may still be kept up to date
    measures = client.patch(
        f"/api/v1/hazards/{STRADDLING}",
        headers=auth(tokens["planner_hc"], **{"If-Match": '"1"'}),
        json={"properties": {"lifebuoy": True}},
    )
    assert measures.status_code == 200, measures.text


def test_an_import_may_not_stretch_a_zone_into_another_district(
    tokens, client: TestClient, beihai: Engine, tmp_path: Path
) -> None:
    features = sample_features()
    new = copy.deepcopy(features[STRADDLING])
    new["properties"]["id"] = "WH-NEW-1"
    before = table_checksums(beihai)
    response = upload(client, tokens["planner_hc"], feature_file(tmp_path / "new.geojson", [new]), "append")
    assert response.status_code == 403, response.text
    detail = response.json()["detail"]
    assert "WH-NEW-1" in detail and YINHAI in detail
    assert table_checksums(beihai) == before


def test_the_command_line_is_unrestricted(tokens, beihai: Engine, tmp_path: Path) -> None:
    features = sample_features()
    new = copy.deepcopy(features[STRADDLING])
    new["properties"]["id"] = "WH-NEW-2"
    result = load_file(beihai, "water_hazards", feature_file(tmp_path / "cli.geojson", [new]), datum="wgs84")
    assert result.inserted == 1


# -- DELETE needs the version read ----------------------------------------------------------------------------
def test_delete_needs_if_match(tokens, client: TestClient, beihai: Engine) -> None:
    zid = clean_ids(beihai, HAICHENG)[0]
    planner = tokens["planner_hc"]
    missing = client.delete(f"/api/v1/hazards/{zid}", headers=auth(planner))
    assert missing.status_code == 428, missing.text
    stale = client.delete(f"/api/v1/hazards/{zid}", headers=auth(planner, **{"If-Match": '"7"'}))
    assert stale.status_code == 412 and stale.json()["current_version"] == 1
    stale_query = client.delete(f"/api/v1/hazards/{zid}?version=7", headers=auth(planner))
    assert stale_query.status_code == 409
    assert live_per_district(beihai)[HAICHENG] == 54
    assert client.delete(f"/api/v1/hazards/{zid}", headers=auth(planner, **{"If-Match": '"1"'})).status_code == 204
    assert live_per_district(beihai)[HAICHENG] == 53


# -- 404, not 403, for zones the caller may not see -----------------------------------------------------------
@pytest.mark.parametrize("who", ["planner_hc", "inspector_hc"])
def test_other_districts_zones_look_like_missing_ids(tokens, client: TestClient, beihai: Engine, who: str) -> None:
    hidden = clean_ids(beihai, HEPU)[0]
    nowhere = "WH-NOPE"
    token = tokens[who]

    def answers(zone_id: str) -> list[tuple[int, str]]:
        responses = [
            client.get(f"/api/v1/hazards/{zone_id}", headers=auth(token)),
            client.get(f"/api/v1/hazards/{zone_id}/history", headers=auth(token)),
        ]
        if who.startswith("planner"):
            responses += [
                client.patch(
                    f"/api/v1/hazards/{zone_id}",
                    headers=auth(token, **{"If-Match": '"1"'}),
                    json={"properties": {"lifebuoy": True}},
                ),
                client.delete(f"/api/v1/hazards/{zone_id}", headers=auth(token, **{"If-Match": '"1"'})),
            ]
        return [(r.status_code, r.text.replace(zone_id, "ID")) for r in responses]

    before = table_checksums(beihai)
    hidden_answers, missing_answers = answers(hidden), answers(nowhere)
    assert hidden_answers == missing_answers
    assert {status for status, _ in hidden_answers} == {404}
    assert table_checksums(beihai) == before
    # the zone is there for those who may see it
    assert client.get(f"/api/v1/hazards/{hidden}", headers=auth(tokens["viewer"])).status_code == 200


def test_the_import_service_checks_the_role_too(tokens, beihai: Engine, settings: Settings, tmp_path: Path) -> None:
    viewer = users.authenticate_token(beihai, settings, tokens["viewer"])
    assert viewer is not None
    path = feature_file(tmp_path / "v.geojson", [sample_features()[clean_ids(beihai, HAICHENG)[0]]])
    with pytest.raises(Forbidden):
        load_file(beihai, "water_hazards", path, datum="wgs84", mode="upsert", user=viewer)


def test_the_import_service_takes_the_users_districts(
    tokens, beihai: Engine, settings: Settings, tmp_path: Path
) -> None:
    planner = users.authenticate_token(beihai, settings, tokens["planner_hc"])
    assert planner is not None and planner.districts == (HAICHENG,)
    keep = clean_ids(beihai, HAICHENG)[:1]
    path = feature_file(tmp_path / "u.geojson", [sample_features()[i] for i in keep])
    before = live_per_district(beihai)
    result = load_file(beihai, "water_hazards", path, datum="wgs84", mode="replace", user=planner)
    assert result.deleted == before[HAICHENG] - 1
    assert live_per_district(beihai) == {**before, HAICHENG: 1}
    with pytest.raises(Forbidden, match="city-wide"):  # layers without district codes: city-wide accounts only
        load_file(beihai, "inspections", path, datum="wgs84", allowed_districts=(HAICHENG,))
