"""Decide what an import file is from its bytes, and refuse anything that could reach beyond the file.

GDAL picks a driver by probing the content, and several drivers follow references (VRT sources,
``/vsicurl/`` URLs, GeoJSON CRS links, KML network links, SQLite virtual tables). The service therefore
decides the format itself, checks the structure that GDAL would act on, and only then lets the one
matching driver read the file. Every refusal is a short reason that quotes nothing the file points to.
"""

from __future__ import annotations

import codecs
import json
import mmap
import re
import sqlite3
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import NoReturn
from urllib.parse import quote
from xml.parsers import expat

from geo_safety.errors import ImportRejected

GEOJSON, GPKG, SHAPEFILE, ZIPPED, KML, CSV = "GeoJSON", "GPKG", "ESRI Shapefile", "zipped Shapefile", "KML", "CSV"
#: What the content looks like, in words, for formats the service does not read.
_OTHER = {
    "XML": "XML",
    "JSON": "JSON but not a GeoJSON object",
    "SQLite": "an SQLite database without the GeoPackage id",
    "binary": "binary data",
}
LABELS = {
    GEOJSON: "GeoJSON",
    GPKG: "a GeoPackage",
    SHAPEFILE: "a Shapefile",
    ZIPPED: "a zipped Shapefile",
    KML: "KML",
    CSV: "CSV text",
}
_HEAD_BYTES = 64 * 1024
_SHP_MAGIC = b"\x00\x00\x27\x0a"
_DBF_VERSIONS = {0x02, 0x03, 0x04, 0x05, 0x30, 0x31, 0x32, 0x43, 0x63, 0x83, 0x8B, 0x8E, 0xCB, 0xE5, 0xF5, 0xFB}
_GPKG_IDS = {b"GPKG", b"GP10", b"GP11"}
_VIRTUAL_MODULE = re.compile(
    r'(?is)\s*CREATE\s+VIRTUAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:"[^"]*"|`[^`]*`|\[[^\]]*\]|\w+)\s+USING\s+(\w+)\s*\('
)
SHAPE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def describe(kind: str) -> str:
    return _OTHER.get(kind) or LABELS[kind]


def sniff(path: Path, encoding: str | None = None) -> str:
    """The format the content is: one of the constants above, or a key of ``_OTHER``.

    ``encoding`` (a text encoding the caller declared) lets UTF-16 text count as text.
    """
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ZIPPED
    if head.startswith(b"SQLite format 3\x00"):
        return GPKG if head[68:72] in _GPKG_IDS else "SQLite"
    if head.startswith(_SHP_MAGIC):
        return SHAPEFILE
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        return _wide_csv(head, encoding) if encoding else "binary"
    return _sniff_text(head.removeprefix(b"\xef\xbb\xbf").lstrip())


def _wide_csv(head: bytes, encoding: str) -> str:
    """CSV in a declared wide encoding (UTF-16 from Excel); anything else in one is refused as binary."""
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeError:
        return "binary"
    kind = _sniff_text(text.removeprefix("\ufeff").lstrip().encode())
    return CSV if kind == CSV and "\x00" not in text else "binary"


def _sniff_text(text: bytes) -> str:
    if text.startswith(b"{"):
        return GEOJSON
    if text.startswith(b"["):
        return "JSON"
    if text.startswith(b"<"):
        return KML if re.match(rb"<(\?xml[^>]*\?>\s*)?<kml[\s>]", text) else "XML"
    return CSV


# -- GeoJSON ---------------------------------------------------------------------------------------------
_CRS_HINT = re.compile(rb"(?i)crs|\\u00")
_STRING = re.compile(rb'"((?:[^"\\]|\\.)*)"(\s*:)?', re.DOTALL)
_SAFE_CRS_TYPES = {"name", "epsg"}


def check_geojson(path: Path, name: str) -> None:
    """Refuse a ``crs`` member (at any depth) that GDAL would fetch: only named or EPSG CRSs are read.

    Files without the letters ``crs`` and without ``\\u`` escapes cannot hold such a member; only
    those are scanned token by token.
    """
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if not _CRS_HINT.search(data):
            return
        for match in _STRING.finditer(data):
            if not match.group(2):
                continue
            raw = match.group(1)
            key = _json_string(raw, name) if b"\\" in raw else raw.decode("utf-8", "replace")
            if key.lower() == "crs":
                _check_crs(data, match.end(), name)


def _json_string(raw: bytes, name: str) -> str:
    try:
        key: str = json.loads(b'"' + raw + b'"')  # a quoted JSON literal decodes to a str
        return key
    except ValueError:
        raise ImportRejected(name, "malformed JSON string") from None


def _check_crs(data: mmap.mmap, start: int, name: str) -> None:
    snippet = data[start : start + 65536].decode("utf-8", "replace").lstrip()
    try:
        value, _ = json.JSONDecoder().raw_decode(snippet)
    except ValueError:
        raise ImportRejected(name, "unreadable 'crs' member") from None
    if value is None:
        return
    types = [str(v).lower() for k, v in value.items() if k.lower() == "type"] if isinstance(value, dict) else []
    if not types or any(t not in _SAFE_CRS_TYPES for t in types):
        raise ImportRejected(
            name, "only a named CRS may be given in the file (no linked CRS); the datum is chosen at import"
        )


# -- KML ---------------------------------------------------------------------------------------------------
class _KmlRefused(Exception):
    pass


def check_kml(path: Path, name: str) -> None:
    """Parse the whole file: a ``<kml>`` root first, no DTD/entities, no network links, no XInclude."""
    parser = expat.ParserCreate(namespace_separator=" ")
    state = {"root": False}

    def refuse(reason: str) -> NoReturn:
        raise _KmlRefused(reason)

    def start(tag: str, _attrs: dict[str, str]) -> None:
        namespace, _, local = tag.rpartition(" ")
        if not state["root"]:
            if local != "kml" or parser.CurrentByteIndex > 1024:
                refuse("the file does not start with a <kml> element")
            state["root"] = True
        if local == "NetworkLink":
            refuse("NetworkLink elements are not allowed (they make the server fetch other files)")
        if namespace.startswith("http://www.w3.org/2001/XInclude") or local == "include":
            refuse("xi:include elements (XInclude) are not allowed")

    def before_root(*_args: object) -> None:
        if not state["root"]:
            refuse("the file does not start with a <kml> element")

    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = lambda *_: refuse("DOCTYPE and ENTITY declarations are not allowed")
    parser.EntityDeclHandler = lambda *_: refuse("DOCTYPE and ENTITY declarations are not allowed")
    parser.ExternalEntityRefHandler = lambda *_: refuse("external entities are not allowed")
    parser.CommentHandler = before_root
    parser.ProcessingInstructionHandler = before_root
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _KmlRefused as exc:
        raise ImportRejected(name, str(exc)) from None
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code)
        raise ImportRejected(name, f"not well-formed KML ({reason}, line {exc.lineno}); save it as UTF-8") from None
    if _contains(path, b"<OGRVRTDataSource"):
        raise ImportRejected(name, "the file holds a GDAL VRT definition")


def _contains(path: Path, needle: bytes) -> bool:
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return data.find(needle) >= 0


# -- GeoPackage --------------------------------------------------------------------------------------------
def check_gpkg(path: Path, name: str) -> None:
    """Only plain tables: no views, no virtual tables but the R-tree index, no generated columns.

    Views and generated columns run SQL on read; virtual tables can open other files. Triggers stay:
    they only fire on writes, and the file is opened read-only.
    """
    try:
        db = sqlite3.connect(f"file:{quote(str(path))}?mode=ro&immutable=1", uri=True)
    except sqlite3.DatabaseError:
        raise ImportRejected(name, "not a readable GeoPackage") from None
    try:
        objects = db.execute("SELECT type, name, rootpage, coalesce(sql, '') FROM sqlite_master").fetchall()
        for kind, table, rootpage, sql in objects:
            if kind == "view":
                raise ImportRejected(name, "the GeoPackage holds a view; only plain tables can be imported")
            if kind != "table":
                continue
            if rootpage == 0 or re.match(r"(?is)\s*CREATE\s+VIRTUAL", sql):  # rootpage 0: a virtual table
                module = _VIRTUAL_MODULE.match(sql)
                if not module or module.group(1).lower() != "rtree":
                    raise ImportRejected(name, "the GeoPackage holds a virtual table other than a spatial index")
                continue
            hidden = db.execute("SELECT hidden FROM pragma_table_xinfo(?)", (table,)).fetchall()
            if any(h in (2, 3) for (h,) in hidden):
                raise ImportRejected(name, "the GeoPackage holds a generated column")
        if not any(kind == "table" and table == "gpkg_contents" for kind, table, _, _ in objects):
            raise ImportRejected(name, "not a GeoPackage (no gpkg_contents table)")
    except sqlite3.DatabaseError as exc:
        raise ImportRejected(name, f"not a readable GeoPackage ({str(exc)[:80]})") from None
    finally:
        db.close()


# -- Shapefiles --------------------------------------------------------------------------------------------
def check_shapefile(parts: dict[str, Path], name: str) -> None:
    """The .shp, .shx and .dbf must be what they claim to be (GDAL would otherwise probe other drivers)."""
    missing = [ext for ext in (".shp", ".shx", ".dbf") if ext not in parts]
    if missing:
        raise ImportRejected(name, f"not a Shapefile: the {', '.join(missing)} part is missing")
    for ext in (".shp", ".shx"):
        with parts[ext].open("rb") as handle:
            header = handle.read(100)
        if len(header) < 100 or not header.startswith(_SHP_MAGIC) or header[28:32] != b"\xe8\x03\x00\x00":
            raise ImportRejected(name, f"not a Shapefile: the {ext} part has no Shapefile header")
    with parts[".dbf"].open("rb") as handle:
        header = handle.read(32)
    if len(header) < 32 or header[0] not in _DBF_VERSIONS:
        raise ImportRejected(name, "not a Shapefile: the .dbf part is not a dBASE table")


def unpack_shapefile(archive_path: Path, folder: Path, name: str, max_bytes: int) -> dict[str, Path]:
    """Copy the one Shapefile in the zip into ``folder`` as ``layer.*``; refuse odd or unsafe members."""
    try:
        with zipfile.ZipFile(archive_path) as archive:
            members = [info for info in archive.infolist() if _wanted(info, name)]
            shps = [info for info in members if info.filename.lower().endswith(".shp")]
            if not shps:
                raise ImportRejected(name, "the zip archive holds no .shp file")
            if len(shps) > 1:
                raise ImportRejected(name, f"the zip archive holds {len(shps)} .shp files; zip one layer")
            stem = shps[0].filename[:-4].lower()
            parts: dict[str, Path] = {}
            written = 0
            for info in members:
                ext = PurePosixPath(info.filename).suffix.lower()
                if info.filename[: -len(ext) or None].lower() != stem or ext not in SHAPE_PARTS or ext in parts:
                    continue
                parts[ext] = folder / f"layer{ext}"
                written += _extract(archive, info, parts[ext], max_bytes - written, name)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
        raise ImportRejected(name, f"not a readable zip archive ({type(exc).__name__})") from None
    return parts


def _wanted(info: zipfile.ZipInfo, name: str) -> bool:
    """False for folders and macOS resource forks; refuses links and names that leave the archive."""
    member = info.filename
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ImportRejected(name, "refusing a zip member that is a symbolic link")
    parts = PurePosixPath(member).parts
    if "\\" in member or ":" in member or "\0" in member or member.startswith("/") or ".." in parts:
        raise ImportRejected(name, "refusing a zip member whose name points outside the archive")
    return not (info.is_dir() or parts[0] == "__MACOSX" or parts[-1].startswith("._"))


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int, name: str) -> int:
    limit = min(info.file_size, budget)
    size = 0
    with archive.open(info) as source, target.open("xb") as out:
        while chunk := source.read(1024 * 1024):
            size += len(chunk)
            if size > limit:
                raise ImportRejected(name, "refusing a zip member larger than it declares")
            out.write(chunk)
    return size
