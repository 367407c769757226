#!/usr/bin/env bash
# Install everything geo_safety needs on a fresh Debian/Ubuntu machine. Idempotent: re-runs are quick.
#   scripts/setup.sh          the service: PostgreSQL + PostGIS, a virtual environment, the package
#   scripts/setup.sh --test   also the test tools (headless Chromium, GDAL, QGIS's Python API)
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
apt_updated=""
apt_install() {
    if [ -z "$apt_updated" ]; then $SUDO apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

newest_pg() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 | cut -d/ -f5; }

if [ -z "${GEO_SAFETY_DATABASE_URL:-}" ]; then
    if [ -z "$(newest_pg)" ]; then
        echo "setup: installing PostgreSQL"
        apt_install postgresql
    fi
    pg_version=$(newest_pg)
    if [ ! -f "/usr/share/postgresql/${pg_version}/extension/postgis.control" ]; then
        echo "setup: installing PostGIS for PostgreSQL ${pg_version}"
        apt_install "postgresql-${pg_version}-postgis-3"
    fi
fi

if ! { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null)" ]; }; then
    echo "setup: installing a CJK font (Chinese labels on printed maps)"
    apt_install fontconfig fonts-noto-cjk
fi

if [ "${1:-}" = "--test" ]; then
    if ! command -v chromium >/dev/null 2>&1; then
        echo "setup: installing Chromium (headless browser tests)"
        apt_install chromium
    fi
    if ! command -v ogr2ogr >/dev/null 2>&1; then
        echo "setup: installing GDAL's command-line tools (a standard OGC API client for the tests)"
        apt_install gdal-bin
    fi
    if ! /usr/bin/python3 -c 'import qgis.core' >/dev/null 2>&1; then
        # QGIS 3.22 as planners use it (tests/test_qgis.py); large: ~200 MB download, ~0.9 GB on disk
        echo "setup: installing QGIS's Python API (desktop GIS client for the tests; ~200 MB download)"
        apt_install python3-qgis qgis-providers
    fi
    if ! command -v pdftoppm >/dev/null 2>&1; then
        echo "setup: installing poppler-utils (the tests turn downloaded PDFs into images)"
        apt_install poppler-utils
    fi
fi

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: geo_safety needs Python 3.11 or newer (found $(python3 --version))" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    if ! python3 -m venv .venv 2>/dev/null; then
        apt_install python3-venv
        rm -rf .venv
        python3 -m venv .venv
    fi
fi
stamp=.venv/.geo_safety-installed
wanted=$(sha1sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "setup: installing Python packages into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev]"
    echo "$wanted" > "$stamp"
fi
