#!/usr/bin/env bash
# The whole test suite against a real PostGIS in throwaway databases (never the data in .geo_safety/).
# Runs ruff and mypy first. Extra arguments go to pytest (e.g. -k imports -x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/mypy geo_safety
exec .venv/bin/python -m pytest "$@"
