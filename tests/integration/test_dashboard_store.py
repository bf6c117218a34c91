"""The dashboard's read queries (bidder/store/dashboard.py) on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta

from bench.dashboard import ACCOUNT, FIRST_ID, NOW, populate
from bidder.store import dashboard as q
from bidder.store import db

N = 24


async def test_dashboard_queries(store_url: str) -> None:
    await populate(store_url, N, days=3, decisions_per_day=2)
    database = db.Database(store_url)
    today = NOW.date()
    week = today - timedelta(days=6)
    try:
        async with database.read_sessions() as s:
            (acc,) = await q.accounts(s)
            assert acc.name == ACCOUNT
            fig = await q.account_figures(s, acc, today=today, week_start=week, day_start=NOW - timedelta(hours=15),
                                          max_bid_minor=80_000)
            assert fig.campaigns == N and sum(fig.by_status.values()) == N
            assert fig.week.spend > fig.today.spend > 0 and fig.today.drr is not None
            assert fig.decisions_today and fig.saved_today is not None and fig.saved_today > 0
            assert fig.last_cycle is not None and fig.last_cycle.ok is True
            assert fig.paused_campaigns == len(range(0, N, 7)) and not fig.paused_all

            page = await q.campaign_page(s, today=today, week_start=week, limit=10)
            assert page.total == N and [c.advert_id for c in page.lines] == list(range(FIRST_ID, FIRST_ID + 10))
            assert all(c.items == 2 and c.last_decision is not None for c in page.lines)
            assert page.lines[0].paused and not page.lines[1].paused
            by_spend = await q.campaign_page(s, today=today, week_start=week, sort="spend_week", descending=True,
                                             limit=N)
            spends = [c.week.spend for c in by_spend.lines]
            assert spends == sorted(spends, reverse=True)
            by_drr = await q.campaign_page(s, today=today, week_start=week, sort="drr_week", limit=N)
            drrs = [c.week.drr for c in by_drr.lines]
            assert drrs == sorted(drrs)
            assert (await q.campaign_page(s, today=today, week_start=week, paused_only=True)).total == len(range(0, N, 7))
            assert (await q.campaign_page(s, today=today, week_start=week, query="кампания 0001")).total in (0, 10)

            info = await q.campaign(s, FIRST_ID)
            assert info is not None and len(info.items) == 2 and info.paused
            stats = await q.daily_stats(s, acc.id, FIRST_ID, today - timedelta(days=2))
            assert len(stats) == 3 * 2
            bids = await q.bid_history(s, acc.id, FIRST_ID, NOW - timedelta(days=2))
            assert {(b.nm_id, b.placement) for b in bids} == {(it.nm_id, "search") for it in info.items}
            rows, more = await q.decisions(s, q.AuditFilter(advert_id=FIRST_ID), limit=4)
            assert len(rows) == 4 and more and rows[0].at >= rows[-1].at
            chunks = [c async for c in q.iter_decisions(s, q.AuditFilter(action="set_bid"), chunk=7)]
            assert sum(len(c) for c in chunks) > 0 and all(d.action == "set_bid" for c in chunks for d in c)
            latest = await q.latest_proposals(s, acc.id, FIRST_ID, NOW - timedelta(days=1))
            assert len(latest) == 1 and latest[0].strategy == "spend_cap"
            assert latest[0].id == rows[0].id
            assert (await q.spend_on(s, acc.id, [FIRST_ID], today))[FIRST_ID] >= 0
            assert len(await q.recent_alerts(s, NOW - timedelta(days=1))) == 1
    finally:
        await database.dispose()
