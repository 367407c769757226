"""Recording a visit (``services.inspections``): the inspection row and the guard measures it found."""

from __future__ import annotations

from functools import cache

from sqlalchemy import TextClause, text

from geo_safety.rules import GUARD_MEASURES
from geo_safety.sql import ident


@cache
def insert_inspection(target_column: str) -> TextClause:
    """A new inspection of the target in ``target_column`` (``premise_id`` or ``hazard_id``), returning its id.

    Binds: ``target``, ``at``, ``inspector``, ``result``, ``findings``, ``follow``, ``lon``, ``lat`` (WGS84, both
    None: no position), ``datum``, ``off_site``, ``client_id`` (a UUID as text), ``payload_sha256``, ``accuracy``.
    """
    if target_column not in ("premise_id", "hazard_id"):
        raise ValueError(f"an inspection targets a premise or a zone, not {target_column!r}")
    target = ident.column("inspections", target_column)
    return text(
        f"""INSERT INTO inspections ({target}, inspected_at, inspector, result, findings, follow_up_due,
                        position, position_datum, off_site, client_id, payload_sha256, position_accuracy_m)
                    VALUES (:target, :at, :inspector, :result, :findings, :follow,
                        CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
                             ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END, :datum, :off_site,
                        CAST(:client_id AS uuid), :payload_sha256, :accuracy)
                    RETURNING id"""
    )


@cache
def set_measures(measures: tuple[str, ...]) -> TextClause:
    """A zone's guard ``measures`` as found on a visit (a new version). Binds: one per measure (same name), ``id``."""
    unknown = set(measures) - set(GUARD_MEASURES)
    if unknown:
        raise ValueError(f"not guard measures: {sorted(unknown)!r}")
    assignments = ", ".join(f"{ident.column('water_hazards', m)} = :{m}" for m in measures)
    return text(f"UPDATE water_hazards SET {assignments}, version = version + 1, updated_at = now() WHERE id = :id")
