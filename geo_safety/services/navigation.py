"""Links that open a stop in the phone's map app, each in the datum that app expects.

AMap and Tencent read GCJ-02, Baidu reads BD-09 and a ``geo:`` URI is WGS84: handing any of them our stored
WGS84 position unconverted puts the pin some 500 m off around Beihai. Seven decimals (~1 cm) keep the round
trip far inside the 0.5 m an inspector can tell apart.
"""

from __future__ import annotations

from typing import SupportsFloat
from urllib.parse import quote

from geo_safety.crs import wgs84_to_bd09, wgs84_to_gcj02

#: the ``src``/``referer`` the Chinese map apps ask callers to name themselves with
APP_NAME = "geo_safety"
DIGITS = 7


def _num(value: SupportsFloat) -> str:
    return f"{float(value):.{DIGITS}f}"


def nav_links(lon: float, lat: float, name: str) -> dict[str, str]:
    """Map-app links for a WGS84 position: ``amap``, ``tencent`` (GCJ-02), ``baidu``/``baidu_web`` (BD-09), ``geo``.

    >>> links = nav_links(109.12, 21.48, "网吧 甲")
    >>> links["geo"]
    'geo:21.4800000,109.1200000?q=21.4800000,109.1200000(%E7%BD%91%E5%90%A7%20%E7%94%B2)'
    >>> links["amap"].startswith("https://uri.amap.com/marker?position=109.12")
    True
    """
    label = quote(name or "检查点", safe="")
    g_lon, g_lat = (_num(v) for v in wgs84_to_gcj02(lon, lat))
    b_lon, b_lat = (_num(v) for v in wgs84_to_bd09(lon, lat))
    w_lon, w_lat = _num(lon), _num(lat)
    return {
        "amap": f"https://uri.amap.com/marker?position={g_lon},{g_lat}&name={label}&coordinate=gaode&callnative=1",
        "tencent": f"https://apis.map.qq.com/uri/v1/marker?marker=coord:{g_lat},{g_lon};title:{label}"
        f"&referer={APP_NAME}",
        "baidu": f"baidumap://map/marker?location={b_lat},{b_lon}&title={label}&content={label}"
        f"&coord_type=bd09ll&src={APP_NAME}",
        "baidu_web": f"https://api.map.baidu.com/marker?location={b_lat},{b_lon}&title={label}&content={label}"
        f"&coord_type=bd09ll&output=html&src={APP_NAME}",
        "geo": f"geo:{w_lat},{w_lon}?q={w_lat},{w_lon}({label})",
    }


def tel_link(phone: str | None) -> str | None:
    """A ``tel:`` link with only the characters a dialler understands (``None`` when there is no number).

    >>> tel_link("0779-123 4567"), tel_link("无")
    ('tel:0779-1234567', None)
    """
    if not phone:
        return None
    digits = "".join(c for c in phone if c.isdigit() or c in "+-")
    return f"tel:{digits}" if any(c.isdigit() for c in digits) else None
