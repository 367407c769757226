"""Officers' and planners' pages: the reports page (tables, charts, downloads), file uploads in the browser,
and each district map as a printable PNG or PDF."""

from __future__ import annotations

import base64
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from geo_safety.api.deps import EngineDep, PageUserDep, get_rules
from geo_safety.api.limits import HEAVY_PAGE
from geo_safety.api.pages import TEMPLATES
from geo_safety.api.params import Day, SaneDate
from geo_safety.api.routers.reports import disposition
from geo_safety.errors import Forbidden
from geo_safety.rules import today_local
from geo_safety.ruleset import RuleSet
from geo_safety.services import features, reports
from geo_safety.services.maps import district_data

router = APIRouter(tags=["pages"], include_in_schema=False)
District = Annotated[str | None, Query(pattern=r"^\d{6}$")]

#: layer -> (Chinese name, its geometry); the fields a file must carry are added from the layer's model
_LAYER_TEXT = {
    "water_hazards": ("危险水域", "多边形"),
    "schools": ("学校", "点（校门）"),
    "school_campuses": ("校园范围", "多边形，以学校编号对应已导入的学校"),
    "premises": ("经营场所", "点"),
    "inspections": ("检查记录", "无几何，每行一条记录"),
}
#: layer -> (Chinese name, what the file holds)
LAYERS = {
    layer: (name, f"{geometry}；必填 {'、'.join(features.required_fields(layer))}")
    for layer, (name, geometry) in _LAYER_TEXT.items()
}
DATUMS = {
    "wgs84": "WGS84（GPS、天地图、奥维等）",
    "cgcs2000": "CGCS2000（国家 2000 坐标系）",
    "gcj02": "GCJ-02（高德、腾讯、微信）",
    "bd09": "BD-09（百度）",
}
MODES = {
    "append": "追加：文件中的编号不得已存在",
    "upsert": "更新：已有编号的更新，新编号的添加",
    "replace": "替换：文件中没有的记录将被删除（水域为软删除）",
}


def _period(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """Default: from 1 January of the end date's year to today (Asia/Shanghai)."""
    end = date_to or today_local()
    return date_from or end.replace(month=1, day=1), end


@router.get("/reports", response_class=HTMLResponse, dependencies=[HEAVY_PAGE])
def reports_page(
    request: Request,
    engine: EngineDep,
    rules: Annotated[RuleSet, Depends(get_rules)],
    user: PageUserDep,
    date_from: Annotated[SaneDate | None, Query(alias="from")] = None,
    date_to: Annotated[SaneDate | None, Query(alias="to")] = None,
    district: District = None,
) -> HTMLResponse:
    """The programme statistics of a period and district: table, charts, downloads, printable district maps."""
    scope = features.scope_for(engine, user, district)
    start, end = _period(date_from, date_to)
    names = features.district_names(engine, user)
    context: dict[str, Any] = {
        "user": user,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "district": district,
        "districts": names,
        "problem": None,
    }
    if end < start:
        context["problem"] = f"结束日期（{end}）早于开始日期（{start}），请重新选择统计期。"
        return TEMPLATES.TemplateResponse(request, "reports.html", context, status_code=422)
    report = reports.programme(engine, rules, start, end, scope)
    headings, rows = reports.table_rows(report)
    query = {"from": start.isoformat(), "to": end.isoformat(), **({"district": district} if district else {})}
    context |= {
        "scope_name": reports.scope_name(report, scope is None),
        "headings": headings,
        "rows": rows,
        "charts": [
            (title, "data:image/png;base64," + base64.b64encode(reports.chart_png(report, kind)).decode())
            for kind, (title, _) in reports.CHARTS.items()
        ],
        "downloads": [
            (label, f"/api/v1/reports/programme?{urlencode({**query, 'format': fmt})}", fmt)
            for label, fmt in (("Excel 表格", "xlsx"), ("CSV 表格", "csv"), ("打印版 PDF", "pdf"), ("网页版", "html"))
        ],
        "maps": [(code, name) for code, name in names if scope is None or code in scope],
    }
    return TEMPLATES.TemplateResponse(request, "reports.html", context)


@router.get("/imports", response_class=HTMLResponse)
def imports_page(request: Request, user: PageUserDep) -> HTMLResponse:
    """Upload a file into a layer: planners their districts' water zones, admins every layer."""
    if not user.may("import_hazards"):
        raise Forbidden("只有规划员和管理员可以导入文件")
    layers = LAYERS if user.may("import") else {"water_hazards": LAYERS["water_hazards"]}
    context = {"user": user, "layers": layers, "datums": DATUMS, "modes": MODES}
    return TEMPLATES.TemplateResponse(request, "imports.html", context)


@router.get("/maps/districts/{code}/print.{fmt}")
def district_print(
    code: Annotated[str, Path(pattern=r"^\d{6}$")],
    fmt: Annotated[str, Path(pattern=r"^(png|pdf)$")],
    engine: EngineDep,
    rules: Annotated[RuleSet, Depends(get_rules)],
    user: PageUserDep,
    day: Day = None,
) -> Response:
    """A district's map ready to print (title, date, legend, scale bar, north arrow; islands in an inset)."""
    from geo_safety.maps.png import district_image

    features.scope_for(engine, user, code)
    day = day or today_local()
    data = district_data(engine, rules, day, code)
    name = data.district["properties"]["name"]
    body = district_image(data, fmt)
    headers = {"Content-Disposition": disposition(f"district_{code}_{day}", f"{name}校园安全隐患图_{day}", fmt)}
    return Response(body, media_type="image/png" if fmt == "png" else "application/pdf", headers=headers)
