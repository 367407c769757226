"""Static district maps for printed reports: matplotlib in UTM 49N (metric), with a CJK font.

Title, legend, scale bar and north arrow; the same data as the HTML district map.
"""

from __future__ import annotations

from pathlib import Path

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
from geo_safety.maps.render import DistrictMapData, risk_breaks, risk_colour

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


def cjk_font() -> str:
    """A font that renders Chinese, or a message saying how to install one."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    raise GeoSafetyError("no font for Chinese text found: install one, e.g. `apt-get install fonts-noto-cjk`")


def _frame(features: list[dict]) -> gpd.GeoDataFrame:
    if not features:
        return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs=4326).to_crs(METRIC_CRS)
    return gpd.GeoDataFrame.from_features(features, crs=4326).to_crs(METRIC_CRS)


def _nice_length(width_m: float) -> float:
    for candidate in (100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000):
        if candidate >= width_m / 6:
            return candidate
    return 100_000


def district_png(data: DistrictMapData, path: Path, dpi: int = 150) -> Path:
    font = cjk_font()
    plt.rcParams["font.family"] = [font]
    plt.rcParams["axes.unicode_minus"] = False
    boundary = _frame([data.district])
    fig, ax = plt.subplots(figsize=(10, 8))
    boundary.plot(ax=ax, facecolor="#f4f6f7", edgecolor="#34495e", linewidth=1.2, linestyle="--")
    hotspots = data.hotspots["features"]
    breaks = risk_breaks([f["properties"]["risk_score"] for f in hotspots])
    if hotspots:
        frame = _frame(hotspots)
        colours = [risk_colour(f["properties"]["risk_score"], breaks) for f in hotspots]
        frame.plot(ax=ax, color=colours, edgecolor="#4a0010", linewidth=0.5)
        points = frame.geometry.apply(shapely.point_on_surface)
        ax.scatter(
            points.x,
            points.y,
            s=[30 + 25 * styles.RISK_COLOURS.index(c) for c in colours],
            c=colours,
            edgecolors="#4a0010",
            linewidths=0.6,
            zorder=4,
        )
    premises = _frame(data.premises)
    if len(premises):
        violation = premises["violation"].astype(bool)
        due = premises["reason"].notna() & ~violation
        ax.scatter(
            premises.geometry.x[due],
            premises.geometry.y[due],
            s=10,
            c=styles.REASON_COLOUR["overdue"],
            edgecolors="white",
            linewidths=0.3,
            zorder=3,
        )
        ax.scatter(
            premises.geometry.x[violation],
            premises.geometry.y[violation],
            s=22,
            marker="x",
            c=styles.VIOLATION_COLOUR,
            linewidths=1.2,
            zorder=5,
        )
    schools = _frame(data.schools)
    if len(schools):
        lacking = sum(
            (~schools[k].astype(bool)).astype(int)
            for k in ("full_time_guards", "closed_campus", "alarm_linked", "video_linked")
        )
        colours = ["#1e8449" if n == 0 else "#d68910" if n == 1 else "#922b21" for n in lacking]
        ax.scatter(
            schools.geometry.x,
            schools.geometry.y,
            s=28,
            marker="s",
            c=colours,
            edgecolors="white",
            linewidths=0.5,
            zorder=4,
        )
    name = data.district["properties"]["name"]
    summary = data.summary
    ax.set_title(
        f"{name} 校园安全隐患图 · {data.day}\n学校 {summary['schools']} 所 · 隐患点 {summary['hotspots']} · "
        f"违规场所 {summary['violations']} · 待查场所 {summary['premises_due']}",
        fontsize=13,
    )
    handles = [
        Patch(facecolor=c, edgecolor="#4a0010", label=f"溺水隐患 风险等级 {i + 1}")
        for i, c in enumerate(styles.RISK_COLOURS)
    ]
    handles += [
        Line2D([], [], marker="x", linestyle="", color=styles.VIOLATION_COLOUR, label="违规场所 violation"),
        Line2D([], [], marker="o", linestyle="", color=styles.REASON_COLOUR["overdue"], label="待查场所 due"),
        Line2D([], [], marker="s", linestyle="", color="#1e8449", label="学校 四项达标"),
        Line2D([], [], marker="s", linestyle="", color="#d68910", label="学校 缺一项"),
        Line2D([], [], marker="s", linestyle="", color="#922b21", label="学校 缺多项"),
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)
    minx, miny, maxx, maxy = boundary.total_bounds
    length = _nice_length(maxx - minx)
    x0, y0 = minx + (maxx - minx) * 0.04, miny + (maxy - miny) * 0.04
    ax.plot([x0, x0 + length], [y0, y0], color="black", linewidth=3)
    ax.text(x0 + length / 2, y0 + (maxy - miny) * 0.015, f"{length / 1000:g} km", ha="center", fontsize=9)
    ax.annotate(
        "N",
        xy=(0.05, 0.95),
        xytext=(0.05, 0.86),
        xycoords="axes fraction",
        ha="center",
        fontsize=14,
        fontweight="bold",
        arrowprops={"facecolor": "black", "width": 4, "headwidth": 12},
    )
    ax.set_axis_off()
    ax.set_aspect("equal")
    fig.text(0.01, 0.01, "坐标系 WGS84 / UTM 49N · 示例数据 synthetic sample · geo_safety", fontsize=7, color="#555")
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
