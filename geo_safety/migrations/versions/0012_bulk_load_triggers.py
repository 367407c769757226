"""A first load into an empty ``premises`` table writes its rows, links and due state as bulk work (issue 17).

Measured on a 2-core machine for a million premises: the statement triggers on ``premises`` inserts read a
transition table that a ``COPY`` first writes out whole (1.7–3.3 s); the key checked row by row cost 1.2 s of
``COPY``; the status history rows of premises loaded closed were checked against that key one by one (1.3 s for
50,000); and with schools present, the 1.6 million links' due trigger recomputed the due state through an
``IN (SELECT unnest(ids))`` of every id against seven indexes and a foreign key checked per row (21 s). When
``premises`` was empty, everything that refers to it is empty too, so all of that can be done once, set-based,
after the rows are in:

- ``geo_safety_bulk_load_begin(table)``: for ``premises`` only (other tables: nothing), refuses unless it is
  empty, removes links of no premise, sets aside (in a temporary table) and drops the primary keys of
  ``premises``, ``premise_school_links`` and ``premise_due``, the foreign keys that reference ``premises`` and the
  other indexes of the link and due tables, and disables the insert triggers of ``premises`` and of the links;
- ``geo_safety_bulk_load_end(table)``: restores the key of ``premises`` first (a duplicate id fails here, as a
  unique violation), writes what the disabled triggers would have (status history of premises loaded closed,
  data versions of every district written, the due state of every premise from the stored rules), then
  rebuilds the indexes, restores the other keys (each foreign key validated by one join) and the triggers.

Both run in the load's transaction: a rejected load rolls back the rows and every change to the schema alike.
The price, besides ``premises`` itself: the tables whose keys are dropped (``inspections``, the status history,
links and due state) are locked until the load commits; a first load of premises is a set-up step.
``tests/test_bulkload.py`` compares a first load's history, versions and due state with the same rows written
through the triggers, and checks that the schema is the same after a load as before.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

#: 0010's due state of premises ``$1``, for every premise at once (no id filters: the whole table is new)
_ALL_DUE = """
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
         WHERE k.distance_m <= CASE WHEN s.kind = 'kindergarten' THEN r.kg_m ELSE r.other_m END
         ORDER BY p.id, k.distance_m, k.school_id) n ON true
  LEFT JOIN (SELECT DISTINCT ON (i.premise_id) i.premise_id, i.result, i.follow_up_due,
                    CAST(i.inspected_at AT TIME ZONE 'Asia/Shanghai' AS date) AS last_on
               FROM inspections i
              WHERE i.premise_id IS NOT NULL
              ORDER BY i.premise_id, i.inspected_at DESC, i.id DESC) l ON l.premise_id = n.id
  LEFT JOIN (SELECT DISTINCT ON (h.premise_id) h.premise_id, h.status, h.valid_from
               FROM premise_status_history h
              ORDER BY h.premise_id, h.valid_from DESC NULLS LAST, h.observed_at DESC, h.id DESC) st
         ON st.premise_id = n.id
"""


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION geo_safety_bulk_load_begin(p_table regclass) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            item record;
        BEGIN
            IF p_table <> 'premises'::regclass THEN
                RETURN;
            END IF;
            IF EXISTS (SELECT 1 FROM premises) THEN
                RAISE EXCEPTION 'a bulk load of premises needs an empty table';
            END IF;
            DELETE FROM premise_school_links;  -- links of no premise (the table has no foreign key)
            -- step 1: the key of premises; 2: the derived tables' keys and indexes; 3: foreign keys to premises
            CREATE TEMP TABLE bulk_load_set_aside ON COMMIT DROP AS
            SELECT c.conrelid::regclass::text AS owner, c.conname::text AS name, true AS is_constraint,
                   format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
                          pg_get_constraintdef(c.oid)) AS restore,
                   CASE WHEN c.contype = 'f' THEN 3 WHEN c.conrelid = 'premises'::regclass THEN 1 ELSE 2 END AS step
              FROM pg_constraint c
             WHERE (c.contype = 'f' AND c.confrelid = 'premises'::regclass)
                OR (c.contype = 'p' AND c.conrelid IN ('premises'::regclass, 'premise_school_links'::regclass,
                                                       'premise_due'::regclass))
            UNION ALL
            SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, false, pg_get_indexdef(i.indexrelid), 2
              FROM pg_index i
             WHERE i.indrelid IN ('premise_school_links'::regclass, 'premise_due'::regclass)
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);
            FOR item IN SELECT * FROM bulk_load_set_aside ORDER BY step DESC, owner, name LOOP
                IF item.is_constraint THEN  -- foreign keys first: they depend on the keys
                    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', item.owner, item.name);
                ELSE
                    EXECUTE format('DROP INDEX %s', item.name);  -- regclass text: quoted where needed
                END IF;
            END LOOP;
            ALTER TABLE premises DISABLE TRIGGER tr_premises_status_insert,
                                 DISABLE TRIGGER tr_premises_versions_insert;
            ALTER TABLE premise_school_links DISABLE TRIGGER tr_premise_school_links_due_insert;
        END
        $$;

        CREATE FUNCTION geo_safety_bulk_load_end(p_table regclass) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            item record;
        BEGIN
            IF p_table <> 'premises'::regclass THEN
                RETURN;
            END IF;
            FOR item IN SELECT * FROM bulk_load_set_aside WHERE step = 1 LOOP
                EXECUTE item.restore;  -- a duplicate id: unique_violation
            END LOOP;
            -- what tr_premises_status_insert writes (0008), reading the table instead of the statement's rows;
            -- the history's own insert triggers would bump the versions and the due state redone below
            ALTER TABLE premise_status_history DISABLE TRIGGER tr_premise_status_history_versions_insert,
                                               DISABLE TRIGGER tr_premise_status_history_due_insert;
            INSERT INTO premise_status_history (premise_id, status, valid_from, observed_at, source)
            SELECT n.id, n.status, n.closed_on,
                   coalesce(n.closed_on::timestamp AT TIME ZONE 'Asia/Shanghai', now()), 'import'
              FROM premises n
             WHERE n.status <> 'open';
            ALTER TABLE premise_status_history ENABLE TRIGGER tr_premise_status_history_versions_insert,
                                               ENABLE TRIGGER tr_premise_status_history_due_insert;
            -- what tr_premises_versions_insert does (0009)
            PERFORM geo_safety_bump_versions('premises', ARRAY(SELECT DISTINCT district_code FROM premises));
            -- what the links' due trigger does (0010), for all premises at once; nothing before rules are stored
            IF EXISTS (SELECT 1 FROM due_rules_meta) THEN
                -- its sort of a million links and hash of a million premises fit in memory (till the load ends)
                PERFORM set_config('work_mem', '256MB', true);
                """
        + _ALL_DUE
        + """;
            END IF;
            FOR item IN SELECT * FROM bulk_load_set_aside WHERE step > 1 ORDER BY step, owner, name LOOP
                EXECUTE item.restore;
            END LOOP;
            ALTER TABLE premises ENABLE TRIGGER tr_premises_status_insert,
                                 ENABLE TRIGGER tr_premises_versions_insert;
            ALTER TABLE premise_school_links ENABLE TRIGGER tr_premise_school_links_due_insert;
            DROP TABLE bulk_load_set_aside;
            IF EXISTS (SELECT 1 FROM premise_school_links) THEN
                ANALYZE premise_school_links, premise_due;
            END IF;
        END
        $$;
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION geo_safety_bulk_load_end(regclass); DROP FUNCTION geo_safety_bulk_load_begin(regclass);")
