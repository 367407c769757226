"""Passwords (argon2id) and bearer secrets (random, stored as keyed digests). Pure functions."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
#: A valid hash to verify against when the user does not exist, so timing does not reveal names.
_DUMMY_HASH = _HASHER.hash("not-a-real-password")

TOKEN_PREFIX = "gs_"


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


_SLOTS: dict[int, threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


@contextmanager
def hashing_slot(limit: int, wait_s: float = 0.25) -> Iterator[bool]:
    """One of ``limit`` process-wide places for argon2 work; ``False`` when none frees up within ``wait_s``.

    Each check holds 64 MiB for a moment: bounding them bounds the memory a flood of logins can take, and
    refusing at once (instead of queueing) keeps the threads free for everyone else.
    """
    with _SLOTS_LOCK:
        slots = _SLOTS.setdefault(limit, threading.BoundedSemaphore(limit))
    acquired = slots.acquire(timeout=wait_s)
    try:
        yield acquired
    finally:
        if acquired:
            slots.release()


def new_password() -> str:
    """A password that is easy to type on a phone: 4 groups of 4 lowercase letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def new_token() -> str:
    """An API token or session id: 256 bits of randomness."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest(secret_key: str, token: str) -> str:
    """The stored form of a token: HMAC-SHA256 under the server's secret (a pepper).

    >>> digest("k", "gs_abc") == digest("k", "gs_abc") != digest("other", "gs_abc")
    True
    """
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def new_csrf_token(secret_key: str) -> str:
    """A login-form token: random and signed, so a cookie planted by a neighbouring site is not accepted."""
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{digest(secret_key, 'csrf:' + nonce)[:32]}"


def csrf_token_valid(secret_key: str, cookie: str | None, submitted: str | None) -> bool:
    """Double submit: the form's token equals the cookie's, and the server signed it.

    >>> t = new_csrf_token("k")
    >>> csrf_token_valid("k", t, t), csrf_token_valid("k", t, new_csrf_token("k")), csrf_token_valid("x", t, t)
    (True, False, False)
    """
    if not cookie or not submitted or len(cookie) > 200 or not hmac.compare_digest(cookie.encode(), submitted.encode()):
        return False
    nonce, _, signature = cookie.partition(".")
    return hmac.compare_digest(signature.encode(), digest(secret_key, "csrf:" + nonce)[:32].encode())


def looks_like_token(value: str) -> bool:
    """Cheap shape check before touching the database (oversized or malformed input is refused).

    >>> looks_like_token(new_token()), looks_like_token("x" * 5000), looks_like_token("gs_bad token")
    (True, False, False)
    """
    body = value[len(TOKEN_PREFIX) :]
    return (
        value.startswith(TOKEN_PREFIX)
        and 20 <= len(body) <= 100
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in body)
    )


#: Longest ``Authorization: Basic …`` value looked at (a 64-character name and a token fit many times over).
MAX_BASIC_LENGTH = 1024


def parse_basic(credentials: str) -> tuple[str, str]:
    """The user name and password of HTTP Basic credentials (RFC 7617: base64 of ``user:password``, UTF-8, or
    Latin-1 from older clients); ``ValueError`` with the reason when they are malformed.

    >>> parse_basic("d2FuZzpnc19hYmM=")
    ('wang', 'gs_abc')
    >>> parse_basic("not base64!")
    Traceback (most recent call last):
    ValueError: the Basic credentials are not base64
    """
    value = credentials.strip()
    if not value:
        raise ValueError("the Basic credentials are empty")
    if len(value) > MAX_BASIC_LENGTH:
        raise ValueError("the Basic credentials are too long")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the Basic credentials are not base64") from None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        decoded = raw.decode("latin-1")
    name, colon, password = decoded.partition(":")
    if not colon:
        raise ValueError("the Basic credentials need 'user:token' (no colon found)")
    if not name.strip():
        raise ValueError("the Basic credentials name no user")
    if not password:
        raise ValueError("the Basic credentials carry no token")
    return name, password
