"""Engine and session factory.

SQLite gets: the parent directory created, WAL, ``foreign_keys=ON``, ``busy_timeout`` and
``BEGIN IMMEDIATE`` transactions. The last one makes a transaction take SQLite's write lock when it
starts, so two sessions that read-then-write wait for each other (up to ``busy_timeout``) instead of
one failing with "database is locked" at commit. Consequence: keep transactions short; never hold a
session open across an HTTP call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_file(url: str) -> Path | None:
    u = make_url(url)
    db = u.database
    if not db or db == ":memory:" or db.startswith("file:") or u.query.get("mode") == "memory":
        return None
    return Path(db)


READ_ONLY = "bidder_read_only"


def make_engine(url: str, *, echo: bool = False, **kwargs: Any) -> AsyncEngine:
    """Create an async engine for ``url`` (``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://...``)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(url, echo=echo, **kwargs)

    path = _sqlite_file(url)
    if path is not None:
        path.expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not the driver) decide when transactions begin; see the "begin" hook.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if path is not None:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front (a deferred transaction that later writes fails at once
        # with "database is locked"); readers in WAL mode need no lock at all.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (``expire_on_commit=False``)."""
    return async_sessionmaker(engine, expire_on_commit=False, class_=AsyncSession)


def read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reading only: on SQLite they do not take the write lock (WAL readers never block
    writers), so many accounts can read while one writes. Never write through them."""
    return async_sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False,
                              class_=AsyncSession)
