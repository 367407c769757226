"""Keeping the service running: health, data versions for the cache, the stored due state, backup sessions."""

from __future__ import annotations

from functools import cache

from sqlalchemy import TextClause, text

from geo_safety.sql import ident

# -- health -------------------------------------------------------------------------------------------------------
#: The database answers at all. No binds.
PING = text("SELECT 1")

#: The PostGIS library's version. No binds.
POSTGIS_VERSION = text("SELECT postgis_lib_version()")


@cache
def row_count(table: str) -> TextClause:
    """How many rows ``table`` (a table of the schema) holds. No binds."""
    return text(f"SELECT count(*) FROM {ident.table(table)}")


# -- the bundled sample --------------------------------------------------------------------------------------------
#: Whether any school is loaded (the sample is loaded into an empty database only). No binds.
ANY_SCHOOL = text("SELECT EXISTS (SELECT 1 FROM schools)")

# -- data versions (the answer cache) ------------------------------------------------------------------------------
#: The versions of ``layers`` in districts ``codes`` (None: every district), ordered. Binds: ``layers``, ``codes``
#: (lists of text).
DATA_VERSIONS = text(
    "SELECT district_code, layer, version FROM data_versions "
    "WHERE layer = ANY(CAST(:layers AS text[])) "
    "AND (CAST(:codes AS text[]) IS NULL OR district_code = ANY(CAST(:codes AS text[]))) "
    "ORDER BY district_code, layer"
)

#: The cluster's current snapshot as text (the cache key before issue 17, kept for the benchmark). No binds.
CURRENT_SNAPSHOT = text("SELECT pg_current_snapshot()::text")

# -- the stored due state (migration 0010) -------------------------------------------------------------------------
#: One writer at a time, for the rest of the transaction. Binds: ``key``.
ADVISORY_XACT_LOCK = text("SELECT pg_advisory_xact_lock(:key)")

#: The fingerprint of the rules the due state was made with (no row: none yet). No binds.
DUE_FINGERPRINT = text("SELECT fingerprint FROM due_rules_meta")

#: The hotspot radius ``zone_exposure`` was made for (no row: none yet). No binds.
DUE_HAZARD_RADIUS = text("SELECT hazard_radius_m FROM due_rules_meta")

#: Forget the stored rules. No binds.
DELETE_DUE_META = text("DELETE FROM due_rules_meta")
#: Forget the stored rules' table. No binds.
DELETE_DUE_RULES = text("DELETE FROM due_rules")

#: One stored rule (one parameter set per category). Binds: ``category``, ``kg_m``, ``other_m``, ``violation``,
#: ``interval_days``.
INSERT_DUE_RULE = text(
    "INSERT INTO due_rules (category, kg_m, other_m, violation, interval_days) "
    "VALUES (:category, :kg_m, :other_m, :violation, :interval_days)"
)

#: What the stored rules are. Binds: ``fp`` fingerprint, ``recheck`` days, ``radius`` (hotspot radius, m).
INSERT_DUE_META = text(
    "INSERT INTO due_rules_meta (fingerprint, recheck_days, hazard_radius_m) VALUES (:fp, :recheck, :radius)"
)

#: Empty the kept state before recomputing it. No binds.
TRUNCATE_DUE_STATE = text("TRUNCATE premise_due, zone_exposure")

#: Recompute every premise's due state. No binds.
REFRESH_ALL_PREMISE_DUE = text("SELECT geo_safety_refresh_premise_due(ARRAY(SELECT id FROM premises))")

#: Recompute the exposure of every linked zone. No binds.
REFRESH_ALL_ZONE_EXPOSURE = text(
    "SELECT geo_safety_refresh_zone_exposure(ARRAY(SELECT DISTINCT hazard_id FROM hazard_school_links))"
)

# -- other sessions (restore); run with psycopg on a connection of its own -------------------------------------------
#: Other client sessions on this database: ``pid, who, client_addr``. No parameters.
OTHER_SESSIONS = """
SELECT pid, coalesce(nullif(application_name, ''), usename) AS who, client_addr
  FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""

#: End the other client sessions: one boolean per session. No parameters.
TERMINATE_OTHER_SESSIONS = f"SELECT pg_terminate_backend(pid) FROM ({OTHER_SESSIONS}) o"
