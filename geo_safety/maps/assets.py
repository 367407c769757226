"""Self-hosted map assets: field networks often block public CDNs, so no map may load anything from one.

Leaflet and jQuery come from the XStatic-Leaflet and XStatic-jQuery packages (registry packages,
pinned by pip); plugins that folium ships (leaflet-heat) come from folium's own package data; the zone
editor's Leaflet-Geoman is vendored from npm into ``static/geoman``. A map
either links them from the app (``/static/vendor/…``) or, for files handed out by the command
line, inlines them (self-contained).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path

import folium
import xstatic.pkg.jquery as xstatic_jquery
import xstatic.pkg.leaflet as xstatic_leaflet
from branca.element import Element, Figure, MacroElement

from geo_safety.maps.controls import BundledBasemap, HtmlControl

LEAFLET_DIR = Path(xstatic_leaflet.BASE_DIR)
JQUERY_DIR = Path(xstatic_jquery.BASE_DIR)
FOLIUM_TEMPLATES = Path(folium.__file__).parent / "templates"
OWN_DIR = Path(__file__).parent / "static"
URL_PREFIX = "/static/vendor"
#: folder served at URL_PREFIX/<name>
MOUNTS = {"leaflet": LEAFLET_DIR, "jquery": JQUERY_DIR, "folium": FOLIUM_TEMPLATES, "geo_safety": OWN_DIR}


@dataclass(frozen=True)
class Asset:
    mount: str
    file: str

    @property
    def path(self) -> Path:
        return MOUNTS[self.mount] / self.file

    @property
    def url(self) -> str:
        return f"{URL_PREFIX}/{self.mount}/{self.file}"

    @property
    def is_css(self) -> bool:
        return self.file.endswith(".css")


# folium's popups are built with jQuery, so it comes along (XStatic-jQuery)
LEAFLET = [Asset("leaflet", "leaflet.css"), Asset("leaflet", "leaflet.js"), Asset("jquery", "jquery.min.js")]
MAP_CSS = Asset("geo_safety", "map.css")
MAP_JS = Asset("geo_safety", "map.js")
#: the data layers of a page, fetched for the view (or embedded in a file): mapdata.js after map.js
MAP_DATA = Asset("geo_safety", "mapdata.js")
BASEMAP = [Asset("geo_safety", "basemap.css"), Asset("geo_safety", "basemap.js")]
BASEMAP_FEATURES_URL = "/api/v1/basemap/features"
HEAT = Asset("folium", "leaflet_heat.min.js")
#: Leaflet-Geoman free (vendored from npm, see static/geoman/README.md): edits MultiPolygons and holes
GEOMAN = [Asset("geo_safety", "geoman/leaflet-geoman.css"), Asset("geo_safety", "geoman/leaflet-geoman.min.js")]
HAZARD_EDITOR = [Asset("geo_safety", "hazard_editor.css"), Asset("geo_safety", "hazard_editor.js")]
HOME_LINK = '<a href="/" title="首页" aria-label="首页">⌂</a>'


def _strip_cdn_defaults(element: MacroElement | Element) -> None:
    """Drop folium's CDN links from the element tree; we add local ones instead."""
    if hasattr(element, "default_js"):
        element.default_js = []
    if hasattr(element, "default_css"):
        element.default_css = []
    for child in getattr(element, "_children", {}).values():
        _strip_cdn_defaults(child)


def _inline_css(asset: Asset) -> str:
    css = asset.path.read_text(encoding="utf-8")

    def data_uri(match: re.Match[str]) -> str:
        target = asset.path.parent / match.group(1)
        if not target.exists():
            return match.group(0)
        mime = "image/svg+xml" if target.suffix == ".svg" else f"image/{target.suffix.lstrip('.')}"
        return f"url(data:{mime};base64,{base64.b64encode(target.read_bytes()).decode()})"

    return re.sub(r"url\((?!data:)['\"]?([^'\")]+)['\"]?\)", data_uri, css)


def attach_assets(fmap: folium.Map, extra: list[Asset] | None = None, *, inline: bool = False) -> None:
    """Replace folium's CDN assets with Leaflet (and ``extra``) served by the app, or inlined."""
    _strip_cdn_defaults(fmap)
    served = []
    if not inline:
        # a served page: a way home (a file handed out has none), and the light basemap the app serves itself,
        # drawn below any tile layer (a missing tile shows land and sea, never grey)
        fmap.add_child(HtmlControl(HOME_LINK, position="topleft", css_class="leaflet-bar gs-home"))
        fmap.add_child(BundledBasemap(BASEMAP_FEATURES_URL))
        served = BASEMAP
    root = fmap.get_root()
    assert isinstance(root, Figure)  # a folium.Map is created inside a Figure
    header = root.header
    header.add_child(Element('<link rel="icon" href="data:,">'), name="gs_no_favicon")  # no 404 in the console
    for i, asset in enumerate([*LEAFLET, MAP_CSS, MAP_JS, *served, *(extra or [])]):
        if inline:
            body = _inline_css(asset) if asset.is_css else asset.path.read_text(encoding="utf-8")
            tag = f"<style>{body}</style>" if asset.is_css else f"<script>{body}</script>"
        elif asset.is_css:
            tag = f'<link rel="stylesheet" href="{asset.url}">'
        else:
            tag = f'<script src="{asset.url}"></script>'
        header.add_child(Element(tag), name=f"gs_asset_{i}")
