"""Pages for people: a home page per role, errors as Chinese HTML for browsers (JSON for API clients), the
field app's shell, service worker and manifest under a CSP with no inline script."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from geo_safety.api.app import create_app
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.settings import Settings
from tests.conftest import fresh_sample
from tests.test_access import log_in

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
ROLES = {
    "inspector": ("pages-inspector", ("450502",)),
    "planner": ("pages-planner", ()),
    "viewer": ("pages-viewer", ()),
    "admin": ("pages-admin", ()),
}


@pytest.fixture(scope="module")
def passwords(session_engine: Engine, data_dir: Path, settings: Settings) -> dict[str, str]:
    fresh_sample(session_engine, data_dir)
    return {
        role: users.add_user(session_engine, settings, Actor("t"), name, role, districts).password or ""
        for role, (name, districts) in ROLES.items()
    }


@contextmanager
def _client(settings: Settings, passwords: dict[str, str], role: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        assert log_in(client, ROLES[role][0], passwords[role]).status_code == 303
        yield client


@pytest.mark.parametrize(
    ("role", "first", "absent"),
    [
        ("inspector", "/app/today", "/maps/hazards"),
        ("planner", "/maps/hazards", "/app/today"),
        ("viewer", "/maps/districts", "/app/today"),
        ("admin", "/api/v1/audit", None),
    ],
)
def test_home_page_leads_each_role_to_its_work(
    passwords: dict[str, str], settings: Settings, role: str, first: str, absent: str | None
) -> None:
    with _client(settings, passwords, role) as client:
        page = client.get("/", headers=HTML).text
        assert f'href="{first}"' in page
        primary = re.findall(r'class="tile primary-tile" href="([^"]+)"', page)
        if role != "admin":
            assert primary == [first]  # one big tile, and it is the role's own work
        if absent:
            assert f'href="{absent}"' not in page
        assert 'action="/logout"' in page  # a way out on every page


def test_browser_errors_are_chinese_pages_and_api_errors_stay_json(
    passwords: dict[str, str], settings: Settings
) -> None:
    with _client(settings, passwords, "viewer") as client:
        refused = client.get("/app/today", headers=HTML)
        assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
        assert "没有权限" in refused.text and 'href="/"' in refused.text and "/login?next=" in refused.text
        missing = client.get("/maps/nowhere", headers=HTML)
        assert missing.status_code == 404 and "找不到" in missing.text
        bad = client.get("/maps/districts?date=0001-01-01", headers=HTML)
        assert bad.status_code == 422 and "无法处理" in bad.text
        assert "unsafe-inline" not in bad.headers["content-security-policy"]
        api = client.get("/api/v1/nowhere", headers=HTML)
        assert api.status_code == 404 and api.headers["content-type"].startswith("application/json")
        assert client.get("/app/today").headers["content-type"].startswith("application/json")  # not a browser
    with TestClient(create_app(settings)) as anonymous:
        page = anonymous.get("/collections/premises/items", headers=HTML)
        assert page.status_code == 401 and "需要登录" in page.text


def test_field_app_shell_worker_and_manifest(passwords: dict[str, str], settings: Settings) -> None:
    with _client(settings, passwords, "inspector") as client:
        shell = client.get("/app/today", headers=HTML)
        assert shell.status_code == 200 and '<html lang="zh-CN">' in shell.text and "<title>" in shell.text
        assert "<script>" not in shell.text and " style=" not in shell.text
        policy = shell.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe" not in policy
        worker = client.get("/app/sw.js")
        assert worker.status_code == 200 and worker.headers["content-type"].startswith("text/javascript")
        assert "__VERSION__" not in worker.text and '"/static/app/inspector.js"' in worker.text
        for url in json.loads("[" + worker.text.split("var SHELL = [", 1)[1].split("];", 1)[0] + "]"):
            assert client.get(url).status_code == 200, url  # everything the phone keeps offline exists
        manifest = client.get("/app/manifest.webmanifest").json()
        assert manifest["start_url"] == "/app/today" and manifest["lang"] == "zh-CN"
        assert client.get(manifest["icons"][1]["src"]).headers["content-type"] == "image/png"
