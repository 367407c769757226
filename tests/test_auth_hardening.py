"""Stop-ship issue 13, authentication and sessions: each finding reproduced, then held fixed.

Uploads are refused before their body is read; logins are rate-limited, locked out and bounded in hashing
work; login and logout refuse cross-site requests; a password reset ends sessions; tokens expire and can be
revoked one by one; ``/health`` tells anonymous callers only that it is alive; ``X-Forwarded-For`` counts only
from configured proxies; user names are normalised.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety import security
from geo_safety.api.app import create_app
from geo_safety.api.deps import SESSION_COOKIE
from geo_safety.cli import main
from geo_safety.errors import Conflict, InvalidInput
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.settings import Settings
from tests.browser import live_server
from tests.conftest import auth as bearer

SETUP = Actor("test-setup", "pytest")


@pytest.fixture
def accounts(beihai: Engine, settings: Settings) -> dict[str, users.NewCredentials]:
    with beihai.begin() as conn:
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions, audit_log RESTART IDENTITY CASCADE"))
    return {
        "viewer": users.add_user(beihai, settings, SETUP, "viewer", "viewer"),
        "inspector": users.add_user(beihai, settings, SETUP, "inspector", "inspector", ("450502",)),
        "admin": users.add_user(beihai, settings, SETUP, "admin", "admin"),
    }


@pytest.fixture
def client(settings: Settings) -> TestClient:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def login_form(client: TestClient, name: str, password: str, **headers: str):
    """What a browser does: open the form (which sets the CSRF cookie), then post it with its hidden token."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    data = {"username": name, "password": password, "csrf_token": token.group(1) if token else ""}
    return client.post("/login", data=data, headers=headers, follow_redirects=False)


def audit(engine: Engine, action: str) -> list[dict]:
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                text("SELECT actor, client, target_id, details FROM audit_log WHERE action = :a ORDER BY id"),
                {"a": action},
            ).mappings()
        ]


# -- 5: uploads are refused before their body is read ------------------------------------------------------
def _status_before_body(base: str, headers: dict[str, str]) -> tuple[int, float]:
    """Send only the headers of a 400 MB multipart upload; the answer must come without the body."""
    host, port = base.removeprefix("http://").split(":")
    head = [
        "POST /api/v1/imports/premises?datum=wgs84 HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: multipart/form-data; boundary=xyz",
        f"Content-Length: {400 * 1024 * 1024}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sock.sendall(b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n')
        sock.sendall(b"id,name,lon,lat\n" * 1000)  # a start of the body, never the rest
        try:
            answer = sock.recv(200).decode("latin1")
        except TimeoutError:
            pytest.fail("the server waited for the whole body before answering")
    return int(answer.split(" ", 2)[1]), time.monotonic() - started


def test_uploads_are_refused_before_the_body_is_read(accounts, settings: Settings) -> None:
    with live_server(settings) as base:
        status, seconds = _status_before_body(base, {})
        assert status == 401 and seconds < 3
        status, seconds = _status_before_body(base, bearer(accounts["inspector"].token))
        assert status == 403 and seconds < 3


def test_uploads_by_allowed_roles_still_load(accounts, client: TestClient, tmp_path) -> None:
    csv = b"id,name,category,lon,lat\nP-1,\xe5\xba\x97,tobacco,109.12,21.48\n"
    url = "/api/v1/imports/premises?datum=wgs84"
    ok = client.post(url, headers=bearer(accounts["admin"].token), files={"file": ("shops.csv", csv)})
    assert ok.status_code == 201, ok.text
    assert ok.json()["inserted"] == 1
    missing = client.post(url, headers=bearer(accounts["admin"].token), files={"other": ("x.csv", csv)})
    assert missing.status_code == 422 and "file" in missing.json()["detail"]
    not_multipart = client.post(url, headers=bearer(accounts["admin"].token), content=csv)
    assert not_multipart.status_code == 422
    documented = client.get("/openapi.json").json()["paths"]["/api/v1/imports/{layer}"]["post"]
    assert "file" in str(documented["requestBody"])


# -- 6: login rate limits, lockout and bounded hashing ------------------------------------------------------
def test_account_is_locked_after_repeated_failures(accounts, client: TestClient, beihai: Engine) -> None:
    for _ in range(5):
        assert login_form(client, "viewer", "wrong").status_code == 401
    locked = login_form(client, "viewer", accounts["viewer"].password)
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert SESSION_COOKIE not in locked.cookies
    lockouts = audit(beihai, "login.lockout")
    assert lockouts and lockouts[0]["details"]["scope"] == "account" and lockouts[0]["target_id"] == "viewer"
    # another account from another address is not affected
    with TestClient(create_app(client.app.state.settings), client=("10.9.9.9", 1)) as other:
        assert login_form(other, "admin", accounts["admin"].password).status_code == 303


def test_a_successful_login_clears_the_account_count(accounts, client: TestClient) -> None:
    for _ in range(2):
        for _ in range(4):
            assert login_form(client, "viewer", "wrong").status_code == 401
        assert login_form(client, "viewer", accounts["viewer"].password).status_code == 303


def test_address_is_limited_across_accounts(accounts, settings: Settings, beihai: Engine) -> None:
    limited = settings.model_copy(update={"login_max_failures_per_address": 4})
    with TestClient(create_app(limited), client=("10.1.2.3", 1)) as c:
        for name in ("a1", "a2", "a3", "a4"):
            assert login_form(c, name, "x").status_code == 401
        refused = login_form(c, "admin", accounts["admin"].password)
        assert refused.status_code == 429 and refused.headers["retry-after"]
    assert any(e["details"]["scope"] == "address" and e["client"] == "10.1.2.3" for e in audit(beihai, "login.lockout"))


def test_concurrent_password_hashing_is_bounded(accounts, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    active, peak, lock = 0, 0, threading.Lock()
    verify = security.verify_password

    def counting(password_hash, password):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            time.sleep(0.3)
            return verify(password_hash, password)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(security, "verify_password", counting)
    bounded = settings.model_copy(update={"login_concurrency": 2, "login_max_failures_per_address": 1000})
    with TestClient(create_app(bounded)) as c:
        page = c.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)

        def attempt(i: int) -> tuple[int, float]:
            started = time.monotonic()
            data = {"username": f"nobody{i}", "password": "x", "csrf_token": token.group(1) if token else ""}
            response = c.post("/login", data=data, follow_redirects=False)
            return response.status_code, time.monotonic() - started

        with ThreadPoolExecutor(12) as pool:
            results = list(pool.map(attempt, range(12)))
    assert peak <= 2
    busy = [seconds for status, seconds in results if status in (429, 503)]
    assert busy and max(busy) < 2  # refused quickly instead of queueing
    assert {status for status, _ in results} <= {401, 429, 503}


# -- 11: login and logout refuse cross-site requests ---------------------------------------------------------
def test_cross_site_login_is_refused(accounts, client: TestClient, beihai: Engine) -> None:
    cross = login_form(client, "viewer", accounts["viewer"].password, Origin="https://evil.example")
    assert cross.status_code == 403 and SESSION_COOKIE not in cross.cookies
    referred = login_form(client, "viewer", accounts["viewer"].password, Referer="https://evil.example/x")
    assert referred.status_code == 403
    # a form posted without the token the login page hands out (a forged form on another site)
    forged = TestClient(client.app).post(
        "/login", data={"username": "viewer", "password": accounts["viewer"].password}, follow_redirects=False
    )
    assert forged.status_code == 403 and SESSION_COOKIE not in forged.cookies
    same = login_form(client, "viewer", accounts["viewer"].password, Origin="http://testserver")
    assert same.status_code == 303 and client.get("/api/v1/me").status_code == 200


def test_cross_site_logout_is_refused(accounts, client: TestClient) -> None:
    assert login_form(client, "viewer", accounts["viewer"].password).status_code == 303
    assert client.post("/logout", headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post("/logout", follow_redirects=False).status_code == 403  # neither Origin nor Referer
    assert client.get("/api/v1/me").status_code == 200
    out = client.post("/logout", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert out.status_code == 303 and client.get("/api/v1/me").status_code == 401


# -- 12: sessions end on a password reset; tokens expire and are revoked one by one ---------------------------
def test_password_reset_ends_every_session(accounts, client: TestClient, beihai: Engine, settings: Settings) -> None:
    assert login_form(client, "viewer", accounts["viewer"].password).status_code == 303
    assert client.get("/api/v1/me").status_code == 200
    new_password = users.reset_password(beihai, SETUP, "viewer")
    assert client.get("/api/v1/me").status_code == 401
    assert login_form(client, "viewer", accounts["viewer"].password).status_code == 401
    assert login_form(client, "viewer", new_password).status_code == 303
    assert [e["target_id"] for e in audit(beihai, "user.password_reset")] == ["viewer"]


def test_tokens_expire_and_are_revoked_one_by_one(accounts, client: TestClient, beihai: Engine, settings) -> None:
    first = accounts["viewer"].token
    second = users.new_token(beihai, settings, SETUP, "viewer")
    listed = users.list_tokens(beihai, "viewer")
    assert len(listed) == 2 and all(t["revoked_at"] is None for t in listed)
    expires = listed[0]["expires_at"]
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
    users.revoke_token(beihai, SETUP, "viewer", listed[0]["id"])
    assert client.get("/api/v1/me", headers=bearer(first)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200
    with beihai.begin() as conn:
        conn.execute(text("UPDATE api_tokens SET expires_at = now() - interval '1 second'"))
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 401
    with pytest.raises(Exception, match="no token"):
        users.revoke_token(beihai, SETUP, "admin", listed[1]["id"])  # someone else's token


def test_cli_lists_and_revokes_tokens(
    accounts, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from geo_safety import settings as settings_module

    monkeypatch.setenv("GEO_SAFETY_DATABASE_URL", settings.database_url or "")
    settings_module.get_settings.cache_clear()
    try:
        assert main(["users", "token", "viewer"]) == 0
        issued = capsys.readouterr().out
        token_id = re.search(r"id (\d+)", issued).group(1)
        assert "expires" in issued
        assert main(["users", "tokens", "viewer"]) == 0
        assert token_id in capsys.readouterr().out
        assert main(["users", "revoke-token", "viewer", token_id]) == 0
        assert "revoked" in capsys.readouterr().out
        assert main(["users", "reset-password", "viewer"]) == 0
        assert "password" in capsys.readouterr().out
        assert main(["users", "add", "bad\x00name", "--role", "viewer"]) == 2
        assert "user name" in capsys.readouterr().err
    finally:
        settings_module.get_settings.cache_clear()


# -- 13: health, forwarded addresses, user names ------------------------------------------------------------
def test_health_details_only_for_authenticated_callers(accounts, client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    detailed = client.get("/health", headers=bearer(accounts["viewer"].token)).json()
    assert detailed["status"] == "ok" and "layers" in detailed and "postgis" in detailed


def test_forwarded_for_is_believed_only_from_trusted_proxies(accounts, settings: Settings, beihai: Engine) -> None:
    spoof = {"X-Forwarded-For": "203.0.113.9"}
    with TestClient(create_app(settings), client=("198.51.100.7", 1)) as direct:
        login_form(direct, "viewer", "wrong", **spoof)
    proxied = settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    with TestClient(create_app(proxied), client=("10.0.0.5", 1)) as via_proxy:
        login_form(via_proxy, "viewer", "wrong", **{"X-Forwarded-For": "203.0.113.9, 10.0.0.6"})
    assert [e["client"] for e in audit(beihai, "login.failed")] == ["198.51.100.7", "203.0.113.9"]


@pytest.mark.parametrize(
    "name",
    ["VIEWER", "Viewer", "ｖｉｅｗｅｒ", "viewer\u200b", "vie\u200dwer", "\u202eviewer", "viewer\x00", "vie\x07wer"],
)
def test_look_alike_user_names_are_refused(accounts, beihai: Engine, settings: Settings, name: str) -> None:
    with pytest.raises((Conflict, InvalidInput)):
        users.add_user(beihai, settings, SETUP, name, "viewer")


def test_bad_user_names_are_4xx_over_http(accounts, client: TestClient) -> None:
    admin = bearer(accounts["admin"].token)
    for name, expected in (("nul\x00name", 422), ("zero\u200bwidth", 422), ("Admin", 409), ("王伟", 201)):
        response = client.post("/api/v1/users", headers=admin, json={"name": name, "role": "viewer"})
        assert response.status_code == expected, (name, response.text)
    assert client.post("/api/v1/users/nul%00name/disable", headers=admin).status_code == 404
    assert client.post("/api/v1/users/VIEWER/token", headers=admin).status_code == 404  # admin: exact names
    assert login_form(client, "VIEWER", accounts["viewer"].password).status_code == 303  # names match casefolded
    assert login_form(client, "nul\x00name", "x").status_code == 401


# -- migration 0006 on an existing database ------------------------------------------------------------------
def _at_0005(admin_url: str, names: list[str]):
    from geo_safety import migrate
    from geo_safety.db import make_engine
    from tests.conftest import new_database

    name, url = new_database(admin_url)
    engine = make_engine(Settings(database_url=url))
    migrate.upgrade(engine, "0005")
    with engine.begin() as conn:
        for user in names:
            user_id = conn.execute(
                text("INSERT INTO users (name, role, password_hash) VALUES (:n, 'viewer', '$argon2id$x') RETURNING id"),
                {"n": user},
            ).scalar_one()
            conn.execute(
                text("INSERT INTO api_tokens (user_id, token_digest) VALUES (:u, :d)"), {"u": user_id, "d": user}
            )
    return name, engine


def test_migration_keys_names_and_gives_old_tokens_an_expiry(admin_url: str) -> None:
    from geo_safety import migrate
    from geo_safety.localdb import drop_database

    name, engine = _at_0005(admin_url, ["Wang", "李"])
    try:
        migrate.upgrade(engine, "0006")
        with engine.connect() as conn:
            keys = dict(conn.execute(text("SELECT name, name_key FROM users")).all())
            expiry = conn.execute(text("SELECT min(expires_at - now()) FROM api_tokens")).scalar_one()
        assert keys == {"Wang": "wang", "李": "李"}
        assert timedelta(days=89) < expiry <= timedelta(days=90)
        migrate.downgrade(engine, "0005")
    finally:
        engine.dispose()
        drop_database(admin_url, name)


def test_migration_names_colliding_accounts(admin_url: str) -> None:
    from geo_safety import migrate
    from geo_safety.localdb import drop_database

    name, engine = _at_0005(admin_url, ["Wang", "wang"])
    try:
        with pytest.raises(RuntimeError, match="'Wang' / 'wang'"):
            migrate.upgrade(engine, "0006")
        assert migrate.current(engine) == "0005"  # nothing half-done
    finally:
        engine.dispose()
        drop_database(admin_url, name)
