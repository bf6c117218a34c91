"""Read-only sessions on SQLite do not take the write lock: readers proceed while a writer holds it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from bidder.store import repo
from bidder.store.db import make_engine, read_session_factory, session_factory
from bidder.store.migrate import upgrade


async def test_a_reader_is_not_blocked_by_an_open_write_transaction(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
    await upgrade(url)
    engine = make_engine(url)
    try:
        writes, reads = session_factory(engine), read_session_factory(engine)
        async with writes.begin() as s:
            await repo.ensure_account(s, "shop-a")
        async with writes.begin() as w:  # holds SQLite's write lock until the block ends
            await repo.ensure_account(w, "shop-b")
            async with reads() as r:
                names = await asyncio.wait_for(r.scalars(text("SELECT name FROM accounts")), 5)
                assert list(names) == ["shop-a"]  # the reader sees the last committed state
        async with reads() as r:
            assert sorted(await r.scalars(text("SELECT name FROM accounts"))) == ["shop-a", "shop-b"]
    finally:
        await engine.dispose()
