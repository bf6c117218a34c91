"""What to fetch from WB this cycle, within WB's limits. Pure functions of state and ``now``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

from bidder.domain import STATS_STATUSES, Campaign

FULLSTATS_BATCH = 50
STATS_DAYS_MAX = 31


def due(
    ids: Iterable[int],
    last: Mapping[int, datetime],
    now: datetime,
    interval: timedelta,
    capacity: int | None = None,
) -> list[int]:
    """Ids whose last refresh is older than ``interval`` (never-refreshed first, then stalest first),
    at most ``capacity`` of them."""
    never = datetime.min.replace(tzinfo=now.tzinfo)
    candidates = [i for i in ids if now - last.get(i, never) >= interval]
    candidates.sort(key=lambda i: (last.get(i, never), i))
    return candidates if capacity is None else candidates[:capacity]


def stats_candidates(campaigns: Iterable[Campaign], managed: Iterable[int]) -> list[int]:
    """Managed campaigns for which WB serves statistics (statuses 7, 9, 11)."""
    wanted = set(managed)
    return sorted(c.advert_id for c in campaigns if c.advert_id in wanted and c.status in STATS_STATUSES)


def stats_range(today: date, window_days: int, first_fetch: bool) -> tuple[date, date]:
    """The date range to ask fullstats for: the whole window on the first fetch, afterwards only
    yesterday and today (older days no longer change). Never more than WB's 31 days."""
    days = min(max(window_days, 1), STATS_DAYS_MAX) if first_fetch else 2
    return today - timedelta(days=days - 1), today


def fullstats_capacity(cycle_interval: timedelta, per_minute: int = 3, batch: int = FULLSTATS_BATCH,
                       burst: int = 1) -> int:
    """How many campaigns one cycle can refresh without queueing behind WB's fullstats limit: the calls
    that start within one cycle interval (the burst at once, then one every 60 / per_minute seconds; a
    minute: at 0, 20, 40 and 60 s)."""
    calls = max(1, int(cycle_interval.total_seconds() // (60 / per_minute))) + max(0, burst)
    return calls * batch
