"""Helpers shared by the built-in strategies and the guardrails. Pure: no I/O, ``now`` is an argument.

Conventions the helpers rely on (the engine fills the snapshot, the audit trail fills ``history``):

* A campaign-level decision (pause / resume) has ``nm_id is None`` and ``placement is None``.
* A combined decision taken by several strategies names them joined by ``+`` in ``strategy``
  (e.g. ``"roi_floor+spend_cap"``); :func:`by` matches one name inside such a string.
* Money in statistics is ``Decimal`` base units; bids are ``int`` minor units.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bidder.domain import (
    Action,
    CampaignSnapshot,
    DailyStat,
    DecisionRecord,
    Item,
    Placement,
    Proposal,
)
from bidder.reasons import because

ZERO = Decimal(0)
SET_BID = Action.SET_BID

# Key in Proposal.inputs marking a pause that depends on the clock, not on performance evidence
# (schedule, daily budget). The guardrails skip the minimum-evidence check for these.
TIME_BASED = "time_based"
# Key in a HOLD proposal's inputs: this strategy wants the bid lower but cannot go lower (WB's minimum);
# the guardrails then refuse another strategy's raise of the same target.
NO_RAISE = "no_raise"


def local_date(now: datetime, tz: str) -> date:
    return now.astimezone(ZoneInfo(tz)).date()


def by(record: DecisionRecord, strategy: str) -> bool:
    """True when ``record`` was decided (alone or jointly) by ``strategy``."""
    return strategy in record.strategy.split("+")


def min_bid(snapshot: CampaignSnapshot, nm_id: int, placement: str) -> int:
    """WB's minimum bid for an item and bid placement; falls back to one bid step when unknown.

    For ``combined`` (unified) campaigns the minimum may be stored under ``combined`` or, failing
    that, the larger of the two placement minimums is used.
    """
    rules = snapshot.rules
    value = rules.min_for(nm_id, placement)
    if value is None and placement == Placement.COMBINED:
        found = [v for p in ("search", "recommendations") if (v := rules.min_for(nm_id, p)) is not None]
        value = max(found) if found else None
    return max(value or 0, rules.step, 1)


def round_up(value: float | int, step: int) -> int:
    step = max(step, 1)
    return int(math.ceil(value / step - 1e-9)) * step


def round_down(value: float | int, step: int) -> int:
    step = max(step, 1)
    return int(math.floor(value / step + 1e-9)) * step


@dataclass(frozen=True, slots=True)
class Target:
    nm_id: int
    placement: str
    bid: int  # current bid, minor units


def targets(snapshot: CampaignSnapshot) -> Iterator[tuple[Item, Target | None, str]]:
    """(item, target or None when the current bid is unknown, placement) for each item and bid placement."""
    placements = snapshot.campaign.bid_placements
    for item in snapshot.campaign.items:
        for placement in placements:
            bid = item.bid_for(placement)
            yield item, (Target(item.nm_id, placement, bid) if bid else None), placement


@dataclass(frozen=True, slots=True)
class Totals:
    views: int = 0
    clicks: int = 0
    orders: int = 0
    spend: Decimal = ZERO
    revenue: Decimal = ZERO
    days: int = 0  # distinct days with at least one row
    # A row in range lacked a money field (WB left it out): every figure above is zero, i.e. no evidence,
    # until the statistics read cleanly (issue 14, defect 4). Never a revenue of 0.
    incomplete: bool = False

    @property
    def drr_pct(self) -> float | None:
        """ДРР (ad spend share of revenue), %; None when there is no revenue or the data is incomplete."""
        if self.incomplete or self.revenue <= 0:
            return None
        return float(self.spend / self.revenue * 100)


def window_days(now: datetime, tz: str, window: timedelta) -> tuple[date, date]:
    """The local calendar days of a ``window`` ending today (inclusive): (first, last)."""
    today = local_date(now, tz)
    n = max(1, int(window.total_seconds() // 86400))
    return today - timedelta(days=n - 1), today


def totals(stats: Iterable[DailyStat], first: date | None = None, last: date | None = None,
           nm_id: int | None = None) -> Totals:
    """Sums over the rows in range. If one of them lacks a money field, ``Totals(incomplete=True)`` with
    zero figures: strategies and guards then see no evidence and hold. Remembered for the last tuple of
    rows it was given (a snapshot's ``daily_stats``: its strategies ask for the same sums many times)."""
    global _TOTALS_MEMO
    if not isinstance(stats, tuple):
        return _totals(stats, first, last, nm_id)
    memo = _TOTALS_MEMO
    if memo[0] is not stats:
        by_item: dict[int, list[DailyStat]] = {}
        for s in stats:
            by_item.setdefault(s.nm_id, []).append(s)
        memo = _TOTALS_MEMO = (stats, {}, by_item)
    key = (first, last, nm_id)
    found = memo[1].get(key)
    if found is None:  # an item's sums over its own rows only (in the same order: the same sums)
        rows = stats if nm_id is None else memo[2].get(nm_id, ())
        found = memo[1][key] = _totals(rows, first, last, nm_id)
    return found


_TOTALS_MEMO: tuple[Any, dict, dict] = ((), {}, {})
_CHANGES_MEMO: tuple[Any, dict] = ((), {})


def sums(stats: Iterable[DailyStat], first: date | None, last: date | None, nm_id: int | None) -> Totals:
    """:func:`totals` without remembering (for rows a caller has picked and keeps itself)."""
    return _totals(stats, first, last, nm_id)


def _totals(stats: Iterable[DailyStat], first: date | None, last: date | None, nm_id: int | None) -> Totals:
    views = clicks = orders = 0
    spend = revenue = ZERO
    days: set[date] = set()
    for s in stats:
        if nm_id is not None and s.nm_id != nm_id:
            continue
        if first is not None and s.day < first or last is not None and s.day > last:
            continue
        if s.spend is None or s.revenue is None:
            return Totals(incomplete=True)
        views += s.views
        clicks += s.clicks
        orders += s.orders
        spend += s.spend
        revenue += s.revenue
        days.add(s.day)
    return Totals(views, clicks, orders, spend, revenue, len(days))


def spent(stats: Iterable[DailyStat], first: date | None = None, last: date | None = None) -> Decimal:
    """Ad spend known in range (rows whose spend WB left out add nothing): for budgets, where what is
    known to be spent counts even when revenue is missing."""
    return sum((s.spend for s in stats if s.spend is not None
                and (first is None or s.day >= first) and (last is None or s.day <= last)), ZERO)


def applied_bid_changes(snapshot: CampaignSnapshot, nm_id: int, placement: str | None = None
                        ) -> tuple[DecisionRecord, ...]:
    """Applied bid changes of an item (optionally one placement), newest first. The index per item and
    placement is built once for the last ``snapshot.history`` tuple it was given (asked for every item
    and placement, by strategies and guardrails alike)."""
    global _CHANGES_MEMO
    history = snapshot.history
    memo = _CHANGES_MEMO
    if memo[0] is not history or not isinstance(history, tuple):
        by_item: dict[int | None, list[DecisionRecord]] = {}
        for r in history:
            if r.applied and r.action == SET_BID and r.bid_after is not None \
                    and r.bid_before is not None and r.bid_after != r.bid_before:
                by_item.setdefault(r.nm_id, []).append(r)
        index: dict[tuple[int | None, str | None], tuple[DecisionRecord, ...]] = {}
        for nm, rows in by_item.items():
            rows.sort(key=lambda r: r.at, reverse=True)
            index[(nm, None)] = tuple(rows)
        memo = _CHANGES_MEMO = (history, index)
    found = memo[1].get((nm_id, placement))
    if found is None:
        rows = memo[1].get((nm_id, None), ())
        found = memo[1][(nm_id, placement)] = tuple(r for r in rows if r.placement == placement)
    return found


def cooling(snapshot: CampaignSnapshot, nm_id: int, placement: str, now: datetime, cooldown: timedelta
            ) -> DecisionRecord | None:
    """The target's newest applied bid change when it is less than ``cooldown`` old, else None."""
    changes = applied_bid_changes(snapshot, nm_id, placement)
    if changes and now - changes[0].at < cooldown:
        return changes[0]
    return None


def cooling_reason(change: DecisionRecord, cooldown: timedelta, now: datetime) -> str:
    """A coded reason (:func:`bidder.reasons.because`); join it with another one by
    ``bidder.reasons.notes([reason, cooling_reason(...)])`` to keep both coded."""
    return because("common.cooling", before=change.bid_before or 0, after=change.bid_after or 0,
                   at=f"{change.at:%Y-%m-%d %H:%M}", cooldown=int(cooldown.total_seconds()))


def last_status_change(snapshot: CampaignSnapshot) -> DecisionRecord | None:
    """The newest applied campaign-level pause or resume."""
    best: DecisionRecord | None = None
    for r in snapshot.history:
        if r.applied and r.action in (Action.PAUSE, Action.RESUME) and r.nm_id is None:
            if best is None or r.at >= best.at:
                best = r
    return best


def run_start_bid(snapshot: CampaignSnapshot, nm_id: int, placement: str, strategy: str) -> int | None:
    """The bid before the newest uninterrupted run of applied changes made by ``strategy`` on a target.

    That is the bid the strategy found when it started changing things, i.e. what to restore to.
    None when the newest applied change was not made by ``strategy``.
    """
    start: int | None = None
    for r in applied_bid_changes(snapshot, nm_id, placement):
        if not by(r, strategy):
            break
        start = r.bid_before
    return start


def proposal(strategy: str, action: Action, snapshot: CampaignSnapshot, reason: str,
             target: Target | None = None, *, nm_id: int | None = None, placement: str | None = None,
             bid: int | None = None, **inputs: Any) -> Proposal:
    if target is not None:
        nm_id, placement = target.nm_id, target.placement
        inputs.setdefault("current_bid", target.bid)
    return Proposal(
        strategy=strategy,
        action=action,
        advert_id=snapshot.campaign.advert_id,
        nm_id=nm_id,
        placement=placement,
        bid=bid if action == Action.SET_BID else None,
        reason=reason,
        inputs=inputs,
    )
