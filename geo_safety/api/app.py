"""The FastAPI application factory: ``create_app(settings)``; the engine lives on ``app.state``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from geo_safety import __version__
from geo_safety.api.errors import install_error_handlers
from geo_safety.api.routers import health
from geo_safety.db import make_engine
from geo_safety.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = make_engine(settings, pool_size=10, max_overflow=10)
        try:
            yield
        finally:
            app.state.engine.dispose()

    app = FastAPI(
        title="geo_safety 校园安全地理信息服务",
        version=__version__,
        description="Campus-safety GIS: schools, premises near campuses, water hazards and inspections.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(health.router)
    return app
