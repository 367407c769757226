"""Basemaps. Overlays are WGS84, so only WGS84/CGCS2000 Web-Mercator tiles line up with them."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from geo_safety.errors import InvalidInput

_GCJ_HOSTS = ("autonavi", "amap.com", "gtimg", "map.qq.com", "tencent", "bdimg", "baidu")


@dataclass(frozen=True)
class Basemap:
    name: str
    url: str
    attribution: str
    subdomains: str = "abc"

    @property
    def origin(self) -> str | None:
        """Where its tiles come from, for a CSP ``img-src`` (``None``: the app itself).

        >>> Basemap("x", "https://t{s}.tiles.example.org/{z}/{x}/{y}.png", "").origin
        'https://*.tiles.example.org'
        """
        parts = urlsplit(self.url.replace("{s}", "*"))
        if not (parts.scheme and parts.netloc):
            return None
        host = ".".join("*" if "*" in label else label for label in parts.netloc.split("."))  # t{s}.x → *.x
        return f"{parts.scheme}://{host}"


def image_sources(basemap: Basemap | None) -> str:
    """CSP ``img-src`` of a map page: the app, inline images and the basemap's tile server."""
    origin = basemap.origin if basemap is not None else None
    return " ".join(["'self'", "data:", "blob:", *([origin] if origin else [])])


def basemap(tiles: str, tianditu_key: str | None = None) -> Basemap | None:
    """The basemap for a setting: ``none``, ``osm``, ``tianditu`` or an XYZ URL template.

    >>> basemap("none") is None
    True
    >>> basemap("https://webrd01.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geo_safety.errors.InvalidInput: GCJ-02/BD-09 basemaps (AMap, Tencent, Baidu) would shift every overlay...
    """
    choice = (tiles or "none").strip()
    if choice.lower() == "none":
        return None
    if choice.lower() == "osm":
        return Basemap(
            "OpenStreetMap", "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "&copy; OpenStreetMap contributors", ""
        )
    if choice.lower() == "tianditu":
        if not tianditu_key:
            raise InvalidInput("tiles=tianditu needs GEO_SAFETY_TIANDITU_KEY")
        url = (
            "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec"
            "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
            f"&tk={tianditu_key}"
        )
        return Basemap("天地图 Tianditu", url, "&copy; 天地图 Tianditu", "01234567")
    if any(host in choice.lower() for host in _GCJ_HOSTS):
        raise InvalidInput(
            "GCJ-02/BD-09 basemaps (AMap, Tencent, Baidu) would shift every overlay by ~500 m; use tiles=none, "
            "osm, tianditu or a WGS84 Web-Mercator XYZ URL"
        )
    if "{z}" not in choice or "{x}" not in choice or "{y}" not in choice:
        raise InvalidInput("a tile URL template needs {z}, {x} and {y}")
    return Basemap("底图 basemap", choice, "basemap", "")
