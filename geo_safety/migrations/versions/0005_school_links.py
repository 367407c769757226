"""Feature–school pairs within reach, kept at write time (see ``geo_safety.proximity``).

Due lists and hotspot rankings join these tables instead of measuring spheroid distances per pair at
query time. There are no foreign keys (as with ``district_code``): every write path refreshes the
links of what it wrote in its own transaction (``services.links``), and the queries join the live
tables, so a link to a removed row is never used. The geography index on premises served only the
per-query distance joins; it cost ~10 s of every million-row load and is dropped.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE premise_school_links (
            premise_id text NOT NULL,
            school_id text NOT NULL,
            distance_m double precision NOT NULL CONSTRAINT ck_premise_school_links_distance CHECK (distance_m >= 0),
            CONSTRAINT pk_premise_school_links PRIMARY KEY (premise_id, school_id)
        );
        CREATE INDEX ix_premise_school_links_school ON premise_school_links (school_id);
        CREATE TABLE hazard_school_links (
            hazard_id text NOT NULL,
            school_id text NOT NULL,
            distance_m double precision NOT NULL CONSTRAINT ck_hazard_school_links_distance CHECK (distance_m >= 0),
            CONSTRAINT pk_hazard_school_links PRIMARY KEY (hazard_id, school_id)
        );
        CREATE INDEX ix_hazard_school_links_school ON hazard_school_links (school_id);
        DROP INDEX ix_premises_geog;
        """
    )
    # Links of the rows already stored, in SQL on the spheroid: this revision stays as it was written whatever
    # the package's link code becomes (every later write keeps the links itself, ``services.links``).
    # Premises: the nearest kindergarten and the nearest other school within 500 m; zones: every school
    # within 1 km of a live zone (``proximity.PREMISE_REACH_M``, ``HAZARD_REACH_M`` when this was written).
    op.execute(
        """
        INSERT INTO premise_school_links (premise_id, school_id, distance_m)
        SELECT p.id, n.id, n.distance_m
          FROM premises p
          CROSS JOIN LATERAL (
              (SELECT s.id, ST_Distance(p.geom::geography, coalesce(s.campus, s.geom)::geography) AS distance_m
                 FROM schools s
                WHERE s.kind = 'kindergarten'
                  AND ST_DWithin(p.geom::geography, coalesce(s.campus, s.geom)::geography, 500)
                ORDER BY 2, 1 LIMIT 1)
              UNION ALL
              (SELECT s.id, ST_Distance(p.geom::geography, coalesce(s.campus, s.geom)::geography)
                 FROM schools s
                WHERE s.kind <> 'kindergarten'
                  AND ST_DWithin(p.geom::geography, coalesce(s.campus, s.geom)::geography, 500)
                ORDER BY 2, 1 LIMIT 1)
          ) AS n;
        INSERT INTO hazard_school_links (hazard_id, school_id, distance_m)
        SELECT h.id, s.id, ST_Distance(h.geom::geography, coalesce(s.campus, s.geom)::geography)
          FROM water_hazards h
          JOIN schools s ON ST_DWithin(h.geom::geography, coalesce(s.campus, s.geom)::geography, 1000)
         WHERE h.deleted_at IS NULL;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE premise_school_links;
        DROP TABLE hazard_school_links;
        CREATE INDEX ix_premises_geog ON premises USING gist ((geom::geography));
        """
    )
