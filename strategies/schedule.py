"""The schedule strategy (dayparting): active hours in the strategy's own time zone.

Outside the active hours, with ``outside: pause``, an active campaign (status 9) is paused and, at the
start of the next active interval, resumed, but only when the newest applied status change was a pause
by this strategy (an operator's or another strategy's pause is left alone). With ``outside: lower``
every bid goes down by ``lower_pct`` from the bid found before lowering, and is restored inside the hours.
The reason always says which. Pauses are marked time-based (``inputs["time_based"]``) so the guardrails
do not ask for performance evidence.

Reads: ``campaign.status``, ``campaign.items`` (bids), ``history`` (its own pauses and bid changes).
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from bidder.domain import Action, CampaignSnapshot, Proposal, Status
from bidder.reasons import because
from strategies.base import Strategy
from strategies.common import (
    TIME_BASED,
    applied_bid_changes,
    by,
    last_status_change,
    proposal,
    round_up,
    targets,
)
from strategies.params import ScheduleParams


def _inside(t: time, start: time, end: time) -> bool:
    if start < end:
        return start <= t < end if end != time.max else start <= t
    return t >= start or t < end  # over midnight, e.g. 22:00-02:00


class Schedule(Strategy):
    kind = "schedule"
    Params = ScheduleParams
    clock_driven = True
    safe_without_fresh_reads = True  # the hours and the stored campaign: its boundaries never wait for reads

    params: ScheduleParams

    def active(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.params.timezone)).time().replace(tzinfo=None)
        return any(_inside(local, a, b) for a, b in self.params.intervals())

    def decide(self, snapshot: CampaignSnapshot, now: datetime) -> list[Proposal]:
        p = self.params
        local = now.astimezone(ZoneInfo(p.timezone))
        active = self.active(now)
        where = {"hours": p.active_hours, "tz": p.timezone, "local": f"{local:%H:%M}"}
        inputs = {"active_hours": p.active_hours, "timezone": p.timezone, "local_time": f"{local:%H:%M}",
                  "active": active, "outside": p.outside}
        if p.outside == "pause":
            return [self._status(snapshot, active, where, inputs)]
        out: list[Proposal] = []
        for item, target, placement in targets(snapshot):
            if target is None:
                out.append(proposal(self.kind, Action.HOLD, snapshot, because("schedule.bid_unknown"),
                                    nm_id=item.nm_id, placement=placement, **inputs))
                continue
            base, restoring = self._lowered_from(snapshot, target.nm_id, target.placement)
            if active:
                if base is not None and restoring and base > target.bid:
                    out.append(proposal(self.kind, Action.SET_BID, snapshot,
                                        because("schedule.restore", **where, bid=base), target, bid=base,
                                        restore_to=base, **inputs))
                else:
                    out.append(proposal(self.kind, Action.HOLD, snapshot, because("schedule.nothing", **where), target,
                                        **inputs))
                continue
            if restoring is False or base is None:
                base = target.bid
            want = round_up(base * (1 - p.lower_pct / 100), max(snapshot.rules.step, 1))
            if want < target.bid:
                out.append(proposal(self.kind, Action.SET_BID, snapshot,
                                    because("schedule.lower", **where, pct=p.lower_pct, base=base),
                                    target, bid=want, base_bid=base, lower_pct=p.lower_pct, **inputs))
            else:
                out.append(proposal(self.kind, Action.HOLD, snapshot,
                                    because("schedule.already_lowered", **where, pct=p.lower_pct, base=base),
                                    target, base_bid=base, **inputs))
        return out

    def _lowered_from(self, snapshot: CampaignSnapshot, nm_id: int, placement: str) -> tuple[int | None, bool]:
        """(bid before this strategy's newest group of lowerings, whether that group is still to be undone).

        Only this strategy's own applied changes are read, newest first: leading raises (a restore in
        progress or done), then the contiguous lowerings of the last outside-hours period.
        """
        mine = [r for r in applied_bid_changes(snapshot, nm_id, placement) if by(r, self.kind)]
        raises = 0
        while raises < len(mine) and (mine[raises].bid_after or 0) > (mine[raises].bid_before or 0):
            raises += 1
        lows = []
        for r in mine[raises:]:
            if (r.bid_after or 0) > (r.bid_before or 0):
                break
            lows.append(r)
        if not lows:
            return None, False
        base = lows[-1].bid_before
        if raises == 0:
            return base, True
        return base, (mine[0].bid_after or 0) < (base or 0)

    def _status(self, snapshot: CampaignSnapshot, active: bool, where: dict, inputs: dict) -> Proposal:
        status = snapshot.campaign.status
        inputs = {**inputs, "status": status}
        if not active:
            if status == Status.ACTIVE:
                return proposal(self.kind, Action.PAUSE, snapshot,
                                because("schedule.pause", **where),
                                **inputs, **{TIME_BASED: True, "pause_kind": "schedule"})
            if status == Status.PAUSED:
                # keep it paused: a pause proposal also stops another strategy from resuming it now
                return proposal(self.kind, Action.PAUSE, snapshot,
                                because("schedule.keep_paused", **where),
                                **inputs, **{TIME_BASED: True, "pause_kind": "schedule"})
            return proposal(self.kind, Action.HOLD, snapshot, because("schedule.not_active", **where, status=status),
                            **inputs)
        last = last_status_change(snapshot)
        if status == Status.PAUSED and last is not None and last.action == Action.PAUSE and by(last, self.kind):
            return proposal(self.kind, Action.RESUME, snapshot,
                            because("schedule.resume", **where, at=f"{last.at:%Y-%m-%d %H:%M}"),
                            **inputs)
        return proposal(self.kind, Action.HOLD, snapshot, because("schedule.nothing", **where), **inputs)
