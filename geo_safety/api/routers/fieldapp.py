"""The inspector's phone app: one page, its service worker and its manifest (installable, works offline).

The page is a shell with no data in it: the day's plan, the basemap and the visit outbox live in the
browser (Cache Storage and IndexedDB) so the app opens with no network once the day has been opened.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from geo_safety.api.deps import EngineDep, page_user
from geo_safety.api.pages import TEMPLATES
from geo_safety.errors import Forbidden
from geo_safety.maps.assets import LEAFLET, Asset
from geo_safety.services import features
from geo_safety.services.users import Principal

router = APIRouter(prefix="/app", tags=["field app"], include_in_schema=False)
APP_DIR = Path(__file__).resolve().parent.parent / "static" / "app"
#: Files the phone keeps for working offline (the page itself is cached by the worker as it is opened).
SHELL = (
    "/app/today",
    "/app/manifest.webmanifest",
    "/static/site.css",
    "/static/app/inspector.css",
    "/static/app/inspector.js",
    "/static/app/outbox.js",
    "/static/app/icon.svg",
    "/static/app/icon-192.png",
    *(a.url for a in LEAFLET if a.mount == "leaflet"),
    Asset("geo_safety", "basemap.js").url,
    Asset("geo_safety", "basemap.css").url,
)


@lru_cache
def _worker() -> tuple[bytes, str]:
    """The service worker with its shell list and a version that changes whenever a shell file changes."""
    digest = hashlib.sha256()
    for name in sorted(p.name for p in APP_DIR.iterdir() if p.is_file()):
        digest.update((APP_DIR / name).read_bytes())
    for asset in (*LEAFLET, Asset("geo_safety", "basemap.js"), Asset("geo_safety", "basemap.css")):
        if asset.path.exists():
            digest.update(asset.path.read_bytes())
    version = digest.hexdigest()[:16]
    source = (APP_DIR / "sw.js").read_text(encoding="utf-8")
    shell = ",".join(f'"{url}"' for url in SHELL)
    code = source.replace('"__VERSION__"', f'"{version}"').replace('"__SHELL__"', shell)
    return code.encode("utf-8"), version


def inspector(user: Annotated[Principal, Depends(page_user)]) -> Principal:
    if not user.may("inspect"):
        raise Forbidden("今日巡查只对巡查员开放，本账号不记录检查。")
    return user


@router.get("/today", response_class=HTMLResponse)
def today(request: Request, engine: EngineDep, user: Annotated[Principal, Depends(inspector)]) -> Response:
    """The day's work on a phone: the stop list and the map, the visit form, the outbox."""
    _, version = _worker()
    names = dict(features.district_names(engine, user))
    districts = list(user.districts or ())
    # the page asks for the plan at once; preloading it saves a round trip on a slow link (bench/fieldload.py)
    plan_url = "/api/v1/plans/today" + (f"?district={districts[0]}" if districts else "")
    context = {
        "user": user,
        "districts": districts,
        "names": json.dumps(names),
        "version": version,
        "plan_url": plan_url,
    }
    response = TEMPLATES.TemplateResponse(request, "inspector.html", context)
    response.headers["Cache-Control"] = "no-cache"
    return response


@router.get("/sw.js")
def service_worker() -> Response:
    code, _ = _worker()
    return Response(code, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/manifest.webmanifest")
def manifest() -> Response:
    return Response(
        (APP_DIR / "manifest.webmanifest").read_bytes(),
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )
