"""Structured server logs: one JSON object per line, each carrying the request's id, with the traceback of
every failure. The id comes back in ``X-Request-ID`` (and in 5xx bodies), so a user's report can be found."""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: ContextVar[str | None] = ContextVar("geo_safety_request_id", default=None)
#: a caller's own id is kept when it looks like one (a proxy's), else a new one is made
_ACCEPTED = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestId:
    """ASGI middleware: an id per request, in the logs (``REQUEST_ID``) and in the ``X-Request-ID`` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _ACCEPTED.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id  # for the last-resort handler, outside this one
        token = REQUEST_ID.set(request_id)

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            REQUEST_ID.reset(token)


_plain_factory = logging.getLogRecordFactory()


def _record_with_id(*args: object, **kwargs: object) -> logging.LogRecord:
    """Every log record carries the id of the request it was made in (stamped when made, not when written)."""
    record = _plain_factory(*args, **kwargs)
    record.request_id = REQUEST_ID.get()
    return record


logging.setLogRecordFactory(_record_with_id)


class JsonFormatter(logging.Formatter):
    """``{"at", "level", "logger", "request_id", "message"[, "traceback"]}`` per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", None),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: int = logging.INFO) -> None:
    """Send the service's own logs to stderr as JSON lines (``geo-safety serve`` calls this once)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("geo_safety")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
