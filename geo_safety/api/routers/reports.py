"""Programme statistics (as JSON, CSV, Excel, HTML, PDF or a chart) and the schools' security-compliance layer."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import Engine

from geo_safety.api.deps import EngineDep, ScopeDep, get_rules
from geo_safety.api.limits import HEAVY
from geo_safety.api.params import SaneDate
from geo_safety.api.schemas import ProgrammeReport
from geo_safety.api.schemas_features import ComplianceCollection
from geo_safety.rules import today_local
from geo_safety.ruleset import RuleSet
from geo_safety.services import reports

router = APIRouter(prefix="/api/v1", tags=["reports"])

Format = Literal["json", "csv", "xlsx", "html", "pdf"]
#: media type in ``Accept`` -> format (``*/*`` and anything unknown: JSON)
_ACCEPTED = {media.split(";")[0]: name for name, media in reports.MEDIA_TYPES.items() if name != "png"}


def negotiate(requested: str | None, accept: str | None) -> str:
    """``?format=`` when given, else the first type of ``Accept`` (by quality) that the report has, else JSON.

    >>> negotiate(None, "text/html,application/xhtml+xml,*/*;q=0.8")
    'html'
    >>> negotiate(None, "application/pdf;q=0.5, text/csv")
    'csv'
    >>> negotiate("xlsx", "application/json"), negotiate(None, None), negotiate(None, "*/*")
    ('xlsx', 'json', 'json')
    """
    if requested:
        return requested
    ranked = []
    for position, part in enumerate((accept or "").split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        quality = next((p[2:] for p in params if p.startswith("q=")), "1")
        try:
            ranked.append((-float(quality), position, media.lower()))
        except ValueError:
            continue
    for _, _, media in sorted(ranked):
        if media in _ACCEPTED:
            return _ACCEPTED[media]
    return "json"


def disposition(stem: str, title: str, extension: str, *, inline: bool = False) -> str:
    """``attachment`` with an ASCII ``filename`` and the Chinese one as ``filename*`` (RFC 6266)."""
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{stem}.{extension}\"; filename*=UTF-8''{quote(f'{title}.{extension}')}"


def report_file(
    report: dict[str, Any], fmt: str, scope_name: str, district: str | None
) -> tuple[bytes, dict[str, str]]:
    """The report in ``fmt`` (not JSON) with its media type and file name headers."""
    stem = reports.file_stem(report, district)
    title = f"{reports.TITLE}_{scope_name}_{report['from']}_{report['to']}"
    headers = {"Content-Type": reports.MEDIA_TYPES[fmt]}
    if fmt == "csv":
        body = ("\ufeff" + reports.to_csv(report)).encode("utf-8")  # the BOM makes Excel read it as UTF-8
    elif fmt == "xlsx":
        body = reports.to_xlsx(report, scope_name)
    elif fmt == "pdf":
        body = reports.to_pdf(report, scope_name, today_local().isoformat())
    else:
        page, policy = reports.to_html(report, scope_name)
        body = page.encode("utf-8")
        headers["Content-Security-Policy"] = policy
    headers["Content-Disposition"] = disposition(stem, title, fmt, inline=fmt == "html")
    return body, headers


def programme_report(
    engine: Engine,
    rules: RuleSet,
    date_from: Any,
    date_to: Any,
    scope: tuple[str, ...] | None,
) -> tuple[dict[str, Any], str]:
    """The report and the name of what it covers (全市 or the districts)."""
    report = reports.programme(engine, rules, date_from, date_to, scope)
    return report, reports.scope_name(report, scope is None)


@router.get(
    "/reports/programme",
    response_model=ProgrammeReport,
    dependencies=[HEAVY],
    responses={200: {"content": {m.split(";")[0]: {} for m in reports.MEDIA_TYPES.values() if "png" not in m}}},
)
def programme(
    request: Request,
    engine: EngineDep,
    rules: Annotated[RuleSet, Depends(get_rules)],
    scope: ScopeDep,
    date_from: Annotated[SaneDate, Query(alias="from")],
    date_to: Annotated[SaneDate, Query(alias="to")],
    format: Annotated[
        Format | None, Query(description="json (default), csv, xlsx, html or pdf; or ask by `Accept`")
    ] = None,
) -> Any:
    """Per district and in total: inspections, violations, re-checks, unguarded zones, compliance, students.

    ``?format=`` or ``Accept`` chooses JSON, CSV (UTF-8 with BOM), Excel, an HTML page or a printable PDF;
    files come with ``Content-Disposition`` naming them."""
    fmt = negotiate(format, request.headers.get("accept"))
    report, name = programme_report(engine, rules, date_from, date_to, scope)
    if fmt == "json":
        return report
    body, headers = report_file(report, fmt, name, scope[0] if scope and len(scope) == 1 else None)
    return Response(body, media_type=headers.pop("Content-Type"), headers=headers)


@router.get(
    "/reports/programme/chart.png",
    dependencies=[HEAVY],
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "the charts of the report"}},
)
def programme_chart(
    engine: EngineDep,
    rules: Annotated[RuleSet, Depends(get_rules)],
    scope: ScopeDep,
    date_from: Annotated[SaneDate, Query(alias="from")],
    date_to: Annotated[SaneDate, Query(alias="to")],
    chart: Annotated[Literal["inspections", "violations", "waters", "compliance"] | None, Query()] = None,
) -> Response:
    """One chart of the report per district (or all four), drawn with a Chinese font."""
    report, _ = programme_report(engine, rules, date_from, date_to, scope)
    return Response(reports.chart_png(report, chart), media_type="image/png")


@router.get("/schools/compliance", response_model=ComplianceCollection)
def compliance(engine: EngineDep, scope: ScopeDep) -> dict[str, Any]:
    """Schools lacking any of: full-time guards, closed campus, alarm linked to police, video linked to police."""
    return reports.compliance(engine, scope)
