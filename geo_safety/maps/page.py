"""A folium map as a whole HTML page whose only scripts are the ones we rendered.

folium writes its map as inline ``<script>`` blocks. Rather than allow inline script (one missed escape
would then run stored text as code), the page is assembled here from folium's three parts and every
inline script and style block is listed by its SHA-256 in the page's Content-Security-Policy. Text from
data lives only in JSON (escaped for a script) and is put on screen with ``textContent``; if some value
still broke out of a script, the broken block no longer matches its hash and nothing of it runs.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import dataclass

import folium
from branca.element import Figure

_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)
#: folium's viewport forbids zooming the page, which people with poor sight need on a phone
_FOLIUM_VIEWPORT = re.compile(r"<meta name=\"viewport\"[^>]*/>", re.DOTALL)
VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">'


@dataclass(frozen=True)
class RenderedPage:
    """The page and its Content-Security-Policy (also in the page's ``<meta>``; served as a header too)."""

    html: str
    policy: str


def csp_hash(code: str) -> str:
    """The CSP source that allows exactly this inline block.

    >>> csp_hash("alert(1)")
    "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
    """
    digest = hashlib.sha256(code.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def page_policy(script_sources: tuple[str, ...], style_sources: tuple[str, ...], img_sources: str) -> str:
    """The policy of a map page: own files plus exactly the listed inline blocks; no eval, no plugins."""
    return (
        f"default-src 'self'; script-src 'self' {' '.join(script_sources)}; "
        f"style-src 'self' {' '.join(style_sources)}; img-src {img_sources}; font-src 'self' data:; "
        "connect-src 'self'; worker-src 'self'; manifest-src 'self'; base-uri 'self'; form-action 'self'; "
        "object-src 'none'"
    )


def render_page(fmap: folium.Map, title: str, img_sources: str = "'self' data: blob:") -> RenderedPage:
    """Render ``fmap`` into a page with a CSP ``<meta>`` that names the hash of each inline block.

    The ``<meta>`` keeps a file written by the command line (or saved from the browser) as strict as the
    served page, which also sends the same policy as a header.
    """
    figure = fmap.get_root()
    assert isinstance(figure, Figure)  # a folium.Map is created inside a Figure
    figure.render()  # lets every element put its parts into the figure's header, body and script
    header = _FOLIUM_VIEWPORT.sub("", figure.header.render())
    body = figure.html.render()
    script = figure.script.render()
    scripts = tuple(dict.fromkeys([*(csp_hash(s) for s in _SCRIPT.findall(header)), csp_hash(script)]))
    styles = tuple(dict.fromkeys(csp_hash(s) for s in _STYLE.findall(header)))
    policy = page_policy(scripts, styles, img_sources)
    page = (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">\n'
        f"{VIEWPORT}\n<title>{html.escape(title)}</title>\n{header}\n</head>\n<body>\n{body}\n"
        f"<script>{script}</script>\n</body>\n</html>\n"
    )
    return RenderedPage(page, policy)
