"""Passwords (argon2id) and bearer secrets (random, stored as keyed digests). Pure functions."""

from __future__ import annotations

import hashlib
import hmac
import secrets

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
