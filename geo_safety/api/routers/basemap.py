"""The basemap the app serves itself: what to draw (``/api/v1/basemap``), the light vector basemap from the
bundled data (``/api/v1/basemap/features``) and the tiles of a bureau's offline file (``/tiles/{z}/{x}/{y}``).

Any signed-in role may read them (they hold no records); the file is opened and checked at startup, so a bad
``GEO_SAFETY_BASEMAP_FILE`` stops the app with the reason instead of drawing grey maps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Path, Request, Response
from pydantic import BaseModel

from geo_safety.api.deps import EngineDep, SettingsDep, UserDep
from geo_safety.api.schemas import ERRORS_AS_JSON
from geo_safety.api.schemas_features import BasemapFeatures
from geo_safety.api.schemas_geojson import GeoJSONResponse
from geo_safety.errors import NotFound
from geo_safety.services import basemap

FEATURES_MAX_AGE = "private, max-age=86400"
TILES_MAX_AGE = "private, max-age=604800"


@asynccontextmanager
async def _open_file(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    tile_file = basemap.open_tile_file(settings.basemap_file) if settings.basemap_file else None
    app.state.basemap_file = tile_file
    try:
        yield
    finally:
        if tile_file is not None:
            tile_file.close()


router = APIRouter(tags=["basemap"], lifespan=_open_file)


class BasemapInfo(BaseModel):
    kind: str  # "file" | "bundled"
    container: str | None  # "mbtiles" | "pmtiles" | None
    tiles_url: str | None
    format: str  # png, jpg, webp, avif, pbf, or geojson (bundled)
    raster: bool
    minzoom: int
    maxzoom: int
    bounds: list[float] | None  # west, south, east, north (WGS84)
    attribution: str | None
    name: str | None
    features_url: str


def _tile_file(request: Request) -> basemap.TileFile | None:
    return getattr(request.app.state, "basemap_file", None)


@router.get("/api/v1/basemap")
def get_basemap(request: Request, user: UserDep) -> BasemapInfo:
    """What the phone draws: the bureau's tile file (``kind: file``; cache ``tiles_url`` over the day's area
    between ``minzoom`` and ``maxzoom``) or the bundled vector basemap (``kind: bundled``); both offer
    ``features_url`` for the land, district lines and town names."""
    tile_file = _tile_file(request)
    return BasemapInfo(**(tile_file.describe() if tile_file else basemap.describe_bundled()))


@router.get(
    "/api/v1/basemap/features",
    response_class=GeoJSONResponse,
    response_model=BasemapFeatures,
    response_model_exclude_unset=True,  # the body is sent as built (bytes); said for the rule all routes follow
    responses={
        **ERRORS_AS_JSON,
        200: {"description": "land, district_line and town features"},
        304: {"description": "unchanged since the ETag sent in If-None-Match"},
    },
)
def get_basemap_features(
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The light basemap as compact GeoJSON (WGS84, 1e-5°): ``class`` is ``land`` (district polygons),
    ``district_line`` (their outlines, with ``name``) or ``town`` (township seats, approximate, with ``name``)."""
    bundled = basemap.bundled_features(engine, settings.data_dir)
    headers = {"ETag": bundled.etag, "Cache-Control": FEATURES_MAX_AGE}
    if if_none_match and bundled.etag in {tag.strip() for tag in if_none_match.split(",")} | {"*"}:
        return Response(status_code=304, headers=headers)
    return Response(bundled.body, media_type="application/geo+json", headers=headers)


@router.get(
    "/tiles/{z}/{x}/{y}",
    response_class=Response,
    responses={
        200: {
            "content": {t: {} for t in sorted(set(basemap.CONTENT_TYPES.values()))},
            "description": "the tile",
        },
        204: {"description": "the file has no tile here (draw nothing; cache that)"},
    },
)
def get_tile(
    request: Request,
    user: UserDep,
    z: Annotated[int, Path(ge=0, le=basemap.MAX_ZOOM)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
) -> Response:
    """One tile of the configured file in XYZ (Web Mercator, rows from the north) addressing; 404 when no file is
    configured (``tiles_url`` is null then) or the address cannot exist."""
    tile_file = _tile_file(request)
    if tile_file is None:
        raise NotFound("no basemap file is configured (GEO_SAFETY_BASEMAP_FILE); draw /api/v1/basemap/features")
    if not basemap.tile_in_range(z, x, y):
        raise NotFound(f"no tile {z}/{x}/{y}: x and y must be below 2^z")
    tile = tile_file.tile(z, x, y)
    headers = {"Cache-Control": TILES_MAX_AGE}
    if tile is None:
        return Response(status_code=204, headers=headers)
    if tile.gzipped:
        headers["Content-Encoding"] = "gzip"
    return Response(tile.data, media_type=tile.content_type, headers=headers)
