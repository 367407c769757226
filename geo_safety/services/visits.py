"""A visit sent from a phone, with its photos, stored exactly once; and reading visits and photos back.

The phone makes a ``client_id`` for each visit and sends the visit with the same id until the server has
answered (ODK Central's rule, see FIELD-NOTES): the same id with the same content (the visit's JSON in
canonical form plus the photos' SHA-256) gets the stored answer and stores nothing; the same id with other
content is a conflict (409) naming both, never silently dropped. Two sends racing each other are settled by the
unique index on ``inspections.client_id``: the loser's insert fails and it answers from the winner's row.

A visit and its photos commit in one transaction (``inspections.record_inspection`` joins it), so a visit
never lacks its photos and no photo lacks its visit. Photos are checked completely before the transaction
opens: a refused photo stores nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from geo_safety.crs import Datum
from geo_safety.errors import Conflict, Forbidden, InvalidInput, NotFound, OutsideServiceArea
from geo_safety.rules import LOCAL_TZ, InspectionResult
from geo_safety.ruleset import RuleSet
from geo_safety.services import inspections, photos
from geo_safety.services.audit import Actor
from geo_safety.services.photos import CheckedPhoto, PhotoLimits
from geo_safety.services.users import Principal
from geo_safety.sql import reads as sql_reads
from geo_safety.sql import visits as sql_visits

CLIENT_ID_INDEX = "uq_inspections_client_id"
OFF_SITE = "off_site"
INACCURATE = "position_inaccurate"
MAX_HISTORY = 500

_CLOSING = (InspectionResult.CLOSED.value, InspectionResult.NOT_FOUND.value)


@dataclass(frozen=True)
class PhoneVisit:
    """What the phone sent, already parsed (the API checks types and ranges)."""

    client_id: str
    target_type: str
    target_id: str
    result: str
    inspected_at: datetime
    findings: str | None = None
    checklist: tuple[str, ...] = ()
    follow_up_due: date | None = None
    lon: float | None = None
    lat: float | None = None
    datum: Datum = Datum.WGS84
    accuracy_m: float | None = None
    measures: dict[str, bool] | None = field(default=None, hash=False)

    def canonical(self, photo_digests: list[str]) -> str:
        """The content that identifies a send: key order, spacing and the offset of the time do not matter."""
        body = {
            "target_type": self.target_type,
            "target_id": self.target_id,
            "result": self.result,
            "inspected_at": self.inspected_at.astimezone(UTC).isoformat(),
            "findings": self.findings or None,
            "checklist": sorted(self.checklist),
            "follow_up_due": self.follow_up_due.isoformat() if self.follow_up_due else None,
            "position": None
            if self.lon is None or self.lat is None  # the API sets both or neither
            else [repr(float(self.lon)), repr(float(self.lat)), self.datum.value, self.accuracy_m],
            "measures": dict(sorted(self.measures.items())) if self.measures else None,
            "photos": photo_digests,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def summary(self, photo_digests: list[str]) -> dict[str, Any]:
        return {
            "target_type": self.target_type,
            "target_id": self.target_id,
            "result": self.result,
            "inspected_at": self.inspected_at.astimezone(LOCAL_TZ).isoformat(),
            "photos": len(photo_digests),
            "photo_sha256": photo_digests,
        }


class VisitConflict(Conflict):
    """The same ``client_id`` was stored with other content; both are kept for the phone to show."""

    def __init__(self, client_id: str, stored: dict[str, Any], sent: dict[str, Any]) -> None:
        differing = [
            k
            for k in ("target_type", "target_id", "result", "inspected_at", "photo_sha256")
            if stored.get(k) != sent.get(k)
        ]
        what = ", ".join(differing) if differing else "findings, checklist, follow-up date, position or measures"
        super().__init__(
            f"编号 {client_id} 的检查记录已保存，内容不同，未再次保存 (visit {client_id} is already stored with other "
            f"content: {what} differ; nothing was stored)"
        )
        self.client_id, self.stored, self.sent = client_id, stored, sent


class VisitRefused(Conflict):
    """The visit can no longer be recorded as sent (e.g. the premise was closed meanwhile)."""


def limits_from(settings: Any) -> PhotoLimits:
    """The photo limits of the service's settings (``max_photo_mb`` etc.)."""
    return PhotoLimits(
        max_bytes=int(settings.max_photo_mb) * 1024 * 1024,
        max_pixels=int(settings.max_photo_megapixels) * 1_000_000,
        time_tolerance=timedelta(hours=float(settings.photo_time_tolerance_hours)),
        distance_m=float(settings.photo_distance_m),
    )


def record_visit(
    engine: Engine,
    rules: RuleSet,
    limits: PhotoLimits,
    user: Principal,
    actor: Actor,
    visit: PhoneVisit,
    photo_data: list[bytes],
) -> tuple[bool, dict[str, Any]]:
    """Store ``visit`` and its photos once. ``(True, answer)`` when stored now, ``(False, answer)`` for a resend."""
    if len(photo_data) > photos.MAX_PHOTOS:
        raise InvalidInput(
            f"最多 {photos.MAX_PHOTOS} 张照片 (at most {photos.MAX_PHOTOS} photos per visit; "
            f"{len(photo_data)} were sent)"
        )
    digests = [photos.digest(data) for data in photo_data]
    payload = hashlib.sha256(visit.canonical(digests).encode()).hexdigest()
    with engine.connect() as conn:
        stored = _replay(conn, rules, user, visit, digests, payload)
    if stored is not None:
        return False, stored
    checked = [photos.check_photo(n, data, limits) for n, data in enumerate(photo_data, start=1)]
    try:
        with engine.begin() as conn:
            _check_target(conn, user, visit)
            new = inspections.NewInspection(
                target_type=visit.target_type,
                target_id=visit.target_id,
                result=visit.result,
                inspected_at=visit.inspected_at,
                findings=_findings(visit),
                follow_up_due=visit.follow_up_due,
                lon=visit.lon,
                lat=visit.lat,
                datum=visit.datum,
                measures=visit.measures,
                client_id=visit.client_id,
                payload_sha256=payload,
                accuracy_m=visit.accuracy_m,
            )
            try:
                stored_visit = inspections.record_inspection(engine, rules, user, actor, new, conn=conn)
            except (OutsideServiceArea, NotFound, Forbidden, InvalidInput) as exc:
                raise _in_chinese(exc) from None
            _store_photos(conn, stored_visit["id"], visit, checked, limits)
            answer = _public(_answers(conn, rules, [stored_visit["id"]])[0])
    except IntegrityError as exc:
        if _constraint(exc) != CLIENT_ID_INDEX:
            raise
        with engine.connect() as conn:  # another send of this visit committed first: answer as a resend
            stored = _replay(conn, rules, user, visit, digests, payload)
        if stored is None:
            raise
        return False, stored
    return True, answer


def _constraint(exc: IntegrityError) -> str | None:
    orig = exc.orig
    if isinstance(orig, psycopg.errors.UniqueViolation):
        return orig.diag.constraint_name
    return None


def _replay(
    conn: Connection, rules: RuleSet, user: Principal, visit: PhoneVisit, digests: list[str], payload: str
) -> dict[str, Any] | None:
    """The stored answer when this ``client_id`` is already stored with this content; 409 with other content."""
    row = conn.execute(sql_visits.VISIT_BY_CLIENT_ID, {"cid": visit.client_id}).one_or_none()
    if row is None:
        return None
    answer = _answers(conn, rules, [row.id])[0]
    if not user.covers(answer.pop("district_code")):
        raise Forbidden(
            f"编号 {visit.client_id} 的检查记录不在您的辖区 (visit {visit.client_id} lies outside your districts)"
        )
    if row.payload_sha256 != payload:
        stored = {
            "target_type": answer["target_type"],
            "target_id": answer["target_id"],
            "result": answer["result"],
            "inspected_at": answer["inspected_at"],
            "photos": len(answer["photos"]),
            "photo_sha256": [p["sha256"] for p in answer["photos"]],
            "inspector": answer["inspector"],
        }
        raise VisitConflict(visit.client_id, stored, visit.summary(digests))
    return _public(answer)


def _check_target(conn: Connection, user: Principal, visit: PhoneVisit) -> None:
    """Refuse a visit to a premise that was closed meanwhile, with when and by whom (others' checks follow)."""
    target = conn.execute(
        sql_reads.inspection_target(),
        {"target_type": visit.target_type, "target_id": visit.target_id, "lon": None, "lat": None},
    ).one_or_none()
    if target is None or not user.covers(target.district_code) or target.status != "closed":
        return  # record_inspection gives the reason for a missing or foreign target
    last = conn.execute(
        sql_visits.LAST_CLOSING_VISIT,
        {"id": visit.target_id, "closing": list(_CLOSING)},
    ).one_or_none()
    when = f" on {last.inspected_at.astimezone(LOCAL_TZ):%Y-%m-%d} ({last.result}, {last.inspector})" if last else ""
    raise VisitRefused(
        f"该场所已关闭，本次检查未保存 (premise {visit.target_id} was closed{when}; the visit was not recorded. "
        "If it has reopened, ask an administrator to reopen it)"
    )


_ZH: dict[type[Exception], str] = {
    OutsideServiceArea: "位置在服务区域之外",
    NotFound: "您的辖区内找不到检查对象",
    Forbidden: "该对象不在您的辖区",
    InvalidInput: "检查记录无效",
}


def _in_chinese(exc: Exception) -> Exception:
    """The visit service's reasons with a Chinese lead, for the phone to show (the English stays)."""
    zh = _ZH.get(type(exc))
    return type(exc)(f"{zh} ({exc})") if zh else exc


def _findings(visit: PhoneVisit) -> str | None:
    """The ticked checklist items, one per line, then the free text (``inspections`` has one findings column)."""
    lines = [f"☑ {label}" for label in visit.checklist]
    if visit.findings:
        lines += ([""] if lines else []) + [visit.findings]
    return "\n".join(lines) or None


def _store_photos(
    conn: Connection, inspection_id: int, visit: PhoneVisit, checked: list[CheckedPhoto], limits: PhotoLimits
) -> None:
    for photo in checked:
        if photos.time_flag(photo, visit.inspected_at, limits):
            photo.flags.append(photos.TIME_MISMATCH)
        if photo.exif_lon is not None:
            target = conn.execute(
                sql_reads.inspection_target(),
                {
                    "target_type": visit.target_type,
                    "target_id": visit.target_id,
                    "lon": photo.exif_lon,
                    "lat": photo.exif_lat,
                },
            ).one()
            if target.distance_m is not None and float(target.distance_m) > limits.distance_m:
                photo.flags.append(photos.POSITION_MISMATCH)
    if not checked:
        return
    conn.execute(
        sql_visits.INSERT_PHOTOS,
        [
            {
                "inspection_id": inspection_id,
                "seq": p.seq,
                "media_type": p.media_type,
                "content": p.content,
                "thumbnail": p.thumbnail,
                "width": p.width,
                "height": p.height,
                "sha256": p.sha256,
                "taken_at": p.taken_at,
                "exif_lon": p.exif_lon,
                "exif_lat": p.exif_lat,
                "flags": p.flags,
            }
            for p in checked
        ],
    )


# -- reading visits back --------------------------------------------------------------------------------------
def photo_url(inspection_id: int, seq: int, thumb: bool = False) -> str:
    return f"/api/v1/inspections/{inspection_id}/photos/{seq}" + ("?size=thumb" if thumb else "")


def _answers(conn: Connection, rules: RuleSet, ids: list[int]) -> list[dict[str, Any]]:
    """Visits ``ids`` (in that order) with their photos and flags; ``district_code`` is for the caller's check."""
    rows = conn.execute(sql_visits.VISITS_BY_IDS, {"ids": ids}).mappings().all()
    found = {row["id"]: row for row in rows}
    pictures: dict[int, list[dict[str, Any]]] = {}
    for p in conn.execute(sql_visits.PHOTOS_OF_VISITS, {"ids": ids}).mappings():
        pictures.setdefault(p["inspection_id"], []).append(
            {
                "seq": p["seq"],
                "url": photo_url(p["inspection_id"], p["seq"]),
                "thumb_url": photo_url(p["inspection_id"], p["seq"], thumb=True),
                "media_type": p["media_type"],
                "width": p["width"],
                "height": p["height"],
                "sha256": p["sha256"],
                "taken_at": p["taken_at"].astimezone(LOCAL_TZ).isoformat() if p["taken_at"] else None,
                "flags": list(p["flags"]),
            }
        )
    out = []
    for inspection_id in ids:
        row = found.get(inspection_id)
        if row is None:
            continue
        shots = pictures.get(inspection_id, [])
        distance = None if row["distance_m"] is None else round(float(row["distance_m"]), 1)
        flags = []
        if row["off_site"]:
            flags.append(OFF_SITE)
        accuracy = row["position_accuracy_m"]
        if accuracy is not None and accuracy > rules.off_site_m:
            flags.append(INACCURATE)
        flags += sorted({f for shot in shots for f in shot["flags"]})
        out.append(
            {
                "id": row["id"],
                "client_id": row["client_id"],
                "target_type": row["target_type"],
                "target_id": row["target_id"],
                "result": row["result"],
                "inspected_at": row["inspected_at"].astimezone(LOCAL_TZ).isoformat(),
                "inspector": row["inspector"],
                "findings": row["findings"],
                "follow_up_due": row["follow_up_due"].isoformat() if row["follow_up_due"] else None,
                "off_site": row["off_site"],
                "distance_m": distance,
                "accuracy_m": accuracy,
                "flags": flags,
                "warnings": _warnings(flags, distance, accuracy),
                "photos": shots,
                "district_code": row["district_code"],
            }
        )
    return out


def _warnings(flags: list[str], distance: float | None, accuracy: float | None) -> list[str]:
    """What the flags mean, for the phone to show next to the stored visit."""
    texts = {
        OFF_SITE: f"位置距目标 {distance or 0:.0f} 米，已标记为非现场 (off_site: the position is {distance or 0:.0f} m "
        "from the target)",
        INACCURATE: f"定位精度 {accuracy or 0:.0f} 米，不足以确认在现场 (position_inaccurate: accuracy "
        f"{accuracy or 0:.0f} m)",
        photos.TIME_MISMATCH: "有照片的拍摄时间与检查时间不符 (photo_time_mismatch: a photo's own time differs from "
        "the visit's)",
        photos.POSITION_MISMATCH: "有照片的拍摄位置远离检查对象 (photo_position_mismatch: a photo's GPS position is "
        "far from the target)",
    }
    return [texts[f] for f in flags if f in texts]


def _public(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "district_code"}


def history(
    engine: Engine,
    rules: RuleSet,
    user: Principal,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    since: date | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Visits newest first, with photo links: of one target, or of the caller's districts since ``since``."""
    if not 1 <= limit <= MAX_HISTORY:
        raise InvalidInput(f"limit must be 1..{MAX_HISTORY}")
    with engine.connect() as conn:
        if target_id is not None:
            target = conn.execute(sql_visits.TARGET_DISTRICT, {"id": target_id, "kind": target_type}).first()
            if target is None or not user.covers(target.district_code):  # the same answer: no district revealed
                kind = (target_type or "premise").replace("_", " ")
                raise NotFound(f"您的辖区内找不到检查对象 (no {kind} with id {target_id!r} in your districts)")
            target_type = target.kind
        start = datetime.combine(since, datetime.min.time(), LOCAL_TZ) if since else None
        ids = (
            conn.execute(
                sql_visits.VISIT_IDS,
                {
                    "tid": target_id,
                    "kind": target_type,
                    "start": start,
                    "districts": list(user.districts) if user.districts is not None else None,
                    "limit": limit,
                },
            )
            .scalars()
            .all()
        )
        visits = [_public(v) for v in _answers(conn, rules, list(ids))]
    return {"target_type": target_type, "target_id": target_id, "since": since, "visits": visits}


def _visible(conn: Connection, user: Principal, inspection_id: int) -> None:
    """One answer (404) for an inspection that does not exist and one outside the caller's districts: an id
    is all a caller needs to ask, and the answer must not tell which ids exist elsewhere (as for zones)."""
    row = conn.execute(sql_visits.VISIT_BY_ID, {"id": inspection_id}).mappings().one_or_none()
    if row is None or not user.covers(row["district_code"]):
        raise NotFound(f"您的辖区内没有这条检查记录 (no inspection {inspection_id} in your districts)")


def photo_list(engine: Engine, rules: RuleSet, user: Principal, inspection_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        _visible(conn, user, inspection_id)
        answer = _answers(conn, rules, [inspection_id])[0]
    return {"inspection_id": inspection_id, "photos": answer["photos"]}


@dataclass(frozen=True)
class PhotoFile:
    content: bytes
    media_type: str
    etag: str


def photo_file(engine: Engine, user: Principal, inspection_id: int, seq: int, thumb: bool) -> PhotoFile:
    """The stored bytes of one photo (or its JPEG thumbnail), for a caller who may see its district."""
    with engine.connect() as conn:
        _visible(conn, user, inspection_id)
        row = conn.execute(
            sql_visits.PHOTO_THUMBNAIL if thumb else sql_visits.PHOTO_CONTENT, {"id": inspection_id, "seq": seq}
        ).one_or_none()
    if row is None:
        raise NotFound(f"没有这张照片 (inspection {inspection_id} has no photo {seq})")
    if thumb:
        return PhotoFile(bytes(row.data), "image/jpeg", f'"{row.sha256[:32]}-t"')
    return PhotoFile(bytes(row.data), row.media_type, f'"{row.sha256[:32]}"')
