"""``POST /api/v1/imports/{layer}``: upload a file into a layer (admins; planners for water hazards)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from geo_safety.api.deps import EngineDep, SettingsDep, UserDep, actor_of
from geo_safety.api.schemas import ImportOut
from geo_safety.crs import Datum
from geo_safety.errors import Forbidden, TooLarge
from geo_safety.services.imports import load_file

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])
_CHUNK = 1024 * 1024


def _safe_name(name: str | None) -> str:
    """The uploaded file's own name (it appears in error messages), reduced to a harmless file name."""
    base = Path(name or "upload").name
    cleaned = re.sub(r"[^\w.\-]", "_", base)[-100:].lstrip(".")
    return cleaned or "upload"


@router.post("/{layer}", status_code=201)
async def import_file(
    layer: Literal["schools", "school_campuses", "premises", "water_hazards", "inspections"],
    file: UploadFile,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    datum: Annotated[Datum, Query(description="datum of the file's coordinates")],
    mode: Annotated[Literal["append", "upsert", "replace"], Query()] = "append",
    repair: bool = False,
    encoding: Annotated[str | None, Query(max_length=20, pattern=r"^[A-Za-z0-9_\-]+$")] = None,
) -> ImportOut:
    """All or nothing: a bad row rejects the file (422, naming the row and field) and nothing changes."""
    action = "import_hazards" if layer == "water_hazards" else "import"
    if not user.may(action):
        raise Forbidden(f"the role '{user.role.value}' may not import {layer}")
    limit = settings.max_upload_mb * _CHUNK
    with tempfile.TemporaryDirectory(prefix="gs-upload-") as folder:
        target = Path(folder) / _safe_name(file.filename)
        size = 0
        with target.open("wb") as out:
            while chunk := await file.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"the file is larger than {settings.max_upload_mb} MB")
                out.write(chunk)
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
            allowed_districts=None if layer != "water_hazards" else user.districts,
        )
    return ImportOut(**{k: v for k, v in result.__dict__.items() if k in ImportOut.model_fields})
