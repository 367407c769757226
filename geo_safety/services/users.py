"""Accounts, credentials and sessions. Secrets are returned once, at creation, and stored only as hashes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from geo_safety import security
from geo_safety.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo_safety.rules import Role, allowed
from geo_safety.services.audit import Actor, record
from geo_safety.settings import Settings

#: Demo accounts made by the main job on the sample data: one per role, two inspectors in two districts.
DEMO_USERS = (
    ("demo-inspector", Role.INSPECTOR, ("450502",)),
    ("demo-inspector-hepu", Role.INSPECTOR, ("450521",)),
    ("demo-planner", Role.PLANNER, ()),
    ("demo-viewer", Role.VIEWER, ()),
    ("demo-admin", Role.ADMIN, ()),
)


@dataclass(frozen=True)
class Principal:
    """An authenticated user. ``districts`` is ``None`` when the account covers the whole city."""

    id: int
    name: str
    role: Role
    districts: tuple[str, ...] | None

    def may(self, action: str) -> bool:
        return allowed(self.role, action)

    def covers(self, district_code: str) -> bool:
        return self.districts is None or district_code in self.districts

    def scope(self, district: str | None) -> tuple[str, ...] | None:
        """The districts a read may return: the one asked for (if covered), else all the user covers."""
        if district is None:
            return self.districts
        if not self.covers(district):
            raise Forbidden(f"your account covers district {', '.join(self.districts or ())} only, not {district}")
        return (district,)


@dataclass(frozen=True)
class NewCredentials:
    name: str
    role: str
    districts: tuple[str, ...]
    password: str | None
    token: str


def _principal(row: Any) -> Principal:
    districts = tuple(row.districts) or None
    return Principal(row.id, row.name, Role(row.role), districts)


def _check_districts(conn: Connection, role: Role, districts: tuple[str, ...]) -> None:
    if role is Role.INSPECTOR and not districts:
        raise InvalidInput("an inspector needs at least one --district")
    if districts:
        known = set(conn.execute(text("SELECT code FROM districts")).scalars())
        unknown = sorted(set(districts) - known)
        if unknown:
            raise InvalidInput(f"unknown district {', '.join(unknown)}; known: {', '.join(sorted(known)) or 'none'}")


def _issue_token(conn: Connection, settings: Settings, user_id: int) -> str:
    token = security.new_token()
    conn.execute(
        text("INSERT INTO api_tokens (user_id, token_digest) VALUES (:u, :d)"),
        {"u": user_id, "d": security.digest(settings.secret_key, token)},
    )
    return token


def add_user(
    engine: Engine,
    settings: Settings,
    actor: Actor,
    name: str,
    role: str,
    districts: tuple[str, ...] = (),
    *,
    is_demo: bool = False,
) -> NewCredentials:
    """Create an account with a generated password and an API token (both shown once)."""
    try:
        role_ = Role(role)
    except ValueError:
        raise InvalidInput(f"unknown role {role!r}; use one of: {', '.join(r.value for r in Role)}") from None
    name = name.strip()
    if not name or len(name) > 64:
        raise InvalidInput("a user name needs 1 to 64 characters")
    password = security.new_password()
    try:
        with engine.begin() as conn:
            _check_districts(conn, role_, districts)
            user_id = conn.execute(
                text(
                    "INSERT INTO users (name, role, districts, password_hash, is_demo) "
                    "VALUES (:n, :r, :d, :h, :demo) RETURNING id"
                ),
                {
                    "n": name,
                    "r": role_.value,
                    "d": list(districts),
                    "h": security.hash_password(password),
                    "demo": is_demo,
                },
            ).scalar_one()
            token = _issue_token(conn, settings, user_id)
            record(conn, actor, "user.create", "user", name, {"role": role_.value, "districts": list(districts)})
    except IntegrityError as exc:
        raise Conflict(f"a user named {name!r} exists already") from exc
    return NewCredentials(name, role_.value, districts, password, token)


def _user_id(conn: Connection, name: str) -> int:
    user_id = conn.execute(text("SELECT id FROM users WHERE name = :n"), {"n": name}).scalar_one_or_none()
    if user_id is None:
        raise NotFound(f"no user named {name!r}")
    return user_id


def new_token(engine: Engine, settings: Settings, actor: Actor, name: str) -> str:
    """Issue another API token for ``name`` (older tokens stay valid until the user is disabled)."""
    with engine.begin() as conn:
        token = _issue_token(conn, settings, _user_id(conn, name))
        record(conn, actor, "user.token", "user", name)
    return token


def disable_user(engine: Engine, actor: Actor, name: str) -> None:
    """Disable an account: its tokens and sessions stop working at once; its history stays."""
    with engine.begin() as conn:
        user_id = _user_id(conn, name)
        conn.execute(text("UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE id = :u"), {"u": user_id})
        conn.execute(
            text("UPDATE api_tokens SET revoked_at = now() WHERE user_id = :u AND revoked_at IS NULL"), {"u": user_id}
        )
        conn.execute(
            text("UPDATE web_sessions SET ended_at = now() WHERE user_id = :u AND ended_at IS NULL"), {"u": user_id}
        )
        record(conn, actor, "user.disable", "user", name)


def list_users(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT name, role, districts, is_demo, disabled_at, created_at FROM users ORDER BY name")
        ).mappings()
        return [dict(r) for r in rows]


def authenticate_token(engine: Engine, settings: Settings, token: str) -> Principal | None:
    if not security.looks_like_token(token):
        return None
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT u.id, u.name, u.role, u.districts FROM api_tokens t JOIN users u ON u.id = t.user_id "
                "WHERE t.token_digest = :d AND t.revoked_at IS NULL AND u.disabled_at IS NULL"
            ),
            {"d": security.digest(settings.secret_key, token)},
        ).one_or_none()
    return _principal(row) if row else None


def login(engine: Engine, settings: Settings, name: str, password: str, client: str | None) -> tuple[Principal, str]:
    """Check a password and open a browser session; returns the principal and the session id (for the cookie)."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT id, name, role, districts, password_hash FROM users WHERE name = :n AND disabled_at IS NULL"),
            {"n": name},
        ).one_or_none()
    if not security.verify_password(row.password_hash if row else None, password) or row is None:
        with engine.begin() as conn:  # the failure is recorded even though the login is refused
            record(conn, Actor(name[:64] or "?", client), "login.failed")
        raise InvalidInput("wrong user name or password")
    session_id = security.new_token()
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO web_sessions (user_id, session_digest, expires_at, client) VALUES (:u, :d, :exp, :c)"),
            {
                "u": row.id,
                "d": security.digest(settings.secret_key, session_id),
                "exp": datetime.now(UTC) + timedelta(hours=settings.session_hours),
                "c": client,
            },
        )
        record(conn, Actor(row.name, client), "login")
    return _principal(row), session_id


def session_principal(engine: Engine, settings: Settings, session_id: str) -> Principal | None:
    if not security.looks_like_token(session_id):
        return None
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT u.id, u.name, u.role, u.districts FROM web_sessions s JOIN users u ON u.id = s.user_id "
                "WHERE s.session_digest = :d AND s.ended_at IS NULL AND s.expires_at > now() "
                "AND u.disabled_at IS NULL"
            ),
            {"d": security.digest(settings.secret_key, session_id)},
        ).one_or_none()
    return _principal(row) if row else None


def logout(engine: Engine, settings: Settings, session_id: str, actor: Actor) -> None:
    with engine.begin() as conn:
        ended = conn.execute(
            text("UPDATE web_sessions SET ended_at = now() WHERE session_digest = :d AND ended_at IS NULL"),
            {"d": security.digest(settings.secret_key, session_id)},
        ).rowcount
        if ended:
            record(conn, actor, "logout")


def reset_demo_users(engine: Engine, settings: Settings, actor: Actor) -> list[NewCredentials]:
    """(Re)create the demo accounts with fresh passwords and tokens, for a new user to click through."""
    created = []
    with engine.begin() as conn:
        existing = set(conn.execute(text("SELECT name FROM users WHERE is_demo")).scalars())
        for name, role, districts in DEMO_USERS:
            if name not in existing:
                continue
            password = security.new_password()
            user_id = _user_id(conn, name)
            conn.execute(
                text("UPDATE users SET password_hash = :h, disabled_at = NULL WHERE id = :u"),
                {"h": security.hash_password(password), "u": user_id},
            )
            conn.execute(text("UPDATE api_tokens SET revoked_at = now() WHERE user_id = :u"), {"u": user_id})
            token = _issue_token(conn, settings, user_id)
            record(conn, actor, "user.reset_demo", "user", name)
            created.append(NewCredentials(name, role.value, districts, password, token))
    for name, role, districts in DEMO_USERS:
        if name not in existing:
            created.append(add_user(engine, settings, actor, name, role, districts, is_demo=True))
    return created


def demo_users_exist(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(text("SELECT EXISTS (SELECT 1 FROM users WHERE is_demo AND disabled_at IS NULL)")).scalar_one()
        )


def production_problems(engine: Engine, settings: Settings) -> list[str]:
    """What stops a production start: the default secret, or demo accounts that still work."""
    from geo_safety.settings import DEFAULT_SECRET

    problems = []
    if settings.secret_key == DEFAULT_SECRET or len(settings.secret_key) < 32:
        problems.append("set GEO_SAFETY_SECRET_KEY to a random secret of at least 32 characters")
    if demo_users_exist(engine):
        problems.append("demo users exist; disable them (`geo-safety users disable NAME`)")
    return problems
