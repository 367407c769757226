"""A serving process tunes its garbage collector at start; apps built by tests and tools leave theirs alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from geo_safety.process import GC_THRESHOLDS
from geo_safety.settings import Settings

PROBE = """
import gc, json, sys
from fastapi.testclient import TestClient
from geo_safety.api.app import create_app
from geo_safety.settings import Settings

settings = Settings(database_url=sys.argv[1], home=sys.argv[2])
for serving in (False, True):
    with TestClient(create_app(settings, serving=serving)) as client:
        assert client.get("/health").status_code == 200
        print(json.dumps([serving, list(gc.get_threshold()), gc.get_freeze_count() > 0]))
"""


def test_only_a_serving_app_tunes_the_collector(settings: Settings, tmp_path: Path) -> None:
    # in a child process: freezing the test process's objects would keep every later test's garbage
    done = subprocess.run(
        [sys.executable, "-c", PROBE, settings.database_url or "", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    plain, serving = (json.loads(line) for line in done.stdout.splitlines()[-2:])
    assert plain == [False, [700, 10, 10], False]  # CPython's defaults, nothing frozen
    assert serving == [True, list(GC_THRESHOLDS), True]
