"""Visits sent from phones and their photos: idempotent storage and reading them back (``services.visits``)."""

from __future__ import annotations

from sqlalchemy import TextClause, text

from geo_safety.sql import ident

#: The stored visit of a phone's ``client_id``, with its content digest. Binds: ``cid`` (a UUID as text).
VISIT_BY_CLIENT_ID = text("SELECT id, payload_sha256 FROM inspections WHERE client_id = CAST(:cid AS uuid)")

#: The latest visit that closed a premise (or found it gone). Binds: ``id`` premise, ``closing`` results.
LAST_CLOSING_VISIT = text(
    "SELECT inspected_at, inspector, result FROM inspections WHERE premise_id = :id "
    "AND result = ANY(CAST(:closing AS text[])) ORDER BY inspected_at DESC, id DESC LIMIT 1"
)

#: A visit's photos (one parameter set per photo). Binds: ``inspection_id``, ``seq``, ``media_type``,
#: ``content``, ``thumbnail``, ``width``, ``height``, ``sha256``, ``taken_at``, ``exif_lon``, ``exif_lat``,
#: ``flags`` (a list of text).
INSERT_PHOTOS = text(
    """INSERT INTO inspection_photos (inspection_id, seq, media_type, content, thumbnail, width, height,
                       sha256, taken_at, exif_lon, exif_lat, flags)
               VALUES (:inspection_id, :seq, :media_type, :content, :thumbnail, :width, :height,
                       :sha256, :taken_at, :exif_lon, :exif_lat, CAST(:flags AS text[]))"""
)

_VISITS = """
SELECT i.id, i.client_id::text AS client_id,
       CASE WHEN i.premise_id IS NOT NULL THEN 'premise' ELSE 'water_hazard' END AS target_type,
       coalesce(i.premise_id, i.hazard_id) AS target_id, i.result, i.inspected_at, i.inspector, i.findings,
       i.follow_up_due, i.off_site, i.position_accuracy_m,
       ST_Distance(coalesce(p.geom, h.geom)::geography, i.position::geography) AS distance_m,
       coalesce(p.district_code, h.district_code) AS district_code
  FROM inspections i
  LEFT JOIN premises p ON p.id = i.premise_id
  LEFT JOIN water_hazards h ON h.id = i.hazard_id
"""

#: Visits with their target, distance to it and district. Binds: ``ids`` (a list of inspection ids).
VISITS_BY_IDS = text(_VISITS + " WHERE i.id = ANY(:ids)")

#: One visit, as :data:`VISITS_BY_IDS`. Binds: ``id``.
VISIT_BY_ID = text(_VISITS + " WHERE i.id = :id")

#: The photos of visits (without their bytes), in order. Binds: ``ids`` (a list of inspection ids).
PHOTOS_OF_VISITS = text(
    "SELECT inspection_id, seq, media_type, width, height, sha256, taken_at, flags FROM inspection_photos "
    "WHERE inspection_id = ANY(:ids) ORDER BY inspection_id, seq"
)

#: Which layer holds a target id, and its district (``kind`` None: either). Binds: ``id``, ``kind``.
TARGET_DISTRICT = text(
    "SELECT 'premise' AS kind, district_code FROM premises WHERE id = :id "
    "AND CAST(:kind AS text) IS DISTINCT FROM 'water_hazard' "
    "UNION ALL SELECT 'water_hazard', district_code FROM water_hazards WHERE id = :id "
    "AND CAST(:kind AS text) IS DISTINCT FROM 'premise'"
)

#: Visit ids newest first: of one target (``tid``; ``kind`` premise or water_hazard), since ``start``, in
#: ``districts`` (each None: any). Binds: ``tid``, ``kind``, ``start``, ``districts``, ``limit``.
VISIT_IDS = text(
    """SELECT i.id FROM inspections i
                     LEFT JOIN premises p ON p.id = i.premise_id
                     LEFT JOIN water_hazards h ON h.id = i.hazard_id
                    WHERE (CAST(:tid AS text) IS NULL
                           OR (CASE WHEN :kind = 'premise' THEN i.premise_id ELSE i.hazard_id END) = :tid)
                      AND (CAST(:start AS timestamptz) IS NULL OR i.inspected_at >= :start)
                      AND (CAST(:districts AS text[]) IS NULL
                           OR coalesce(p.district_code, h.district_code) = ANY(CAST(:districts AS text[])))
                    ORDER BY i.inspected_at DESC, i.id DESC LIMIT :limit"""
)


def _photo_bytes(column: str) -> TextClause:
    return text(
        f"SELECT {ident.column('inspection_photos', column)} AS data, media_type, sha256 FROM inspection_photos "
        "WHERE inspection_id = :id AND seq = :seq"
    )


#: One photo's bytes as stored, its media type and digest. Binds: ``id`` inspection, ``seq``.
PHOTO_CONTENT = _photo_bytes("content")
#: One photo's JPEG thumbnail, its (original's) media type and digest. Binds: ``id`` inspection, ``seq``.
PHOTO_THUMBNAIL = _photo_bytes("thumbnail")
