"""The roi_floor strategy: keep each item's advertising ROI above a floor.

ROI = (revenue x margin - spend) / spend over ``window`` days of daily statistics (account time zone).
Below the floor the item's bids go down by ``step_pct``; when an item is already at WB's minimum bid and
still below the floor for ``pause_after`` consecutive evaluations (counted from the audit trail), and
that is true of every item of the campaign, the campaign is paused with the numbers in the reason.
Comfortably above the floor (``restore_margin_pct`` points more) the bids this strategy cut are raised
back toward the bid it found before cutting.

Reads: ``daily_stats`` (spend, revenue), ``history`` (its own cuts and holds), ``rules``, ``timezone``.
"""

from __future__ import annotations

from datetime import datetime

from bidder.domain import Action, CampaignSnapshot, Proposal, Status
from strategies.base import Strategy
from strategies.common import (
    Target,
    by,
    cooling,
    cooling_reason,
    fmt_base,
    fmt_money,
    min_bid,
    proposal,
    round_down,
    round_up,
    run_start_bid,
    targets,
    totals,
    window_days,
)
from strategies.params import RoiFloorParams

AT_MIN_BELOW_FLOOR = "at WB's minimum bid and below the ROI floor"


def roi_pct(revenue: float, spend: float, margin_pct: float) -> float | None:
    if spend <= 0:
        return None
    return (revenue * margin_pct / 100 - spend) / spend * 100


class RoiFloor(Strategy):
    kind = "roi_floor"
    Params = RoiFloorParams
    reads_holds = True

    params: RoiFloorParams

    def decide(self, snapshot: CampaignSnapshot, now: datetime) -> list[Proposal]:
        p = self.params
        first, last = window_days(now, snapshot.timezone, p.window)
        out: list[Proposal] = []
        stuck: list[tuple[int, float, int]] = []  # (nm_id, roi, evaluations) of items ready to pause
        managed_items = 0
        for item, target, placement in targets(snapshot):
            tot = totals(snapshot.daily_stats, first, last, item.nm_id)
            roi = roi_pct(float(tot.revenue), float(tot.spend), p.margin_pct)
            inputs = {
                "window_days": (last - first).days + 1, "spend": str(tot.spend), "revenue": str(tot.revenue),
                "margin_pct": p.margin_pct, "roi_pct": None if roi is None else round(roi, 2),
                "min_roi_pct": p.min_roi_pct,
            }
            if target is None:
                out.append(proposal(self.kind, Action.HOLD, snapshot, "current bid unknown",
                                    nm_id=item.nm_id, placement=placement, **inputs))
                continue
            managed_items += 1
            if roi is None:
                why = ("statistics incomplete (WB left out a money field)" if tot.incomplete
                       else f"no ad spend in the last {inputs['window_days']} days")
                out.append(proposal(self.kind, Action.HOLD, snapshot, f"{why}: ROI unknown", target, **inputs))
                continue
            out.append(self._item(snapshot, target, roi, inputs, stuck, now))

        # A campaign pause only when every managed item is stuck at the minimum below the floor.
        stuck_items = {nm for nm, _, n in stuck if n >= p.pause_after}
        all_items = {t.nm_id for _, t, _ in targets(snapshot) if t is not None}
        if (stuck_items and stuck_items == all_items and snapshot.campaign.status == Status.ACTIVE):
            camp = totals(snapshot.daily_stats, first, last)
            roi = roi_pct(float(camp.revenue), float(camp.spend), p.margin_pct)
            if roi is not None and roi < p.min_roi_pct:
                worst = min(n for nm, _, n in stuck if nm in stuck_items)
                out.append(proposal(
                    self.kind, Action.PAUSE, snapshot,
                    f"ROI {roi:.1f}% is below the floor {p.min_roi_pct:g}% over {(last - first).days + 1} days "
                    f"(spend {fmt_base(camp.spend)}, revenue {fmt_base(camp.revenue)}, margin {p.margin_pct:g}%) with every item "
                    f"at WB's minimum bid for {worst} evaluations: pausing the campaign",
                    roi_pct=round(roi, 2), min_roi_pct=p.min_roi_pct, spend=str(camp.spend),
                    revenue=str(camp.revenue), evaluations=worst, pause_after=p.pause_after,
                ))
        return out

    def _item(self, snapshot: CampaignSnapshot, t: Target, roi: float, inputs: dict,
              stuck: list[tuple[int, float, int]], now: datetime) -> Proposal:
        p = self.params
        step = max(snapshot.rules.step, 1)
        floor_bid = min_bid(snapshot, t.nm_id, t.placement)
        nums = f"ROI {roi:.1f}% (spend {fmt_base(inputs['spend'])}, revenue {fmt_base(inputs['revenue'])}, margin {p.margin_pct:g}%)"
        recent = cooling(snapshot, t.nm_id, t.placement, now, p.cooldown)
        if recent is not None:
            veto = {"no_raise": True} if roi < p.min_roi_pct else {}
            return proposal(self.kind, Action.HOLD, snapshot, f"{nums}; {cooling_reason(recent, p.cooldown, now)}",
                            t, **veto, **inputs)
        if roi < p.min_roi_pct:
            if t.bid > floor_bid:
                want = max(floor_bid, round_up(t.bid * (1 - p.step_pct / 100), step))
                if want >= t.bid:  # rounding ate the cut: one bid step down
                    want = max(floor_bid, round_down(t.bid - 1, step))
                return proposal(self.kind, Action.SET_BID, snapshot,
                                f"{nums} is below the floor {p.min_roi_pct:g}%: lowering the bid by {p.step_pct:g}%",
                                t, bid=want, **inputs)
            n = self._evaluations_at_min(snapshot, t, floor_bid, now)
            stuck.append((t.nm_id, roi, n))
            return proposal(self.kind, Action.HOLD, snapshot,
                            f"{nums} is below the floor {p.min_roi_pct:g}%; {AT_MIN_BELOW_FLOOR} "
                            f"{fmt_money(floor_bid)} ({n} of {p.pause_after} evaluations before a pause)",
                            t, evaluations=n, min_bid=floor_bid, no_raise=True, **inputs)
        if roi >= p.min_roi_pct + p.restore_margin_pct:
            before = run_start_bid(snapshot, t.nm_id, t.placement, self.kind)
            if before is not None and before > t.bid:
                want = min(before, round_down(t.bid * (1 + p.step_pct / 100), step))
                if want <= t.bid:
                    want = before
                return proposal(self.kind, Action.SET_BID, snapshot,
                                f"{nums} is comfortably above the floor {p.min_roi_pct:g}%: "
                                f"raising back toward {fmt_money(before)}",
                                t, bid=want, restore_to=before, **inputs)
            return proposal(self.kind, Action.HOLD, snapshot,
                            f"{nums} is comfortably above the floor {p.min_roi_pct:g}%", t, **inputs)
        return proposal(self.kind, Action.HOLD, snapshot,
                        f"{nums} is at or above the floor {p.min_roi_pct:g}%", t, **inputs)

    def _evaluations_at_min(self, snapshot: CampaignSnapshot, t: Target, floor_bid: int, now: datetime) -> int:
        """Evaluations at the minimum below the floor, this one included, spaced at least ``cooldown`` apart.

        Read from the newest uninterrupted run of this strategy's holds of the target at the minimum
        (any other decision of the target breaks the run); a hold counts when it is ``cooldown`` after
        the previous counted one, and so does the current evaluation.
        """
        mine = sorted(
            (r for r in snapshot.history if r.nm_id == t.nm_id and r.placement == t.placement),
            key=lambda r: r.at, reverse=True,
        )
        times = []
        for r in mine:
            if r.action == Action.HOLD and by(r, self.kind) and (r.bid_before or 0) <= floor_bid:
                times.append(r.at)
            else:
                break
        counted: list[datetime] = []
        for at in reversed(times):
            if not counted or at - counted[-1] >= self.params.cooldown:
                counted.append(at)
        if not counted or now - counted[-1] >= self.params.cooldown:
            return len(counted) + 1
        return len(counted)
