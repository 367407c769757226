"""Request dependencies: the engine and settings from ``app.state``, and who is calling."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Query, Request
from sqlalchemy import Engine
from starlette.datastructures import Headers

from geo_safety import security
from geo_safety.errors import Forbidden, Unauthenticated
from geo_safety.ruleset import RuleSet
from geo_safety.services import features, users
from geo_safety.services.audit import Actor
from geo_safety.services.users import Principal
from geo_safety.settings import Settings

SESSION_COOKIE = "gs_session"
#: Browsers cannot send this header cross-site without a CORS preflight, so it guards cookie-authenticated
#: writes against cross-site request forgery.
CSRF_HEADER = "x-requested-with"
CSRF_VALUE = "geo-safety"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine  # set by the app factory (api.app)
    return engine


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[tuple[Network, ...], frozenset[str]]:
    """The configured proxies as networks (``10.0.0.5`` or ``10.0.0.0/8``); anything else matches literally."""
    networks, names = [], set()
    for entry in proxies:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            names.add(entry.strip())
    return tuple(networks), frozenset(names)


def _is_trusted(address: str, proxies: tuple[str, ...]) -> bool:
    networks, names = _networks(proxies)
    if address in names:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request) -> str | None:
    """Who is calling: the peer of the connection, or, when that peer is a configured proxy
    (``GEO_SAFETY_TRUSTED_PROXIES``), the nearest address in ``X-Forwarded-For`` that is not one.

    Anyone can write ``X-Forwarded-For``, so it is read only from proxies the operator named; the audit log and
    the per-address login limit would otherwise believe whatever a client claims.
    """
    peer = request.client.host if request.client else None
    proxies = tuple(request.app.state.settings.trusted_proxies)
    if peer is None or not proxies or not _is_trusted(peer, proxies):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    for hop in reversed([h for h in hops if h]):
        if _is_trusted(hop, proxies):
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            return peer  # not an address: the header was not written by a proxy
    return peer


def _request_host(request: Request) -> str:
    """The host the browser addressed (a trusted proxy may pass it on in ``X-Forwarded-Host``)."""
    host = request.headers.get("host", "")
    forwarded = request.headers.get("x-forwarded-host")
    proxies = tuple(request.app.state.settings.trusted_proxies)
    if forwarded and request.client and proxies and _is_trusted(request.client.host, proxies):
        host = forwarded.split(",")[0].strip()
    return host.lower()


def same_origin(request: Request) -> bool | None:
    """Did the browser send this from one of our own pages? From ``Origin``, else ``Referer``; ``None`` when
    neither is present (not a browser, or an old one). Browsers send ``Origin`` with every form POST."""
    origin = request.headers.get("origin")
    source = origin if origin is not None else request.headers.get("referer")
    if source is None:
        return None
    if source == "null":  # sandboxed frames, data: URLs, privacy-redirected requests
        return False
    return urlsplit(source).netloc.lower() == _request_host(request)


BASIC_REALM = 'Basic realm="geo_safety", charset="UTF-8"'
BEARER_REALM = 'Bearer realm="geo_safety"'


def auth_challenges(request: Request) -> Headers:
    """``WWW-Authenticate`` of a 401: Bearer, and Basic so desktop GIS (QGIS) asks for user + token. Not Basic
    to a browser (it sends ``Sec-Fetch-Mode`` or asks for HTML): its native dialog would ask for the login
    password, which Basic refuses; people log in at /login."""
    raw = [(b"www-authenticate", BEARER_REALM.encode())]
    if "sec-fetch-mode" not in request.headers and "text/html" not in request.headers.get("accept", ""):
        raw.append((b"www-authenticate", BASIC_REALM.encode()))
    return Headers(raw=raw)


def _over_tls(request: Request) -> bool:
    """TLS to this app, or (only from a configured proxy) ``X-Forwarded-Proto: https`` for the proxy's client."""
    if request.url.scheme == "https":
        return True
    proxies = tuple(request.app.state.settings.trusted_proxies)
    if not (request.client and proxies and _is_trusted(request.client.host, proxies)):
        return False
    protos = [p.strip().lower() for value in request.headers.getlist("x-forwarded-proto") for p in value.split(",")]
    return bool(protos) and protos[-1] == "https"  # the nearest proxy's word


def _from_loopback(request: Request) -> bool:
    """The caller is on this machine. A loopback peer that is not a configured proxy but passes forwarding
    headers is a proxy in front of the app, whose clients may be anywhere: not loopback."""
    peer = request.client.host if request.client else None
    proxies = tuple(request.app.state.settings.trusted_proxies)
    forwarded = any(h in request.headers for h in ("x-forwarded-for", "x-forwarded-proto", "forwarded"))
    if peer is not None and forwarded and not (proxies and _is_trusted(peer, proxies)):
        return False
    address = client_address(request)
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _basic_user(request: Request, engine: Engine, settings: Settings, credentials: str) -> Principal:
    """HTTP Basic: user name + API token, over TLS or from loopback (or anywhere with ``basic_over_http``)."""
    if not (settings.basic_over_http or _over_tls(request) or _from_loopback(request)):
        raise Unauthenticated(
            "HTTP Basic is refused over plain HTTP from another machine: use https:// (the token would travel "
            "readable), or ask the administrator (GEO_SAFETY_BASIC_OVER_HTTP)"
        )
    try:
        name, secret = security.parse_basic(credentials)
    except ValueError as exc:
        raise Unauthenticated(f"{exc}; send 'Authorization: Basic base64(USER:TOKEN)'") from None
    try:
        return users.authenticate_basic(engine, settings, name, secret, client_address(request))
    except users.LoginThrottled as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None


def current_user(request: Request, engine: EngineDep, settings: SettingsDep) -> Principal:
    """Bearer token or HTTP Basic (user + token) for API clients, session cookie for the browser pages; 401
    otherwise."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "basic":
            return _basic_user(request, engine, settings, token)
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("use the header 'Authorization: Bearer TOKEN' (or Basic with user name and token)")
        principal = users.authenticate_token(engine, settings, token.strip())
        if principal is None:
            raise Unauthenticated("the API token is invalid, revoked, or its user is disabled")
        return principal
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        principal = users.session_principal(engine, settings, session_id)
        if principal is None:
            raise Unauthenticated("your session has expired or is not valid; log in again at /login")
        if request.method not in _SAFE_METHODS and request.headers.get(CSRF_HEADER) != CSRF_VALUE:
            raise Forbidden(f"browser writes must send the header '{CSRF_HEADER}: {CSRF_VALUE}'")
        return principal
    raise Unauthenticated("log in at /login, or send 'Authorization: Bearer TOKEN'")


UserDep = Annotated[Principal, Depends(current_user)]


def optional_user(request: Request, engine: EngineDep, settings: SettingsDep) -> Principal | None:
    """The caller when they sent credentials (wrong ones: 401), ``None`` for an anonymous caller."""
    if request.headers.get("authorization") is None and not request.cookies.get(SESSION_COOKIE):
        return None
    return current_user(request, engine, settings)


OptionalUserDep = Annotated[Principal | None, Depends(optional_user)]


def district_scope(
    engine: EngineDep,
    user: UserDep,
    district: Annotated[str | None, Query(pattern=r"^\d{6}$", description="district code (adcode)")] = None,
) -> tuple[str, ...] | None:
    """The ``district`` parameter, checked and limited to the caller's districts (``None``: the whole city)."""
    return features.scope_for(engine, user, district)


ScopeDep = Annotated[tuple[str, ...] | None, Depends(district_scope)]


class LoginRequired(Unauthenticated):
    """A browser page was opened without a valid session: send the person to the login form."""

    def __init__(self, next_path: str) -> None:
        super().__init__("log in to see this page")
        self.next_path = next_path


def page_user(request: Request, engine: EngineDep, settings: SettingsDep) -> Principal:
    """Like ``current_user``, but an anonymous browser is redirected to /login (and back afterwards)."""
    try:
        return current_user(request, engine, settings)
    except Unauthenticated:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target) from None


PageUserDep = Annotated[Principal, Depends(page_user)]


def get_rules(request: Request) -> RuleSet:
    rules: RuleSet = request.app.state.rules
    return rules


RulesDep = Annotated[RuleSet, Depends(get_rules)]


def actor_of(request: Request, user: Principal) -> Actor:
    return Actor(user.name, client_address(request))


class Allowed:
    """Dependency: the caller's role may perform ``action`` (403 with the reason otherwise)."""

    def __init__(self, action: str) -> None:
        self.action = action

    def __call__(self, user: UserDep) -> Principal:
        if not user.may(self.action):
            raise Forbidden(f"the role '{user.role.value}' may not {self.action.replace('_', ' ')}")
        return user
