"""Freshness of statistics measured on the data, not on the fetch.

WB syncs statistics every 3 minutes. A fetch that returns the same numbers as the one before is no new
evidence: an active campaign's numbers that stop changing are stalled data (or empty data), not fresh
data. So each campaign's statistics carry a *data time*: when a fetch last returned numbers different
from the previous fetch. ``EvaluationInputs.add_stats`` bumps a campaign's statistics version only when
its numbers changed (a fingerprint of the rows); :class:`Freshness` turns a version into the fetch time
at which it first appeared.

The snapshot's ``stats_as_of`` (and so the guardrails' stale-data rule: no raise on data older than
``max_stats_age``, and the decision's ``evidence_at``, which strategies use not to react twice to the
same evidence) is that data time while the campaign is active (WB's sync should move its numbers). For
a campaign that is not active nothing is expected to move, and the fetch time is its freshness.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bidder.domain import DailyStat, Status


def fingerprint(rows: Iterable[DailyStat]) -> int:
    return hash(tuple(sorted((r.nm_id, r.day, r.views, r.clicks, r.atbs, r.orders, r.spend, r.revenue)
                             for r in rows)))


class Freshness:
    def __init__(self) -> None:
        self._seen: dict[int, tuple[int, datetime]] = {}  # advert -> (stats version, data time)

    def evidence_at(self, advert_id: int, version: int, fetched_at: datetime | None, status: int) -> datetime | None:
        """The statistics' time as evidence: when the numbers last changed (active campaigns), else the
        fetch time. ``version`` is the campaign's statistics version (bumped only on a change)."""
        if fetched_at is None:
            return None
        seen = self._seen.get(advert_id)
        if seen is None or seen[0] != version:
            seen = self._seen[advert_id] = (version, fetched_at)
        return seen[1] if status == Status.ACTIVE else fetched_at
