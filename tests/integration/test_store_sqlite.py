"""SQLite specifics: connection pragmas, and concurrent sessions that must not lose writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from bidder.domain import DailyStat
from bidder.store import make_engine, repo, session_factory
from bidder.store.migrate import check_schema, upgrade

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def test_engine_pragmas_and_parent_directory(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a' / 'b' / 'bidder.db'}"
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() >= 5000
    finally:
        await engine.dispose()
    assert (tmp_path / "a" / "b" / "bidder.db").exists()


async def test_in_memory_database_works() -> None:
    url = "sqlite+aiosqlite:///:memory:"
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("select 1"))).scalar() == 1
    finally:
        await engine.dispose()


async def test_foreign_keys_are_enforced(sqlite_url: str) -> None:
    await upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        async with session_factory(engine)() as s:
            await repo.ensure_account(s, "a", "1", "RUB", "Europe/Moscow")
            await repo.save_campaigns(s, "a", [], T0)
            await s.commit()
            try:
                await s.execute(
                    text(
                        "INSERT INTO cycles (account_id, started_at) VALUES (999, '2026-11-02 09:00:00.000000')"
                    )
                )
            except Exception as exc:  # IntegrityError
                assert "FOREIGN KEY" in str(exc).upper()
            else:
                raise AssertionError("foreign key not enforced")
    finally:
        await engine.dispose()


async def _increment(sessions, n: int, who: str) -> None:
    for _ in range(n):
        async with sessions() as s:
            state = await repo.get_operator_state(s, "a", "counter")
            value = 0 if state is None else state.value
            await asyncio.sleep(0)  # let the other writers interleave between read and write
            await repo.set_operator_state(s, "a", "counter", value + 1, at=T0, set_by=who)
            await s.commit()


async def test_concurrent_read_modify_write_loses_nothing(sqlite_url: str) -> None:
    """Two engines (as the daemon and a CLI command would be) and several tasks each, all doing
    read-modify-write on the same row: every increment must survive."""
    await upgrade(sqlite_url)
    e1, e2 = make_engine(sqlite_url), make_engine(sqlite_url)
    try:
        f1, f2 = session_factory(e1), session_factory(e2)
        async with f1() as s:
            await repo.ensure_account(s, "a", "1", "RUB", "Europe/Moscow")
            await s.commit()
        await asyncio.gather(*(_increment(f, 10, f"w{i}") for i, f in enumerate([f1, f2, f1, f2, f1, f2])))
        async with f2() as s:
            assert (await repo.get_operator_state(s, "a", "counter")).value == 60
    finally:
        await e1.dispose()
        await e2.dispose()


async def test_concurrent_writers_of_different_rows(sqlite_url: str) -> None:
    await upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        sessions = session_factory(engine)
        async with sessions() as s:
            for name in ("a", "b", "c"):
                await repo.ensure_account(s, name, "1", "RUB", "Europe/Moscow")
            await s.commit()

        async def write(account: str, advert_id: int) -> None:
            for day in range(10):
                async with sessions() as s:
                    stat = DailyStat(
                        advert_id,
                        1,
                        date(2026, 10, 1) + timedelta(days=day),
                        1,
                        1,
                        0,
                        0,
                        Decimal("0.1"),
                        Decimal("0"),
                    )
                    await repo.save_daily_stats(s, account, [stat])
                    await repo.enqueue_alert(s, account, "k", {}, dedup_key=None, at=T0)
                    await s.commit()

        await asyncio.gather(*(write(acc, adv) for acc in ("a", "b", "c") for adv in (1, 2)))
        async with sessions() as s:
            for acc in ("a", "b", "c"):
                totals = await repo.daily_totals(s, acc, date(2026, 10, 1))
                assert len(totals) == 20 and sum(t.spend for t in totals) == Decimal("2.0")
            assert len(await repo.pending_events(s, 100)) == 60
    finally:
        await engine.dispose()


async def test_schema_is_ok_after_upgrade_of_an_existing_file(sqlite_url: str) -> None:
    await upgrade(sqlite_url)
    await upgrade(sqlite_url)
    assert await check_schema(sqlite_url) == []
