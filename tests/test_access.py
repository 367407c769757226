"""Who may do what: every endpoint with every role, bad credentials, other districts; secrets never in clear."""

from __future__ import annotations

import io
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety.api.app import create_app
from geo_safety.api.deps import SESSION_COOKIE
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.services.imports import load_file
from geo_safety.settings import Settings
from tests.conftest import auth as bearer
from tests.world import hazards_frame, premises_frame, write

ADMIN = Actor("test-setup", "pytest")
ROLES = ("inspector", "inspector_hepu", "planner", "planner_tsg", "viewer", "admin")
ACCOUNTS = {
    "inspector": ("inspector", ("450502",)),
    "inspector_hepu": ("inspector", ("450521",)),
    "planner": ("planner", ()),
    "planner_tsg": ("planner", ("450512",)),
    "viewer": ("viewer", ()),
    "admin": ("admin", ()),
}


@pytest.fixture
def world(beihai: Engine, settings: Settings, tmp_path: Path) -> dict[str, users.NewCredentials]:
    load_file(beihai, "premises", write(premises_frame(), tmp_path / "p.geojson"), datum="wgs84")
    with beihai.begin() as conn:
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions, audit_log RESTART IDENTITY CASCADE"))
    creds = {
        key: users.add_user(beihai, settings, ADMIN, key, role, districts)
        for key, (role, districts) in ACCOUNTS.items()
    }
    creds["disabled"] = users.add_user(beihai, settings, ADMIN, "disabled", "viewer")
    users.disable_user(beihai, ADMIN, "disabled")
    return creds


@pytest.fixture
def client(settings: Settings) -> TestClient:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def log_in(client: TestClient, name: str, password: str, next: str = "/"):
    """As a browser does: open the form (it sets the CSRF cookie) and post it with its hidden token."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    data = {"username": name, "password": password, "next": next, "csrf_token": token}
    return client.post("/login", data=data, follow_redirects=False)


def _no_data(response) -> None:
    assert set(response.json()) == {"detail", "code"}  # the reason and its stable code, nothing of the data
    for name in premises_frame()["name"]:
        assert name not in response.text


def _hazard_upload(tmp_path: Path, lon_lat_district: str) -> tuple[str, bytes]:
    frame = hazards_frame()
    if lon_lat_district == "450512":
        frame = frame.iloc[1:]  # WH-B lies in 铁山港区
    path = write(frame, tmp_path / "zones.geojson")
    return path.name, path.read_bytes()


# role -> expected status, for each (method, path[, JSON body])
ALL_OK = dict.fromkeys(ROLES, 200)
NOT_HAICHENG_ONLY = {**ALL_OK, "inspector": 403, "planner_tsg": 403}  # asking for 合浦县 (450521)
ZONE = {
    "type": "Feature",
    "datum": "wgs84",
    "properties": {"name": "矩阵测试池塘", "kind": "pond"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [[109.201, 21.661], [109.2015, 21.661], [109.2015, 21.6615], [109.201, 21.6615], [109.201, 21.661]]
        ],
    },
}
MATRIX = [
    ("GET", "/api/v1/me", ALL_OK),
    ("GET", "/api/v1/layers/premises", ALL_OK),
    ("GET", "/api/v1/layers/premises?district=450521", NOT_HAICHENG_ONLY),
    ("GET", "/api/v1/layers/schools?district=450502", {**ALL_OK, "inspector_hepu": 403, "planner_tsg": 403}),
    ("GET", "/api/v1/users", {**dict.fromkeys(ROLES, 403), "admin": 200}),
    ("GET", "/api/v1/audit", {**dict.fromkeys(ROLES, 403), "admin": 200}),
    ("POST", "/api/v1/users/viewer/token", {**dict.fromkeys(ROLES, 403), "admin": 201}),
    ("GET", "/api/v1/inspections/due?district=450521", NOT_HAICHENG_ONLY),
    ("GET", "/api/v1/inspections/today", ALL_OK),
    (
        "POST",
        "/api/v1/inspections",
        # the 海城区 inspector may record, but not 合浦县's premise: 404, as if it did not exist
        {**dict.fromkeys(ROLES, 403), "inspector": 404, "inspector_hepu": 201, "admin": 201},
        {"target_id": "P-HP", "result": "pass"},
    ),
    ("GET", "/api/v1/hotspots/drowning?district=450521", NOT_HAICHENG_ONLY),
    ("POST", "/api/v1/hazards", {**dict.fromkeys(ROLES, 403), "planner": 201, "admin": 201}, ZONE),
    ("GET", "/api/v1/reports/programme?from=2026-01-01&to=2026-11-01&district=450521", NOT_HAICHENG_ONLY),
    ("GET", "/api/v1/schools/compliance?district=450521", NOT_HAICHENG_ONLY),
    ("GET", "/collections/premises/items?district=450521", NOT_HAICHENG_ONLY),
    ("GET", "/collections/schools", ALL_OK),
    ("GET", "/maps/inspection/today?district=450521", NOT_HAICHENG_ONLY),
    ("GET", "/maps/hotspots/drowning", ALL_OK),
    ("GET", "/maps/districts", {**ALL_OK, "inspector": 403, "inspector_hepu": 403, "planner_tsg": 403}),
    ("GET", "/maps/districts/450502", {**ALL_OK, "inspector_hepu": 403, "planner_tsg": 403}),
]


@pytest.mark.parametrize("entry", MATRIX, ids=[f"{m[0]} {m[1]}" for m in MATRIX])
def test_role_matrix(world, client: TestClient, entry: tuple) -> None:
    method, path, expected = entry[:3]
    body = entry[3] if len(entry) > 3 else None
    anonymous = client.request(method, path, json=body, follow_redirects=False)
    if path.startswith("/maps/"):  # a page sends the person to the login form instead
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    else:
        assert anonymous.status_code == 401
        _no_data(anonymous)
    for role in ROLES:
        response = client.request(method, path, json=body, headers=bearer(world[role].token))
        assert response.status_code == expected[role], (role, response.text)
        if response.status_code >= 400:
            _no_data(response)


def test_inspectors_see_only_their_districts(world, client: TestClient) -> None:
    seen = {}
    for role in ("inspector", "inspector_hepu", "viewer"):
        body = client.get("/api/v1/layers/premises", headers=bearer(world[role].token)).json()
        seen[role] = {f["properties"]["district_code"] for f in body["features"]}
    assert seen == {
        "inspector": {"450502"},
        "inspector_hepu": {"450521"},
        "viewer": {"450502", "450503", "450512", "450521"},
    }
    unknown = client.get("/api/v1/layers/premises?district=450599", headers=bearer(world["admin"].token))
    assert unknown.status_code == 404 and "unknown district" in unknown.json()["detail"]


def test_user_management_and_disable(world, client: TestClient) -> None:
    admin = bearer(world["admin"].token)
    created = client.post(
        "/api/v1/users", headers=admin, json={"name": "new-inspector", "role": "inspector", "districts": ["450503"]}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["password"] and body["token"].startswith("gs_")
    assert client.get("/api/v1/me", headers=bearer(body["token"])).json()["districts"] == ["450503"]
    assert (
        client.post("/api/v1/users", headers=admin, json={"name": "new-inspector", "role": "viewer"}).status_code == 409
    )
    assert client.post("/api/v1/users", headers=admin, json={"name": "x", "role": "inspector"}).status_code == 422
    assert client.post("/api/v1/users", headers=admin, json={"name": "y", "role": "king"}).status_code == 422
    assert (
        client.post(
            "/api/v1/users", headers=bearer(world["viewer"].token), json={"name": "z", "role": "admin"}
        ).status_code
        == 403
    )
    listing = client.get("/api/v1/users", headers=admin).text
    assert body["token"] not in listing and body["password"] not in listing
    assert client.post("/api/v1/users/new-inspector/disable", headers=admin).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(body["token"])).status_code == 401
    assert client.post("/api/v1/users/nobody/disable", headers=admin).status_code == 404


@pytest.mark.parametrize(
    "header",
    [
        "Bearer gs_" + "A" * 43,  # well-formed, unknown
        "Bearer " + "x" * 5000,  # oversized
        "Bearer gs_bad token with spaces",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
    ],
)
def test_bad_tokens_are_401(world, client: TestClient, header: str) -> None:
    response = client.get("/api/v1/layers/premises", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    _no_data(response)


def test_disabled_user_is_401(world, client: TestClient) -> None:
    assert client.get("/api/v1/me", headers=bearer(world["disabled"].token)).status_code == 401


def test_browser_login_session_logout(world, client: TestClient, beihai: Engine) -> None:
    assert "登录" in client.get("/login").text
    wrong = log_in(client, "viewer", "nope")
    assert wrong.status_code == 401 and "密码错误" in wrong.text
    response = log_in(client, "viewer", world["viewer"].password, next="/api/v1/me")
    assert response.status_code == 303 and response.headers["location"] == "/api/v1/me"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert client.get("/api/v1/me").json()["name"] == "viewer"
    # a cookie-authenticated write without the CSRF header is refused
    assert client.post("/api/v1/users/viewer/token").status_code == 403
    client.post("/logout", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert client.get("/api/v1/me").status_code == 401


def test_login_never_redirects_off_site(world, client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        response = log_in(client, "viewer", world["viewer"].password, next=target)
        assert response.headers["location"] == "/"


def test_session_cookie_is_secure_over_tls(world, settings: Settings) -> None:
    with TestClient(create_app(settings), base_url="https://testserver") as tls:
        response = log_in(tls, "viewer", world["viewer"].password)
    assert response.status_code == 303
    assert "Secure" in next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))


def test_expired_and_forged_sessions_are_401(world, client: TestClient, beihai: Engine) -> None:
    log_in(client, "admin", world["admin"].password)
    assert client.get("/api/v1/me").status_code == 200
    with beihai.begin() as conn:
        conn.execute(text("UPDATE web_sessions SET expires_at = :t"), {"t": datetime(2020, 1, 1, tzinfo=UTC)})
    assert client.get("/api/v1/me").status_code == 401
    client.cookies.set(SESSION_COOKIE, "gs_" + "f" * 43)
    response = client.get("/api/v1/layers/premises")
    assert response.status_code == 401
    _no_data(response)


def test_imports_by_role_and_district(world, client: TestClient, tmp_path: Path, beihai: Engine) -> None:
    name, content = _hazard_upload(tmp_path, "all")
    url = "/api/v1/imports/water_hazards?datum=wgs84&mode=upsert"
    for role, expected in (("inspector", 403), ("viewer", 403), ("planner_tsg", 403), ("planner", 201)):
        response = client.post(url, headers=bearer(world[role].token), files={"file": (name, content)})
        assert response.status_code == expected, (role, response.text)
    with beihai.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM water_hazards")).scalar_one() == 2
    # the 铁山港区 planner may load zones of 铁山港区
    name, content = _hazard_upload(tmp_path, "450512")
    ok = client.post(url, headers=bearer(world["planner_tsg"].token), files={"file": (name, content)})
    assert ok.status_code == 201 and ok.json()["updated"] == 1
    shops = write(premises_frame(), tmp_path / "shops.csv").read_bytes()
    premises_url = "/api/v1/imports/premises?datum=wgs84&mode=upsert"
    assert (
        client.post(
            premises_url, headers=bearer(world["planner"].token), files={"file": ("shops.csv", shops)}
        ).status_code
        == 403
    )
    assert (
        client.post(
            premises_url, headers=bearer(world["admin"].token), files={"file": ("shops.csv", shops)}
        ).status_code
        == 201
    )
    bad = client.post(
        premises_url, headers=bearer(world["admin"].token), files={"file": ("../../etc/passwd.csv", b"id,name\n1,x\n")}
    )
    assert bad.status_code == 422 and "passwd.csv" in bad.json()["detail"] and "../" not in bad.json()["detail"]


def test_every_write_is_audited(world, client: TestClient, tmp_path: Path) -> None:
    name, content = _hazard_upload(tmp_path, "all")
    client.post(
        "/api/v1/imports/water_hazards?datum=wgs84",
        headers=bearer(world["planner"].token),
        files={"file": (name, content)},
    )
    client.post("/api/v1/users/viewer/token", headers=bearer(world["admin"].token))
    log_in(client, "viewer", "wrong")
    entries = client.get("/api/v1/audit?since=2000-01-01", headers=bearer(world["admin"].token)).json()
    actions = [(e["actor"], e["action"], e["target_id"]) for e in entries]
    assert ("test-setup", "user.create", "inspector") in actions
    assert ("test-setup", "user.disable", "disabled") in actions
    assert ("planner", "import", "zones.geojson") in actions
    assert ("admin", "user.token", "viewer") in actions
    assert ("viewer", "login.failed", None) in actions
    imported = next(e for e in entries if e["action"] == "import")
    assert imported["client"] == "testclient" and imported["details"]["inserted"] == 2


def test_secrets_never_stored_or_logged_in_clear(
    world, client: TestClient, beihai: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    try:
        log_in(client, "viewer", world["viewer"].password)
        client.get("/api/v1/me", headers=bearer(world["admin"].token))
        token = client.post("/api/v1/users/viewer/token", headers=bearer(world["admin"].token)).json()["token"]
        client.get("/api/v1/me", headers=bearer(token))
    finally:
        logging.getLogger().removeHandler(handler)
    secrets = [c.password for c in world.values()] + [c.token for c in world.values()] + [token]
    secrets.append(client.cookies.get(SESSION_COOKIE))
    logged = caplog.text + stream.getvalue()
    with beihai.connect() as conn:
        stored = " ".join(
            conn.execute(text(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t")).scalar_one()
            for table in ("users", "api_tokens", "web_sessions", "audit_log")
        )
    assert stored.count("$argon2id$") == len(world)
    for secret in secrets:
        assert secret and secret not in logged and secret not in stored


def test_production_refuses_default_secret_and_demo_users(beihai: Engine, settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production"})
    with pytest.raises(RuntimeError, match="GEO_SAFETY_SECRET_KEY"), TestClient(create_app(production)):
        pass
    strong = production.model_copy(update={"secret_key": "s" * 40})
    users.reset_demo_users(beihai, strong, ADMIN)
    with pytest.raises(RuntimeError, match="demo users exist"), TestClient(create_app(strong)):
        pass
    for name, _, _ in users.DEMO_USERS:
        users.disable_user(beihai, ADMIN, name)
    with TestClient(create_app(strong)) as ok:
        assert ok.get("/health").status_code == 200


def test_landing_and_health_are_open(client: TestClient, beihai: Engine) -> None:
    health = client.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}  # details only for signed-in callers
    page = client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200 and "校园安全" in page.text and "/login" in page.text
