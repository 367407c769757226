"""QGIS as a planner uses it (issue 19): Debian's QGIS (``python3-qgis``, run headless with the system Python in
a subprocess: the project's venv is another Python) reads every OGC API collection with a Basic authentication
configuration of user + API token, and opens the project ``geo-safety qgis-project`` writes."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import Engine, text

from geo_safety import qgis_project
from geo_safety.cli import main
from geo_safety.maps import styles
from geo_safety.services import ogc, users
from geo_safety.services.audit import Actor
from geo_safety.settings import Settings
from tests.browser import live_server
from tests.conftest import fresh_sample

SYSTEM_PYTHON = "/usr/bin/python3"
#: Set to a path to keep the rendered project as a picture (the README's docs/qgis-layers.png is made so).
SCREENSHOT_ENV = "GEO_SAFETY_QGIS_SCREENSHOT"

DRIVER = textwrap.dedent(
    """
    import json, sys
    from qgis.core import (QgsApplication, QgsAuthMethodConfig, QgsLayoutExporter, QgsLayoutItemLegend,
                           QgsLayoutItemMap, QgsLayoutPoint, QgsLayoutSize, QgsLegendStyle, QgsPrintLayout,
                           QgsProject, QgsRectangle, QgsUnitTypes, QgsVectorLayer)
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    job = json.loads(sys.argv[1])
    app = QgsApplication([], False)
    app.initQgis()
    auth = QgsApplication.authManager()
    out = {"stored": auth.setMasterPassword(job["master"], True), "layers": {}, "project": None, "log": []}
    # (an invalid OAPIF layer's error() crashes QGIS 3.22: its messages are taken from the log instead)
    QgsApplication.messageLog().messageReceived.connect(lambda message, tag, level: out["log"].append(message))
    for cfg in job["configs"]:
        config = QgsAuthMethodConfig("Basic")
        config.setId(cfg["id"])
        config.setName(cfg["id"])
        config.setConfig("username", cfg["user"])
        config.setConfig("password", cfg["password"])
        stored = auth.storeAuthenticationConfig(config)  # PyQGIS 3.22: (ok, config)
        out["stored"] = out["stored"] and bool(stored[0] if isinstance(stored, tuple) else stored)

    def describe(layer, count=True):
        valid = layer.isValid()
        return {
            "valid": valid,
            "count": sum(1 for _ in layer.getFeatures()) if valid and count else None,
            "crs": layer.crs().authid(),
            "fields": [f.name() for f in layer.fields()],
            "renderer": layer.renderer().type() if valid and layer.renderer() else None,
            "legend": [item.label() for item in layer.renderer().legendSymbolItems()] if valid else [],
            "labels": layer.labelsEnabled(),
        }

    for name, uri in job["layers"].items():
        out["layers"][name] = describe(QgsVectorLayer(uri, name, "OAPIF"), job.get("count", True))
    if job.get("project"):
        project = QgsProject.instance()
        ok = project.read(job["project"])
        root = project.layerTreeRoot()
        groups = {g.name(): [n.name() for n in g.findLayers()] for g in root.children() if hasattr(g, "addGroup")}
        layers = {layer.name(): describe(layer) for layer in project.mapLayers().values()}
        out["project"] = {"read": ok, "groups": groups, "layers": layers}
        if job.get("png"):  # the map beside its legend (the layer tree: groups, Chinese names, symbols)
            layout = QgsPrintLayout(project)
            layout.initializeDefaults()
            page = layout.pageCollection().page(0)
            page.setPageSize(QgsLayoutSize(*job["size"], QgsUnitTypes.LayoutMillimeters))
            chart = QgsLayoutItemMap(layout)
            chart.attemptMove(QgsLayoutPoint(0, 0, QgsUnitTypes.LayoutMillimeters))
            chart.attemptResize(QgsLayoutSize(job["size"][0] - 92, job["size"][1], QgsUnitTypes.LayoutMillimeters))
            chart.setLayers([n.layer() for n in root.findLayers() if n.isVisible()])
            chart.setExtent(QgsRectangle(*job["extent"]))
            chart.setBackgroundColor(QColor("#f4f6f7"))
            layout.addLayoutItem(chart)
            legend = QgsLayoutItemLegend(layout)
            legend.setTitle("图层 Layers")
            legend.setLinkedMap(chart)
            legend.setAutoUpdateModel(True)
            legend.attemptMove(QgsLayoutPoint(job["size"][0] - 90, 2, QgsUnitTypes.LayoutMillimeters))
            styles = (QgsLegendStyle.Title, QgsLegendStyle.Group, QgsLegendStyle.Subgroup, QgsLegendStyle.SymbolLabel)
            for style in styles:
                font = legend.style(style).font()
                font.setFamily("Noto Sans CJK SC")
                legend.rstyle(style).setFont(font)
            layout.addLayoutItem(legend)
            image = QgsLayoutExporter(layout).renderPageToImage(0, QSize(), 110)
            out["png"] = image.save(job["png"], "PNG")
            colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
            out["colours"] = len(colours)
    print("RESULT " + json.dumps(out, ensure_ascii=False))
    app.exitQgis()
    """
)


def _qgis_missing() -> str | None:
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} (Debian's Python, which python3-qgis serves) is not installed"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, check=False)
    if probe.returncode:
        return "QGIS's Python API is not importable (install Debian's python3-qgis: scripts/setup.sh --test)"
    return None


_MISSING = _qgis_missing()


def needs_qgis(test):
    """A real server and QGIS: the browser lane (like Chromium); skipped with the reason without QGIS."""
    return pytest.mark.browser(pytest.mark.skipif(bool(_MISSING), reason=_MISSING or "")(test))


def run_qgis(job: dict, home: Path) -> dict:
    """Run QGIS headless in a subprocess with its own profile and auth database under ``home``."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home),
        "QGIS_AUTH_DB_DIR_PATH": str(home) + "/",
        "QGIS_CUSTOM_CONFIG_PATH": str(home),
    }
    env.pop("PYTHONPATH", None)
    script = home / "driver.py"
    script.write_text(DRIVER)
    done = subprocess.run(
        [SYSTEM_PYTHON, str(script), json.dumps(job)], capture_output=True, text=True, env=env, timeout=600, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


@pytest.fixture(scope="module")
def service(session_engine: Engine, data_dir: Path, settings: Settings):
    fresh_sample(session_engine, data_dir)
    planner = users.add_user(session_engine, settings, Actor("t"), "规划-李", "planner")
    with live_server(settings) as base:
        yield base, planner


def expected_counts(base: str, token: str) -> dict[str, int]:
    """Rows in the database for the tables; the query collections as the service counts them."""
    import httpx

    counts = {}
    for collection in ogc.COLLECTIONS:
        answer = httpx.get(
            f"{base}/collections/{collection}/items",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        counts[collection] = answer.json()["numberMatched"]
    return counts


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: conn.execute(text(f"SELECT count(*) FROM {table} WHERE {condition}")).scalar_one()
            for table, condition in (
                ("districts", "true"),
                ("schools", "true"),
                ("premises", "true"),
                ("water_hazards", "deleted_at IS NULL"),
            )
        }


@needs_qgis
def test_qgis_reads_every_collection_with_basic_user_and_token(service, session_engine: Engine, tmp_path) -> None:
    base, planner = service
    uri = "url='{base}' typename='{c}' authcfg='{cfg}'"
    job = {
        "master": "master-password-for-the-test",
        "configs": [
            {"id": "gstoken", "user": planner.name, "password": planner.token},
            {"id": "gswrong", "user": planner.name, "password": "gs_" + "x" * 43},
            {"id": "gspassw", "user": planner.name, "password": planner.password},
        ],
        "layers": {
            **{c: uri.format(base=base, c=c, cfg="gstoken") for c in ogc.COLLECTIONS},
            "wrong-token": uri.format(base=base, c="schools", cfg="gswrong"),
            "login-password": uri.format(base=base, c="schools", cfg="gspassw"),
        },
    }
    result = run_qgis(job, tmp_path / "qgis")
    assert result["stored"], "the Basic configurations were not stored in the temporary auth database"
    expected = expected_counts(base, planner.token)
    assert {k: v for k, v in expected.items() if k in table_counts(session_engine)} == table_counts(session_engine)
    for collection in ogc.COLLECTIONS:
        layer = result["layers"][collection]
        assert layer["valid"], (collection, result["log"])
        assert layer["count"] == expected[collection] > 0, collection
        assert layer["crs"] == "EPSG:4326"
    assert "students" in result["layers"]["schools"]["fields"]
    assert not result["layers"]["wrong-token"]["valid"]
    assert not result["layers"]["login-password"]["valid"]
    with session_engine.connect() as conn:
        refused = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'login.failed' AND actor = :a"), {"a": planner.name}
        ).scalar_one()
    assert refused >= 2  # both refusals counted in the login limits


@needs_qgis
def test_generated_project_opens_with_every_layer_valid(service, tmp_path: Path, capsys) -> None:
    base, planner = service
    out = tmp_path / "校园安全.qgz"
    assert main(["qgis-project", "--out", str(out), "--url", base]) == 0
    assert "gsafety" in capsys.readouterr().out
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        document = ET.fromstring(archive.read(names[0]))
    assert names == ["校园安全.qgs"]
    assert {e.text.split("typename='")[1].split("'")[0] for e in document.iter("datasource")} == set(ogc.COLLECTIONS)
    png = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "layers.png")
    job = {
        "master": "another-master-password",
        "configs": [{"id": qgis_project.AUTHCFG, "user": planner.name, "password": planner.token}],
        "layers": {},
        "project": str(out),
        "png": str(png),
        "extent": [109.05, 21.38, 109.21, 21.545],
        "size": [300, 230],
    }
    result = run_qgis(job, tmp_path / "qgis")
    project = result["project"]
    assert project["read"]
    expected_names = {spec.name for _, specs in qgis_project.layer_specs() for spec in specs}
    assert set(project["layers"]) == expected_names
    for name, layer in project["layers"].items():
        assert layer["valid"], (name, result["log"])
        assert layer["count"] > 0, name
    assert project["groups"] == {group: [spec.name for spec in specs] for group, specs in qgis_project.layer_specs()}
    due = project["layers"]["待检查对象 Due inspections"]
    assert due["renderer"] == "categorizedSymbol" and styles.REASON_CN["overdue"] in due["legend"]
    zones = project["layers"]["危险水域 Water hazard zones"]
    assert zones["renderer"] == "RuleRenderer" and zones["labels"]
    assert project["layers"]["溺水隐患点 Drowning hotspots"]["renderer"] == "graduatedSymbol"
    assert result["png"] and result["colours"] > 8 and png.stat().st_size > 20_000


def test_project_xml_escapes_and_checks_its_inputs(tmp_path: Path) -> None:
    document = qgis_project.project_xml("https://gis.example/a'b&c<d>")
    root = ET.fromstring(document.split(b"\n", 1)[1])
    sources = {e.text for e in root.iter("datasource")}
    assert "pageSize='1000' url='https://gis.example/a\\'b&c<d>' typename='schools' authcfg='gsafety'" in sources
    with pytest.raises(ValueError, match="7 letters"):
        qgis_project.project_xml("http://x", authcfg="x' y")
    with pytest.raises(ValueError, match="http"):
        qgis_project.project_xml("javascript:alert(1)")
    plain = qgis_project.write_project(tmp_path / "p.qgs", "http://127.0.0.1:8000")
    assert plain.read_bytes().startswith(b"<!DOCTYPE qgis")
