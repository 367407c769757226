"""Server-rendered pages (Jinja2 templates shipped in the package)."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from geo_safety.rules import Role

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.globals["role_names"] = {
    Role.INSPECTOR.value: "巡查员 inspector",
    Role.PLANNER.value: "规划员 planner",
    Role.VIEWER.value: "查看 viewer",
    Role.ADMIN.value: "管理员 admin",
}
