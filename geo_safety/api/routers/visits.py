"""Visits sent from phones (``POST /api/v1/visits``, with photos, stored once) and visits' photos read back.

The caller and role are checked before the body is read (no ``UploadFile`` parameters: FastAPI would parse
the body before the dependencies run); the form is then read with bounded parts and files.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from geo_safety.api.deps import Allowed, EngineDep, RulesDep, SettingsDep, UserDep, actor_of
from geo_safety.api.params import SaneDate, SaneDateTime
from geo_safety.api.schemas import PhotoList, StoredVisit, VisitConflictProblem, VisitHistory
from geo_safety.crs import Datum
from geo_safety.errors import InvalidInput
from geo_safety.rules import InspectionResult
from geo_safety.services import visits
from geo_safety.services.photos import MAX_PHOTOS
from geo_safety.services.users import Principal

router = APIRouter(tags=["visits"])
InspectorDep = Annotated[Principal, Depends(Allowed("inspect"))]
#: Photos never change once stored: the browser may keep them, but only for this user (``private``).
PHOTO_CACHE = "private, max-age=86400, immutable"


def _with_offset(value: datetime) -> datetime:
    """A phone's time without its offset is ambiguous (the phone may be set to any zone)."""
    if value.utcoffset() is None:
        raise ValueError("must carry an offset, e.g. 2026-05-01T09:30:00+08:00")
    return value


class VisitPosition(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    datum: Datum = Field(Datum.WGS84, description="wgs84 for phone GPS; gcj02 for AMap/WeChat; bd09 for Baidu")
    accuracy_m: float | None = Field(None, ge=0, le=1e7, description="the phone's stated accuracy (metres)")


class VisitIn(BaseModel):
    """The multipart field ``visit``: one visit as the phone recorded it."""

    model_config = ConfigDict(extra="forbid")

    client_id: UUID = Field(description="made on the phone; a resend with the same id stores nothing new")
    target_type: Literal["premise", "water_hazard"]
    target_id: str = Field(min_length=1, max_length=100)
    result: InspectionResult
    findings: str | None = Field(None, max_length=4000)
    checklist: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=50)
    follow_up_due: SaneDate | None = Field(None, description="default for a fail: inspected day + recheck_days")
    inspected_at: Annotated[SaneDateTime, AfterValidator(_with_offset)] = Field(description="ISO 8601, offset")
    position: VisitPosition | None = None
    measures: dict[str, bool] | None = Field(None, description="water zones: the measures found on site")


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` written in place (an OpenAPI body cannot point into them)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema)  # a dict walks to a dict
    return inlined


_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["visit"],
                "properties": {
                    "visit": {"type": "string", "description": "the visit as JSON (VisitIn)"},
                    "photos": {
                        "type": "array",
                        "maxItems": MAX_PHOTOS,
                        "items": {"type": "string", "format": "binary"},
                        "description": "JPEG, PNG or WebP",
                    },
                },
            }
        },
        "application/json": {"schema": _inline(VisitIn.model_json_schema())},
    },
}


def _parse_visit(raw: str | bytes) -> VisitIn:
    try:
        return VisitIn.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", "visit", *e["loc"])} for e in errors]) from None


async def _read_form(request: Request) -> tuple[VisitIn, list[bytes]]:
    """The visit and the photos' bytes, in the order sent; a form that is not exactly that is refused."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        return _parse_visit(await request.body()), []
    if content_type != "multipart/form-data":
        raise InvalidInput(
            "请以 multipart/form-data 发送 (send multipart/form-data with the field 'visit' (JSON) and up to "
            f"{MAX_PHOTOS} files 'photos')"
        )
    try:
        async with request.form(max_files=MAX_PHOTOS * 2, max_fields=4) as form:
            unknown = sorted({key for key in form if key not in ("visit", "photos")})
            if unknown:
                raise InvalidInput(
                    f"未知的表单字段 {', '.join(unknown)} (unknown form field {', '.join(map(repr, unknown))}; "
                    "send the visit in 'visit' and the photos in 'photos')"
                )
            raw = form.getlist("visit")
            if len(raw) != 1 or not isinstance(raw[0], str):
                raise InvalidInput("需要一个 visit 字段 (send the visit as JSON in exactly one text field 'visit')")
            photos: list[bytes] = []
            for n, part in enumerate(form.getlist("photos"), start=1):
                if not isinstance(part, UploadFile):
                    raise InvalidInput(f"第{n}张照片不是文件 (photo {n} must be sent as a file, not as text)")
                photos.append(await part.read())
            return _parse_visit(raw[0]), photos
    except HTTPException as exc:  # Starlette's own limits (too many files or fields, a part too large)
        raise InvalidInput(f"表单无效 (the form was refused: {exc.detail})") from None


@router.post(
    "/api/v1/visits",
    status_code=201,
    response_model=StoredVisit,
    openapi_extra={"requestBody": _BODY},
    responses={
        200: {
            "model": StoredVisit,
            "description": "this visit (same client_id, same content) was stored before: the stored answer",
        },
        409: {
            "model": VisitConflictProblem,
            "description": "the same client_id was stored with other content (stored and sent are shown), or "
            "the visit can no longer be recorded (e.g. the premise was closed meanwhile)",
        },
    },
)
async def record_visit(
    request: Request,
    response: Response,
    engine: EngineDep,
    settings: SettingsDep,
    rules: RulesDep,
    user: InspectorDep,
) -> Any:
    """Record a visit with 0..8 photos exactly once: 201 stored now, 200 stored before (the same answer).

    Photos are judged by their content (JPEG, PNG, WebP); one bad photo refuses the visit (422 naming it) and
    nothing is stored. A photo whose own EXIF time or GPS disagrees with the visit is stored and flagged.
    """
    body, photo_data = await _read_form(request)
    visit = visits.PhoneVisit(
        client_id=str(body.client_id),
        target_type=body.target_type,
        target_id=body.target_id,
        result=body.result.value,
        inspected_at=body.inspected_at,
        findings=body.findings,
        checklist=tuple(body.checklist),
        follow_up_due=body.follow_up_due,
        lon=body.position.lon if body.position else None,
        lat=body.position.lat if body.position else None,
        datum=body.position.datum if body.position else Datum.WGS84,
        accuracy_m=body.position.accuracy_m if body.position else None,
        measures=body.measures,
    )
    try:
        created, answer = await run_in_threadpool(
            visits.record_visit,
            engine,
            rules,
            visits.limits_from(settings),
            user,
            actor_of(request, user),
            visit,
            photo_data,
        )
    except visits.VisitConflict as exc:
        return JSONResponse(
            {"detail": str(exc), "client_id": exc.client_id, "stored": exc.stored, "sent": exc.sent}, status_code=409
        )
    if not created:
        response.status_code = 200
    return answer


@router.get("/api/v1/inspections", response_model=VisitHistory)
def visit_history(
    engine: EngineDep,
    rules: RulesDep,
    user: UserDep,
    target_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    target_type: Literal["premise", "water_hazard"] | None = None,
    since: Annotated[SaneDate | None, Query(description="visits on or after this day (Asia/Shanghai)")] = None,
    limit: Annotated[int, Query(ge=1, le=visits.MAX_HISTORY)] = 100,
) -> dict[str, Any]:
    """Visits newest first with their photos' links: of one target (404 outside your districts), or of yours."""
    return visits.history(engine, rules, user, target_type=target_type, target_id=target_id, since=since, limit=limit)


InspectionId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/api/v1/inspections/{inspection_id}/photos", response_model=PhotoList)
def list_photos(inspection_id: InspectionId, engine: EngineDep, rules: RulesDep, user: UserDep) -> dict[str, Any]:
    """The photos of a visit: seq, media type, size, flags and links (full and thumbnail)."""
    return visits.photo_list(engine, rules, user, inspection_id)


@router.get(
    "/api/v1/inspections/{inspection_id}/photos/{seq}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}, 304: {}},
)
def get_photo(
    inspection_id: InspectionId,
    seq: Annotated[int, Path(ge=1, le=MAX_PHOTOS)],
    request: Request,
    engine: EngineDep,
    user: UserDep,
    size: Literal["full", "thumb"] = "full",
) -> Response:
    """One photo as stored (``size=thumb``: a JPEG, long side 320 px), to those who may see its district."""
    photo = visits.photo_file(engine, user, inspection_id, seq, thumb=size == "thumb")
    headers = {
        "Cache-Control": PHOTO_CACHE,
        "ETag": photo.etag,
        "Content-Disposition": f'inline; filename="inspection-{inspection_id}-{seq}'
        f'{"-thumb" if size == "thumb" else ""}.{photo.media_type.split("/")[1].replace("jpeg", "jpg")}"',
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Vary": "Authorization, Cookie",
    }
    if request.headers.get("if-none-match") == photo.etag:
        return Response(status_code=304, headers=headers)
    return Response(photo.content, media_type=photo.media_type, headers=headers)
