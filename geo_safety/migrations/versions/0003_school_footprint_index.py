"""A geography index on each school's footprint (campus polygon, else gate point).

Rule distances are measured to the campus when a school has one, otherwise to its gate, i.e. to
``coalesce(campus, geom)``; indexing that very expression lets ``ST_DWithin`` use one index scan
instead of OR-ing two.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_schools_footprint_geog ON schools USING gist ((coalesce(campus, geom)::geography))")


def downgrade() -> None:
    op.execute("DROP INDEX ix_schools_footprint_geog")
