"""Alembic environment: migrations run on a connection handed over by ``geo_safety.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from geo_safety.layers import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # plain `alembic` command line: use the URL from the config
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no sqlalchemy.url in the Alembic config; run migrations with `geo-safety db migrate`")
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
