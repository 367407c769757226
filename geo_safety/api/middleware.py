"""Request limits and security headers, as plain ASGI middleware (no per-route code can forget them)."""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_safety.maps.tiles import basemap, image_sources
from geo_safety.services.photos import MAX_PHOTOS
from geo_safety.settings import Settings

UPLOAD_PREFIX = "/api/v1/imports/"
VISITS_PATH = "/api/v1/visits"


class BodyLimit:
    """413 for a request body over the limit (uploads have their own, larger limit), checked while reading;
    408 for a body that does not arrive within ``body_timeout_s`` (uploads: ``upload_timeout_s``) of the first
    read, so a client dribbling a body a byte at a time cannot hold a worker and a connection for ever."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.body_bytes = settings.max_body_mb * 1024 * 1024
        self.upload_bytes = settings.max_upload_mb * 1024 * 1024
        self.body_seconds = settings.body_timeout_s
        self.upload_seconds = settings.upload_timeout_s
        # a visit from a phone carries up to MAX_PHOTOS photos, often over a slow link: an upload's time
        self.visit_bytes = MAX_PHOTOS * settings.max_photo_mb * 1024 * 1024 + self.body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["path"].startswith(UPLOAD_PREFIX)
        visit = scope["path"] == VISITS_PATH
        limit = self.upload_bytes if upload else self.visit_bytes if visit else self.body_bytes
        seconds = self.upload_seconds if upload or visit else self.body_seconds
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        received = 0
        started = False
        deadline: float | None = None
        body_done = False

        async def counting_receive() -> Message:
            nonlocal received, deadline, body_done
            if body_done:  # after the body only a disconnect can come; waiting for it is the app's choice
                return await receive()
            loop = asyncio.get_running_loop()
            deadline = deadline or loop.time() + seconds
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise _BodyTooSlow from None
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _too_large(send, limit)
        except _BodyTooSlow:
            if not started:
                await _too_slow(send, seconds)


class _BodyTooLarge(Exception):
    pass


class _BodyTooSlow(Exception):
    pass


async def _refuse(send: Send, status: int, detail: str, code: str, *, close: bool = False) -> None:
    """A JSON error answered before the app ran (the app's own handlers never see these requests)."""
    body = json.dumps({"detail": detail, "code": code}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _too_slow(send: Send, seconds: float) -> None:
    detail = f"the request body arrived too slowly (not complete within {seconds:g} s)"
    await _refuse(send, 408, detail, "request.timeout", close=True)


async def _too_large(send: Send, limit: int) -> None:
    await _refuse(send, 413, f"the request body is larger than {limit // (1024 * 1024)} MB", "request.too_large")


def content_security_policy(settings: Settings) -> str:
    """Pages other than maps: the app's own scripts and styles only, nothing inline, no eval, no framing."""
    images = image_sources(basemap(settings.tiles, settings.tianditu_key))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; font-src 'self' data:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
    )


class SecurityHeaders:
    """nosniff, no framing, same-origin referrers everywhere; a CSP on HTML; HSTS over TLS."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.csp = content_security_policy(settings).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ]
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    extra.append((b"content-security-policy", self.csp))
                if https:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                headers += [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, add_headers)
