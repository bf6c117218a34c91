"""SQLite's one-writer rule, kept in the event loop: a real database file, many concurrent writers.

The write sessions of a file database share one connection and queue for it in the event loop; read
sessions use their own connections and never queue behind the writers. Before this, writers took up to
15 pooled connections and waited in SQLite's busy handler (``database is locked`` after 30 s) and
everything else, readers included, waited for the pool (``QueuePool limit ... timed out``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text

from bidder.store.db import (
    Database,
    NestedWriteSession,
    WriteConnectionTimeout,
    make_engine,
    read_session_factory,
    session_factory,
)

WRITERS = 50
WRITES_EACH = 3
SAFETY = 120  # seconds; only so that a regression fails instead of hanging the suite


def file_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}"


async def _schema(db: Database) -> None:
    async with db.sessions.begin() as s:
        await s.execute(text("CREATE TABLE counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL)"))
        await s.execute(text("INSERT INTO counters VALUES ('shared', 0), ('held', 0)"))


async def _count(s, name: str) -> int:
    return (await s.execute(text("SELECT n FROM counters WHERE name = :n"), {"n": name})).scalar_one()


def _track_checkouts(db: Database) -> dict[str, int]:
    """The most write connections this process had checked out at the same time."""
    seen = {"now": 0, "max": 0}

    @event.listens_for(db.engine.sync_engine, "checkout")
    def _out(*_args: object) -> None:
        seen["now"] += 1
        seen["max"] = max(seen["max"], seen["now"])

    @event.listens_for(db.engine.sync_engine, "checkin")
    def _in(*_args: object) -> None:
        seen["now"] -= 1

    return seen


async def test_fifty_writers_queue_behind_a_held_write_lock_while_readers_go_past(tmp_path: Path) -> None:
    """One task holds a write transaction open across awaits until a reader has finished; meanwhile 50
    tasks each do several read-modify-write transactions and the event loop is kept busy. Every write
    survives, nothing fails, at most one write connection is ever in use, and the reader is not held
    up by the writer or by the 50 queued behind it."""
    async with Database(file_url(tmp_path)) as db:
        await _schema(db)
        checkouts = _track_checkouts(db)
        held, reader_done, stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
        reader_saw: list[int] = []

        async def hog() -> None:  # CPU work in the loop, as 50 accounts' cycles would do
            while not stop.is_set():
                time.sleep(0.001)
                await asyncio.sleep(0)

        async def holder() -> None:
            async with db.sessions.begin() as s:
                await s.execute(text("UPDATE counters SET n = n + 1 WHERE name = 'held'"))
                held.set()
                await asyncio.sleep(0.5)
                await asyncio.wait_for(reader_done.wait(), SAFETY)  # the lock stays held until the read

        async def writer(i: int) -> None:
            for _ in range(WRITES_EACH):
                async with db.sessions.begin() as s:
                    value = await _count(s, "shared")
                    await asyncio.sleep(0)  # let the others run between the read and the write
                    await s.execute(text("UPDATE counters SET n = :v WHERE name = 'shared'"), {"v": value + 1})
                    await s.execute(text("INSERT OR IGNORE INTO counters VALUES (:k, 0)"), {"k": f"w{i}"})
                    await s.execute(text("UPDATE counters SET n = n + 1 WHERE name = :k"), {"k": f"w{i}"})

        async def reader() -> None:
            await held.wait()
            await asyncio.sleep(0.2)  # the writers are queued by now
            try:
                async with db.read_sessions() as r:
                    reader_saw.append(await _count(r, "held"))
                    reader_saw.append(await _count(r, "shared"))
            finally:
                reader_done.set()

        hog_task = asyncio.create_task(hog())
        holder_task = asyncio.create_task(holder())
        await held.wait()
        results = await asyncio.wait_for(
            asyncio.gather(holder_task, reader(), *(writer(i) for i in range(WRITERS)), return_exceptions=True),
            SAFETY,
        )
        stop.set()
        await hog_task

        errors = [r for r in results if isinstance(r, BaseException)]
        assert errors == [], errors[:3]
        assert reader_saw == [0, 0]  # the last committed state: the holder had not committed yet
        assert checkouts["max"] == 1
        async with db.read_sessions() as r:
            assert await _count(r, "held") == 1
            assert await _count(r, "shared") == WRITERS * WRITES_EACH
            rows = (await r.execute(text("SELECT n FROM counters WHERE name LIKE 'w%'"))).scalars().all()
            assert sorted(rows) == [WRITES_EACH] * WRITERS


async def test_a_nested_write_session_fails_at_once_instead_of_waiting_for_itself(tmp_path: Path) -> None:
    async with Database(file_url(tmp_path)) as db:
        await _schema(db)
        async with db.sessions.begin() as outer:
            await _count(outer, "shared")
            with pytest.raises(NestedWriteSession, match="already holds it"):
                async with db.sessions() as inner:
                    await _count(inner, "shared")
            async with db.read_sessions() as r:  # reading inside a write session is fine
                assert await _count(r, "shared") == 0
        async with db.sessions.begin() as s:  # the connection was not lost
            await s.execute(text("UPDATE counters SET n = 7 WHERE name = 'shared'"))
        async with db.read_sessions() as r:
            assert await _count(r, "shared") == 7


async def test_a_write_session_held_too_long_is_named_in_the_timeout(tmp_path: Path) -> None:
    url = file_url(tmp_path)
    engine = make_engine(url, pool_timeout=0.5)
    try:
        sessions = session_factory(engine)
        async with sessions.begin() as s:
            await s.execute(text("CREATE TABLE t (x INTEGER)"))
        release = asyncio.Event()

        async def keep_open() -> None:
            async with sessions.begin() as s:
                await s.execute(text("INSERT INTO t VALUES (1)"))
                await release.wait()

        keeper = asyncio.create_task(keep_open(), name="the-keeper")
        for _ in range(50):
            await asyncio.sleep(0)
            if engine.sync_engine.pool.checkedout():
                break
        with pytest.raises(WriteConnectionTimeout, match="the-keeper"):
            async with sessions() as s:
                await s.execute(text("SELECT 1"))
        release.set()
        await keeper
        async with sessions() as s:
            assert (await s.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_read_sessions_cannot_write(tmp_path: Path) -> None:
    async with Database(file_url(tmp_path)) as db:
        await _schema(db)
        async with db.read_sessions() as r:
            with pytest.raises(Exception, match="readonly"):
                await r.execute(text("UPDATE counters SET n = 1"))


async def test_disposing_the_write_engine_closes_the_read_engine(tmp_path: Path) -> None:
    url = file_url(tmp_path)
    engine = make_engine(url)
    writes, reads = session_factory(engine), read_session_factory(engine)
    async with writes.begin() as s:
        await s.execute(text("CREATE TABLE t (x INTEGER)"))
    async with reads() as r:
        await r.execute(text("SELECT count(*) FROM t"))
    read_pool = reads.kw["bind"].sync_engine.pool
    assert read_pool is not engine.sync_engine.pool
    assert read_pool.checkedin() == 1
    await engine.dispose()
    assert read_pool.checkedin() == 0  # its connection was closed with the write engine's


@pytest.mark.parametrize("url", [
    "sqlite+aiosqlite:///:memory:",
    "sqlite+aiosqlite:///file:bidder_writers_test?mode=memory&cache=shared&uri=true",
])
async def test_in_memory_database_keeps_one_engine_and_reads_see_writes(url: str) -> None:
    async with Database(url) as db:
        assert db.read_sessions.kw["bind"].sync_engine.pool is db.engine.sync_engine.pool
        await _schema(db)
        async with db.sessions.begin() as s:
            await s.execute(text("UPDATE counters SET n = 3 WHERE name = 'shared'"))
        async with db.read_sessions() as r:
            assert await _count(r, "shared") == 3
