"""Alembic environment (async). Metadata from bidder.store.models.

URL, in order: ``config.attributes["url"]`` / the ``sqlalchemy.url`` set programmatically by
:mod:`bidder.store.migrate`, then ``BIDDER_DATABASE_URL``, then alembic.ini's fallback.
SQLite uses batch mode (``render_as_batch``) so ALTERs work there too.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from bidder.store.db import make_engine
from bidder.store.models import Base
from bidder.store.types import Money, UTCDateTime

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url")
    if url:
        return str(url)
    if config.attributes.get("prefer_ini_url") is not True and os.environ.get("BIDDER_DATABASE_URL"):
        return os.environ["BIDDER_DATABASE_URL"]
    return config.get_main_option("sqlalchemy.url") or ""


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our column types as plain SQLAlchemy so migration files never import bidder."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, Money):
        return 'sa.Numeric(18, 6).with_variant(sa.String(32), "sqlite")'
    return False


def _configure(**kwargs: Any) -> None:
    url = kwargs.pop("url", None)
    dialect = kwargs["connection"].dialect.name if "connection" in kwargs else (url or "").split(":")[0]
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=dialect.startswith("sqlite"),
        render_item=render_item,
        compare_type=True,
        compare_server_default=True,
        url=url,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # an open sync connection handed over by bidder.store.migrate
        _run_sync(connection)
        return
    engine = make_engine(_url())
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run_sync)
            await conn.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    if config.attributes.get("connection") is not None:
        _run_sync(config.attributes["connection"])
        return
    asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
