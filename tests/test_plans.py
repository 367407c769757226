"""The inspector's stable day plan on the bundled Beihai sample: fixed when opened, ticked off in place,
re-planned only on request, islands apart, navigation links in each app's datum, checklists from the rules."""

from __future__ import annotations

import itertools
import re
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety import crs
from geo_safety.api.app import create_app
from geo_safety.errors import InvalidInput
from geo_safety.routing import plan_route
from geo_safety.rules import GUARD_MEASURES, today_local
from geo_safety.ruleset import load_rules
from geo_safety.services import plans, users
from geo_safety.services.audit import Actor
from geo_safety.services.imports import load_file
from geo_safety.settings import Settings
from tests.conftest import auth, fresh_sample

SETUP = Actor("test-setup", "pytest")
#: two internet cafes on 涠洲岛 beside the sample's schools there, failed long ago: first in every due list
ISLAND_PREMISES = [
    {"lon": 109.1030, "lat": 21.0506, "id": "PTEST-WZ1", "name": "测试网吧涠洲1", "category": "internet_cafe"},
    {"lon": 109.1260, "lat": 21.0386, "id": "PTEST-WZ2", "name": "测试网吧涠洲2", "category": "internet_cafe"},
]


@pytest.fixture(scope="module")
def sample(session_engine: Engine, data_dir: Path, settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    fresh_sample(session_engine, data_dir)
    path = tmp_path_factory.mktemp("island") / "island.csv"
    frame = pd.DataFrame(ISLAND_PREMISES).assign(address="涠洲镇（测试）", status="open")
    frame.to_csv(path, index=False)
    load_file(session_engine, "premises", path, datum="wgs84")
    history = path.with_name("island_inspections.csv")
    pd.DataFrame(
        {
            "target_type": "premise",
            "target_id": [p["id"] for p in ISLAND_PREMISES],
            "inspected_at": "2026-09-01T10:00:00+08:00",
            "inspector": "测试",
            "result": "fail",
            "findings": "接纳未成年人",
            "follow_up_due": "2026-09-08",
        }
    ).to_csv(history, index=False)
    load_file(session_engine, "inspections", history, datum="wgs84")
    haicheng = users.add_user(session_engine, settings, SETUP, "plan-haicheng", "inspector", ("450502",))
    return {
        "engine": session_engine,
        "haicheng": haicheng.token,
        "haicheng_phone2": users.new_token(session_engine, settings, SETUP, "plan-haicheng"),
        "hepu": users.add_user(session_engine, settings, SETUP, "plan-hepu", "inspector", ("450521",)).token,
        "viewer": users.add_user(session_engine, settings, SETUP, "plan-viewer", "viewer").token,
        "admin": users.add_user(session_engine, settings, SETUP, "plan-admin", "admin").token,
    }


@pytest.fixture(scope="module")
def client(settings: Settings, sample) -> TestClient:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def get_plan(client: TestClient, token: str, day: str, query: str = "district=450502&limit=30") -> dict[str, Any]:
    response = client.get(f"/api/v1/plans/today?date={day}&{query}", headers=auth(token))
    assert response.status_code == 200, response.text
    return response.json()


def record(client: TestClient, token: str, stop: dict[str, Any], day: str, result: str = "pass") -> dict[str, Any]:
    body = {
        "target_type": stop["target_type"],
        "target_id": stop["target_id"],
        "result": result,
        "inspected_at": f"{day}T10:00:00+08:00",
    }
    response = client.post("/api/v1/inspections", json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    return response.json()


def without_status(stop: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in stop.items() if k not in ("status", "visit")}


def test_the_plan_is_fixed_when_first_opened_and_ticked_off_in_place(client: TestClient, sample) -> None:
    day = "2026-11-02"
    first = get_plan(client, sample["haicheng"], day)
    assert first["total"] == 30 and first["pending"] == 30 and first["done"] == 0
    assert [s["order"] for s in first["stops"]] == list(range(1, 31))
    assert get_plan(client, sample["haicheng"], day) == first  # the second opening: identical
    # another phone of the same account, and a new limit, see the stored plan
    assert get_plan(client, sample["haicheng_phone2"], day, "district=450502&limit=5") == first
    assert get_plan(client, sample["haicheng_phone2"], day, "limit=5") == first  # the account's scope = 450502

    visited = first["stops"][1]
    saved = record(client, sample["haicheng"], visited, day, "fail")
    after = get_plan(client, sample["haicheng_phone2"], day)
    assert [(s["target_type"], s["target_id"], s["order"]) for s in after["stops"]] == [
        (s["target_type"], s["target_id"], s["order"]) for s in first["stops"]
    ]
    done = after["stops"][1]
    assert done["status"] == "done" and done["order"] == visited["order"] == 2
    assert done["visit"]["id"] == saved["id"] and done["visit"]["result"] == "fail"
    assert without_status(done) == without_status(visited)
    for before, now in zip(first["stops"], after["stops"], strict=True):
        if now is not done:
            assert now == before  # nothing else changed, nothing slid in
    assert after["done"] == 1 and after["next_order"] == 1
    # the due list itself moved on (the failure left it): the plan did not
    due = client.get(f"/api/v1/inspections/due?date={day}&district=450502", headers=auth(sample["admin"])).json()
    assert visited["target_id"] not in {f["properties"]["target_id"] for f in due["features"]}


def test_a_stop_holds_what_the_inspector_needs(client: TestClient, sample) -> None:
    plan = get_plan(client, sample["haicheng"], "2026-11-03", "limit=50")
    rules = load_rules()
    premise = next(s for s in plan["stops"] if s["target_type"] == "premise")
    assert premise["category_cn"] and premise["reason_cn"] and premise["follow_up_days"] == rules.recheck_days
    assert premise["checklist"] == list(rules.checklist_for(premise["category"]))
    assert premise["nearest_school_name"] and premise["rule_distance_m"] >= premise["distance_m"] >= 0
    assert premise["measures"] is None and premise["status"] == "pending" and premise["visit"] is None
    cafe = next(s for s in plan["stops"] if s["target_id"] == "PTEST-WZ1")
    assert cafe["checklist"][0] == "接纳未成年人" and cafe["violation"] is True and cafe["category_cn"] == "网吧"
    # zones rank after premises; in 铁山港区 (54 due) some are among the first 50
    zones = [
        s
        for s in get_plan(client, sample["admin"], "2026-11-03", "district=450512&limit=50")["stops"]
        if s["target_type"] == "water_hazard"
    ]
    assert zones, "the sample has water zones due near 铁山港区 schools"
    with sample["engine"].connect() as conn:
        row = conn.execute(
            text("SELECT phone, responsible_person, lifebuoy FROM water_hazards WHERE id = :id"),
            {"id": zones[0]["target_id"]},
        ).one()
    assert zones[0]["phone"] == row.phone and zones[0]["responsible_person"] == row.responsible_person
    assert tuple(m["key"] for m in zones[0]["measures"]) == GUARD_MEASURES
    assert next(m for m in zones[0]["measures"] if m["key"] == "lifebuoy")["present"] == row.lifebuoy
    assert zones[0]["checklist"] == list(rules.hazards.checklist)


def test_navigation_links_carry_the_position_in_each_apps_datum(client: TestClient, sample) -> None:
    plan = get_plan(client, sample["haicheng"], "2026-11-03", "limit=50")
    for stop in plan["stops"]:
        nav = stop["nav"]
        amap = re.search(r"position=([\d.]+),([\d.]+)&name=([^&]+)&coordinate=gaode", nav["amap"])
        tencent = re.search(r"coord:([\d.]+),([\d.]+);title:", nav["tencent"])
        baidu = re.search(r"location=([\d.]+),([\d.]+)&.*coord_type=bd09ll", nav["baidu"])
        baidu_web = re.search(r"location=([\d.]+),([\d.]+)&.*coord_type=bd09ll&output=html", nav["baidu_web"])
        geo = re.fullmatch(r"geo:([\d.]+),([\d.]+)\?q=([\d.]+),([\d.]+)\((.+)\)", nav["geo"])
        assert nav["baidu"].startswith("baidumap://map/marker?") and unquote(amap.group(3)) == stop["name"]
        assert unquote(geo.group(5)) == stop["name"]
        found = [
            crs.to_wgs84(float(amap.group(1)), float(amap.group(2)), "gcj02"),
            crs.to_wgs84(float(tencent.group(2)), float(tencent.group(1)), "gcj02"),
            crs.to_wgs84(float(baidu.group(2)), float(baidu.group(1)), "bd09"),
            crs.to_wgs84(float(baidu_web.group(2)), float(baidu_web.group(1)), "bd09"),
            (float(geo.group(2)), float(geo.group(1))),
            (float(geo.group(4)), float(geo.group(3))),
        ]
        for lon, lat in found:
            assert float(crs.geodesic_distance_m(lon, lat, stop["lon"], stop["lat"])) < 0.5
        # and the GCJ-02 pin is not the WGS84 one (the conversion happened: ~500 m around Beihai)
        unconverted = crs.geodesic_distance_m(float(amap.group(1)), float(amap.group(2)), stop["lon"], stop["lat"])
        assert float(unconverted) > 100


def land_parts_of_haicheng(engine: Engine) -> list[shapely.Geometry]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT ST_AsBinary((ST_Dump(geom)).geom) FROM districts WHERE code = '450502'")
        ).scalars()
        return [shapely.from_wkb(bytes(r)) for r in rows]


def test_islands_are_planned_apart_and_no_leg_crosses_the_sea(client: TestClient, sample) -> None:
    plan = get_plan(client, sample["haicheng"], "2026-11-04")
    island = [s for s in plan["stops"] if s["lat"] < 21.2]
    assert {"PTEST-WZ1", "PTEST-WZ2"} <= {s["target_id"] for s in island}
    assert {s["group"] for s in island} == {"weizhou"}
    groups = {g["key"]: g for g in plan["groups"]}
    assert next(iter(groups)) == "mainland" and groups["mainland"]["name"] == "大陆"
    assert groups["weizhou"]["name"] == "涠洲岛" and groups["weizhou"]["stops"] == len(island)
    assert f"涠洲岛的 {len(island)} 处检查点单独规划" in plan["notice"]
    # a block of numbers per part, mainland first
    mainland = [s for s in plan["stops"] if s["group"] == "mainland"]
    assert max(s["order"] for s in mainland) < min(s["order"] for s in island)
    assert plan["route_length_m"] == pytest.approx(sum(g["route_length_m"] for g in plan["groups"]), abs=0.2)

    parts = [shapely.buffer(p, 0.01) for p in land_parts_of_haicheng(sample["engine"])]  # ~1 km
    assert len(parts) == 3
    lines = plan["route"]["coordinates"]
    assert plan["route"]["type"] == "MultiLineString" and len(lines) == len(plan["groups"])
    for line in lines:
        homes = [i for i, part in enumerate(parts) if all(part.contains(shapely.Point(p)) for p in line)]
        assert len(homes) == 1, "every route line lies on one land part"
        for a, b in itertools.pairwise(line):
            assert float(crs.geodesic_distance_m(*a, *b)) < 30_000, "no leg across the sea to 涠洲岛 (~40 km)"
    by_position = {(s["lon"], s["lat"]): s["group"] for s in plan["stops"]}
    for line in lines:
        assert len({by_position[tuple(p)] for p in line}) == 1


def test_land_parts_of_the_real_outlines(sample) -> None:
    parts = plans.land_parts(sample["engine"])
    assert [p.key for p in parts[:3]] == ["mainland", "weizhou", "xieyang"]
    assert [p.name for p in parts[:3]] == ["大陆", "涠洲岛", "斜阳岛"]
    assert plans.part_of(parts, 109.12, 21.48).key == "mainland"  # 北海 city
    assert plans.part_of(parts, 109.5, 21.6).key == "mainland"  # 铁山港区: districts merged into one mainland
    assert plans.part_of(parts, 109.105, 21.03).key == "weizhou"
    assert plans.part_of(parts, 109.18, 21.0).key == "weizhou"  # at sea: the nearest part
    assert plans.land_parts(sample["engine"]) is parts  # once per process


def test_plan_again_from_here_keeps_done_stops_and_reorders_the_rest(client: TestClient, sample) -> None:
    day = "2026-11-05"
    plan = get_plan(client, sample["haicheng"], day)
    mainland = [s for s in plan["stops"] if s["group"] == "mainland"]
    for stop in (mainland[0], mainland[3]):
        record(client, sample["haicheng"], stop, day)
    here = mainland[-1]
    g_lon, g_lat = (float(v) for v in crs.from_wgs84(here["lon"], here["lat"], "gcj02"))
    body = {"date": day, "district": "450502", "position": {"lon": g_lon, "lat": g_lat, "datum": "gcj02"}}
    response = client.post("/api/v1/plans/today/replan", json=body, headers=auth(sample["haicheng_phone2"]))
    assert response.status_code == 200, response.text
    again = response.json()
    assert again["replanned_group"] == "mainland"
    old = {(s["target_type"], s["target_id"]): s for s in plan["stops"]}
    new = {(s["target_type"], s["target_id"]): s for s in again["stops"]}
    assert set(new) == set(old) and sorted(s["order"] for s in again["stops"]) == list(range(1, len(old) + 1))
    for key in ((s["target_type"], s["target_id"]) for s in (mainland[0], mainland[3])):
        assert new[key]["status"] == "done" and new[key]["order"] == old[key]["order"]
    for key, stop in new.items():
        if stop["group"] != "mainland":
            assert stop["order"] == old[key]["order"]  # the island was not re-planned from the mainland
    pending = [s for s in mainland if new[(s["target_type"], s["target_id"])]["status"] == "pending"]
    position = tuple(float(v) for v in crs.to_wgs84(g_lon, g_lat, "gcj02"))
    route = plan_route(np.array([s["lon"] for s in pending]), np.array([s["lat"] for s in pending]), position)
    numbers = sorted(s["order"] for s in pending)
    assert [new[(pending[k]["target_type"], pending[k]["target_id"])]["order"] for k in route] == numbers
    assert numbers[0] == 2 and new[(here["target_type"], here["target_id"])]["order"] == 2  # start where I stand
    group = next(g for g in again["groups"] if g["key"] == "mainland")
    assert group["start"] == pytest.approx(list(position), abs=1e-9)
    assert again["route"]["coordinates"][0][0] == pytest.approx(list(position), abs=1e-9)
    # stored: both phones now see the new order
    assert get_plan(client, sample["haicheng"], day)["stops"] == again["stops"]


def test_replan_where_nothing_is_left_changes_nothing(client: TestClient, sample) -> None:
    day = "2026-11-06"
    plan = get_plan(client, sample["haicheng"], day, "district=450502&limit=3")
    body = {"date": day, "position": {"lon": 109.2125, "lat": 20.9075, "datum": "wgs84"}}  # on 斜阳岛: no stop there
    again = client.post("/api/v1/plans/today/replan", json=body, headers=auth(sample["haicheng"])).json()
    assert again["replanned_group"] is None and "你所在的斜阳岛没有待检查的检查点" in again["notice"]
    assert again["stops"] == plan["stops"]
    far = {"date": day, "position": {"lon": 113.3, "lat": 23.1, "datum": "wgs84"}}  # 广州
    assert client.post("/api/v1/plans/today/replan", json=far, headers=auth(sample["haicheng"])).status_code == 422


def test_who_may_open_a_plan(client: TestClient, sample) -> None:
    day = "2026-11-07"
    url = f"/api/v1/plans/today?date={day}"
    assert client.get(f"{url}&district=450502", headers=auth(sample["hepu"])).status_code == 403
    body = {"date": day, "district": "450502", "position": {"lon": 109.12, "lat": 21.48, "datum": "wgs84"}}
    assert client.post("/api/v1/plans/today/replan", json=body, headers=auth(sample["hepu"])).status_code == 403
    assert client.get(url, headers=auth(sample["viewer"])).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get(f"{url}&district=999999", headers=auth(sample["admin"])).status_code == 404
    assert client.get(f"{url}&limit=51", headers=auth(sample["hepu"])).status_code == 422
    assert client.get("/api/v1/plans/today?date=1900-01-01", headers=auth(sample["hepu"])).status_code == 422
    old = {**body, "district": "450521", "date": "1900-01-01"}
    assert client.post("/api/v1/plans/today/replan", json=old, headers=auth(sample["hepu"])).status_code == 422
    # the 合浦县 inspector's own plan lies in 合浦县, and is theirs alone
    hepu = get_plan(client, sample["hepu"], day, "limit=10")
    assert {s["district_code"] for s in hepu["stops"]} == {"450521"} and hepu["districts"] == ["450521"]
    with sample["engine"].connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM day_plans WHERE day = :d"), {"d": date(2026, 11, 7)})
        assert count.scalar_one() == 1


def test_default_date_is_today_in_beihai(client: TestClient, sample) -> None:
    response = client.get("/api/v1/plans/today?limit=3", headers=auth(sample["hepu"]))
    assert response.status_code == 200 and response.json()["date"] == today_local().isoformat()


def test_checklists_come_from_the_rule_file(client: TestClient, sample, tmp_path: Path) -> None:
    body = client.get("/api/v1/checklists", headers=auth(sample["viewer"])).json()
    by_category = {c["category"]: c for c in body["premises"]}
    assert by_category["internet_cafe"]["category_cn"] == "网吧"
    cafe = set(by_category["internet_cafe"]["items"])
    assert {"接纳未成年人", "未悬挂未成年人禁入标志", "未悬挂证照", "超时营业"} <= cafe
    assert "未执行强制报告" in by_category["hotel"]["items"] and by_category["other"]["items"] == ["其他问题"]
    measures = {m["key"]: m for m in body["water_hazard"]["measures"]}
    assert measures["lifebuoy"]["label"] == "救生圈" and measures["fence"]["required_for"] == "fence_kinds"
    assert body["follow_up_days"] == 7
    assert [r["label"] for r in body["results"]] == ["合格", "不合格", "已关闭", "未找到"]

    own = tmp_path / "rules.toml"
    own.write_text(
        '[rules.hotel]\nother_m = 200\ninterval_days = 90\nchecklist = ["未登记"]\n'
        '[checklists]\nother = ["乱停车"]\n[hazards]\nchecklist = ["无警示牌"]\n',
        encoding="utf-8",
    )
    rules = load_rules(own)
    assert rules.checklist_for("hotel") == ("未登记",) and rules.checklist_for("other") == ("乱停车",)
    assert rules.checklist_for("internet_cafe") == () and rules.hazards.checklist == ("无警示牌",)
    for bad in ('checklist = "未登记"', "checklist = [1]", 'checklist = [""]', 'checklist = ["a", "a"]'):
        own.write_text(f"[rules.hotel]\nother_m = 200\ninterval_days = 90\n{bad}\n", encoding="utf-8")
        with pytest.raises(InvalidInput, match=r"\[rules.hotel\] checklist"):
            load_rules(own)
    own.write_text('[checklists]\nspa = ["x"]\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match="unknown premises category 'spa'"):
        load_rules(own)


def test_the_openapi_document_shows_the_plan(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/plans/today" in spec["paths"] and "/api/v1/plans/today/replan" in spec["paths"]
    stop = spec["components"]["schemas"]["Stop"]["properties"]
    assert {"order", "nav", "checklist", "status", "visit", "phone", "group"} <= set(stop)
