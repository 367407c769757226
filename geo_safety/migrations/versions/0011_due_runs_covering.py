"""The ordered runs of one district's due list read from their indexes alone (issue 17).

0010's run indexes held the sort keys only, so every row of a run fetched its heap tuple for the columns the
list shows and for the filters (open, records after the day, a failed result's recheck day); for a dense
province district the planner then preferred a bitmap scan of the whole run and a sort (10 ms a run, six
runs). With those columns included, a run is an index-only scan that stops after the page. ``open`` moves into
the predicates: a closed premise is never due, so its rows need not be in a run at all.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        DROP INDEX ix_premise_due_failed, ix_premise_due_never, ix_premise_due_overdue;
        CREATE INDEX ix_premise_due_failed ON premise_due (district_code, violation, recheck_on, distance_m, premise_id)
            INCLUDE (school_id, rule_m, last_on, records_until) WHERE result = 'fail' AND open;
        CREATE INDEX ix_premise_due_never ON premise_due (district_code, violation, distance_m, premise_id)
            INCLUDE (school_id, rule_m, last_on, records_until) WHERE last_on IS NULL AND open;
        CREATE INDEX ix_premise_due_overdue
            ON premise_due (district_code, violation, next_due_on, distance_m, premise_id)
            INCLUDE (school_id, rule_m, last_on, records_until, result, recheck_on) WHERE last_on IS NOT NULL AND open;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX ix_premise_due_failed, ix_premise_due_never, ix_premise_due_overdue;
        CREATE INDEX ix_premise_due_failed ON premise_due (district_code, violation, recheck_on, distance_m, premise_id)
            WHERE result = 'fail';
        CREATE INDEX ix_premise_due_never ON premise_due (district_code, violation, distance_m, premise_id)
            WHERE last_on IS NULL;
        CREATE INDEX ix_premise_due_overdue
            ON premise_due (district_code, violation, next_due_on, distance_m, premise_id) WHERE last_on IS NOT NULL;
        """
    )
