"""Each premise's due state kept at write time, so today's due list is an index range scan (issue 17).

- ``due_rules`` / ``due_rules_meta``: the rule table the state was computed with (distances, violation and
  interval per category; recheck days) and its fingerprint. ``services.duestate.ensure`` writes them and
  recomputes every row when a process starts with other rules; a caller whose rules differ from the stored
  fingerprint takes the exact path, so the state can only be used with the rules it was made with.
- ``premise_due``: one row per premise within its rule distance of a school (its nearest such school, from
  ``premise_school_links``), with its latest inspection (day, result, follow-up day), the day it falls due
  (``due_from``: ``-infinity`` when never inspected) and its latest status (``open``, from the row of
  ``premise_status_history`` with the latest ``valid_from``). "Due on D" for D no earlier than any of a
  row's records (``records_until``) is ``due_from <= D``; a row with a record after D (a closure recorded
  for a later day) is judged exactly by the reader, found by ``ix_premise_due_district_records``.
- Statement-level triggers keep it in the writing transaction, so no write path (API, imports, first loads by
  COPY, plain SQL) can forget it: ``inspections``, ``premise_status_history`` and ``premise_school_links``
  (every change of a premise's place, or of a school, rewrites its links) recompute the premises their rows
  name; ``premises`` updates (category, district) and ``schools`` updates (kind) theirs; deleting a premise
  cascades. ``TRUNCATE`` of a source recomputes every row (rare: restores, tests, relinking everything).
- Status rows of two visits of one premise in the same second are put in the visits' order (a large import
  could write them in another, so the earlier visit's status won the tie), and those premises' current status
  is set from their history again.
- ``zone_exposure``: per zone and district of the school, the schools within the stored hotspot radius
  (``due_rules_meta.hazard_radius_m``), their students, students weighted by nearness and the nearest school:
  what the hotspot ranking sums for every unguarded zone (95,000 zone–school pairs in a province district, 280
  ms), kept by triggers on ``hazard_school_links`` and ``schools`` (students, district, removal).
- ``ix_hazard_school_links_nearest``: a zone's nearest school is one index probe (was a heap scan of ~140
  links per zone, 80 ms of a province district's due list).

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: the state of premises ``$1`` (text[]) from the stored rules; an empty result when no rules are stored
_REFRESH = """
DELETE FROM premise_due WHERE premise_id IN (SELECT unnest($1));
INSERT INTO premise_due (premise_id, district_code, school_id, distance_m, rule_m, violation, last_on, result,
                         recheck_on, next_due_on, due_from, open, status_from, records_until)
SELECT n.id, n.district_code, n.school_id, n.distance_m, n.rule_m, n.violation, l.last_on, l.result,
       coalesce(l.follow_up_due, l.last_on + m.recheck_days), l.last_on + n.interval_days,
       CASE WHEN l.last_on IS NULL THEN CAST('-infinity' AS date)
            ELSE least(CASE WHEN l.result = 'fail' THEN coalesce(l.follow_up_due, l.last_on + m.recheck_days) END,
                       l.last_on + n.interval_days) END,
       coalesce(st.status, 'open') = 'open', st.valid_from, greatest(l.last_on, st.valid_from)
  FROM due_rules_meta m
  JOIN (SELECT DISTINCT ON (p.id) p.id, p.district_code, r.violation, r.interval_days, k.school_id, k.distance_m,
               CASE WHEN s.kind = 'kindergarten' THEN r.kg_m ELSE r.other_m END AS rule_m
          FROM premises p
          JOIN due_rules r ON r.category = p.category
          JOIN premise_school_links k ON k.premise_id = p.id
          JOIN schools s ON s.id = k.school_id
         WHERE p.id IN (SELECT unnest($1))
           AND k.distance_m <= CASE WHEN s.kind = 'kindergarten' THEN r.kg_m ELSE r.other_m END
         ORDER BY p.id, k.distance_m, k.school_id) n ON true
  LEFT JOIN (SELECT DISTINCT ON (i.premise_id) i.premise_id, i.result, i.follow_up_due,
                    CAST(i.inspected_at AT TIME ZONE 'Asia/Shanghai' AS date) AS last_on
               FROM inspections i
              WHERE i.premise_id IN (SELECT unnest($1))
              ORDER BY i.premise_id, i.inspected_at DESC, i.id DESC) l ON l.premise_id = n.id
  LEFT JOIN (SELECT DISTINCT ON (h.premise_id) h.premise_id, h.status, h.valid_from
               FROM premise_status_history h
              WHERE h.premise_id IN (SELECT unnest($1))
              ORDER BY h.premise_id, h.valid_from DESC NULLS LAST, h.observed_at DESC, h.id DESC) st
         ON st.premise_id = n.id
"""

#: the exposure of zones ``$1`` (text[]) to schools within the stored hotspot radius, per district of the school
_EXPOSURE = """
DELETE FROM zone_exposure WHERE hazard_id IN (SELECT unnest($1));
INSERT INTO zone_exposure (hazard_id, school_district_code, schools, students, weighted_students, nearest_school_id,
                           nearest_m)
SELECT l.hazard_id, s.district_code, count(*), sum(s.students),
       sum(s.students * (1 - l.distance_m / m.hazard_radius_m)),
       (array_agg(s.id ORDER BY l.distance_m, s.id))[1], min(l.distance_m)
  FROM due_rules_meta m
  JOIN hazard_school_links l ON l.distance_m <= m.hazard_radius_m
  JOIN schools s ON s.id = l.school_id
 WHERE l.hazard_id IN (SELECT unnest($1))
 GROUP BY l.hazard_id, s.district_code
"""
#: (table, SQL of the zone ids a statement touched) for ``zone_exposure``
_ZONE_SOURCES = (
    ("hazard_school_links", ("insert", "delete", "update"), "SELECT hazard_id FROM {rows}"),
    (
        "schools",
        ("update",),
        "SELECT k.hazard_id FROM new_rows n JOIN old_rows o ON o.id = n.id "
        "AND (o.students, o.district_code) IS DISTINCT FROM (n.students, n.district_code) "
        "JOIN hazard_school_links k ON k.school_id = n.id",
    ),
    ("schools", ("delete",), "SELECT k.hazard_id FROM old_rows o JOIN hazard_school_links k ON k.school_id = o.id"),
)

#: (table, SQL of the premise ids a statement touched, reading the transition table ``rows``)
_SOURCES = (
    ("inspections", "SELECT premise_id FROM rows WHERE premise_id IS NOT NULL"),
    ("premise_status_history", "SELECT premise_id FROM rows"),
    ("premise_school_links", "SELECT premise_id FROM rows"),
    ("premises", "SELECT id FROM rows"),
    ("schools", None),
)
#: a school's kind decides which rule distance applies to the premises linked to it (its place, their links)
_SCHOOL_KIND_CHANGED = (
    "SELECT k.premise_id FROM new_rows n JOIN old_rows o ON o.id = n.id AND o.kind IS DISTINCT FROM n.kind "
    "JOIN premise_school_links k ON k.school_id = n.id"
)
#: tables whose inserts need no trigger: a new premise has no links yet, a new school no links to it
_UPDATE_ONLY = {"premises", "schools"}


_TRANSITION_TABLES = {
    "insert": "NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
}


def _refresh_function(table: str, statements: str) -> str:
    """``geo_safety_refresh_<table>(ids)``: lock the rows of ``ids``, then run ``statements`` (a DELETE and an
    INSERT reading ``$1``); nothing before rules are stored. Dynamic, so each call is planned with its own ids
    (a visit: index probes; a load: hash joins)."""
    delete, insert = statements.split(";", 1)
    return f"""
        CREATE FUNCTION geo_safety_refresh_{table}(p_ids text[]) RETURNS void LANGUAGE plpgsql AS $fn$
        BEGIN
            IF cardinality(p_ids) = 0 OR NOT EXISTS (SELECT 1 FROM due_rules_meta) THEN
                RETURN;
            END IF;
            PERFORM geo_safety_lock_state('{table}', p_ids);
            EXECUTE $sql${delete}$sql$ USING p_ids;
            EXECUTE $sql${insert}$sql$ USING p_ids;
        END
        $fn$;
        """


def _statement_trigger(kind: str, table: str, event: str, refresh: str, select: str) -> str:
    """A statement-level trigger on ``table`` calling ``refresh`` with the ids ``select`` reads from its rows."""
    return f"""
        CREATE FUNCTION geo_safety_{kind}_{table}_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM {refresh}(ARRAY({select}));
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER tr_{table}_{kind}_{event} AFTER {event.upper()} ON {table}
            REFERENCING {_TRANSITION_TABLES[event]}
            FOR EACH STATEMENT EXECUTE FUNCTION geo_safety_{kind}_{table}_{event}();
        """


def _trigger(table: str, ids: str | None) -> str:
    """The triggers recomputing the due state of the premises a statement on ``table`` touched."""
    if ids is None:
        events = [("update", _SCHOOL_KIND_CHANGED)]
    else:
        new_ids = ids.replace("FROM rows", "FROM new_rows")
        old_ids = ids.replace("FROM rows", "FROM old_rows")
        events = [("update", f"{new_ids} UNION {old_ids}")]
        if table not in _UPDATE_ONLY:
            events += [("insert", new_ids), ("delete", old_ids)]
    body = "\n".join(
        _statement_trigger("due", table, event, "geo_safety_refresh_premise_due", select) for event, select in events
    )
    return (
        body
        + f"""
        CREATE TRIGGER tr_{table}_due_truncate AFTER TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION geo_safety_refresh_all_premise_due();
        """
    )


#: tie groups (premise, day, second) of visit status rows: each row takes the status of the visit of its rank
_REORDER_TIES = """
WITH ties AS (
    SELECT premise_id, valid_from, observed_at FROM premise_status_history WHERE source = 'inspection'
     GROUP BY 1, 2, 3 HAVING count(*) > 1
),
ranked AS (
    SELECT h.id, h.premise_id, h.valid_from, h.observed_at, h.status, h.inspection_id,
           row_number() OVER (PARTITION BY h.premise_id, h.valid_from, h.observed_at ORDER BY h.id) AS by_row,
           row_number() OVER (PARTITION BY h.premise_id, h.valid_from, h.observed_at ORDER BY h.inspection_id)
               AS by_visit
      FROM premise_status_history h JOIN ties USING (premise_id, valid_from, observed_at)
     WHERE h.source = 'inspection'
)
UPDATE premise_status_history h SET status = v.status, inspection_id = v.inspection_id
  FROM ranked r JOIN ranked v ON v.premise_id = r.premise_id AND v.valid_from = r.valid_from
                             AND v.observed_at = r.observed_at AND v.by_visit = r.by_row
 WHERE h.id = r.id AND h.inspection_id IS DISTINCT FROM v.inspection_id;
UPDATE premises p
   SET status = c.status, closed_on = CASE WHEN c.status = 'closed' THEN c.valid_from END, updated_at = now()
  FROM (SELECT DISTINCT ON (premise_id) premise_id, status, valid_from FROM premise_status_history
         ORDER BY premise_id, valid_from DESC NULLS LAST, observed_at DESC, id DESC) c
 WHERE p.id = c.premise_id AND p.status <> c.status;
"""


def upgrade() -> None:
    op.execute(_REORDER_TIES)
    op.execute(
        """
        CREATE TABLE due_rules (
            category text CONSTRAINT pk_due_rules PRIMARY KEY,
            kg_m double precision,
            other_m double precision,
            violation boolean NOT NULL,
            interval_days integer NOT NULL CONSTRAINT ck_due_rules_interval CHECK (interval_days >= 1)
        );
        CREATE TABLE due_rules_meta (
            singleton boolean NOT NULL DEFAULT true CONSTRAINT pk_due_rules_meta PRIMARY KEY
                CONSTRAINT ck_due_rules_meta_singleton CHECK (singleton),
            fingerprint text NOT NULL,
            recheck_days integer NOT NULL,
            hazard_radius_m double precision NOT NULL,
            computed_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE zone_exposure (
            hazard_id text NOT NULL,
            school_district_code text NOT NULL,
            schools integer NOT NULL,
            students bigint,
            weighted_students double precision,
            nearest_school_id text NOT NULL,
            nearest_m double precision NOT NULL,
            CONSTRAINT pk_zone_exposure PRIMARY KEY (hazard_id, school_district_code)
        );
        COMMENT ON TABLE zone_exposure IS 'schools within the hotspot radius of each zone, per district of the school';
        CREATE TABLE premise_due (
            premise_id text CONSTRAINT pk_premise_due PRIMARY KEY
                CONSTRAINT fk_premise_due_premise_id_premises REFERENCES premises (id) ON DELETE CASCADE,
            district_code text NOT NULL,
            school_id text NOT NULL,
            distance_m double precision NOT NULL,
            rule_m double precision NOT NULL,
            violation boolean NOT NULL,
            last_on date,
            result text,
            recheck_on date,
            next_due_on date,
            due_from date NOT NULL,
            open boolean NOT NULL,
            status_from date,
            records_until date
        );
        COMMENT ON COLUMN premise_due.due_from IS 'first day due: -infinity when never inspected';
        COMMENT ON COLUMN premise_due.status_from IS 'valid_from of the latest status row (NULL: since always)';
        COMMENT ON COLUMN premise_due.records_until IS 'the latest day of its inspections and status rows';
        CREATE INDEX ix_premise_due_district_records ON premise_due (district_code, records_until);
        -- one district's list as ordered runs (queries._ONE_DISTRICT_PREMISE_KEYS) and its count, index only
        CREATE INDEX ix_premise_due_failed ON premise_due (district_code, violation, recheck_on, distance_m, premise_id)
            WHERE result = 'fail';
        CREATE INDEX ix_premise_due_never ON premise_due (district_code, violation, distance_m, premise_id)
            WHERE last_on IS NULL;
        CREATE INDEX ix_premise_due_overdue
            ON premise_due (district_code, violation, next_due_on, distance_m, premise_id) WHERE last_on IS NOT NULL;
        CREATE INDEX ix_premise_due_count ON premise_due (district_code, due_from) INCLUDE (open, records_until);
        CREATE INDEX ix_hazard_school_links_nearest ON hazard_school_links (hazard_id, distance_m, school_id);

        -- Two transactions recomputing the same rows (two visits of one premise at once) must not both delete the
        -- old row and insert a new one: the second would violate the key, or write what it read before the first
        -- committed. Each takes the rows' locks first, so its next statements (each with a fresh snapshot) see
        -- what the other committed: a few ids take one advisory lock each, in order; a load takes the table.
        CREATE FUNCTION geo_safety_lock_state(p_table text, p_ids text[]) RETURNS void LANGUAGE plpgsql AS $fn$
        BEGIN
            IF cardinality(p_ids) > 1000 THEN
                EXECUTE format('LOCK TABLE %I IN SHARE ROW EXCLUSIVE MODE', p_table);
            ELSE
                EXECUTE format('LOCK TABLE %I IN ROW EXCLUSIVE MODE', p_table);
                PERFORM pg_advisory_xact_lock(hashtextextended(p_table || ':' || i.id, 0))
                   FROM (SELECT DISTINCT unnest(p_ids) AS id ORDER BY 1) i;
            END IF;
        END
        $fn$;

"""
        + _refresh_function("premise_due", _REFRESH)
        + _refresh_function("zone_exposure", _EXPOSURE)
        + """

        CREATE FUNCTION geo_safety_refresh_all_premise_due() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM premise_due;  -- not TRUNCATE: it may be the cascade of a TRUNCATE that holds the table
            PERFORM geo_safety_refresh_premise_due(ARRAY(SELECT id FROM premises));
            RETURN NULL;
        END
        $$;

        CREATE FUNCTION geo_safety_refresh_all_zone_exposure() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM zone_exposure;
            PERFORM geo_safety_refresh_zone_exposure(ARRAY(SELECT DISTINCT hazard_id FROM hazard_school_links));
            RETURN NULL;
        END
        $$;
        """
    )
    for table, ids in _SOURCES:
        op.execute(_trigger(table, ids))
    for table, events, ids in _ZONE_SOURCES:
        for event in events:
            select = (
                ids.format(rows="new_rows") + " UNION " + ids.format(rows="old_rows")
                if event == "update" and "{rows}" in ids
                else ids.format(rows="new_rows" if event == "insert" else "old_rows")
            )
            op.execute(_statement_trigger("exposure", table, event, "geo_safety_refresh_zone_exposure", select))
    op.execute(
        """
        CREATE TRIGGER tr_hazard_school_links_exposure_truncate AFTER TRUNCATE ON hazard_school_links
            FOR EACH STATEMENT EXECUTE FUNCTION geo_safety_refresh_all_zone_exposure();
        CREATE TRIGGER tr_schools_exposure_truncate AFTER TRUNCATE ON schools
            FOR EACH STATEMENT EXECUTE FUNCTION geo_safety_refresh_all_zone_exposure();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER tr_hazard_school_links_exposure_truncate ON hazard_school_links;")
    op.execute("DROP TRIGGER tr_schools_exposure_truncate ON schools;")
    for table, events, _ in _ZONE_SOURCES:
        for event in events:
            op.execute(f"DROP TRIGGER tr_{table}_exposure_{event} ON {table};")
            op.execute(f"DROP FUNCTION geo_safety_exposure_{table}_{event}();")
    for table, _ in _SOURCES:
        op.execute(f"DROP TRIGGER tr_{table}_due_truncate ON {table};")
        events = ("update",) if table in _UPDATE_ONLY else ("update", "insert", "delete")
        for event in events:
            op.execute(f"DROP TRIGGER tr_{table}_due_{event} ON {table};")
            op.execute(f"DROP FUNCTION geo_safety_due_{table}_{event}();")
    op.execute(
        """
        DROP FUNCTION geo_safety_refresh_all_premise_due();
        DROP FUNCTION geo_safety_refresh_all_zone_exposure();
        DROP FUNCTION geo_safety_refresh_zone_exposure(text[]);
        DROP TABLE zone_exposure;
        DROP FUNCTION geo_safety_refresh_premise_due(text[]);
        DROP FUNCTION geo_safety_lock_state(text, text[]);
        DROP INDEX ix_hazard_school_links_nearest;
        DROP TABLE premise_due;
        DROP TABLE due_rules_meta;
        DROP TABLE due_rules;
        """
    )
