#!/usr/bin/env bash
# The main job: install what is missing, start the local PostGIS, migrate, load the Beihai sample, serve.
# Extra arguments go to `geo-safety serve` (e.g. --host 0.0.0.0 --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
gs=.venv/bin/geo-safety
$gs db start
$gs db migrate
$gs sample load --if-empty
$gs users demo
exec $gs serve "$@"
