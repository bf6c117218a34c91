"""Complete-day windows and the evidence inputs the money strategies share (pure).

Revenue lags spend (WB attributes orders later than the clicks that led to them), so a window that
includes today's partial day overstates ДРР and understates ROI, most of all just after midnight. The
money strategies therefore judge ДРР and ROI over *complete* local days ending yesterday; today's spend
is read only for the daily budget and the hard overspend guard.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from operator import is_
from typing import Any

from bidder.domain import DailyStat
from strategies.common import Totals, local_date, sums, totals
from strategies.evidence import Prior, Verdict, breach


def complete_days(now: datetime, tz: str, window: timedelta) -> tuple[date, date]:
    """The ``window`` of whole local days ending yesterday: (first, last)."""
    last = local_date(now, tz) - timedelta(days=1)
    n = max(1, int(window.total_seconds() // 86400))
    return last - timedelta(days=n - 1), last


@dataclass(frozen=True, slots=True)
class Evidence:
    """A window's totals with the prior from the days before it and the order value to judge by."""

    window: Totals
    prior: Prior
    aov: float | None  # average order value, base units (window first, else history)

    def below(self, required_revenue: float) -> Verdict | None:
        """How probable it is that the window's true revenue is under ``required_revenue``."""
        if self.aov is None:
            return None
        return breach(self.window.clicks, self.window.orders, required_revenue, self.aov, self.prior)


def evidence(stats: Iterable[DailyStat], first: date, last: date, nm_id: int | None,
             prior_clicks: float) -> Evidence:
    """The window's evidence. Remembered for the last tuple of rows it was given (a snapshot's
    ``daily_stats``: its strategies ask for the same item's evidence once per placement)."""
    global _EVIDENCE_MEMO
    if not isinstance(stats, tuple):
        return _evidence(tuple(stats), first, last, nm_id, prior_clicks)
    memo = _EVIDENCE_MEMO
    if memo[0] is not stats:
        by_item: dict[int, list[DailyStat]] = {}
        for s in stats:
            by_item.setdefault(s.nm_id, []).append(s)
        memo = _EVIDENCE_MEMO = (stats, {}, by_item)
    key = (first, last, nm_id, prior_clicks)
    found = memo[1].get(key)
    if found is None:
        rows = stats if nm_id is None else memo[2].get(nm_id, ())
        found = memo[1][key] = _evidence_seen(rows, first, last, nm_id, prior_clicks)
    return found


_EVIDENCE_MEMO: tuple[Any, dict, dict] = ((), {}, {})
# Complete-day windows end yesterday: from one evaluation of a campaign to the next (a cycle, or replay's
# next recorded evaluation) only today's rows change. The evidence of the rows it reads (the item's, or
# every item's, up to ``last``) is kept with those rows and given again while they are *the same objects*
# in the same order (identity, never equality: Decimal("1.5") == Decimal("1.50") but their sums print
# differently). Bounded; cleared when full. Only inside :func:`keeping_evidence` (replay): the daemon reads
# its rows afresh from the database every cycle, so it would never hit and only keep old rows alive.
_SEEN: dict[tuple, tuple[tuple[DailyStat, ...], Evidence]] = {}
SEEN_MAX = 8192
_KEEP: contextvars.ContextVar[bool] = contextvars.ContextVar("strategies_keep_evidence", default=False)


@contextlib.contextmanager
def keeping_evidence() -> Iterator[None]:
    """Inside, a complete-day window's evidence is kept with the row objects it read (see ``_SEEN``)."""
    token = _KEEP.set(True)
    try:
        yield
    finally:
        _KEEP.reset(token)
        _SEEN.clear()


def _evidence_seen(stats: Sequence[DailyStat], first: date, last: date, nm_id: int | None,
                   prior_clicks: float) -> Evidence:
    """``stats``: the snapshot's rows, or the item's own (in the snapshot's order)."""
    rows = tuple([s for s in stats if s.day <= last and (nm_id is None or s.nm_id == nm_id)])
    if not _KEEP.get():
        return _evidence(rows, first, last, nm_id, prior_clicks)
    key = (rows[0].advert_id if rows else None, first, last, nm_id, prior_clicks)
    seen = _SEEN.get(key)
    if seen is not None:
        kept = seen[0]
        if len(kept) == len(rows) and all(map(is_, kept, rows)):
            return seen[1]
    found = _evidence(rows, first, last, nm_id, prior_clicks)
    if len(_SEEN) >= SEEN_MAX:
        _SEEN.clear()
    _SEEN[key] = (rows, found)
    return found


def _evidence(stats: tuple[DailyStat, ...], first: date, last: date, nm_id: int | None,
              prior_clicks: float) -> Evidence:
    """From ``stats`` alone (its rows after ``last`` add nothing: the window ends there)."""
    win = sums(stats, first, last, nm_id)
    hist = sums(stats, None, first - timedelta(days=1), nm_id)
    prior = Prior.from_history(hist.clicks, hist.orders, prior_clicks)
    aov: float | None = None
    for t in (win, hist):
        if t.orders > 0 and t.revenue > 0:
            aov = float(t.revenue / t.orders)
            break
    return Evidence(win, prior, aov)


def today_spend(stats: Iterable[DailyStat], now: datetime, tz: str) -> Decimal:
    today = local_date(now, tz)
    return totals(stats, today, today).spend
