"""Errors as pages for people: a browser that opens a page and meets a 4xx/5xx sees Chinese HTML with what to
do next, while API clients keep their JSON (``Accept`` decides; ``/api/`` paths always answer JSON)."""

from __future__ import annotations

import json
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_safety.api.pages import TEMPLATES

#: status -> (title, what to do next)
ADVICE = {
    400: ("请求有误", "请检查地址中的参数后重试。"),
    401: ("需要登录", "登录后会回到这个页面。"),
    403: ("没有权限", "这个账号不能打开此页面。请返回首页，或换一个账号登录。"),
    404: ("找不到", "地址可能有误，或内容已被删除。请从首页重新进入。"),
    408: ("请求超时", "请缩小范围（区县、日期）后重试。"),
    409: ("内容冲突", "数据已被他人修改，请刷新后重试。"),
    413: ("内容过大", "请缩小文件或范围后重试。"),
    422: ("无法处理", "请按提示修改后重试。"),
    429: ("请求太多", "请稍候再试。"),
}
_GENERIC = {"Not Found", "Method Not Allowed", "Unauthorized", "Forbidden", "Bad Request", "Internal Server Error"}
SERVER_ERROR = ("服务暂时不可用", "请稍后再试；问题持续时请联系管理员。")


def wants_page(scope: Scope) -> bool:
    """A person's browser asking for a page (not an API client, not a script's fetch)."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or scope["path"].startswith("/api/"):
        return False
    accept = dict(scope["headers"]).get(b"accept", b"").decode("latin-1")
    return "text/html" in accept


class BrowserErrors:
    """Turn a JSON error answer to a page request into an HTML page (status and headers kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not wants_page(scope):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                if message["status"] >= 400 and headers.get(b"content-type", b"").startswith(b"application/json"):
                    held = message
                    return
                await send(message)
            elif held is not None:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._page(scope, held, b"".join(chunks), send)
            else:
                await send(message)

        await self.app(scope, receive, capture)

    @staticmethod
    async def _page(scope: Scope, start: Message, body: bytes, send: Send) -> None:
        status = start["status"]
        try:
            detail = json.loads(body).get("detail")
        except (ValueError, AttributeError):
            detail = None
        if not isinstance(detail, str) or detail in _GENERIC:
            detail = None  # Starlette's own English words add nothing to the Chinese title
        title, advice = ADVICE.get(status, SERVER_ERROR if status >= 500 else ADVICE[400])
        path = scope["path"] + (("?" + scope["query_string"].decode("latin-1")) if scope.get("query_string") else "")
        page = TEMPLATES.get_template("error.html").render(
            status=status,
            title=title,
            advice=advice,
            detail=detail if status < 500 else None,
            login_url="/login?next=" + quote(path, safe=""),
        )
        payload = page.encode("utf-8")
        keep = [
            (k, v)
            for k, v in start.get("headers", [])
            if k.lower() not in (b"content-type", b"content-length", b"content-encoding")
        ]
        headers = [
            *keep,
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(payload)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
