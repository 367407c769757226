"""One table from domain error to HTTP status; 5xx are logged once and answered generically.

Every JSON error is ``{"detail": …, "code": …}``: ``code`` is stable (``zone.too_small``, ``version.stale``,
``validation.<field>``…) so a client can show its own text for it; ``detail`` is the English explanation.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo_safety.api.requestlog import REQUEST_ID
from geo_safety.errors import (
    BadParameter,
    Conflict,
    DatabaseUnavailable,
    Forbidden,
    GeoSafetyError,
    InvalidInput,
    NotFound,
    StaleVersion,
    TooLarge,
    Unauthenticated,
    VersionRequired,
)

log = logging.getLogger("geo_safety.api")

STATUS: list[tuple[type[GeoSafetyError], int]] = [
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (VersionRequired, 428),
    (BadParameter, 400),
    (TooLarge, 413),
    (Conflict, 409),
    (InvalidInput, 422),
    (DatabaseUnavailable, 503),
]


#: codes of HTTP errors raised outside the domain (routing, limits, Starlette's own checks)
HTTP_CODES = {
    400: "request.bad",
    401: "auth.unauthenticated",
    403: "auth.forbidden",
    404: "not_found",
    405: "request.method",
    408: "request.timeout",
    413: "request.too_large",
    415: "request.media_type",
    429: "request.too_many",
    503: "service.busy",
}


def status_for(exc: GeoSafetyError) -> int:
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 500)


def validation_code(errors: list[Any]) -> str:
    """``validation.<field>`` of the first field FastAPI refused (the last name in its location).

    >>> validation_code([{"loc": ["body", "properties", "name"], "msg": "Field required"}])
    'validation.name'
    >>> validation_code([{"loc": ["body", 0]}])
    'validation.body'
    """
    for error in errors:
        names = [part for part in error.get("loc", ()) if isinstance(part, str)]
        if names:
            return f"validation.{names[-1]}"
    return "validation.request"


def error_body(detail: Any, code: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "code": code, **extra}


def _strict_json(value: Any) -> Any:
    """``value`` with non-finite numbers spelled as strings: JSON has no Infinity/NaN (and Starlette refuses them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict_json(v) for v in value]
    return value


def install_error_handlers(app: FastAPI) -> None:
    from urllib.parse import quote

    from fastapi.responses import RedirectResponse

    from geo_safety.api.deps import LoginRequired, auth_challenges

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='')}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's 422 with the field errors, echoing ``Infinity``/``1e999`` inputs as strings instead of a 500."""
        errors = _strict_json(jsonable_encoder(exc.errors()))
        return JSONResponse(error_body(errors, validation_code(errors)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Starlette's and the limits' HTTP errors, with a code like every other error."""
        code = HTTP_CODES.get(exc.status_code, f"http.{exc.status_code}")
        return JSONResponse(error_body(exc.detail, code), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        """Date or number arithmetic beyond its type (a safety net: the bounds should refuse such input first)."""
        log.warning("%s %s: overflow: %s", request.method, request.url.path, exc)
        return JSONResponse(
            error_body("a date or number in the request is out of range", "request.out_of_range"), status_code=422
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        """A cancelled (too long) statement is the caller's to narrow; anything else: the database is away."""
        if isinstance(exc.orig, psycopg.errors.QueryCanceled):
            return JSONResponse(
                error_body(
                    "the request took too long and was cancelled; narrow it (district, bbox, limit) and try again",
                    "request.timeout",
                ),
                status_code=408,
            )
        if isinstance(exc.orig, psycopg.DataError):  # a value PostgreSQL cannot take (NUL, out of range)
            log.warning("%s %s: data refused: %s", request.method, request.url.path, type(exc.orig).__name__)
            return JSONResponse(
                error_body(
                    "a value in the request is out of range or malformed for the database", "request.out_of_range"
                ),
                status_code=422,
            )
        if isinstance(exc, OperationalError | InterfaceError) or isinstance(exc.orig, psycopg.OperationalError):
            log.error("%s %s: database unavailable: %s", request.method, request.url.path, type(exc.orig).__name__)
            return JSONResponse(
                error_body("the database is unavailable; try again shortly", "service.database_unavailable"),
                status_code=503,
                headers={"Retry-After": "5"},
            )
        log.error("%s %s failed in the database", request.method, request.url.path, exc_info=exc)
        body = error_body("internal error; it has been logged", "internal", request_id=REQUEST_ID.get())
        return JSONResponse(body, status_code=500)

    @app.exception_handler(SATimeoutError)
    async def _pool(request: Request, exc: SATimeoutError) -> JSONResponse:
        log.error("%s %s: no database connection free", request.method, request.url.path)
        return JSONResponse(
            error_body("the service is busy; try again shortly", "service.busy"),
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        """Anything unforeseen: the traceback in the log under the request's id; the caller gets the id only."""
        # Starlette runs this outside every middleware: the request's id comes back from its state
        request_id = getattr(request.state, "request_id", None)
        token = REQUEST_ID.set(request_id)
        try:
            log.error("%s %s failed unexpectedly", request.method, request.url.path, exc_info=exc)
        finally:
            REQUEST_ID.reset(token)
        body = error_body("internal error; it has been logged", "internal", request_id=request_id)
        return JSONResponse(body, status_code=500, headers={"X-Request-ID": request_id} if request_id else None)

    @app.exception_handler(GeoSafetyError)
    async def _domain(request: Request, exc: GeoSafetyError) -> JSONResponse:
        code = status_for(exc)
        headers: Mapping[str, str] | None = {"Retry-After": "5"} if code == 503 else None
        if code == 401:
            headers = auth_challenges(request)  # Bearer, and Basic for desktop GIS (not browsers)
        if isinstance(exc, StaleVersion):
            code = 412 if exc.precondition else 409
            body = error_body(str(exc), exc.code, current_version=exc.current_version)
            return JSONResponse(body, status_code=code, headers={"ETag": f'"{exc.current_version}"'})
        if code >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
        return JSONResponse(error_body(str(exc), exc.code), status_code=code, headers=headers)
