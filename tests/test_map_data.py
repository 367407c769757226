"""The data a map page loads for its view (issue 17): the same authentication and district scope as the API,
exactly the district's features, cut to the view, and a legend of what was sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety.api.app import create_app
from geo_safety.api.schemas_maps import DistrictSummary, MapView
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.services.imports import load_file
from geo_safety.settings import Settings
from tests.conftest import auth
from tests.hazard_world import EXPECTED_SCHOOL_DAY, SCHOOL_DAY, zones_frame
from tests.inspection_world import write_world
from tests.world import write


@pytest.fixture
def world(beihai: Engine, settings: Settings, tmp_path: Path) -> dict[str, str]:
    paths = write_world(tmp_path)
    for layer in ("schools", "school_campuses", "premises"):
        load_file(beihai, layer, paths[layer], datum="wgs84")
    load_file(beihai, "water_hazards", write(zones_frame(), tmp_path / "zones.geojson"), datum="wgs84")
    with beihai.begin() as conn:
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions RESTART IDENTITY CASCADE"))
    add = users.add_user
    return {
        "hepu": add(beihai, settings, Actor("t"), "hepu", "inspector", ("450521",)).token or "",
        "haicheng": add(beihai, settings, Actor("t"), "haicheng", "inspector", ("450502",)).token or "",
    }


def _markers(view: dict, key: str) -> list[dict]:
    return next(layer for layer in view["layers"] if layer["key"] == key)["features"]


def test_district_data_is_the_districts_hotspots_in_the_view(world: dict[str, str], settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        url = f"/maps/districts/450521/data?date={SCHOOL_DAY}"
        whole = client.get(url, headers=auth(world["hepu"]))
        assert whole.status_code == 200, whole.text
        view = MapView.model_validate(whole.json()).model_dump()
        ids = [f["properties"]["hazard_id"] for f in _markers(view, "hotspots")]
        assert ids == [e[0] for e in EXPECTED_SCHOOL_DAY]  # exactly the district's hotspots, highest risk first
        assert any("高风险" in row["label"] for row in view["legend"])
        # a view around the first hotspot only: the others are left out, and so are their legend rows
        x, y = _markers(view, "hotspots")[0]["geometry"]["coordinates"]
        small = f"{x - 0.0005},{y - 0.0005},{x + 0.0005},{y + 0.0005}"
        near = client.get(f"{url}&bbox={small}&zoom=17", headers=auth(world["hepu"])).json()
        assert [f["properties"]["hazard_id"] for f in _markers(near, "hotspots")] == [ids[0]]
        assert [f["properties"]["hazard_id"] for f in _markers(near, "hotspot_areas")] == [ids[0]]
        assert len(near["legend"]) < len(view["legend"])
        # hotspot outlines are specks at district zoom: not sent there, the markers stand for them
        far = client.get(f"{url}&bbox={small}&zoom=10", headers=auth(world["hepu"])).json()
        assert _markers(far, "hotspot_areas") == [] and len(_markers(far, "hotspots")) == 1
        summary = client.get(f"/maps/districts/450521/summary?date={SCHOOL_DAY}", headers=auth(world["hepu"]))
        assert DistrictSummary.model_validate(summary.json()).hotspots == len(EXPECTED_SCHOOL_DAY)
        assert client.get(f"{url}&bbox=1,2,3", headers=auth(world["hepu"])).status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/maps/districts/450521/data",
        "/maps/districts/450521/summary",
        "/maps/inspection/today/data?district=450521",
    ],
)
def test_map_data_keeps_the_apis_scope(world: dict[str, str], settings: Settings, path: str) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get(path, headers=auth(world["hepu"])).status_code == 200
        other = client.get(path, headers=auth(world["haicheng"]))
        assert other.status_code == 403 and other.json()["code"].startswith("auth")
        anonymous = client.get(path, headers={"Accept": "application/json"})
        assert anonymous.status_code == 401  # JSON, not the login page: the page's fetch says so
        assert client.get(path.replace("450521", "450599"), headers=auth(world["hepu"])).status_code in (403, 404)


def test_an_inspector_sees_only_their_districts_due_premises(world: dict[str, str], settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        body = client.get("/maps/inspection/today/data?district=450521", headers=auth(world["hepu"])).json()
        page = client.get("/maps/inspection/today?district=450521", headers=auth(world["hepu"]))
    assert "/maps/inspection/today/data?" in page.text and len(page.text) < 200_000
    view = MapView.model_validate(body)
    assert {layer.key for layer in view.layers} == {"rings", "schools", "other_due"}
    due = _markers(body, "other_due")
    assert all(f["properties"]["id"].startswith("P") for f in due)


def test_the_day_map_reads_its_typed_input_and_leaves_it_as_it_was() -> None:
    """The due list and the plan reach the renderer shared (cached): drawing them must not change them."""
    from geo_safety.maps.render import TodayMapData, today_map, today_view
    from geo_safety.shapes.features import DueCollection
    from geo_safety.shapes.plans import DayPlan

    def props(n: int) -> dict[str, object]:
        return {
            "target_type": "premise",
            "target_id": f"P{n}",
            "name": f"<b>网吧 {n}</b>",
            "category": "internet_cafe",
            "address": None,
            "district_code": "450521",
            "reason": "overdue",
            "violation": n == 1,
            "priority": n,
            "nearest_school_id": "S1",
            "nearest_school_name": "小学",
            "distance_m": 80.5,
            "rule_distance_m": 200.0,
            "last_inspected_on": None,
            "days_overdue": 3,
        }

    due = DueCollection.model_validate(
        {
            "type": "FeatureCollection",
            "date": "2026-03-05",
            "numberMatched": 3,
            "numberReturned": 3,
            "features": [
                {
                    "type": "Feature",
                    "id": f"P{n}",
                    "geometry": {"type": "Point", "coordinates": [109.1 + n / 100, 21.6]},
                    "properties": props(n),
                }
                for n in (1, 2, 3)
            ],
        }
    )
    nav = dict.fromkeys(("amap", "tencent", "baidu", "baidu_web", "geo"), "geo:21.6,109.11")
    stop = {
        **{k: v for k, v in props(1).items() if k != "target_id"},
        "target_id": "P1",
        "order": 1,
        "group": "mainland",
        "category_cn": "网吧",
        "reason_cn": "超期未查",
        "lon": 109.11,
        "lat": 21.6,
        "phone": None,
        "tel": None,
        "responsible_person": None,
        "responsible_unit": None,
        "checklist": [],
        "measures": None,
        "follow_up_days": 7,
        "nav": nav,
        "status": "done",
        "visit": {"id": 1, "result": "pass", "inspected_at": "2026-03-05T09:00:00+08:00", "inspector": "wang"},
        "gone": False,
    }
    plan = DayPlan.model_validate(
        {
            "date": "2026-03-05",
            "districts": ["450521"],
            "created_at": "2026-03-05T08:00:00+08:00",
            "updated_at": "2026-03-05T08:00:00+08:00",
            "total": 1,
            "done": 1,
            "pending": 0,
            "next_order": None,
            "notice": None,
            "groups": [],
            "stops": [stop],
            "route": {"type": "MultiLineString", "coordinates": []},
            "route_length_m": 0.0,
        }
    )
    before = (due.model_dump(), plan.model_dump())
    data = TodayMapData(
        day="2026-03-05", title="今日巡查", districts=[], plan=plan, other_due=due.features[1:], total_due=3
    )
    view = today_view(data)
    html = today_map(data).get_root().render()
    assert (due.model_dump(), plan.model_dump()) == before
    drawn = next(layer for layer in view["layers"] if layer["key"] == "other_due")["features"]
    assert [f["properties"]["id"] for f in drawn] == ["P2", "P3"]
    assert "<b>网吧" not in html  # data stays text (escaped) in the page
