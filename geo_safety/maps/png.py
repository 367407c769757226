"""Static district maps for print (PNG and PDF): matplotlib in UTM 49N (metric), with a CJK font.

Title, date, legend, scale bar, north arrow; the same data and symbols as the HTML district map. The view is
framed on the district's mainland; islands far offshore (海城区's 涠洲岛 and 斜阳岛) get an inset map.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")  # no display on servers

import matplotlib.pyplot as plt
import shapely
from matplotlib import font_manager
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from geo_safety.errors import GeoSafetyError
from geo_safety.maps import styles
from geo_safety.maps.render import (
    SECURITY_CN,
    DistrictMapData,
    district_title,
    due_symbols,
    hotspot_symbols,
    risk_breaks,
    risk_class,
    split_islands,
)
from geo_safety.shapes.features import DueFeature, HotspotFeature

METRIC_CRS = 32649  # UTM zone 49N covers Beihai
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
)
A4_LANDSCAPE = (11.69, 8.27)  # inches


def cjk_font() -> str:
    """A font that renders Chinese, or a message saying how to install one."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    raise GeoSafetyError("no font for Chinese text found: install one, e.g. `apt-get install fonts-noto-cjk`")


def _frame(features: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    if not features:
        return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs=4326).to_crs(METRIC_CRS)
    return gpd.GeoDataFrame.from_features(features, crs=4326).to_crs(METRIC_CRS)


def _geometries(features: Sequence[DueFeature] | Sequence[HotspotFeature]) -> list[dict[str, Any]]:
    """The models' geometries as GeoJSON Features without properties (what ``_frame`` reads)."""
    return [
        {
            "type": "Feature",
            "geometry": {"type": f.geometry.type, "coordinates": f.geometry.coordinates},
            "properties": {},
        }
        for f in features
    ]


def _nice_length(width_m: float) -> float:
    for candidate in (100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000):
        if candidate >= width_m / 6:
            return candidate
    return 100_000


def _metric_bounds(geometry: Any, pad: float = 0.05) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = gpd.GeoSeries([geometry], crs=4326).to_crs(METRIC_CRS).total_bounds
    dx, dy = (maxx - minx) * pad + 200, (maxy - miny) * pad + 200
    return minx - dx, miny - dy, maxx + dx, maxy + dy


def _draw_layers(ax: Any, data: DistrictMapData, scale: float = 1.0) -> None:
    """Boundary, hotspots by named risk class, premises (fill by reason, purple edge for a violation) and
    schools by security compliance, in that order — the symbols of ``render.district_map``."""
    _frame([data.district]).plot(ax=ax, facecolor="#f4f6f7", edgecolor="#34495e", linewidth=1.2, linestyle="--")
    hotspots = data.hotspots.features
    breaks = risk_breaks([f.properties.risk_score for f in hotspots])
    if hotspots:
        frame = _frame(_geometries(hotspots))
        classes = [risk_class(f.properties.risk_score, breaks) for f in hotspots]
        colours = [styles.RISK_COLOURS[c] for c in classes]
        frame.plot(ax=ax, color=colours, edgecolor=styles.HOTSPOT_EDGE, linewidth=0.5)
        points = frame.geometry.apply(shapely.point_on_surface)
        ax.scatter(
            points.x,
            points.y,
            s=[(30 + 30 * c) * scale for c in classes],
            c=colours,
            edgecolors=styles.HOTSPOT_EDGE,
            linewidths=0.6,
            zorder=4,
        )
    shown = [f.properties for f in data.premises if f.properties.reason is not None or f.properties.violation]
    if shown:
        premises = _frame(
            _geometries([f for f in data.premises if f.properties.reason is not None or f.properties.violation])
        )
        fills = [styles.REASON_COLOUR.get(p.reason or "", styles.NO_REASON_COLOUR) for p in shown]
        edges = [styles.VIOLATION_COLOUR if p.violation else styles.DUE_EDGE for p in shown]
        ax.scatter(
            premises.geometry.x,
            premises.geometry.y,
            s=[26 * scale if p.violation else 16 * scale for p in shown],
            c=fills,
            edgecolors=edges,
            linewidths=[1.3 if p.violation else 0.6 for p in shown],
            zorder=5,
        )
    if data.schools:
        schools = _frame(data.schools)
        colours = [
            styles.SCHOOL_COMPLIANCE[min(sum(1 for k in SECURITY_CN if not f["properties"][k]), 2)][1]
            for f in data.schools
        ]
        ax.scatter(
            schools.geometry.x,
            schools.geometry.y,
            s=34 * scale,
            c=colours,
            edgecolors="white",
            linewidths=0.8,
            zorder=6,
        )


def _legend_handles(data: DistrictMapData) -> tuple[list[Any], str]:
    """Legend entries for what ``_draw_layers`` drew (the same rows as the HTML legend)."""
    handles: list[Any] = []
    symbols, note = hotspot_symbols([f.properties.risk_score for f in data.hotspots.features])
    for symbol in symbols:
        handles.append(Patch(facecolor=symbol.fill, edgecolor=styles.HOTSPOT_EDGE, label=symbol.label))
    shown = [
        {"properties": {"reason": f.properties.reason, "violation": f.properties.violation}}
        for f in data.premises
        if f.properties.reason is not None or f.properties.violation
    ]
    for symbol in due_symbols(shown):
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                markerfacecolor=symbol.fill,
                markeredgecolor=symbol.edge,
                markeredgewidth=1.3 if symbol.edge == styles.VIOLATION_COLOUR else 0.8,
                markersize=7,
                label=symbol.label,
            )
        )
    drawn = {
        styles.SCHOOL_COMPLIANCE[min(sum(1 for k in SECURITY_CN if not f["properties"][k]), 2)][1] for f in data.schools
    }
    for label, colour in styles.SCHOOL_COMPLIANCE:
        if colour in drawn:
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    linestyle="",
                    markerfacecolor=colour,
                    markeredgecolor="white",
                    markersize=8,
                    label=f"学校 · {label}",
                )
            )
    handles.append(Line2D([], [], color="#34495e", linestyle="--", label="行政区界"))
    return handles, note


def district_figure(data: DistrictMapData) -> Any:
    """The printable map as a matplotlib figure (A4 landscape)."""
    font = cjk_font()
    plt.rcParams["font.family"] = [font]
    plt.rcParams["axes.unicode_minus"] = False
    fig = plt.figure(figsize=A4_LANDSCAPE)
    ax = fig.add_axes((0.02, 0.07, 0.66, 0.8))
    _draw_layers(ax, data)
    mainland, islands = split_islands(data.district)
    minx, miny, maxx, maxy = _metric_bounds(mainland)
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    for spine in ax.spines.values():
        spine.set_color("#999")
    summary = data.summary
    fig.text(0.02, 0.95, district_title(data), fontsize=18, weight="bold")
    fig.text(
        0.02,
        0.905,
        f"日期 {data.day} · 学校 {summary['schools']} 所 · 学生 {summary['students']} 人 · 溺水隐患点 "
        f"{summary['hotspots']} 处 · 违规场所 {summary['violations']} 处 · 待查场所 {summary['premises_due']} 处",
        fontsize=10,
        color="#333",
    )
    # the scale bar and north arrow of the main map (metres: UTM 49N)
    xmin, xmax = ax.get_xlim()
    ymin, ymax = ax.get_ylim()
    length = _nice_length(xmax - xmin)
    x0, y0 = xmin + (xmax - xmin) * 0.04, ymin + (ymax - ymin) * 0.04
    ax.plot([x0, x0 + length], [y0, y0], color="black", linewidth=3, zorder=7)
    ax.plot([x0, x0], [y0, y0 + (ymax - ymin) * 0.01], color="black", linewidth=1, zorder=7)
    ax.text(x0 + length / 2, y0 + (ymax - ymin) * 0.015, f"{length / 1000:g} 公里", ha="center", fontsize=9, zorder=7)
    ax.annotate(
        "北",
        xy=(0.05, 0.96),
        xytext=(0.05, 0.86),
        xycoords="axes fraction",
        ha="center",
        fontsize=13,
        fontweight="bold",
        arrowprops={"facecolor": "black", "width": 4, "headwidth": 12},
    )
    for index, (name, shape) in enumerate(islands):  # insets beside the main map, under the legend
        inset = fig.add_axes((0.72 + 0.13 * index, 0.14, 0.24 / len(islands), 0.26))
        _draw_layers(inset, data, scale=0.6)
        ix0, iy0, ix1, iy1 = _metric_bounds(shape, pad=0.15)
        inset.set_xlim(ix0, ix1)
        inset.set_ylim(iy0, iy1)
        inset.set_aspect("equal")
        inset.set_xticks([])
        inset.set_yticks([])
        inset.set_xlabel("")
        inset.set_ylabel("")
        inset.set_facecolor("#eef5fb")
        inset.set_title(f"{name}（另图，比例不同）", fontsize=8, pad=2)
        ilength = _nice_length(ix1 - ix0)
        inset.plot(
            [ix0 + (ix1 - ix0) * 0.06, ix0 + (ix1 - ix0) * 0.06 + ilength],
            [iy0 + (iy1 - iy0) * 0.06] * 2,
            color="black",
            linewidth=2,
        )
        inset.text(
            ix0 + (ix1 - ix0) * 0.06 + ilength / 2,
            iy0 + (iy1 - iy0) * 0.09,
            f"{ilength / 1000:g} 公里",
            ha="center",
            fontsize=6,
        )
    handles, note = _legend_handles(data)
    legend_ax = fig.add_axes((0.7, 0.44 if islands else 0.2, 0.29, 0.43 if islands else 0.67))
    legend_ax.set_axis_off()
    legend_ax.legend(handles=handles, loc="upper left", fontsize=8.5, frameon=True, title="图例", title_fontsize=10)
    fig.text(0.7, 0.03, _wrap(note, 26), fontsize=7.5, color="#444", va="bottom")
    fig.text(
        0.02,
        0.025,
        "坐标系 WGS84，投影 UTM 49N · 示例数据（合成） · geo_safety 校园安全地理信息服务",
        fontsize=7,
        color="#555",
    )
    return fig


def _wrap(text: str, width: int) -> str:
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


def district_image(data: DistrictMapData, fmt: str = "png", dpi: int = 150) -> bytes:
    """The printable map as PNG or PDF bytes (PDF: A4 landscape, Noto Sans CJK embedded)."""
    fig = district_figure(data)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi, metadata={"Title": district_title(data)} if fmt == "pdf" else None)
    plt.close(fig)
    return buffer.getvalue()


def district_png(data: DistrictMapData, path: Path, dpi: int = 150) -> Path:
    path.write_bytes(district_image(data, "png", dpi))
    return path


def district_pdf(data: DistrictMapData, path: Path) -> Path:
    path.write_bytes(district_image(data, "pdf"))
    return path
