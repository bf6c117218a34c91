"""Helpers for the Telegram tests: a migrated SQLite store populated through the repo functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bidder.domain import Action, Campaign, DailyStat, Decision, Item, Status
from bidder.store import repo
from bidder.store.db import make_engine, session_factory
from bidder.store.migrate import upgrade

BOT_TOKEN = "123456789:TEST-bot-token-abcdefghijklmnopqrstuvwxyz"
CHATS = (111, 222)
FOREIGN_CHAT = 999
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
HOSTILE = '<b>Платья</b> & <script>alert(1)</script> $x$ 😀'


async def open_store(url: str, *, migrate: bool = True) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    if migrate:
        await upgrade(url)
    engine = make_engine(url)
    return engine, session_factory(engine)


def campaign(advert_id: int, name: str, bid: int, status: int = Status.ACTIVE) -> Campaign:
    return Campaign(advert_id=advert_id, name=name, type=9, status=status, bid_type="manual", payment_type="cpm",
                    currency="RUB", placements=frozenset({"search"}),
                    items=(Item(nm_id=advert_id * 10, bids={"search": bid}),))


async def populate(sessions: async_sessionmaker[AsyncSession], now: datetime = NOW) -> None:
    """Account 'shop' with campaigns 101 (hostile name) and 202, 8 days of stats, bid history,
    decisions and one finished cycle."""
    today = now.date()
    async with sessions.begin() as s:
        await repo.ensure_account(s, "shop", seller_id="42")
        for back in range(7, -1, -1):
            at = now - timedelta(days=back)
            await repo.save_campaigns(s, "shop", [campaign(101, HOSTILE, 25000 + 1000 * (7 - back)),
                                                  campaign(202, "Куртки", 30000,
                                                           Status.PAUSED if back == 0 else Status.ACTIVE)], at)
        stats = []
        for back in range(8):
            day = today - timedelta(days=back)
            stats.append(DailyStat(101, 1010, day, 1000, 50, 5, 4, Decimal("1000.50") + back, Decimal("5000")))
            stats.append(DailyStat(202, 2020, day, 500, 20, 2, 1, Decimal("300"), Decimal("1000")))
        await repo.save_daily_stats(s, "shop", stats)
        for i in range(12):
            d = Decision(action=Action.SET_BID, advert_id=101, strategy="target_position",
                         reason=f"позиция {i + 6} > 5 <raise>", nm_id=1010, placement="search",
                         bid_before=25000 + i * 100, bid_after=25000 + (i + 1) * 100)
            await repo.record_decision(s, "shop", d, at=now - timedelta(days=1, minutes=60 - i), dry_run=False,
                                       apply_status="applied")
        big = Decision(action=Action.SET_BID, advert_id=202, strategy="roi_floor", reason="ROI 80% < 120%",
                       nm_id=2020, placement="search", bid_before=30000, bid_after=24000)
        await repo.record_decision(s, "shop", big, at=now - timedelta(hours=20), dry_run=False,
                                   apply_status="applied")
        cid = await repo.start_cycle(s, "shop", now - timedelta(minutes=2))
        await repo.finish_cycle(s, cid, at=now - timedelta(minutes=1), ok=True,
                                summary={"campaigns": 2, "stats_refreshed": 2})


def yesterday(now: datetime = NOW) -> date:
    return now.date() - timedelta(days=1)
