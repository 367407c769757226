"""The FastAPI application factory: ``create_app(settings)``; the engine lives on ``app.state``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from geo_safety import __version__
from geo_safety.api.browser_errors import BrowserErrors
from geo_safety.api.errors import install_error_handlers
from geo_safety.api.middleware import BodyLimit, SecurityHeaders
from geo_safety.api.requestlog import RequestId
from geo_safety.api.routers import (
    audit,
    auth,
    basemap,
    features,
    fieldapp,
    hazards,
    health,
    imports,
    inspections,
    maps,
    officer,
    ogc,
    plans,
    reports,
    users,
    visits,
)
from geo_safety.api.schemas import ERROR_RESPONSES
from geo_safety.db import make_engine
from geo_safety.maps.assets import MOUNTS, URL_PREFIX
from geo_safety.process import tune_gc
from geo_safety.ruleset import RuleSet, load_rules
from geo_safety.services import duestate
from geo_safety.services.users import production_problems
from geo_safety.settings import Settings, get_settings

STATIC_DIR = Path(__file__).parent / "static"
log = logging.getLogger(__name__)


def _ensure_due_state(engine: Engine, rules: RuleSet) -> None:
    """Make the due state answer for this process's rules; a database that is away only delays it (the exact
    path answers meanwhile, and the next start tries again)."""
    try:
        duestate.ensure(engine, rules)
    except DBAPIError as exc:
        log.warning("due state not checked at start: %s", exc.__class__.__name__)


def create_app(settings: Settings | None = None, *, serving: bool = False) -> FastAPI:
    """The app; ``serving``: a long-running server process (``geo-safety serve``), whose garbage collector is
    tuned at start (``geo_safety.process``); tests and tools build many apps in one process and leave it alone."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings, statement_timeout_ms=settings.statement_timeout_ms, pool_size=10, max_overflow=10, pool_timeout=10
        )
        if settings.is_production:
            problems = production_problems(engine, settings)
            if problems:
                engine.dispose()
                raise RuntimeError("refusing to start in production: " + "; ".join(problems))
        app.state.engine = engine
        _ensure_due_state(engine, app.state.rules)
        if serving:
            tune_gc()
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="geo_safety 校园安全地理信息服务",
        version=__version__,
        description="Campus-safety GIS: schools, premises near campuses, water hazards and inspections. "
        "Authenticate with 'Authorization: Bearer TOKEN'.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        docs_url=None,  # Swagger UI loads from a public CDN, which field networks block
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BrowserErrors)  # innermost: sees the JSON error before headers and compression are added
    app.add_middleware(SecurityHeaders, settings=settings)
    app.add_middleware(BodyLimit, settings=settings)
    # outside the limits, so their small refusals pass unchanged; images and already-encoded tiles are skipped
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=6)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "X-Requested-With"],
            expose_headers=["ETag"],
        )
    app.add_middleware(RequestId)  # outermost: every log line of the request carries its id
    app.state.rules = load_rules(settings.rules, settings.calendar)
    routers = (health, auth, ogc, users, audit, features, imports, inspections, hazards, reports, maps, basemap)
    for module in (*routers, fieldapp, plans, visits, officer):
        app.include_router(module.router)
    for name, folder in MOUNTS.items():
        app.mount(f"{URL_PREFIX}/{name}", StaticFiles(directory=folder), name=f"vendor-{name}")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def create_serving_app() -> FastAPI:
    """The factory each ``geo-safety serve --workers N`` process calls (settings from the environment)."""
    return create_app(serving=True)
