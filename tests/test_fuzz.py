"""Schemathesis against the service's own OpenAPI, as every role: no 5xx, no response breaking its schema.

Bounded (a few examples per operation and role) so it stays in the ordinary test run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from sqlalchemy import Engine

from geo_safety.api.app import create_app
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.settings import Settings
from tests.browser import live_server
from tests.conftest import fresh_sample

# the schema only: building the app does not connect to any database
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="postgresql://nobody@127.0.0.1/none")).openapi()
)
ROLES = {"inspector": ("450521",), "planner": (), "viewer": (), "admin": ()}
FUZZED: list[int] = []


@pytest.fixture(scope="module")
def fuzz_target(session_engine: Engine, settings: Settings, data_dir: Path):
    fresh_sample(session_engine, data_dir)
    tokens = {
        role: users.add_user(session_engine, settings, Actor("fuzz"), f"fuzz-{role}", role, d).token
        for role, d in ROLES.items()
    }
    with live_server(settings) as base:
        yield base, tokens
    (Path(__file__).parent.parent / ".pytest-fuzz-count").write_text(f"{len(FUZZED)}\n")


# the HTML map pages (seconds each to render) are exercised by the browser tests instead
@schema.exclude(path_regex="^/maps/").parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors_for_any_role(case, fuzz_target) -> None:
    base, tokens = fuzz_target
    for token in tokens.values():
        response = case.call(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        FUZZED.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
