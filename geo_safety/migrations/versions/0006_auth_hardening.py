"""Authentication hardening: unique normalised user names, expiring API tokens, login-throttling indexes.

- ``users.name_key``: the name in NFKC with case folded (``Wang``, ``WANG`` and full-width ``Ｗａｎｇ`` share
  one key) and unique, so look-alike accounts cannot be created. Computed here with the standard library, the
  same rule as ``geo_safety.services.users.name_key``; the upgrade stops and names the accounts when two
  existing names already share a key (rename or disable one first).
- ``api_tokens.expires_at``: tokens stop working then. Tokens issued before this revision get 90 days from
  the upgrade, so no client breaks on the day of the upgrade.
- Partial indexes on ``audit_log`` for counting recent failed logins per account and per client address.

Revision ID: 0006
Revises: 0005
"""

import unicodedata

from alembic import op
from sqlalchemy import text

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _key(name: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def upgrade() -> None:
    conn = op.get_bind()
    op.execute("ALTER TABLE users ADD COLUMN name_key text")
    rows = conn.execute(text("SELECT id, name FROM users ORDER BY id")).all()
    owners: dict[str, list[str]] = {}
    for user_id, name in rows:
        owners.setdefault(_key(name), []).append(name)
        conn.execute(text("UPDATE users SET name_key = :k WHERE id = :i"), {"k": _key(name), "i": user_id})
    clashes = [names for names in owners.values() if len(names) > 1]
    if clashes:
        listed = "; ".join(" / ".join(repr(n) for n in names) for names in clashes)
        raise RuntimeError(f"user names that differ only by case or width: {listed}; rename or remove one of each")
    op.execute(
        """
        ALTER TABLE users ALTER COLUMN name_key SET NOT NULL;
        ALTER TABLE users ADD CONSTRAINT uq_users_name_key UNIQUE (name_key);
        ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
        UPDATE api_tokens SET expires_at = now() + interval '90 days';
        ALTER TABLE api_tokens ALTER COLUMN expires_at SET NOT NULL;
        CREATE INDEX ix_audit_log_login_failed_actor ON audit_log (actor, at) WHERE action = 'login.failed';
        CREATE INDEX ix_audit_log_login_failed_client ON audit_log (client, at) WHERE action = 'login.failed';
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX ix_audit_log_login_failed_client;
        DROP INDEX ix_audit_log_login_failed_actor;
        ALTER TABLE api_tokens DROP COLUMN expires_at;
        ALTER TABLE users DROP CONSTRAINT uq_users_name_key;
        ALTER TABLE users DROP COLUMN name_key;
        """
    )
