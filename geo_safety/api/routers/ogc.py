"""OGC API – Features: landing page, conformance, collections, items, single features, vector tiles."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import Engine

from geo_safety.api.deps import SESSION_COOKIE, EngineDep, RulesDep, SettingsDep, UserDep
from geo_safety.api.limits import HEAVY_IF_QUERY_COLLECTION
from geo_safety.api.pages import TEMPLATES, map_response
from geo_safety.api.schemas import ERRORS_AS_JSON
from geo_safety.api.schemas_geojson import GeoJSONResponse
from geo_safety.api.schemas_ogc import CollectionDoc, Collections, Conformance, OgcFeature, OgcFeatureCollection
from geo_safety.errors import BadParameter, NotFound
from geo_safety.maps.render import items_map, render_html
from geo_safety.services import features, ogc, users

router = APIRouter(tags=["OGC API – Features"])
GEOJSON = "application/geo+json"
#: the routes that also answer as an HTML page (``f=html`` or ``Accept: text/html``)
OR_HTML: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": {"schema": {"type": "string"}}}}}


def _wants_html(request: Request) -> bool:
    f = request.query_params.get("f")
    if f is not None:
        if f not in ("json", "html"):
            raise BadParameter(f"f must be json or html, got {f!r}")
        return f == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _link(href: str, rel: str, type_: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": type_, "title": title}


@router.get("/", include_in_schema=False)
def landing(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    """The service's landing page: HTML for people, OGC API JSON (``f=json`` or Accept) for clients."""
    base = _base(request)
    if not _wants_html(request):
        return JSONResponse(
            {
                "title": "geo_safety 校园安全地理信息服务",
                "description": "OGC API – Features over the campus-safety layers (authenticate with a Bearer token).",
                "links": [
                    _link(f"{base}/?f=json", "self", "application/json", "this document"),
                    _link(f"{base}/?f=html", "alternate", "text/html", "this document as HTML"),
                    _link(
                        f"{base}/openapi.json",
                        "service-desc",
                        "application/vnd.oai.openapi+json;version=3.1",
                        "the API definition (OpenAPI 3.1)",
                    ),
                    _link(f"{base}/conformance", "conformance", "application/json", "conformance classes"),
                    _link(f"{base}/collections", "data", "application/json", "the collections"),
                ],
            }
        )
    session_id = request.cookies.get(SESSION_COOKIE)
    user = users.session_principal(engine, settings, session_id) if session_id else None
    names = features.district_names(engine, user) if user else []
    return TEMPLATES.TemplateResponse(request, "landing.html", {"user": user, "district_names": names})


@router.get("/conformance", response_model=Conformance)
def conformance() -> dict[str, list[str]]:
    """The OGC API – Features conformance classes this service implements."""
    return {"conformsTo": ogc.CONFORMANCE}


def _collection_doc(
    request: Request, engine: Engine, spec: ogc.Collection, scope: tuple[str, ...] | None
) -> dict[str, Any]:
    base = _base(request)
    bbox = ogc.extent(engine, spec, scope)
    doc: dict[str, Any] = {
        "id": spec.id,
        "title": spec.title,
        "description": spec.description,
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "links": [
            _link(f"{base}/collections/{spec.id}", "self", "application/json", spec.title),
            _link(f"{base}/collections/{spec.id}/items", "items", GEOJSON, "the features"),
            _link(f"{base}/collections/{spec.id}/items?f=html", "items", "text/html", "the features on a map"),
        ],
        "extent": {
            "spatial": {
                "bbox": [bbox] if bbox else [[-180, -90, 180, 90]],
                "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            }
        },
        "queryables": list(ogc.queryable(spec.id)),
    }
    if spec.table:
        doc["links"].append(
            _link(
                f"{base}/collections/{spec.id}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileCol}}/{{tileRow}}",
                "item",
                "application/vnd.mapbox-vector-tile",
                "vector tiles",
            )
        )
    if spec.params:
        doc["parameters"] = list(spec.params)
    return doc


def _html_page(title: str, links: list[dict[str, str]]) -> HTMLResponse:
    items = "".join(
        f"<li><a href='{html.escape(link['href'])}'>{html.escape(link['title'])}</a></li>" for link in links
    )
    return HTMLResponse(
        f"<!doctype html><html lang='zh-CN'><meta charset='utf-8'><link rel='icon' href='data:,'>"
        f"<link rel='stylesheet' href='/static/site.css'><title>{html.escape(title)}</title>"
        f"<main><h1>{html.escape(title)}</h1><ul>{items}</ul></main></html>"
    )


@router.get("/collections", response_model=Collections, response_model_exclude_unset=True, responses=OR_HTML)
def collections(request: Request, engine: EngineDep, user: UserDep) -> Any:
    """Every collection with its extent and links."""
    docs = [_collection_doc(request, engine, spec, user.districts) for spec in ogc.COLLECTIONS.values()]
    base = _base(request)
    if _wants_html(request):
        return _html_page(
            "数据集 Collections",
            [_link(f"{base}/collections/{d['id']}/items?f=html", "items", "text/html", d["title"]) for d in docs],
        )
    return {"links": [_link(f"{base}/collections", "self", "application/json", "collections")], "collections": docs}


@router.get(
    "/collections/{collection_id}", response_model=CollectionDoc, response_model_exclude_unset=True, responses=OR_HTML
)
def collection_doc(collection_id: str, request: Request, engine: EngineDep, user: UserDep) -> Any:
    doc = _collection_doc(request, engine, ogc.collection(collection_id), user.districts)
    if _wants_html(request):
        return _html_page(doc["title"], doc["links"])
    return doc


def _query(request: Request, **changes: Any) -> str:
    params = dict(request.query_params)
    params.update({k: str(v) for k, v in changes.items()})
    return urlencode(params)


@router.get(
    "/collections/{collection_id}/items",
    response_class=GeoJSONResponse,
    response_model=OgcFeatureCollection,
    response_model_exclude_unset=True,
    responses={**ERRORS_AS_JSON, **OR_HTML},
    dependencies=[HEAVY_IF_QUERY_COLLECTION],
)
def collection_items(collection_id: str, request: Request, engine: EngineDep, rules: RulesDep, user: UserDep) -> Any:
    """Features in pages: ``bbox``, ``limit`` (default 100, max 10,000), ``offset``, ``datetime``, ``prop=value``."""
    params = dict(request.query_params)
    html_wanted = _wants_html(request)
    scope = features.scope_for(engine, user, params.get("district"))
    body = ogc.items(engine, rules, collection_id, scope, params)
    paging = body.pop("_paging")
    base = f"{_base(request)}/collections/{collection_id}/items"
    links = [
        _link(f"{base}?{_query(request)}", "self", GEOJSON, "this page"),
        _link(f"{base}?{_query(request, f='html')}", "alternate", "text/html", "this page on a map"),
    ]
    if paging["offset"] + body["numberReturned"] < body["numberMatched"]:
        links.append(
            _link(
                f"{base}?{_query(request, offset=paging['offset'] + paging['limit'], f='json')}",
                "next",
                GEOJSON,
                "next page",
            )
        )
    if paging["offset"] > 0:
        links.append(
            _link(
                f"{base}?{_query(request, offset=max(0, paging['offset'] - paging['limit']), f='json')}",
                "prev",
                GEOJSON,
                "previous page",
            )
        )
    body["links"] = links
    if html_wanted:
        return _items_map(collection_id, body)
    return body


def _items_map(collection_id: str, body: dict[str, Any]) -> HTMLResponse:
    title = ogc.collection(collection_id).title
    pages = [(link["title"], link["href"]) for link in body["links"] if link["rel"] in ("next", "prev")]
    counts = f"{body['numberReturned']} / {body.get('numberMatched', '?')}"
    return map_response(render_html(items_map(title, body["features"], counts, pages), title))


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    response_class=GeoJSONResponse,
    response_model=OgcFeature,
    response_model_exclude_unset=True,
    responses=ERRORS_AS_JSON,
    dependencies=[HEAVY_IF_QUERY_COLLECTION],
)
def collection_item(
    collection_id: str, feature_id: str, request: Request, engine: EngineDep, rules: RulesDep, user: UserDep
) -> Any:
    params = {k: v for k, v in request.query_params.items() if k in ("date", "radius_m", "datum", "f")}
    body = ogc.items(engine, rules, collection_id, user.districts, params, feature_id=feature_id)
    if not body["features"]:
        raise NotFound(f"no feature {feature_id!r} in {collection_id}")
    feature = body["features"][0]
    base = f"{_base(request)}/collections/{collection_id}"
    feature["links"] = [
        _link(f"{base}/items/{feature_id}", "self", GEOJSON, "this feature"),
        _link(base, "collection", "application/json", "the collection"),
    ]
    return feature


@router.get(
    "/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{x}/{y}",
    response_class=Response,
    responses={200: {"content": {"application/vnd.mapbox-vector-tile": {}}, "description": "the tile"}},
)
def vector_tile(collection_id: str, z: int, x: int, y: int, engine: EngineDep, user: UserDep) -> Response:
    """Mapbox Vector Tile of a layer in the WebMercatorQuad tile matrix set."""
    data = ogc.tile(engine, collection_id, user.districts, z, x, y)
    return Response(data, media_type="application/vnd.mapbox-vector-tile")
