#!/usr/bin/env bash
# Every benchmark of issue 8 side by side in one run; prints the table and writes bench/RESULTS.md.
# Needs the test setup (Chromium, GDAL) and wrk (installed here when missing). Extra arguments go to
# bench.run (e.g. --reuse to keep the worlds an earlier run built).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else sudo apt-get install -y -qq wrk >/dev/null; fi
fi
.venv/bin/geo-safety db start
exec .venv/bin/python -m bench.run "$@"
