"""Server-rendered pages (Jinja2 templates shipped in the package)."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from geo_safety.maps.page import RenderedPage
from geo_safety.rules import Role

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.globals["role_names"] = {
    Role.INSPECTOR.value: "巡查员",
    Role.PLANNER.value: "规划员",
    Role.VIEWER.value: "查看人员",
    Role.ADMIN.value: "管理员",
}


def map_response(page: RenderedPage) -> HTMLResponse:
    """A rendered map with its own policy as the header (the middleware's default would block its scripts)."""
    return HTMLResponse(page.html, headers={"Content-Security-Policy": f"{page.policy}; frame-ancestors 'none'"})
