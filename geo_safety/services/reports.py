"""Programme statistics: the counts of the city's annual report, as a query instead of a spreadsheet."""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import io
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from geo_safety.errors import InvalidInput
from geo_safety.ruleset import RuleSet
from geo_safety.services import links
from geo_safety.services.inspections import rule_params
from geo_safety.sql import reads as sql_reads

#: column -> Chinese label (the report's headings), in report order
COLUMNS = {
    "district_code": "区县代码",
    "name": "区县",
    "premise_inspections": "场所检查次数",
    "zone_inspections": "水域检查次数",
    "premises_inspected": "检查场所数",
    "violations_found": "发现违规",
    "violations_closed": "违规已关停",
    "failures": "不合格次数",
    "failures_rechecked_on_time": "按期复查",
    "unguarded_zones": "未达标水域（期末）",
    "zones_became_guarded": "期内整改达标水域",
    "schools": "学校数",
    "schools_compliant": "四项达标学校",
    "schools_compliant_pct": "四项达标率%",
    "students_near_unguarded": "未达标水域1公里内学生",
}
_SUMMED = [c for c in COLUMNS if c not in ("district_code", "name", "schools_compliant_pct")]


def _unguarded(engine: Engine, rules: RuleSet, day: date, districts: list[str] | None) -> dict[str, str]:
    params = {**rules.day_facts(day), "districts": districts}
    with engine.connect() as conn:
        return {r.id: r.district_code for r in conn.execute(sql_reads.zone_states_at(), params) if r.missing}


def programme(
    engine: Engine, rules: RuleSet, date_from: date, date_to: date, districts: tuple[str, ...] | None
) -> dict[str, Any]:
    """Per district and in total, for the period ``date_from``–``date_to`` (zone states as at its two ends)."""
    if date_to < date_from:
        raise InvalidInput(f"the period ends ({date_to}) before it starts ({date_from})")
    scope = list(districts) if districts else None
    params = {
        **rule_params(rules),
        "districts": scope,
        "date_from": date_from,
        "date_to": date_to,
        "recheck": rules.recheck_days,
    }
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sql_reads.programme_counts(), params).mappings()]
    at_start = _unguarded(engine, rules, date_from, scope)
    at_end = _unguarded(engine, rules, date_to, scope)
    end_params = {**rules.day_facts(date_to), "districts": scope, "radius": rules.hazards.radius_m}
    near_statement = sql_reads.students_near_unguarded_at(links.cover_radius(rules.hazards.radius_m))
    with engine.connect() as conn:  # the zones' shapes at the period's end, not as edited since
        near = {r.district_code: int(r.students) for r in conn.execute(near_statement, end_params)}
    for row in rows:
        code = row["district_code"]
        row["unguarded_zones"] = sum(1 for d in at_end.values() if d == code)
        row["zones_became_guarded"] = sum(1 for z, d in at_start.items() if d == code and z not in at_end)
        row["students_near_unguarded"] = near.get(code, 0)
        row["students"] = int(row["students"])
        row["schools_compliant_pct"] = (
            round(100 * row["schools_compliant"] / row["schools"], 1) if row["schools"] else None
        )
    total: dict[str, Any] = {"district_code": None, "name": "合计 total"}
    for column in _SUMMED:
        total[column] = sum(r[column] for r in rows)
    total["students"] = sum(r["students"] for r in rows)
    total["schools_compliant_pct"] = (
        round(100 * total["schools_compliant"] / total["schools"], 1) if total["schools"] else None
    )
    notice = rules.calendar.notice(date_from, date_to)  # unguarded zones at the ends depend on key periods
    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "districts": rows,
        "total": total,
        "provisional": notice is not None,
        "calendar_notice": notice,
    }


def as_table(report: dict[str, Any]) -> pd.DataFrame:
    """The report as one table (districts, then the total), with Chinese headings."""
    frame = pd.DataFrame([*report["districts"], {**report["total"], "name": "合计"}])
    return frame[list(COLUMNS)].rename(columns=COLUMNS)


def compliance(engine: Engine, districts: tuple[str, ...] | None) -> dict[str, Any]:
    """Schools not meeting all four security items, as GeoJSON with what each lacks."""
    with engine.connect() as conn:
        rows = conn.execute(sql_reads.school_compliance(), {"districts": list(districts) if districts else None}).all()
    features = [
        {
            "type": "Feature",
            "id": r.id,
            "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
            "properties": {
                "id": r.id,
                "name": r.name,
                "kind": r.kind,
                "students": r.students,
                "district_code": r.district_code,
                "lacking": r.lacking,
            },
        }
        for r in rows
    ]
    return {"type": "FeatureCollection", "numberMatched": rows[0].matched if rows else 0, "features": features}


# -- output formats (the API's ?format=, the reports page and `geo-safety report --format` share these) --------
#: format -> media type of the file
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "png": "image/png",
}
TITLE = "校园安全工作统计"
#: chart -> (title, [(column, legend label, colour)])
CHARTS = {
    "inspections": (
        "检查次数",
        [("premise_inspections", "场所检查", "#2471a3"), ("zone_inspections", "水域检查", "#17a589")],
    ),
    "violations": (
        "违规与整改",
        [
            ("violations_found", "发现违规", "#922b21"),
            ("violations_closed", "违规已关停", "#5b2c6f"),
            ("failures", "不合格", "#d68910"),
            ("failures_rechecked_on_time", "按期复查", "#1e8449"),
        ],
    ),
    "waters": (
        "危险水域",
        [("unguarded_zones", "未达标水域（期末）", "#c0392b"), ("zones_became_guarded", "期内整改达标", "#27ae60")],
    ),
    "compliance": ("学校四项安防达标率（%）", [("schools_compliant_pct", "四项达标率", "#1f5fbf")]),
}


def scope_name(report: dict[str, Any], whole_city: bool) -> str:
    """ "全市" or the names of the report's districts."""
    return "全市" if whole_city else "、".join(r["name"] for r in report["districts"]) or "—"


def file_stem(report: dict[str, Any], district: str | None) -> str:
    """An ASCII file name stem: ``programme_FROM_TO[_DISTRICT]``."""
    return f"programme_{report['from']}_{report['to']}" + (f"_{district}" if district else "")


def to_csv(report: dict[str, Any]) -> str:
    csv: str = as_table(report).to_csv(index=False)
    return csv


def to_xlsx(report: dict[str, Any], scope: str = "") -> bytes:
    """The table on the sheet 工作统计 (headings in the first row), and what it covers on the sheet 说明."""
    from openpyxl.utils import get_column_letter

    table = as_table(report)
    about = pd.DataFrame(
        {
            "项目": ["报表", "统计期", "范围", "说明"],
            "内容": [
                TITLE,
                f"{report['from']} 至 {report['to']}",
                scope or "—",
                "水域状态按统计期首末两日计；违规指禁止设立的场所在规定距离内检查不合格",
            ],
        }
    )
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        table.to_excel(writer, index=False, sheet_name="工作统计")
        about.to_excel(writer, index=False, sheet_name="说明")
        sheet = writer.sheets["工作统计"]
        for i, heading in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = max(10, len(str(heading)) * 2 + 2)
        sheet.freeze_panes = "C2"
        writer.sheets["说明"].column_dimensions["B"].width = 80
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return f"{value:g}" if isinstance(value, float) else str(value)


def table_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Headings and rows as text (no district code), for the page, the HTML file and the PDF."""
    table = as_table(report).drop(columns=[COLUMNS["district_code"]])
    return list(table.columns), [[_cell(v) for v in row] for row in table.itertuples(index=False)]


def _figure(report: dict[str, Any], kind: str, ax: Any) -> None:
    title, series = CHARTS[kind]
    rows = report["districts"]
    names = [r["name"] for r in rows]
    width = 0.8 / len(series)
    for i, (column, label, colour) in enumerate(series):
        values = [r[column] or 0 for r in rows]
        positions = [x + (i - (len(series) - 1) / 2) * width for x in range(len(rows))]
        bars = ax.bar(positions, values, width, label=label, color=colour)
        ax.bar_label(bars, fmt="%g", fontsize=8, padding=1)
    ax.set_xticks(range(len(rows)), names)
    ax.set_title(title, fontsize=12, pad=24 if len(series) > 1 else 6)
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(y=0.15)
    if kind == "compliance":
        ax.set_ylim(0, 110)
    else:
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_ylim(bottom=0, top=max(ax.get_ylim()[1], 1))
    if len(series) > 1:  # above the bars, under the title: never over a bar or its number
        ax.legend(fontsize=8, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=len(series))


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from geo_safety.maps.png import cjk_font

    plt.rcParams["font.family"] = [cjk_font()]
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def chart_png(report: dict[str, Any], kind: str | None = None, dpi: int = 110) -> bytes:
    """One chart (``CHARTS``), or all of them in a grid, as PNG drawn with a Chinese font."""
    plt = _pyplot()
    kinds = [kind] if kind else list(CHARTS)
    columns = min(2, len(kinds))
    rows = -(-len(kinds) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.6 * columns, 3.4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, kinds, strict=False):
        _figure(report, name, ax)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def to_pdf(report: dict[str, Any], scope: str = "", printed: str = "") -> bytes:
    """A4 landscape, ready to print: the table on page 1, the charts on page 2 (Noto Sans CJK embedded)."""
    import textwrap

    from matplotlib.backends.backend_pdf import PdfPages

    plt = _pyplot()
    headings, rows = table_rows(report)
    buffer = io.BytesIO()
    heading = f"{TITLE} · {scope}" if scope else TITLE
    period = f"统计期 {report['from']} 至 {report['to']}" + (f" · 打印日期 {printed}" if printed else "")
    with PdfPages(
        buffer, metadata={"Title": f"{TITLE} {report['from']}–{report['to']}", "Creator": "geo_safety"}
    ) as pdf:
        fig = plt.figure(figsize=(11.69, 8.27))
        fig.text(0.05, 0.93, heading, fontsize=18, weight="bold")
        fig.text(0.05, 0.89, period, fontsize=10, color="#444")
        ax = fig.add_axes((0.03, 0.1, 0.94, 0.75))
        ax.set_axis_off()
        wrapped = ["\n".join(textwrap.wrap(h, 4)) for h in headings]
        table = ax.table(cellText=rows, colLabels=wrapped, loc="upper center", cellLoc="center")
        table.auto_set_font_size(False)
        table.set_fontsize(9)
        table.scale(1, 1.8)
        for (row, _), cell in table.get_celld().items():
            if row == 0:
                cell.set_height(cell.get_height() * 2.2)
                cell.set_facecolor("#dfe8f1")
            elif row == len(rows):
                cell.set_facecolor("#f2f2f2")
                cell.get_text().set_weight("bold")
        fig.text(
            0.05,
            0.04,
            "水域状态按统计期首末两日计；违规：禁止设立的场所在规定距离内检查不合格；学生数：期末未达标水域 1 公里内。",
            fontsize=8,
            color="#555",
        )
        pdf.savefig(fig)
        plt.close(fig)
        fig, axes = plt.subplots(2, 2, figsize=(11.69, 8.27))
        for ax, name in zip(axes.flat, CHARTS, strict=True):
            _figure(report, name, ax)
        fig.suptitle(f"{heading} · {report['from']} 至 {report['to']}", fontsize=14)
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        pdf.savefig(fig)
        plt.close(fig)
    return buffer.getvalue()


def to_html(report: dict[str, Any], scope: str = "") -> tuple[str, str]:
    """A self-contained page (table and charts); returns it and the CSP that allows exactly its style block."""
    headings, rows = table_rows(report)
    title = (
        f"{TITLE} · {scope} · {report['from']} 至 {report['to']}"
        if scope
        else f"{TITLE} {report['from']} 至 {report['to']}"
    )
    style = (
        "body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:1.5em;color:#222}"
        "table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #bbb;padding:4px 8px}"
        "th{background:#dfe8f1}td{text-align:right}td:first-child{text-align:left}"
        "tr:last-child td{font-weight:bold;background:#f2f2f2}img{max-width:100%}"
        "@media print{@page{size:A4 landscape}}"
    )
    head = "".join(f"<th>{html_lib.escape(h)}</th>" for h in headings)
    body = "".join("<tr>" + "".join(f"<td>{html_lib.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    chart = base64.b64encode(chart_png(report)).decode()
    page = (
        f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>{html_lib.escape(title)}</title>"
        f"<style>{style}</style></head><body><h1>{html_lib.escape(title)}</h1>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<p><img alt='统计图' src='data:image/png;base64,{chart}'></p></body></html>"
    )
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; frame-ancestors 'none'"
    return page, policy
