"""A finished campaign's last days, for a report: read from WB once, on demand, then from the store.

The poller never reads a campaign that finished before the statistics window and was never seen live
(:mod:`bidder.engine.finished`: years of a seller's history cost no call). When a report asks for such a
campaign's days (``bidder report --campaign ID``), they are read here: its details (one ``adverts`` call:
is it finished, and when), then its last days up to the day it finished (one ``fullstats`` call, at most
WB's 31 days), both through the reader and so paced by the seller's buckets. They are stored, and the
read is remembered (``finished_reads.days_read_at``): it is never made again. A campaign whose days the
store already holds (the poller read them while it ran or in its final read), or one that is not finished
(its statistics are the poller's), costs no call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.domain import DailyStat
from bidder.engine.finished import FINISHED
from bidder.engine.ports import Reader
from bidder.store import finished as finished_store
from bidder.store import repo

MAX_DAYS = 31  # WB's longest fullstats range


@dataclass(frozen=True)
class FinishedDays:
    advert_id: int
    rows: list[DailyStat]  # its daily statistics per item, oldest first (the last ``days`` days it has)
    read_now: bool  # read from WB by this call (else from the store)
    finished: bool | None  # WB says it is finished (None: not asked, the store had its days)
    known: bool = True  # WB knows the campaign (False: not this seller's, or deleted)


async def finished_days(reader: Reader, sessions: async_sessionmaker[AsyncSession], account: str,
                        advert_id: int, *, now: datetime, timezone: str, seller_id: str = "",
                        days: int = 7) -> FinishedDays:
    """The campaign's last ``days`` days (see the module): from the store, else, for a finished campaign
    whose days were never read, from WB once. Raises the reader's ``bidder.errors``."""
    days = max(1, min(int(days), MAX_DAYS))
    async with sessions() as s:
        stored = await repo.load_daily_stats(s, account, [advert_id], date.min)
        already = await finished_store.days_read_at(s, account, advert_id)
    if stored or already is not None:
        return FinishedDays(advert_id, _last(stored, days), read_now=False, finished=None)
    found = await reader.campaigns([advert_id])
    camp = next((c for c in found if c.advert_id == advert_id), None)
    if camp is None:
        return FinishedDays(advert_id, [], read_now=False, finished=None, known=False)
    if camp.status != FINISHED:
        return FinishedDays(advert_id, [], read_now=False, finished=False)
    tz = ZoneInfo(timezone)
    end = (camp.changed_at or now).astimezone(tz).date()
    begin = end - timedelta(days=days - 1)
    rows = await reader.fullstats([advert_id], begin, end)
    async with sessions.begin() as s:
        if await repo.get_account(s, account) is None:  # a report before the daemon's first start
            await repo.ensure_account(s, account, seller_id, camp.currency or "", timezone)
        await repo.save_campaigns(s, account, [camp], now)
        await repo.save_daily_stats(s, account, rows)
        await finished_store.mark_days_read(s, account, advert_id, now)
    return FinishedDays(advert_id, _last(rows, days), read_now=True, finished=True)


def _last(rows: list[DailyStat], days: int) -> list[DailyStat]:
    """The rows of the last ``days`` days that have any, oldest first."""
    if not rows:
        return []
    last = max(r.day for r in rows)
    since = last - timedelta(days=days - 1)
    return sorted((r for r in rows if r.day >= since), key=lambda r: (r.day, r.nm_id))
