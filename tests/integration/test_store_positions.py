"""The positions table on SQLite and PostgreSQL: observations round-trip exactly, and
``positions_known_at`` gives what had arrived by a time (the replay contract)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidder.domain import PositionObservation
from bidder.store import repo
from bidder.store.positions import positions_known_at, save_positions

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def obs(minutes: int, source: str = "clusters_today", advert: int = 1, pos: float = 4.5, **kw) -> PositionObservation:
    at = T0 + timedelta(minutes=minutes)
    return PositionObservation(source, advert, 11, "платье женское", pos, at, at - timedelta(minutes=2), **kw)


async def test_round_trip_and_known_at(db_sessions) -> None:
    rows = [obs(0, sample=120, spend=61.5, bid=51500), obs(3, "public_search", region="-1257786", pos=3.0),
            obs(6, advert=2), obs(9)]
    async with db_sessions.begin() as s:
        await repo.ensure_account(s, "shop-a")
        await repo.ensure_account(s, "shop-b")
        await save_positions(s, "shop-a", rows)
        await save_positions(s, "shop-b", [obs(1)])
    async with db_sessions() as s:
        assert await positions_known_at(s, "shop-a", T0 + timedelta(hours=1)) == rows
        assert await positions_known_at(s, "shop-a", T0 + timedelta(minutes=5)) == rows[:2]
        assert await positions_known_at(s, "shop-a", T0 + timedelta(hours=1), since=T0 + timedelta(minutes=4),
                                        advert_ids=[1]) == [rows[3]]
        assert await positions_known_at(s, "nobody", T0 + timedelta(hours=1)) == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 600), min_size=1, max_size=20), st.integers(0, 600))
async def test_known_at_is_a_prefix_by_arrival(sqlite_url, offsets, cut) -> None:
    from bidder.store.db import make_engine, session_factory
    from bidder.store.migrate import upgrade

    await upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        sessions = session_factory(engine)
        async with sessions.begin() as s:
            await repo.ensure_account(s, "a")
            before = len(await positions_known_at(s, "a", T0 + timedelta(days=1)))
            await save_positions(s, "a", [obs(m) for m in offsets])
        async with sessions() as s:
            known = await positions_known_at(s, "a", T0 + timedelta(minutes=cut))
            every = await positions_known_at(s, "a", T0 + timedelta(days=1))
        assert len(every) == before + len(offsets)
        assert known == [o for o in every if o.observed_at <= T0 + timedelta(minutes=cut)]
        assert [o.observed_at for o in every] == sorted(o.observed_at for o in every)
    finally:
        await engine.dispose()
