"""Accounts, API tokens, browser sessions and the audit trail (``services.users`` and ``services.audit``)."""

from __future__ import annotations

from functools import cache

from sqlalchemy import TextClause, text

from geo_safety.sql import ident

# -- audit trail ------------------------------------------------------------------------------------------------
#: Who writes in this transaction, for database triggers (the hazard history). Binds: ``a`` actor, ``c`` client.
SET_ACTOR = text("SELECT set_config('geo_safety.actor', :a, true), set_config('geo_safety.client', :c, true)")

#: One audit entry. Binds: ``actor``, ``action``, ``tt`` target type, ``tid`` target id, ``details`` (JSON text),
#: ``client``.
INSERT_AUDIT = text(
    "INSERT INTO audit_log (actor, action, target_type, target_id, details, client) "
    "VALUES (:actor, :action, :tt, :tid, CAST(:details AS jsonb), :client)"
)

#: Audit entries from ``since`` on, oldest first. Binds: ``since``, ``limit``.
AUDIT_SINCE = text(
    "SELECT id, at, actor, action, target_type, target_id, details, client FROM audit_log "
    "WHERE at >= :since ORDER BY at, id LIMIT :limit"
)

# -- users --------------------------------------------------------------------------------------------------------
#: A new account. Binds: ``n`` name, ``k`` name key, ``r`` role, ``d`` districts, ``h`` password hash, ``demo``.
INSERT_USER = text(
    "INSERT INTO users (name, name_key, role, districts, password_hash, is_demo) "
    "VALUES (:n, :k, :r, :d, :h, :demo) RETURNING id"
)

#: The account stored under exactly this name. Binds: ``n``.
USER_BY_NAME = text("SELECT id, name FROM users WHERE name = :n")

#: The enabled account a typed name means, with its password hash. Binds: ``k`` name key.
ENABLED_USER_BY_KEY = text(
    "SELECT id, name, role, districts, password_hash FROM users WHERE name_key = :k AND disabled_at IS NULL"
)

#: Every account, by name. No binds.
LIST_USERS = text("SELECT name, role, districts, is_demo, disabled_at, created_at FROM users ORDER BY name")

#: A new password hash. Binds: ``h`` hash, ``u`` user id.
SET_PASSWORD = text("UPDATE users SET password_hash = :h WHERE id = :u")

#: A new password hash for a demo account, enabling it again. Binds: ``h`` hash, ``u`` user id.
RESET_DEMO_PASSWORD = text("UPDATE users SET password_hash = :h, disabled_at = NULL WHERE id = :u")

#: Disable an account (the first time counts). Binds: ``u`` user id.
DISABLE_USER = text("UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE id = :u")

#: The names of the demo accounts. No binds.
DEMO_NAMES = text("SELECT name FROM users WHERE is_demo")

#: Whether an enabled demo account exists. No binds.
DEMO_USERS_EXIST = text("SELECT EXISTS (SELECT 1 FROM users WHERE is_demo AND disabled_at IS NULL)")

# -- API tokens ---------------------------------------------------------------------------------------------------
#: A new token's digest, valid for ``days``. Binds: ``u`` user id, ``d`` digest, ``days``.
INSERT_TOKEN = text(
    "INSERT INTO api_tokens (user_id, token_digest, expires_at) "
    "VALUES (:u, :d, now() + make_interval(days => :days)) RETURNING id, expires_at"
)

#: A user's tokens (never their digests). Binds: ``u`` user id.
LIST_TOKENS = text("SELECT id, created_at, expires_at, revoked_at FROM api_tokens WHERE user_id = :u ORDER BY id")

#: Revoke one token of a user (the first revocation counts). Binds: ``t`` token id, ``u`` user id.
REVOKE_TOKEN = text(
    "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = :t AND user_id = :u RETURNING id"
)

#: Revoke a user's tokens that are still valid. Binds: ``u`` user id.
REVOKE_ACTIVE_TOKENS = text("UPDATE api_tokens SET revoked_at = now() WHERE user_id = :u AND revoked_at IS NULL")

#: Revoke every token of a user, stamping them all now (demo reset). Binds: ``u`` user id.
REVOKE_ALL_TOKENS = text("UPDATE api_tokens SET revoked_at = now() WHERE user_id = :u")

#: The enabled account of a valid token. Binds: ``d`` token digest.
PRINCIPAL_BY_TOKEN = text(
    "SELECT u.id, u.name, u.role, u.districts FROM api_tokens t JOIN users u ON u.id = t.user_id "
    "WHERE t.token_digest = :d AND t.revoked_at IS NULL AND t.expires_at > now() "
    "AND u.disabled_at IS NULL"
)

# -- browser sessions --------------------------------------------------------------------------------------------
#: A new session. Binds: ``u`` user id, ``d`` session digest, ``exp`` expiry, ``c`` client.
INSERT_SESSION = text(
    "INSERT INTO web_sessions (user_id, session_digest, expires_at, client) VALUES (:u, :d, :exp, :c)"
)

#: End every open session of a user. Binds: ``u`` user id.
END_USER_SESSIONS = text("UPDATE web_sessions SET ended_at = now() WHERE user_id = :u AND ended_at IS NULL")

#: End one open session. Binds: ``d`` session digest.
END_SESSION = text("UPDATE web_sessions SET ended_at = now() WHERE session_digest = :d AND ended_at IS NULL")

#: The enabled account of an open session. Binds: ``d`` session digest.
PRINCIPAL_BY_SESSION = text(
    "SELECT u.id, u.name, u.role, u.districts FROM web_sessions s JOIN users u ON u.id = s.user_id "
    "WHERE s.session_digest = :d AND s.ended_at IS NULL AND s.expires_at > now() "
    "AND u.disabled_at IS NULL"
)

# -- login limits -------------------------------------------------------------------------------------------------
#: The account's last successful login inside the window. Binds: ``a`` account, ``window`` minutes.
LAST_LOGIN = text(
    "SELECT max(at) FROM audit_log WHERE action = 'login' AND actor = :a "
    "AND at > now() - make_interval(mins => :window)"
)

#: Who failures are counted by: the account (``actor``) or the address (``client``).
FAILURE_SCOPES = ("actor", "client")


@cache
def failures_since(column: str) -> TextClause:
    """Seconds until the ``skip + 1``-th newest failure of ``who`` leaves the window (no row: fewer failures).

    ``column`` is ``actor`` or ``client`` of ``audit_log``. Binds: ``who``, ``window`` minutes, ``since`` (only
    failures after it count), ``skip`` (the limit minus one).
    """
    if column not in FAILURE_SCOPES:
        raise ValueError(f"failures are counted by {' or '.join(FAILURE_SCOPES)}, not {column!r}")
    return text(
        "SELECT ceil(extract(epoch FROM at + make_interval(mins => :window) - now())) FROM audit_log "
        f"WHERE action = 'login.failed' AND {ident.column('audit_log', column)} = :who "
        "AND at > now() - make_interval(mins => :window) "
        "AND at > :since ORDER BY at DESC OFFSET :skip LIMIT 1"
    )
