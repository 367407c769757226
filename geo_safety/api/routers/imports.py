"""``POST /api/v1/imports/{layer}``: upload a file into a layer (admins; planners for water hazards).

The caller is authenticated and their role checked before a byte of the body is read: an anonymous or
unauthorised upload is answered at once, and nothing of it reaches the disk. (FastAPI would parse an
``UploadFile`` parameter before any dependency ran, so the multipart body is streamed here instead, straight
into the one temporary file.)
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Query, Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from geo_safety.api.deps import EngineDep, SettingsDep, UserDep, actor_of
from geo_safety.api.schemas import ImportOut
from geo_safety.crs import Datum
from geo_safety.errors import Forbidden, InvalidInput, TooLarge
from geo_safety.services.imports import load_file

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])
_MB = 1024 * 1024
FIELD = b"file"
_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary", "description": "the file to load"}},
            }
        }
    },
}


def _safe_name(name: str | None) -> str:
    """The uploaded file's own name (it appears in error messages), reduced to a harmless file name."""
    base = Path(name or "upload").name
    cleaned = re.sub(r"[^\w.\-]", "_", base)[-100:].lstrip(".")
    return cleaned or "upload"


class _FileField:
    """Multipart callbacks that write the part named ``file`` to ``folder`` and skip every other part."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.folder, self.limit = folder, limit
        self.path: Path | None = None
        self.size = 0
        self.complete = False  # the part ended at a boundary (the parser does not check the body's end)
        self.out: IO[bytes] | None = None
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers, self._field, self._value = {}, b"", b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        if options.get(b"name") != FIELD:
            return
        if self.path is not None:
            raise InvalidInput("send one file per upload (the multipart field 'file' came twice)")
        filename = options.get(b"filename", b"").decode("utf-8", "replace")
        self.path = self.folder / _safe_name(filename)
        self.out = self.path.open("wb")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.out is not None:
            self.size += end - start
            if self.size > self.limit:
                raise TooLarge(f"the file is larger than {self.limit // _MB} MB")
            self.out.write(data[start:end])

    def _part_end(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None
            self.complete = True

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None


async def _receive_file(request: Request, folder: Path, limit: int) -> Path:
    """Stream the multipart body into ``folder``; the path of the field ``file``."""
    content_type, options = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise InvalidInput("send the file as multipart/form-data in the field 'file'")
    field = _FileField(folder, limit)
    parser = MultipartParser(options[b"boundary"], field.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise InvalidInput(f"the multipart body is malformed: {exc}") from None
    finally:
        field.close()
    if field.path is None:
        raise InvalidInput("the upload has no multipart field 'file'")
    if not field.complete:
        raise InvalidInput("the multipart body ended before the file did")
    return field.path


@router.post("/{layer}", status_code=201, openapi_extra={"requestBody": _BODY})
async def import_file(
    layer: Literal["schools", "school_campuses", "premises", "water_hazards", "inspections"],
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    datum: Annotated[Datum, Query(description="datum of the file's coordinates")],
    mode: Annotated[Literal["append", "upsert", "replace"], Query()] = "append",
    repair: bool = False,
    encoding: Annotated[str | None, Query(max_length=20, pattern=r"^[A-Za-z0-9_\-]+$")] = None,
) -> ImportOut:
    """The file goes in the multipart field ``file``. All or nothing: a bad row rejects the file (422, naming
    the row and field) and nothing changes. The caller and role are checked before the body is read."""
    action = "import_hazards" if layer == "water_hazards" else "import"
    if not user.may(action):
        raise Forbidden(f"the role '{user.role.value}' may not import {layer}")
    with tempfile.TemporaryDirectory(prefix="gs-upload-") as folder:
        target = await _receive_file(request, Path(folder), settings.max_upload_mb * _MB)
        result = await run_in_threadpool(
            load_file,
            engine,
            layer,
            target,
            datum=datum,
            mode=mode,
            repair=repair,
            encoding=encoding,
            chunk_rows=settings.import_chunk_rows,
            actor=actor_of(request, user),
            user=user,  # role and districts checked in the service, as for every write path
        )
    return ImportOut(**{k: v for k, v in result.__dict__.items() if k in ImportOut.model_fields})
