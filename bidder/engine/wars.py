"""Bidding wars, generalised: raises that buy no position. Pure; applied by :func:`bidder.engine.guards.decide`.

A war: target_position raised the same target (an item bid, or one search-cluster bid) at least
``WAR_RAISES`` times within ``WAR_WINDOW`` and wants to raise again (or would, but sits at its max_bid),
while a *fresh* reading (its stretch
starts after the first of those raises took effect; for WB's statistics: the CPM paid in it is at
least the first raised bid) shows the position no better than when the raises
began. Then the bid goes back to the cheapest bid that held the target (the strategy's ``cheapest_held``,
else the bid before the raises), raises pause for ``WAR_PAUSE`` and the engine alerts once (the decision's
guard starts with "bidding war"). A reading that still describes the time before the raises is lagging
data, not a war: the raises wait for it, they are not rolled back. CPM stretches name their bid by the CPM
paid, CPC stretches by the CPC paid (spend / clicks); a CPC stretch with too few clicks for that counts only
when it starts ``LAG_SEEN`` (2 h, WB's seen statistics lag) after the first raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bidder.domain import CampaignSnapshot, Proposal
from bidder.reasons import because
from strategies.common import by
from strategies.position_readings import BID_TICK, PAID_TOLERANCE, lag_of
from strategies.target_position import target_changes

WAR_RAISES = 2
WAR_WINDOW = timedelta(minutes=90)
WAR_PAUSE = timedelta(hours=2)
NO_GAIN = 0.5  # positions: a gain smaller than this is no gain
TARGET_POSITION = "target_position"


@dataclass(frozen=True, slots=True)
class War:
    note: str  # a coded reason (bidder.reasons); a rollback's text starts with "bidding war: " (alerted once)
    rollback: int | None  # the bid to go back to; None: only hold the raise
    raises: int = 0
    first_raise: datetime | None = None


def _at(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def check(snapshot: CampaignSnapshot, chosen: Proposal, current: int, war_raises: int, now: datetime) -> War | None:
    """For a raise ``chosen`` proposes over ``current``: None, or what to do about a bidding war."""
    if war_raises <= 0 or chosen.nm_id is None:
        return None
    changes = target_changes(snapshot, chosen.nm_id, chosen.norm_query)
    for r in changes:
        if now - r.at > WAR_PAUSE:
            break
        if r.war:
            return War(because("guard.war_paused", until=f"{r.at + WAR_PAUSE:%H:%M} UTC", at=f"{r.at:%H:%M} UTC"),
                       None)
    run = []
    for r in changes:
        if now - r.at > WAR_WINDOW or not (by(r, TARGET_POSITION) and (r.bid_after or 0) > (r.bid_before or 0)):
            break
        run.append(r)
    if len(run) < WAR_RAISES:
        return None
    run = run[:WAR_RAISES]  # the latest raises: did they buy anything?
    first = run[-1]
    if chosen.inputs.get("position_paid"):  # WB's statistics: the CPM (CPC) paid in the stretch names its bid
        paid = _num(chosen.inputs.get("position_bid"))
        tol = _num(chosen.inputs.get("position_paid_tol")) or PAID_TOLERANCE
        fresh = paid is not None and first.bid_after is not None and paid >= first.bid_after * (1 - tol)
    else:  # a live point counts after the tick; WB's statistics that cannot name their bid after their lag
        start = _at(chosen.inputs.get("position_start"))
        lag = lag_of(str(chosen.inputs.get("position_source")))
        fresh = start is not None and start >= first.at + BID_TICK + lag
    if not fresh:
        return None  # the data still describe the time before the raises: lagging, not a war
    before, now_pos = first.avg_position, _num(chosen.inputs.get("position"))
    if now_pos is None or (before is not None and now_pos < before - NO_GAIN):
        return None  # the raises bought position
    held = chosen.inputs.get("cheapest_held")
    back = held if isinstance(held, int) and not isinstance(held, bool) and held < current else first.bid_before
    note = because("guard.war_rollback", raises=len(run), minutes=int(WAR_WINDOW.total_seconds() // 60),
                   start=first.bid_before, end=run[0].bid_after, pos_from=before, pos_to=now_pos, back=back,
                   pause_h=int(WAR_PAUSE.total_seconds() // 3600))
    return War(note, back, len(run), first.at)
