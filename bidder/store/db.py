"""Engines and session factories.

Use :class:`Database` (``db = Database(url)``; ``db.sessions``, ``db.read_sessions``, ``await db.dispose()``)
or the functions it is made of: ``make_engine(url)``, ``session_factory(engine)``,
``read_session_factory(engine)``; disposing the engine from ``make_engine`` also disposes whatever
``read_session_factory`` opened for it.

SQLite gets: the parent directory created, WAL, ``foreign_keys=ON`` and ``busy_timeout`` on every
connection. SQLite allows one writer at a time; in this process that rule is kept by waiting in the
event loop, never in SQLite's busy handler:

* A file database has **one write connection**. ``make_engine`` gives an engine whose pool holds exactly
  one connection (``pool_size=1, max_overflow=0``), every transaction on it begins with ``BEGIN
  IMMEDIATE`` (the write lock is taken up front, so a read-then-write cannot fail at commit), and a
  session that needs it while another session holds it waits in the event loop, first come first
  served, up to ``WRITE_CHECKOUT_TIMEOUT_S``. Sessions from ``session_factory`` (and ``engine.connect()``
  / ``engine.begin()``) all go through it, including the ones that only read.
* Reads go through a **separate engine on the same file** (``read_session_factory``): several
  connections, plain ``BEGIN`` (WAL readers take no lock, so they never wait for a writer and no writer
  waits for them) and ``PRAGMA query_only`` (a write through them fails at once).
* ``busy_timeout`` is left for other processes (a CLI command next to the daemon, migrations).
* An in-memory database (``:memory:``, ``mode=memory``) is one engine holding one connection (a second
  engine, or for ``:memory:`` a second connection, would be a second database); other ``file:`` URIs keep one engine with
  SQLAlchemy's default pool. Their read sessions are the same engine with plain ``BEGIN``.
* PostgreSQL: one engine, a pool of ``PG_POOL_SIZE`` (+ ``PG_POOL_OVERFLOW``) connections; read sessions
  are ordinary sessions on it.

Consequences: keep write sessions short (never hold one across an HTTP call or a long computation:
every other writer of the process waits for it); read with ``read_sessions`` where nothing is written;
never open a session from ``session_factory`` while the same task holds one (it would wait for itself:
the pool raises :class:`NestedWriteSession` at once instead). A session held longer than
``WRITE_CHECKOUT_TIMEOUT_S`` makes the others fail with :class:`WriteConnectionTimeout`, which names the
task that holds the connection.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry, StaticPool

SQLITE_BUSY_TIMEOUT_MS = 30_000
# How long a session waits for the one SQLite write connection: long enough for 50 accounts to queue
# behind each other while the event loop is busy, short enough that a leaked or stuck session surfaces.
WRITE_CHECKOUT_TIMEOUT_S = 300.0
PG_POOL_SIZE, PG_POOL_OVERFLOW = 10, 30
# The read engine of a file database: WAL readers do not block each other; the wait is only for a free
# connection of this pool.
READ_POOL_SIZE = 5
READ_POOL_OVERFLOW = 10

READ_ONLY = "bidder_read_only"
_POOL_KWARGS = ("poolclass", "pool", "pool_size", "max_overflow", "pool_timeout", "pool_use_lifo")


class NestedWriteSession(RuntimeError):
    """A task asked for the SQLite write connection while it already holds it."""


class WriteConnectionTimeout(sa_exc.TimeoutError):
    """The SQLite write connection was not free within ``WRITE_CHECKOUT_TIMEOUT_S``."""


def _task_name(task: asyncio.Task[Any] | None) -> str:
    return "no task" if task is None else f"task {task.get_name()!r}"


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop
        return None


class _WriterPool(AsyncAdaptedQueuePool):
    """The one-connection pool of a file database's write engine. Waiting for the connection happens
    in the event loop (an asyncio queue). It knows which task holds the connection, so that a nested
    request fails at once and a timeout says who held it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._holder: asyncio.Task[Any] | None = None

    def _do_get(self) -> ConnectionPoolEntry:
        task = _current_task()
        if task is not None and task is self._holder:
            raise NestedWriteSession(
                f"{_task_name(task)} asked for the SQLite write connection while it already holds it "
                "(a session from session_factory opened inside another one); it would wait for itself. "
                "Finish the outer session first, or read through read_session_factory."
            )
        try:
            record = super()._do_get()
        except sa_exc.TimeoutError as exc:
            raise WriteConnectionTimeout(
                f"waited {self._timeout:.0f}s for the SQLite write connection, held all that time by "
                f"{_task_name(self._holder)}: a write session is kept open too long (across a slow call?) "
                "or was never closed"
            ) from exc
        self._holder = task
        return record

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        self._holder = None
        super()._do_return_conn(record)


def _sqlite_file(url: str) -> Path | None:
    u = make_url(url)
    db = u.database
    if not db or db == ":memory:" or db.startswith("file:") or u.query.get("mode") == "memory":
        return None
    return Path(db)


# The read engine opened for a file database's write engine by read_session_factory, by write engine.
_READ_ENGINES: weakref.WeakKeyDictionary[Engine, AsyncEngine] = weakref.WeakKeyDictionary()
# What make_engine needs to open that read engine later, by write engine.
_READ_RECIPES: weakref.WeakKeyDictionary[Engine, tuple[str, bool, dict[str, Any]]] = weakref.WeakKeyDictionary()


def _sqlite_engine(url: str, path: Path | None, *, read_only: bool, echo: bool, **kwargs: Any) -> AsyncEngine:
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
            if read_only:
                cursor.execute("PRAGMA query_only = ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front (a deferred transaction that later writes fails at once
        # with "database is locked"); readers in WAL mode need no lock at all.
        plain = read_only or conn.get_execution_options().get(READ_ONLY)
        conn.exec_driver_sql("BEGIN" if plain else "BEGIN IMMEDIATE")

    return engine


def make_engine(url: str, *, echo: bool = False, **kwargs: Any) -> AsyncEngine:
    """Create the async engine for ``url`` (``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://...``).
    For a file SQLite database this is the one-connection write engine (see the module docstring)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        # every account's cycle may hold a connection at once (50 accounts on one daemon)
        kwargs.setdefault("pool_size", PG_POOL_SIZE)
        kwargs.setdefault("max_overflow", PG_POOL_OVERFLOW)
        kwargs.setdefault("pool_timeout", WRITE_CHECKOUT_TIMEOUT_S)
        return create_async_engine(url, echo=echo, **kwargs)

    path = _sqlite_file(url)
    if path is None:
        if not u.database or u.database == ":memory:" or u.query.get("mode") == "memory":
            kwargs.setdefault("poolclass", StaticPool)  # one connection: the database lives in it
        return _sqlite_engine(url, None, read_only=False, echo=echo, **kwargs)

    path.expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    shared = {k: v for k, v in kwargs.items() if k not in _POOL_KWARGS}
    kwargs.setdefault("poolclass", _WriterPool)
    kwargs.setdefault("pool_size", 1)
    kwargs.setdefault("max_overflow", 0)
    kwargs.setdefault("pool_timeout", WRITE_CHECKOUT_TIMEOUT_S)
    engine = _sqlite_engine(url, path, read_only=False, echo=echo, **kwargs)
    _READ_RECIPES[engine.sync_engine] = (url, echo, shared)

    @event.listens_for(engine.sync_engine, "engine_disposed")
    def _dispose_read_engine(sync_engine: Engine) -> None:
        # Runs inside AsyncEngine.dispose()'s greenlet, so the read engine's sync dispose can close its
        # aiosqlite connections: disposing the write engine is all a caller has to remember.
        reader = _READ_ENGINES.get(sync_engine)
        if reader is not None:
            reader.sync_engine.dispose()

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (``expire_on_commit=False``). On a file SQLite
    database they share its one write connection: keep them short and never nest them."""
    return async_sessionmaker(engine, expire_on_commit=False, class_=AsyncSession)


def read_engine(engine: AsyncEngine) -> AsyncEngine:
    """The engine read sessions of ``engine`` use: for a file SQLite write engine from ``make_engine``,
    a separate engine on the same file (opened once, disposed with ``engine``); otherwise ``engine``
    with plain ``BEGIN``."""
    recipe = _READ_RECIPES.get(engine.sync_engine)
    if recipe is None:
        return engine.execution_options(**{READ_ONLY: True})
    reader = _READ_ENGINES.get(engine.sync_engine)
    if reader is None:
        url, echo, shared = recipe
        shared = {"pool_size": READ_POOL_SIZE, "max_overflow": READ_POOL_OVERFLOW,
                  "pool_timeout": WRITE_CHECKOUT_TIMEOUT_S, **shared}
        reader = _sqlite_engine(url, _sqlite_file(url), read_only=True, echo=echo, **shared)
        _READ_ENGINES[engine.sync_engine] = reader
    return reader


def read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reading only: on SQLite they take no lock (WAL readers) and, on a file database, do
    not use the write connection, so many accounts read while one writes. Never write through them (on a
    file SQLite database a write fails: ``query_only``)."""
    return async_sessionmaker(read_engine(engine), expire_on_commit=False, class_=AsyncSession)


class Database:
    """One database: its engine, write and read session factories; ``dispose()`` closes everything.

    ``async with Database(url) as db: ...`` disposes on exit."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self.sessions = session_factory(self.engine)
        self.read_sessions = read_session_factory(self.engine)

    async def dispose(self) -> None:
        await self.engine.dispose()  # the read engine goes with it (see make_engine)

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.dispose()
