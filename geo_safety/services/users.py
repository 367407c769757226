"""Accounts, credentials and sessions. Secrets are returned once, at creation, and stored only as hashes."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from geo_safety import security
from geo_safety.errors import Conflict, Forbidden, GeoSafetyError, InvalidInput, NotFound, Unauthenticated
from geo_safety.rules import Role, allowed
from geo_safety.services.audit import Actor, record
from geo_safety.settings import Settings
from geo_safety.sql import accounts as sql_accounts
from geo_safety.sql import districts as sql_districts

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
    token_id: int | None = None
    token_expires_at: datetime | None = None


@dataclass(frozen=True)
class IssuedToken:
    """A new API token (shown once), its id (to revoke it alone) and when it stops working."""

    id: int
    token: str
    expires_at: datetime


class LoginThrottled(GeoSafetyError):
    """Too many failed logins for this account or from this address: try again after ``retry_after`` seconds."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(f"too many failed logins for this {scope}; try again in {retry_after // 60 + 1} min")
        self.scope, self.retry_after = scope, retry_after


class LoginBusy(GeoSafetyError):
    """Every password-check slot is taken: refused at once rather than queued."""

    retry_after = 2


# -- user names ---------------------------------------------------------------------------------------------
#: Characters that show as nothing although Unicode files them as letters or marks (fillers, variation
#: selectors, the combining grapheme joiner, a blank braille cell).
_INVISIBLE = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0}
_INVISIBLE_RANGES = ((0x180B, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
#: Control, format (zero-width, bidi overrides), surrogate, private-use, unassigned, line/paragraph separators.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _invisible(char: str) -> bool:
    point = ord(char)
    return (
        unicodedata.category(char) in _REFUSED_CATEGORIES
        or (unicodedata.category(char) == "Zs" and char != " ")
        or point in _INVISIBLE
        or any(low <= point <= high for low, high in _INVISIBLE_RANGES)
    )


def clean_name(name: str) -> str:
    """A user name as stored: NFKC, trimmed, 1 to 64 characters, nothing invisible (``InvalidInput`` if not).

    >>> clean_name(" Ｗａｎｇ ")
    'Wang'
    >>> clean_name("wang\u200b")
    Traceback (most recent call last):
    geo_safety.errors.InvalidInput: a user name may not contain control, format or invisible characters (U+200B)
    """
    cleaned = unicodedata.normalize("NFKC", name).strip()
    bad = next((c for c in cleaned if _invisible(c)), None)
    if bad is not None:
        raise InvalidInput(f"a user name may not contain control, format or invisible characters (U+{ord(bad):04X})")
    if not cleaned or len(cleaned) > 64:
        raise InvalidInput("a user name needs 1 to 64 characters")
    return cleaned


def name_key(name: str) -> str:
    """What makes two names the same account: NFKC with case folded (also computed by migration 0006).

    >>> name_key("WANG") == name_key("wang") == name_key("Ｗａｎｇ")
    True
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def _printable(name: str) -> str:
    """A refused name as the audit log shows it: escaped, never a NUL or a direction override."""
    return name.encode("unicode_escape").decode("ascii")[:64] or "?"


def _principal(row: Any) -> Principal:
    districts = tuple(row.districts) or None
    return Principal(row.id, row.name, Role(row.role), districts)


def _check_districts(conn: Connection, role: Role, districts: tuple[str, ...]) -> None:
    if role is Role.INSPECTOR and not districts:
        raise InvalidInput("an inspector needs at least one --district")
    if districts:
        known = set(conn.execute(sql_districts.CODES).scalars())
        unknown = sorted(set(districts) - known)
        if unknown:
            raise InvalidInput(f"unknown district {', '.join(unknown)}; known: {', '.join(sorted(known)) or 'none'}")


def _issue_token(conn: Connection, settings: Settings, user_id: int) -> IssuedToken:
    token = security.new_token()
    row = conn.execute(
        sql_accounts.INSERT_TOKEN,
        {"u": user_id, "d": security.digest(settings.secret_key, token), "days": settings.token_days},
    ).one()
    return IssuedToken(row.id, token, row.expires_at)


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
    name = clean_name(name)
    password = security.new_password()
    try:
        with engine.begin() as conn:
            _check_districts(conn, role_, districts)
            user_id = conn.execute(
                sql_accounts.INSERT_USER,
                {
                    "n": name,
                    "k": name_key(name),
                    "r": role_.value,
                    "d": list(districts),
                    "h": security.hash_password(password),
                    "demo": is_demo,
                },
            ).scalar_one()
            token = _issue_token(conn, settings, user_id)
            record(conn, actor, "user.create", "user", name, {"role": role_.value, "districts": list(districts)})
    except IntegrityError as exc:
        raise Conflict(f"a user named {name!r} (or one differing only in case or width) exists already") from exc
    return NewCredentials(name, role_.value, districts, password, token.token, token.id, token.expires_at)


def _user(conn: Connection, name: str) -> tuple[int, str]:
    """The id and stored name of the account named exactly ``name`` (after NFKC, as names are stored)."""
    try:
        cleaned = clean_name(name)
    except InvalidInput:
        raise NotFound(f"no user named {_printable(name)!r}") from None
    row = conn.execute(sql_accounts.USER_BY_NAME, {"n": cleaned}).one_or_none()
    if row is None:
        raise NotFound(f"no user named {cleaned!r}")
    return row.id, row.name


def _user_id(conn: Connection, name: str) -> int:
    return _user(conn, name)[0]


def issue_token(engine: Engine, settings: Settings, actor: Actor, name: str) -> IssuedToken:
    """Issue another API token for ``name``; it works until it expires (``token_days``) or is revoked."""
    with engine.begin() as conn:
        user_id, stored = _user(conn, name)
        issued = _issue_token(conn, settings, user_id)
        record(conn, actor, "user.token", "user", stored, {"token_id": issued.id, "expires_at": issued.expires_at})
    return issued


def new_token(engine: Engine, settings: Settings, actor: Actor, name: str) -> str:
    """Issue another API token for ``name`` and return just the secret."""
    return issue_token(engine, settings, actor, name).token


def list_tokens(engine: Engine, name: str) -> list[dict[str, Any]]:
    """The user's API tokens (never the secrets): id, issued, expires, revoked."""
    with engine.connect() as conn:
        user_id = _user_id(conn, name)
        rows = conn.execute(sql_accounts.LIST_TOKENS, {"u": user_id}).mappings()
        return [dict(r) for r in rows]


def revoke_token(engine: Engine, actor: Actor, name: str, token_id: int) -> None:
    """Revoke one API token of ``name``; the user's other tokens and sessions keep working."""
    with engine.begin() as conn:
        user_id, stored = _user(conn, name)
        found = conn.execute(sql_accounts.REVOKE_TOKEN, {"t": token_id, "u": user_id}).one_or_none()
        if found is None:
            raise NotFound(f"no token {token_id} of user {stored!r} (see `geo-safety users tokens {stored}`)")
        record(conn, actor, "user.token_revoke", "user", stored, {"token_id": token_id})


def _end_sessions(conn: Connection, user_id: int) -> None:
    conn.execute(sql_accounts.END_USER_SESSIONS, {"u": user_id})


def reset_password(engine: Engine, actor: Actor, name: str) -> str:
    """Give ``name`` a new generated password (returned once) and end every browser session of the account."""
    password = security.new_password()
    with engine.begin() as conn:
        user_id, stored = _user(conn, name)
        conn.execute(sql_accounts.SET_PASSWORD, {"h": security.hash_password(password), "u": user_id})
        _end_sessions(conn, user_id)
        record(conn, actor, "user.password_reset", "user", stored)
    return password


def disable_user(engine: Engine, actor: Actor, name: str) -> None:
    """Disable an account: its tokens and sessions stop working at once; its history stays."""
    with engine.begin() as conn:
        user_id, stored = _user(conn, name)
        conn.execute(sql_accounts.DISABLE_USER, {"u": user_id})
        conn.execute(sql_accounts.REVOKE_ACTIVE_TOKENS, {"u": user_id})
        _end_sessions(conn, user_id)
        record(conn, actor, "user.disable", "user", stored)


def list_users(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sql_accounts.LIST_USERS).mappings()
        return [dict(r) for r in rows]


def authenticate_token(engine: Engine, settings: Settings, token: str) -> Principal | None:
    if not security.looks_like_token(token):
        return None
    with engine.connect() as conn:
        row = conn.execute(
            sql_accounts.PRINCIPAL_BY_TOKEN, {"d": security.digest(settings.secret_key, token)}
        ).one_or_none()
    return _principal(row) if row else None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _locked_for(conn: Connection, column: str, who: str, limit: int, window: int, since: datetime) -> int:
    """Seconds until fewer than ``limit`` failures of ``who`` lie in the window (0: not locked)."""
    seconds = conn.execute(
        sql_accounts.failures_since(column),
        {"who": who, "window": window, "since": since, "skip": limit - 1},
    ).scalar_one_or_none()
    return 0 if seconds is None else max(1, int(seconds))


def _lockouts(conn: Connection, settings: Settings, account: str, client: str | None) -> list[tuple[str, int]]:
    """Which limits this attempt runs into: ``[(scope, retry_after_s)]``. Per account, failures since the
    account's last successful login count; per address, every failure does."""
    window = settings.login_window_minutes
    last_login = conn.execute(sql_accounts.LAST_LOGIN, {"a": account, "window": window}).scalar_one_or_none()
    since = last_login or _EPOCH
    found = []
    wait = _locked_for(conn, "actor", account, settings.login_max_failures, window, since)
    if wait:
        found.append(("account", wait))
    if client is not None:
        wait = _locked_for(conn, "client", client, settings.login_max_failures_per_address, window, _EPOCH)
        if wait:
            found.append(("address", wait))
    return found


def _record_failure(
    engine: Engine, settings: Settings, account: str, client: str | None, details: dict[str, Any] | None = None
) -> None:
    """Audit a failed login (or HTTP Basic attempt), and the lockout it starts, if any."""
    with engine.begin() as conn:  # the failure is recorded even though the login is refused
        record(conn, Actor(account, client), "login.failed", details=details)
        for scope, _ in _lockouts(conn, settings, account, client):
            target = ("user", account) if scope == "account" else ("address", client)
            record(
                conn,
                Actor(account, client),
                "login.lockout",
                *target,
                {"scope": scope, "minutes": settings.login_window_minutes},
            )


def _account(conn: Connection, name: str) -> tuple[Any, str]:
    """The enabled account a typed name means (or ``None``) and the name failures are counted under."""
    try:
        key: str | None = name_key(clean_name(name))
    except InvalidInput:
        key = None  # cannot name an account; still a failure that counts against the address
    row = None
    if key is not None:
        row = conn.execute(sql_accounts.ENABLED_USER_BY_KEY, {"k": key}).one_or_none()
    return row, (row.name if row else (clean_name(name) if key is not None else _printable(name)))


def login(engine: Engine, settings: Settings, name: str, password: str, client: str | None) -> tuple[Principal, str]:
    """Check a password and open a browser session; returns the principal and the session id (for the cookie).

    Refused with ``LoginThrottled`` while the account or the client address has too many recent failures (the
    lockout is audited once, when it begins), and with ``LoginBusy`` when every password-check slot is taken.
    """
    with engine.connect() as conn:
        row, account = _account(conn, name)
        locked = _lockouts(conn, settings, account, client)
    if locked:
        scope, wait = max(locked, key=lambda item: item[1])
        raise LoginThrottled(scope, wait)
    with security.hashing_slot(settings.login_concurrency) as slot:
        if not slot:
            raise LoginBusy("too many logins at once; try again in a moment")
        ok = security.verify_password(row.password_hash if row else None, password)
    if not ok or row is None:
        _record_failure(engine, settings, account, client)
        raise InvalidInput("wrong user name or password")
    session_id = security.new_token()
    with engine.begin() as conn:
        conn.execute(
            sql_accounts.INSERT_SESSION,
            {
                "u": row.id,
                "d": security.digest(settings.secret_key, session_id),
                "exp": datetime.now(UTC) + timedelta(hours=settings.session_hours),
                "c": client,
            },
        )
        record(conn, Actor(row.name, client), "login")
    return _principal(row), session_id


BASIC_PASSWORD_REFUSED = (
    "HTTP Basic takes an API token as the password (gs_…, from `geo-safety users token NAME`), never the login password"
)


def authenticate_basic(engine: Engine, settings: Settings, name: str, secret: str, client: str | None) -> Principal:
    """HTTP Basic for desktop GIS: ``name`` and one of that user's API tokens (expiry and revocation apply).

    A login password is refused without being checked (no argon2 work per request). Failures count in the login
    limits (per account and per address, audited as ``login.failed``); while either is locked the attempt is
    refused with ``LoginThrottled`` even with a good token, as ``/login`` is.
    """
    with engine.connect() as conn:
        row, account = _account(conn, name)
        locked = _lockouts(conn, settings, account, client)
    if locked:
        scope, wait = max(locked, key=lambda item: item[1])
        raise LoginThrottled(scope, wait)
    principal = authenticate_token(engine, settings, secret)
    if principal is not None and row is not None and principal.id == row.id:
        return principal
    reason = "the user name or API token is wrong, or the token is revoked or expired, or the user is disabled"
    if not security.looks_like_token(secret):
        reason = BASIC_PASSWORD_REFUSED
    _record_failure(engine, settings, account, client, {"method": "basic"})
    raise Unauthenticated(reason)


def session_principal(engine: Engine, settings: Settings, session_id: str) -> Principal | None:
    if not security.looks_like_token(session_id):
        return None
    with engine.connect() as conn:
        row = conn.execute(
            sql_accounts.PRINCIPAL_BY_SESSION, {"d": security.digest(settings.secret_key, session_id)}
        ).one_or_none()
    return _principal(row) if row else None


def logout(engine: Engine, settings: Settings, session_id: str, actor: Actor) -> None:
    with engine.begin() as conn:
        ended = conn.execute(sql_accounts.END_SESSION, {"d": security.digest(settings.secret_key, session_id)}).rowcount
        if ended:
            record(conn, actor, "logout")


def reset_demo_users(engine: Engine, settings: Settings, actor: Actor) -> list[NewCredentials]:
    """(Re)create the demo accounts with fresh passwords and tokens, for a new user to click through."""
    created = []
    with engine.begin() as conn:
        existing = set(conn.execute(sql_accounts.DEMO_NAMES).scalars())
        for name, role, districts in DEMO_USERS:
            if name not in existing:
                continue
            password = security.new_password()
            user_id = _user_id(conn, name)
            conn.execute(sql_accounts.RESET_DEMO_PASSWORD, {"h": security.hash_password(password), "u": user_id})
            conn.execute(sql_accounts.REVOKE_ALL_TOKENS, {"u": user_id})
            _end_sessions(conn, user_id)
            token = _issue_token(conn, settings, user_id)
            record(conn, actor, "user.reset_demo", "user", name)
            created.append(
                NewCredentials(name, role.value, districts, password, token.token, token.id, token.expires_at)
            )
    for name, role, districts in DEMO_USERS:
        if name not in existing:
            created.append(add_user(engine, settings, actor, name, role, districts, is_demo=True))
    return created


def demo_users_exist(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sql_accounts.DEMO_USERS_EXIST).scalar_one())


def production_problems(engine: Engine, settings: Settings) -> list[str]:
    """What stops a production start: the default secret, or demo accounts that still work."""
    from geo_safety.settings import DEFAULT_SECRET

    problems = []
    if settings.secret_key == DEFAULT_SECRET or len(settings.secret_key) < 32:
        problems.append("set GEO_SAFETY_SECRET_KEY to a random secret of at least 32 characters")
    if demo_users_exist(engine):
        problems.append("demo users exist; disable them (`geo-safety users disable NAME`)")
    return problems
