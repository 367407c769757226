"""Imports never reach beyond the uploaded file: no server files, no network, no GDAL format guessing.

Each test is a reproduced attack (security review, issue 13 finding 1; findings 10 and 13): the file or its
name tries to make GDAL read another file or fetch a URL; the import must be refused with a short reason that
quotes nothing it read, names the upload by its own name (never a server path) and changes no table.
"""

from __future__ import annotations

import http.server
import json
import secrets
import sqlite3
import stat
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from geo_safety.api.app import create_app
from geo_safety.errors import ImportRejected, InvalidInput
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.services.imports import load_file
from geo_safety.settings import Settings
from tests.conftest import table_checksums
from tests.world import hazards_frame, write

SECRET = "root:x:0:0:root:/root:/bin/bash"


def vrt(source: str, layer: str = "passwd") -> str:
    return (
        f'<OGRVRTDataSource><OGRVRTLayer name="{layer}"><SrcDataSource>{source}</SrcDataSource>'
        f"<SrcLayer>{layer}</SrcLayer></OGRVRTLayer></OGRVRTDataSource>"
    )


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """A stand-in for /etc/passwd that holds a marker (the real one is tried too, where it matters)."""
    path = tmp_path / "secret" / "passwd.csv"
    path.parent.mkdir()
    path.write_text(f"id,name,kind,lon,lat\n{SECRET},x,pond,109.2,21.66\n")
    return path


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def _answer(self) -> None:
        self.hits.append(self.path)
        body = f"id,name\n{SECRET},x\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[int, list[str]]]:
    """A local HTTP server on a free port that records every request it receives."""
    hits: list[str] = []
    handler = type("Recorder", (_Recorder,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()


def refused(engine: Engine, layer: str, path: Path | str, **options: object) -> str:
    """Load ``path``; assert it is refused, changes nothing and leaks nothing; return the message."""
    before = table_checksums(engine)
    with pytest.raises(InvalidInput) as caught:
        load_file(engine, layer, path, datum="wgs84", **options)
    message = str(caught.value)
    assert "root:" not in message and "/bin/bash" not in message
    assert tempfile.gettempdir() not in message
    assert len(message) < 400
    assert table_checksums(engine) == before
    return message


# -- VRT and GDAL prefixes inside files --------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".geojson", ".json", ".kml", ".gpkg", ".csv"])
def test_vrt_content_under_any_name_reads_no_server_file(beihai: Engine, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"zones{suffix}"
    path.write_text(vrt("CSV:/etc/passwd"))
    message = refused(beihai, "water_hazards", path)
    assert message.startswith(f"zones{suffix}: ")


def test_vrt_reading_a_marked_file_is_refused(beihai: Engine, tmp_path: Path, secret_file: Path) -> None:
    path = tmp_path / "zones.geojson"
    path.write_text(vrt(f"CSV:{secret_file}", "passwd"))
    assert "GeoJSON" in refused(beihai, "water_hazards", path)


@pytest.mark.parametrize("suffix", [".geojson", ".kml", ".csv"])
def test_vsicurl_in_a_file_makes_no_request(
    beihai: Engine, tmp_path: Path, http_server: tuple[int, list[str]], suffix: str
) -> None:
    port, hits = http_server
    path = tmp_path / f"zones{suffix}"
    path.write_text(vrt(f"CSV:/vsicurl/http://127.0.0.1:{port}/health?x=.csv", "health"))
    refused(beihai, "water_hazards", path)
    assert hits == []


def test_gdal_algorithm_json_runs_nothing(beihai: Engine, tmp_path: Path, secret_file: Path) -> None:
    path = tmp_path / "zones.geojson"
    pipeline = f"gdal vector pipeline ! read CSV:{secret_file} ! write --of stream streamed_dataset"
    path.write_text(json.dumps({"type": "gdal_streamed_alg", "command_line": pipeline}))
    refused(beihai, "water_hazards", path)


def test_geojson_crs_link_fetches_nothing(beihai: Engine, tmp_path: Path, http_server: tuple[int, list[str]]) -> None:
    port, hits = http_server
    path = write(hazards_frame(), tmp_path / "zones.geojson")
    data = json.loads(path.read_text())
    data["crs"] = {"type": "link", "properties": {"href": f"http://127.0.0.1:{port}/crs.wkt", "type": "ogcwkt"}}
    path.write_text(json.dumps(data))
    try:  # GDAL may ignore the link or refuse the file: either way it asks nobody
        load_file(beihai, "water_hazards", path, datum="wgs84")
    except InvalidInput as exc:
        assert tempfile.gettempdir() not in str(exc)
    assert hits == []


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("id,name,kind\nA,b,pond\n", "CSV"),
        ('<?xml version="1.0"?>\n<gpx version="1.1"></gpx>\n', "XML"),
        ("SQLite format 3\0" + "\0" * 100, "SQLite"),
    ],
)
def test_content_that_is_not_what_the_name_says_is_refused(
    beihai: Engine, tmp_path: Path, content: str, said: str
) -> None:
    path = tmp_path / "zones.geojson"
    path.write_text(content)
    assert "not GeoJSON" in refused(beihai, "water_hazards", path)


# -- file names given to the command line --------------------------------------------------------------
def test_csv_prefix_in_a_command_line_name_reads_the_named_file(
    beihai: Engine, tmp_path: Path, secret_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``geo-safety load … 'CSV:/…/x.geojson'`` means the local file of that name, never GDAL's CSV: prefix."""
    folder = tmp_path / "cwd"
    name = f"CSV:{secret_file.with_suffix('.geojson')}"
    secret_file.with_suffix(".geojson").write_text(secret_file.read_text())
    (folder / name).parent.mkdir(parents=True)
    write(hazards_frame(), folder / name)
    monkeypatch.chdir(folder)
    result = load_file(beihai, "water_hazards", name, datum="wgs84")
    assert result.inserted == 2 and result.file_name == Path(name).name


@pytest.mark.parametrize("prefix", ["/vsicurl/http://127.0.0.1:{port}/", "/vsimem/", "/vsistdin/", "GPKG:"])
def test_vsi_and_driver_prefixes_in_a_command_line_name(
    beihai: Engine, http_server: tuple[int, list[str]], prefix: str
) -> None:
    port, hits = http_server
    message = refused(beihai, "water_hazards", prefix.format(port=port) + "zones.geojson")
    assert "not found" in message
    assert hits == []


def test_a_plain_shp_that_is_a_vrt_is_refused(beihai: Engine, tmp_path: Path, secret_file: Path) -> None:
    folder = tmp_path / "shape"
    folder.mkdir()
    (folder / "zones.shp").write_text(vrt(f"CSV:{secret_file}", "passwd"))
    assert "not a Shapefile" in refused(beihai, "water_hazards", folder / "zones.shp")


def test_a_plain_shapefile_with_its_sidecars_still_loads(beihai: Engine, tmp_path: Path) -> None:
    folder = write(hazards_frame(), tmp_path / "zones.zip").with_suffix("")
    result = load_file(
        beihai, "water_hazards", folder / "layer.shp", datum="wgs84", rename={"responsibl": "responsible_person"}
    )
    assert result.inserted == 2


# -- zipped Shapefiles ---------------------------------------------------------------------------------
def _zip_with(path: Path, members: dict[str, bytes], *, symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


def _shapefile_parts(tmp_path: Path) -> dict[str, bytes]:
    folder = write(hazards_frame(), tmp_path / "parts.zip").with_suffix("")
    return {p.suffix: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("member", ["../layer", "/etc/layer", "a/../../layer", "C:\\layer", "..\\layer"])
def test_zip_members_outside_the_archive_are_refused(beihai: Engine, tmp_path: Path, member: str) -> None:
    parts = _shapefile_parts(tmp_path)
    upload = tmp_path / "up" / "zones.zip"
    upload.parent.mkdir()
    _zip_with(upload, {member + suffix: data for suffix, data in parts.items()})
    message = refused(beihai, "water_hazards", upload, rename={"responsibl": "responsible_person"})
    assert "zones.zip: " in message and "member" in message
    assert not (tmp_path / "layer.shp").exists() and not (upload.parent.parent / "layer.shp").exists()


def test_zip_symlink_members_are_refused(beihai: Engine, tmp_path: Path) -> None:
    parts = _shapefile_parts(tmp_path)
    upload = _zip_with(
        tmp_path / "zones.zip", {f"layer{s}": d for s, d in parts.items() if s != ".dbf"}, symlink="layer.dbf"
    )
    assert "link" in refused(beihai, "water_hazards", upload)


def test_zipped_shp_that_is_a_vrt_is_refused(beihai: Engine, tmp_path: Path, secret_file: Path) -> None:
    upload = _zip_with(tmp_path / "zones.zip", {"layer.shp": vrt(f"CSV:{secret_file}").encode()})
    assert "not a Shapefile" in refused(beihai, "water_hazards", upload)


def test_zip_with_other_formats_inside_is_refused(beihai: Engine, tmp_path: Path) -> None:
    inner = write(hazards_frame(), tmp_path / "inner.geojson").read_bytes()
    upload = _zip_with(tmp_path / "zones.zip", {"zones.geojson": inner, "x.vrt": vrt("CSV:/etc/passwd").encode()})
    assert "no .shp" in refused(beihai, "water_hazards", upload)


def test_zipped_shapefile_in_a_folder_loads(beihai: Engine, tmp_path: Path) -> None:
    parts = _shapefile_parts(tmp_path)
    upload = _zip_with(
        tmp_path / "zones.zip",
        {
            **{f"export/zones{s}": d for s, d in parts.items()},
            "__MACOSX/export/._zones.shp": b"junk",
            "readme.txt": b"",
        },
    )
    result = load_file(beihai, "water_hazards", upload, datum="wgs84", rename={"responsibl": "responsible_person"})
    assert result.inserted == 2


# -- KML -------------------------------------------------------------------------------------------------
def _kml(tmp_path: Path) -> str:
    return write(hazards_frame(), tmp_path / "good.kml").read_text()


def test_kml_with_an_external_entity_is_refused(beihai: Engine, tmp_path: Path) -> None:
    text = _kml(tmp_path).replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE kml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    )
    text = text.replace("<name>甲池塘</name>", "<name>&xxe;</name>")
    path = tmp_path / "zones.kml"
    path.write_text(text)
    assert "DOCTYPE" in refused(beihai, "water_hazards", path)


def test_kml_network_link_fetches_nothing(beihai: Engine, tmp_path: Path, http_server: tuple[int, list[str]]) -> None:
    port, hits = http_server
    link = f"<NetworkLink><Link><href>http://127.0.0.1:{port}/more.kml</href></Link></NetworkLink>"
    path = tmp_path / "zones.kml"
    path.write_text(_kml(tmp_path).replace("</Document>\n</kml>", link + "</Document>\n</kml>"))
    assert "NetworkLink" in refused(beihai, "water_hazards", path)
    assert hits == []


def test_kml_xinclude_is_refused(beihai: Engine, tmp_path: Path) -> None:
    path = tmp_path / "zones.kml"
    include = '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/>'
    path.write_text(_kml(tmp_path).replace("</Document>\n</kml>", include + "</Document>\n</kml>"))
    assert "include" in refused(beihai, "water_hazards", path)


def test_kml_with_a_vrt_comment_before_the_root_is_refused(beihai: Engine, tmp_path: Path) -> None:
    path = tmp_path / "zones.kml"
    path.write_text(_kml(tmp_path).replace("<kml ", f"<!-- {vrt('CSV:/etc/passwd')} -->\n<kml ", 1))
    refused(beihai, "water_hazards", path)


# -- GeoPackage and SQLite -------------------------------------------------------------------------------
def _gpkg(tmp_path: Path) -> Path:
    return write(hazards_frame(), tmp_path / "zones.gpkg")


def test_plain_sqlite_named_gpkg_is_refused(beihai: Engine, tmp_path: Path) -> None:
    path = tmp_path / "zones.gpkg"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    assert "not a GeoPackage" in refused(beihai, "water_hazards", path)


def test_gpkg_with_a_view_layer_is_refused(beihai: Engine, tmp_path: Path) -> None:
    path = _gpkg(tmp_path)
    with sqlite3.connect(path) as db:
        db.execute("CREATE VIEW zones_v AS SELECT *, ogr_geocode('x') AS g FROM zones")
        db.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
            "VALUES ('zones_v', 'features', 'zones_v', 4326)"
        )
        db.execute("DELETE FROM gpkg_contents WHERE table_name = 'zones'")
    db.close()
    assert "view" in refused(beihai, "water_hazards", path)


def test_gpkg_with_an_external_virtual_table_is_refused(beihai: Engine, tmp_path: Path, secret_file: Path) -> None:
    path = _gpkg(tmp_path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA writable_schema = ON")
    db.execute(
        "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) VALUES ('table', 'leak', 'leak', 0, ?)",
        (f"CREATE VIRTUAL TABLE leak USING VirtualOGR('{secret_file}')",),
    )
    db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier) VALUES ('leak', 'attributes', 'leak')")
    db.commit()
    db.close()
    assert "virtual table" in refused(beihai, "water_hazards", path)


def test_gpkg_with_a_generated_column_is_refused(beihai: Engine, tmp_path: Path) -> None:
    path = _gpkg(tmp_path)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE extra (fid INTEGER PRIMARY KEY, g TEXT GENERATED ALWAYS AS (hex(fid)))")
    db.close()
    assert "generated column" in refused(beihai, "water_hazards", path)


def test_a_normal_gpkg_still_loads(beihai: Engine, tmp_path: Path) -> None:
    assert load_file(beihai, "water_hazards", _gpkg(tmp_path), datum="wgs84").inserted == 2


# -- the API: planner uploads, encodings, messages --------------------------------------------------------
@pytest.fixture
def planner(beihai: Engine, settings: Settings) -> dict[str, str]:
    name = f"planner{secrets.token_hex(4)}"  # users outlive the per-test truncation
    creds = users.add_user(beihai, settings, Actor("test-setup", "pytest"), name, "planner")
    return {"Authorization": f"Bearer {creds.token}"}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


URL = "/api/v1/imports/water_hazards?datum=wgs84"


def test_api_vrt_upload_reads_no_server_file(
    beihai: Engine, client: TestClient, planner: dict[str, str], http_server: tuple[int, list[str]]
) -> None:
    port, hits = http_server
    before = table_checksums(beihai)
    for source in ("CSV:/etc/passwd", f"CSV:/vsicurl/http://127.0.0.1:{port}/health?x=.csv"):
        response = client.post(URL, headers=planner, files={"file": ("zones.geojson", vrt(source).encode())})
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert detail.startswith("zones.geojson: ")
        assert "root:" not in detail and "gs-upload" not in detail and tempfile.gettempdir() not in detail
    assert hits == []
    assert table_checksums(beihai) == before


@pytest.mark.parametrize("content", [b"hello world\n", b'{"type": "FeatureCollection", "features": [', b"\x00\x01"])
def test_api_error_messages_name_the_upload_not_a_server_path(
    beihai: Engine, client: TestClient, planner: dict[str, str], content: bytes
) -> None:
    response = client.post(URL, headers=planner, files={"file": ("zones.geojson", content)})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("zones.geojson: ") and detail.endswith("Nothing was loaded.")
    assert "gs-upload" not in detail and tempfile.gettempdir() not in detail and "/vsi" not in detail


@pytest.mark.parametrize("encoding", ["rot13", "zlib", "hex", "base64", "bz2", "uu", "nonesuch"])
def test_api_non_text_encodings_are_a_client_error(
    beihai: Engine, client: TestClient, planner: dict[str, str], tmp_path: Path, encoding: str
) -> None:
    csv = write(hazards_frame(), tmp_path / "zones.csv").read_bytes()
    for name, content in (
        ("zones.csv", csv),
        ("zones.geojson", write(hazards_frame(), tmp_path / "z.geojson").read_bytes()),
    ):
        response = client.post(f"{URL}&encoding={encoding}", headers=planner, files={"file": (name, content)})
        assert response.status_code == 422, response.text
        assert "encoding" in response.json()["detail"]


def test_api_text_encodings_still_work(
    beihai: Engine, client: TestClient, planner: dict[str, str], tmp_path: Path
) -> None:
    csv = write(hazards_frame(), tmp_path / "zones.csv").read_text().encode("gbk")
    response = client.post(f"{URL}&encoding=GBK", headers=planner, files={"file": ("zones.csv", csv)})
    assert response.status_code == 201, response.text


def test_service_rejects_non_text_encoding(beihai: Engine, tmp_path: Path) -> None:
    path = write(hazards_frame(), tmp_path / "zones.csv")
    with pytest.raises(ImportRejected, match=r"zones\.csv: 'rot13' is not a text encoding"):
        load_file(beihai, "water_hazards", path, datum="wgs84", encoding="rot13")


def test_utf16_csv_loads_when_its_encoding_is_declared(beihai: Engine, tmp_path: Path) -> None:
    path = write(hazards_frame(), tmp_path / "zones.csv")
    path.write_bytes(path.read_text().encode("utf-16"))
    assert "binary" in refused(beihai, "water_hazards", path)
    assert load_file(beihai, "water_hazards", path, datum="wgs84", encoding="utf-16").inserted == 2


def test_zipped_shapefile_with_a_declared_encoding_still_loads(beihai: Engine, tmp_path: Path) -> None:
    path = write(hazards_frame(), tmp_path / "zones.zip")
    result = load_file(
        beihai, "water_hazards", path, datum="wgs84", encoding="gbk", rename={"responsibl": "responsible_person"}
    )
    assert result.inserted == 2
