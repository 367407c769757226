"""Every 5xx leaves its traceback in the server log under the request's id, and the caller gets that id."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from geo_safety.api.app import create_app
from geo_safety.api.requestlog import JsonFormatter
from geo_safety.settings import Settings


def test_an_unexpected_failure_is_logged_with_its_traceback_and_id(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)

    def boom() -> None:
        raise RuntimeError("a bug the tests put here")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR, "geo_safety"):
        response = client.get("/boom", headers={"X-Request-ID": "field-report-0001"})
        assert response.status_code == 500
        assert response.json()["request_id"] == "field-report-0001"
        assert "a bug" not in response.text  # the trace stays in the log
        assert response.headers["x-request-id"] == "field-report-0001"
        fresh = client.get("/health")
        assert len(fresh.headers["x-request-id"]) == 32  # made by the server when the caller sends none
        for bad in ("x", "a" * 65, "evil\nline"):  # only id-shaped values are taken from callers
            assert client.get("/health", headers={"X-Request-ID": bad}).headers["x-request-id"] != bad
    records = [r for r in caplog.records if r.exc_info and "/boom" in r.getMessage()]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["level"] == "ERROR" and "RuntimeError: a bug the tests put here" in line["traceback"]
    assert line["request_id"] == "field-report-0001"
