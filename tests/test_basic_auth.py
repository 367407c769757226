"""HTTP Basic for desktop GIS (issue 19): user name + API token, never the login password; TLS or loopback only
(unless the bureau allows plain HTTP); failures count in the login limits; 401s challenge Basic for QGIS."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety import security
from geo_safety.api.app import create_app
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.settings import Settings

SETUP = Actor("test-setup", "pytest")
LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.7", 50000)
URL = "/collections/districts/items"


def basic(name: str, secret: str, encoding: str = "utf-8") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{secret}".encode(encoding)).decode()}


@pytest.fixture
def accounts(beihai: Engine, settings: Settings) -> dict[str, users.NewCredentials]:
    with beihai.begin() as conn:
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions, audit_log RESTART IDENTITY CASCADE"))
    return {
        "planner": users.add_user(beihai, settings, SETUP, "planner", "planner"),
        "王工": users.add_user(beihai, settings, SETUP, "王工", "viewer"),
        "other": users.add_user(beihai, settings, SETUP, "other", "viewer"),
    }


def _client(settings: Settings, address: tuple[str, int], base_url: str = "http://testserver") -> Iterator[TestClient]:
    with TestClient(create_app(settings), client=address, base_url=base_url) as test_client:
        yield test_client


@pytest.fixture
def local(settings: Settings) -> Iterator[TestClient]:
    yield from _client(settings, LOOPBACK)


@pytest.fixture
def remote(settings: Settings) -> Iterator[TestClient]:
    yield from _client(settings, REMOTE)


def failures(engine: Engine) -> list[tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT actor, client FROM audit_log WHERE action = 'login.failed' ORDER BY id"))
        return [tuple(r) for r in rows]


def test_parse_basic_reasons() -> None:
    assert security.parse_basic(base64.b64encode("王工:gs_a:b".encode()).decode()) == ("王工", "gs_a:b")
    assert security.parse_basic(base64.b64encode("wäng:x".encode("latin-1")).decode()) == ("wäng", "x")
    for value, reason in (
        ("", "empty"),
        ("%%%", "not base64"),
        (base64.b64encode(b"no-colon").decode(), "no colon"),
        (base64.b64encode(b":gs_x").decode(), "no user"),
        (base64.b64encode(b"wang:").decode(), "no token"),
        ("A" * 5000, "too long"),
    ):
        with pytest.raises(ValueError, match=reason):
            security.parse_basic(value)


def test_token_as_password_reads_like_bearer(accounts, local: TestClient) -> None:
    planner = accounts["planner"]
    by_basic = local.get(URL, headers=basic("planner", planner.token))
    assert by_basic.status_code == 200, by_basic.text
    by_bearer = local.get(URL, headers={"Authorization": f"Bearer {planner.token}"})
    assert by_basic.json()["numberMatched"] == by_bearer.json()["numberMatched"] == 4
    # the name as login takes it (case, width), Chinese names in UTF-8 (QGIS) or Latin-1 (older clients)
    assert local.get(URL, headers=basic("PLANNER", planner.token)).status_code == 200
    assert local.get("/api/v1/me", headers=basic("王工", accounts["王工"].token)).json()["name"] == "王工"
    assert local.get(URL, headers=basic("planner", planner.token, "latin-1")).status_code == 200
    assert failures(local.app.state.engine) == []


@pytest.mark.parametrize(
    "header, reason",
    [
        ("Basic", "empty"),
        ("Basic ", "empty"),
        ("Basic !!notbase64!!", "not base64"),
        ("Basic " + base64.b64encode(b"planner").decode(), "no colon"),
        ("Basic " + base64.b64encode(b":gs_x").decode(), "no user"),
        ("Basic " + "QUFB" * 2000, "too long"),
        ("basic " + base64.b64encode(b"planner:").decode(), "no token"),
    ],
)
def test_malformed_basic_is_401_with_reason(accounts, local: TestClient, header: str, reason: str) -> None:
    response = local.get(URL, headers={"Authorization": header})
    assert response.status_code == 401
    assert reason in response.json()["detail"]
    assert "features" not in response.text


def test_login_password_and_wrong_tokens_are_refused_and_counted(accounts, local: TestClient, beihai: Engine) -> None:
    planner = accounts["planner"]
    password = local.get(URL, headers=basic("planner", planner.password))
    assert password.status_code == 401 and "never the login password" in password.json()["detail"]
    assert local.get(URL, headers=basic("planner", "gs_" + "A" * 43)).status_code == 401
    # another user's good token under this name, and a good token under an unknown name
    assert local.get(URL, headers=basic("planner", accounts["other"].token)).status_code == 401
    assert local.get(URL, headers=basic("nobody", planner.token)).status_code == 401
    assert failures(beihai) == [("planner", "127.0.0.1")] * 3 + [("nobody", "127.0.0.1")]


def test_revoked_and_disabled_tokens_are_refused(accounts, local: TestClient, beihai: Engine, settings) -> None:
    extra = users.issue_token(beihai, settings, SETUP, "planner")
    assert local.get(URL, headers=basic("planner", extra.token)).status_code == 200
    users.revoke_token(beihai, SETUP, "planner", extra.id)
    assert local.get(URL, headers=basic("planner", extra.token)).status_code == 401
    assert local.get(URL, headers=basic("planner", accounts["planner"].token)).status_code == 200
    with beihai.begin() as conn:
        conn.execute(text("UPDATE api_tokens SET expires_at = now() - interval '1 s' WHERE user_id = 1"))
    assert local.get(URL, headers=basic("planner", accounts["planner"].token)).status_code == 401
    users.disable_user(beihai, SETUP, "other")
    assert local.get(URL, headers=basic("other", accounts["other"].token)).status_code == 401


def test_failures_lock_the_account_even_for_a_good_token(accounts, local: TestClient, settings: Settings) -> None:
    for _ in range(settings.login_max_failures):
        assert local.get(URL, headers=basic("planner", "wrong-password")).status_code == 401
    locked = local.get(URL, headers=basic("planner", accounts["planner"].token))
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "too many failed logins" in locked.json()["detail"]
    # Bearer is not a login: the token still works that way
    assert local.get(URL, headers={"Authorization": f"Bearer {accounts['planner'].token}"}).status_code == 200


def test_plain_http_from_another_machine_is_refused(accounts, remote: TestClient, settings: Settings) -> None:
    response = remote.get(URL, headers=basic("planner", accounts["planner"].token))
    assert response.status_code == 401 and "plain HTTP" in response.json()["detail"]
    assert failures(remote.app.state.engine) == []  # refused before any credential is looked at
    assert remote.get(URL, headers={"Authorization": f"Bearer {accounts['planner'].token}"}).status_code == 200
    # TLS to the app itself
    for tls in _client(settings, REMOTE, "https://testserver"):
        assert tls.get(URL, headers=basic("planner", accounts["planner"].token)).status_code == 200
    # allowed by the bureau
    for allowed in _client(settings.model_copy(update={"basic_over_http": True}), REMOTE):
        assert allowed.get(URL, headers=basic("planner", accounts["planner"].token)).status_code == 200


def test_proxy_headers_count_only_from_a_trusted_proxy(accounts, settings: Settings) -> None:
    good = basic("planner", accounts["planner"].token)
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4"}
    # anyone can claim https: from an untrusted peer it changes nothing
    for client in _client(settings, REMOTE):
        assert client.get(URL, headers=good | https).status_code == 401
    # a proxy on this machine that is not configured: its clients may be anywhere, so not "loopback"
    for client in _client(settings, LOOPBACK):
        assert client.get(URL, headers=good | {"X-Forwarded-For": "198.51.100.4"}).status_code == 401
        assert client.get(URL, headers=good).status_code == 200  # a direct local client
    proxied = settings.model_copy(update={"trusted_proxies": ["10.0.0.2"]})
    for client in _client(proxied, ("10.0.0.2", 40000)):
        assert client.get(URL, headers=good | https).status_code == 200
        plain = client.get(URL, headers=good | {"X-Forwarded-Proto": "http", "X-Forwarded-For": "198.51.100.4"})
        assert plain.status_code == 401
        # the proxy's own word is the last one; a client's forged "https" before it does not count
        assert client.get(URL, headers=good | {"X-Forwarded-Proto": "https, http"}).status_code == 401


def test_401_challenges_basic_for_desktop_gis_but_not_browsers(accounts, local: TestClient) -> None:
    answer = local.get(URL, headers={"Accept": "application/json"})
    assert answer.status_code == 401
    challenges = answer.headers.get_list("www-authenticate")
    assert challenges == ['Bearer realm="geo_safety"', 'Basic realm="geo_safety", charset="UTF-8"']
    browser = local.get(URL, headers={"Sec-Fetch-Mode": "cors", "Accept": "application/json"})
    assert browser.headers.get_list("www-authenticate") == ['Bearer realm="geo_safety"']
    page = local.get("/collections/districts/items?f=html", headers={"Accept": "text/html"}, follow_redirects=False)
    assert "Basic" not in ",".join(page.headers.get_list("www-authenticate"))
