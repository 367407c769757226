"""Engine and sessions. Nothing connects at import: callers pass the settings they want."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from geo_safety.errors import DatabaseUnavailable
from geo_safety.settings import Settings


def database_url(settings: Settings) -> str:
    """The URL to use: the external server if configured, otherwise the project-local cluster's."""
    if settings.database_url:
        return settings.database_url
    from geo_safety.localdb import LocalCluster  # local import: only needed for the embedded default

    cluster = LocalCluster(settings)
    if not cluster.is_initialised():
        raise DatabaseUnavailable(
            "no GEO_SAFETY_DATABASE_URL and the local database is not set up; run `geo-safety db start`"
        )
    return cluster.url()


def make_engine(settings: Settings, *, statement_timeout_ms: int | None = None, **kwargs: Any) -> Engine:
    """A pooled engine; ``pool_pre_ping`` so a restarted database is picked up without a restart.

    ``statement_timeout_ms`` cancels statements that run longer (the API sets it; bulk imports do not).
    """
    kwargs.setdefault("pool_pre_ping", True)
    if statement_timeout_ms:
        kwargs.setdefault("connect_args", {})["options"] = f"-c statement_timeout={int(statement_timeout_ms)}"
    return create_engine(database_url(settings), **kwargs)


def psycopg_connection(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under a SQLAlchemy one: same transaction, for COPY and ``psycopg.sql``."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection), f"expected a psycopg connection, got {type(raw).__name__}"
    return raw


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
