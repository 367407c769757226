"""Data versions per district and layer, so a cached answer is dropped only when what it read changes.

- ``data_versions``: one counter per (district, layer), raised by 1 in the writing transaction itself, so a
  reader sees the new version exactly when it sees the new rows. ``services.cache`` keys answers by the
  versions of the districts and layers they read: a visit in one district leaves the others' answers
  cached; a login or an audit entry changes no version at all.
- Statement-level triggers on every layer an answer reads keep the counters, so no write path (the API,
  file imports, first loads by ``COPY``, plain SQL) can forget them:
  ``premises`` and ``premise_status_history`` (layer ``premises``), ``water_hazards``, ``inspections`` (the
  district of the premise or zone visited) and ``day_plans`` (the districts of the plan's scope) raise the
  districts they touch (an update both the old and the new one). ``schools`` and ``districts`` raise the
  whole-area row ``'*'``: a school's links reach premises and zones of neighbouring districts, and an
  outline moves features between districts. ``TRUNCATE`` raises ``'*'`` too. The link tables are derived and
  written in the transaction of the layer write they follow, so they need no trigger of their own.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: (table, layer, SQL of the district codes touched, reading the transition table ``rows``)
_BY_DISTRICT = (
    ("premises", "premises", "SELECT district_code FROM rows"),
    ("water_hazards", "water_hazards", "SELECT district_code FROM rows"),
    (
        "premise_status_history",
        "premises",
        "SELECT p.district_code FROM rows r JOIN premises p ON p.id = r.premise_id",
    ),
    (
        "inspections",
        "inspections",
        "SELECT coalesce(p.district_code, h.district_code) FROM rows r "
        "LEFT JOIN premises p ON p.id = r.premise_id LEFT JOIN water_hazards h ON h.id = r.hazard_id",
    ),
    (
        "day_plans",
        "day_plans",
        "SELECT c FROM rows, unnest(string_to_array(scope, ',')) c UNION SELECT '*' FROM rows WHERE scope = ''",
    ),
)
_WHOLE_AREA = (("schools", "schools"), ("districts", "districts"))


def _function(table: str, codes: str) -> str:
    """A trigger function raising the versions of the districts a statement on ``table`` touched."""
    new_codes = codes.replace("FROM rows", "FROM new_rows")
    old_codes = codes.replace("FROM rows", "FROM old_rows")
    return f"""
        CREATE FUNCTION geo_safety_versions_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                PERFORM geo_safety_bump_versions(TG_ARGV[0], ARRAY({new_codes}));
            ELSIF TG_OP = 'UPDATE' THEN
                PERFORM geo_safety_bump_versions(TG_ARGV[0], ARRAY({new_codes} UNION {old_codes}));
            ELSIF TG_OP = 'DELETE' THEN
                PERFORM geo_safety_bump_versions(TG_ARGV[0], ARRAY({old_codes}));
            ELSE
                PERFORM geo_safety_bump_versions(TG_ARGV[0], ARRAY['*']);
            END IF;
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER tr_{table}_versions_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION geo_safety_versions_{table}('{{layer}}');
        CREATE TRIGGER tr_{table}_versions_update AFTER UPDATE ON {table}
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION geo_safety_versions_{table}('{{layer}}');
        CREATE TRIGGER tr_{table}_versions_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION geo_safety_versions_{table}('{{layer}}');
        CREATE TRIGGER tr_{table}_versions_truncate AFTER TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION geo_safety_versions_{table}('{{layer}}');
    """


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE data_versions (
            district_code text NOT NULL,
            layer text NOT NULL,
            version bigint NOT NULL DEFAULT 1,
            changed_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_data_versions PRIMARY KEY (district_code, layer)
        );
        COMMENT ON COLUMN data_versions.district_code IS 'adcode, or * for a change that may touch any district';

        -- keys in a fixed order: two writers raising the same rows lock them in the same order (no deadlock)
        CREATE FUNCTION geo_safety_bump_versions(p_layer text, p_codes text[]) RETURNS void LANGUAGE sql AS $$
            INSERT INTO data_versions AS v (district_code, layer)
            SELECT DISTINCT c, p_layer FROM unnest(p_codes) c WHERE c IS NOT NULL ORDER BY 1
            ON CONFLICT (district_code, layer) DO UPDATE SET version = v.version + 1, changed_at = now()
        $$;

        CREATE FUNCTION geo_safety_versions_whole_area() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM geo_safety_bump_versions(TG_ARGV[0], ARRAY['*']);
            RETURN NULL;
        END
        $$;
        """
    )
    for table, layer, codes in _BY_DISTRICT:
        op.execute(_function(table, codes).replace("{layer}", layer))
    for table, layer in _WHOLE_AREA:
        op.execute(
            f"""
            CREATE TRIGGER tr_{table}_versions AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION geo_safety_versions_whole_area('{layer}');
            """
        )


def downgrade() -> None:
    for table, _ in _WHOLE_AREA:
        op.execute(f"DROP TRIGGER tr_{table}_versions ON {table};")
    for table, _, _ in _BY_DISTRICT:
        for event in ("insert", "update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER tr_{table}_versions_{event} ON {table};")
        op.execute(f"DROP FUNCTION geo_safety_versions_{table}();")
    op.execute(
        """
        DROP FUNCTION geo_safety_versions_whole_area();
        DROP FUNCTION geo_safety_bump_versions(text, text[]);
        DROP TABLE data_versions;
        """
    )
