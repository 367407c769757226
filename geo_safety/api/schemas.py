"""Pydantic request and response bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from geo_safety.api.schemas_geojson import (
    Body,
    InspectionResultName,
    IsoDate,
    IsoDateTime,
    TargetType,
    absent_or,
)
from geo_safety.rules import Role


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role
    districts: list[str] = Field(default_factory=list, max_length=50)


class Credentials(BaseModel):
    """Shown once: only hashes are kept."""

    name: str
    role: str
    districts: list[str]
    password: str | None = None
    token: str


class UserOut(BaseModel):
    name: str
    role: str
    districts: list[str]
    is_demo: bool
    disabled_at: datetime | None
    created_at: datetime


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]
    client: str | None


class ImportOut(BaseModel):
    layer: str
    file_name: str
    datum: str
    mode: str
    rows_read: int
    inserted: int
    updated: int
    deleted: int
    repaired: int
    ignored_columns: list[str]


class Problem(BaseModel):
    """Every 4xx/5xx body: ``detail`` says what is wrong (a sentence, or FastAPI's list of field errors);
    ``code`` is stable, for clients to show their own text (e.g. ``zone.invalid_geometry``, ``version.stale``)."""

    detail: str | list[dict[str, Any]]
    code: str | None = None
    current_version: int | None = None
    request_id: str | None = None


#: documented on every operation, so clients (and the fuzzer) know the error shape
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in (
        (400, "A malformed parameter (OGC API)."),
        (401, "No, wrong, revoked or expired credentials."),
        (403, "The role or the district scope does not allow this."),
        (404, "No such object."),
        (408, "The request took too long and was cancelled."),
        (409, "A stale version or a duplicate."),
        (412, "If-Match names a version that is no longer current."),
        (413, "The body is larger than allowed."),
        (422, "Invalid input, with the reason."),
        (428, "The edit does not say which version it read."),
        (429, "Too many heavy requests at once (per user or in the service); retry after Retry-After seconds."),
        (503, "The database is unavailable; retry after Retry-After seconds."),
    )
}


# -- GET /health and /api/v1/me ---------------------------------------------------------------------------------
class LayerCounts(Body):
    districts: int
    schools: int
    premises: int
    water_hazards: int
    inspections: int


class CalendarWarningOut(Body):
    year: int
    kind: str
    since: IsoDate = Field(description="the day the warning started (60 days before the year lacks its dates)")
    message: str


class CalendarStatus(Body):
    status: Literal["ok", "warning"]
    sources: list[str]
    official_years: str | None = Field(description="e.g. 2024–2026; null when no official notice is loaded")
    winter_vacation_years: list[int]
    warnings: list[CalendarWarningOut]


class CalendarError(Body):
    status: Literal["error"]
    message: str


class Health(Body):
    """Anonymous callers get ``status`` only; signed-in callers also the rest."""

    status: Literal["ok"]
    postgis: str = absent_or("PostGIS library version (signed in)")
    schema_revision: str | None = absent_or("the database's migration revision (signed in)")
    layers: LayerCounts = absent_or("features per layer (signed in)")
    calendar: Annotated[CalendarStatus | CalendarError, Field(discriminator="status")] = absent_or(
        "the key-period calendar's state (signed in)"
    )


class Me(Body):
    name: str
    role: Role
    districts: list[str] | None = Field(description="the districts the account covers (null: the whole city)")


# -- inspections and visits -------------------------------------------------------------------------------------
class InspectionRecorded(Body):
    id: int
    target_type: TargetType
    target_id: str
    result: InspectionResultName
    inspected_at: IsoDateTime
    follow_up_due: IsoDate | None
    off_site: bool | None = Field(description="the position lies over the off-site distance (null: none sent)")
    distance_m: float | None = Field(description="metres from the position to the target (null: none sent)")
    warning: str = absent_or("only when off_site: what the inspector is told")


class PhotoOut(Body):
    seq: int
    url: str = Field(description="the photo as stored")
    thumb_url: str = Field(description="a JPEG, long side 320 px")
    media_type: str
    width: int
    height: int
    sha256: str
    taken_at: IsoDateTime | None = Field(description="from the photo's EXIF (null: none)")
    flags: list[str] = Field(description="photo_time_mismatch, photo_position_mismatch")


class StoredVisit(Body):
    id: int
    client_id: str | None = Field(description="the phone's id of the visit (null: recorded otherwise)")
    target_type: TargetType
    target_id: str
    result: InspectionResultName
    inspected_at: IsoDateTime
    inspector: str | None
    findings: str | None
    follow_up_due: IsoDate | None
    off_site: bool | None
    distance_m: float | None
    accuracy_m: float | None
    flags: list[str] = Field(description="off_site, position_inaccurate and the photos' flags")
    warnings: list[str] = Field(description="what the flags mean (Chinese + English)")
    photos: list[PhotoOut]


class VisitHistory(Body):
    target_type: TargetType | None
    target_id: str | None
    since: date | None
    visits: list[StoredVisit]


class PhotoList(Body):
    inspection_id: int
    photos: list[PhotoOut]


class VisitSummary(Body):
    target_type: str
    target_id: str
    result: str
    inspected_at: IsoDateTime
    photos: int
    photo_sha256: list[str]
    inspector: str | None = absent_or("the stored visit's inspector")


class VisitConflictProblem(Problem):
    """409 of ``POST /api/v1/visits``: the ``client_id`` was stored with other content (``stored`` and ``sent``
    are shown, ``code`` is absent), or the visit can no longer be recorded (a plain problem with ``code``)."""

    client_id: str = absent_or()
    stored: VisitSummary = absent_or()
    sent: VisitSummary = absent_or()


# -- reports ----------------------------------------------------------------------------------------------------
class ProgrammeRow(Body):
    """One district's counts (or, with ``district_code`` null, the total) for the period."""

    district_code: str | None
    name: str
    premise_inspections: int
    zone_inspections: int
    premises_inspected: int
    violations_found: int
    violations_closed: int
    failures: int
    failures_rechecked_on_time: int
    schools: int
    schools_compliant: int
    students: int
    unguarded_zones: int = Field(description="at the period's end")
    zones_became_guarded: int
    students_near_unguarded: int
    schools_compliant_pct: float | None = Field(description="null without schools")


class ProgrammeReport(Body):
    date_from: IsoDate = Field(alias="from")
    date_to: IsoDate = Field(alias="to")
    districts: list[ProgrammeRow]
    total: ProgrammeRow
    provisional: bool = Field(description="the zones' states at the ends rest on provisional key periods")
    calendar_notice: str | None


#: ``ERROR_RESPONSES`` for a route whose own media type is not JSON (GeoJSON): FastAPI would document the
#: errors in the route's media type, but they are ``application/json`` like every other error.
ERRORS_AS_JSON: dict[int | str, dict[str, Any]] = {
    code: {
        "description": response["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for code, response in ERROR_RESPONSES.items()
}
