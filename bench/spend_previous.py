"""The PREVIOUS decision logic of spend_cap and roi_floor (before issue 15), kept ONLY as the bench baseline.

Copied verbatim from strategies/spend_cap.py and strategies/roi_floor.py at commit ddecece (window
including today's partial day, no evidence model, no stop at the minimum, no hysteresis). Never used by
the daemon: bench/spend_cases.py runs it side by side with the current strategies.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bidder.domain import Action, CampaignSnapshot, Proposal, Status
from strategies.base import Strategy
from strategies.common import (
    TIME_BASED,
    Target,
    Totals,
    by,
    cooling,
    cooling_reason,
    last_status_change,
    local_date,
    min_bid,
    proposal,
    round_down,
    round_up,
    run_start_bid,
    targets,
    totals,
    window_days,
)
from strategies.params import RoiFloorParams, SpendCapParams

INFINITE = float("inf")


def fmt_money(minor: int) -> str:
    """The baseline's own money text (the strategies now render money through bidder.reasons)."""
    return f"{minor / 100:.2f}"


def fmt_base(amount: Decimal | int | float | str | None) -> str:
    return "?" if amount is None else f"{Decimal(str(amount)):.2f}"


class PreviousSpendCap(Strategy):
    """spend_cap before issue 15 (baseline only)."""

    kind = "spend_cap"
    Params = SpendCapParams

    params: SpendCapParams

    def drr(self, tot: Totals) -> float | None:
        """ДРР in %, ``inf`` when spend without revenue is over the threshold, None when unknown."""
        if tot.revenue > 0:
            return float(tot.spend / tot.revenue * 100)
        if tot.spend > self.params.min_spend_without_revenue:
            return INFINITE
        return None

    def decide(self, snapshot: CampaignSnapshot, now: datetime) -> list[Proposal]:
        p = self.params
        first, last = window_days(now, snapshot.timezone, p.window)
        days = (last - first).days + 1
        out: list[Proposal] = []
        camp = totals(snapshot.daily_stats, first, last)
        camp_drr = self.drr(camp)
        today = local_date(now, snapshot.timezone)
        spent_today = totals(snapshot.daily_stats, today, today).spend
        status = snapshot.campaign.status
        budget_hit = p.daily_budget is not None and spent_today >= p.daily_budget
        drr_breach = p.on_breach == "pause" and camp_drr is not None and camp_drr > p.max_drr_pct
        camp_inputs = {
            "window_days": days, "spend": str(camp.spend), "revenue": str(camp.revenue),
            "drr_pct": _num(camp_drr), "max_drr_pct": p.max_drr_pct, "spent_today": str(spent_today),
            "daily_budget": None if p.daily_budget is None else str(p.daily_budget), "local_day": today.isoformat(),
        }

        # Campaign level: the daily budget first, then a ДРР pause.
        # A pause proposal for an already paused campaign keeps it paused (it blocks others' resumes).
        if budget_hit:
            if status in (Status.ACTIVE, Status.PAUSED):
                what = "pausing" if status == Status.ACTIVE else "staying paused"
                out.append(proposal(
                    self.kind, Action.PAUSE, snapshot,
                    f"spent {fmt_base(spent_today)} today ({today.isoformat()}, {snapshot.timezone}), reaching the daily "
                    f"budget {fmt_base(p.daily_budget)}: {what} until the next day",
                    **camp_inputs, **{TIME_BASED: True, "pause_kind": "daily_budget"},
                ))
        elif drr_breach:
            if status in (Status.ACTIVE, Status.PAUSED):
                what = "pausing the campaign" if status == Status.ACTIVE else "the campaign stays paused"
                out.append(proposal(
                    self.kind, Action.PAUSE, snapshot,
                    f"ДРР {_fmt_drr(camp_drr)} over {days} days (spend {fmt_base(camp.spend)}, revenue {fmt_base(camp.revenue)}) is "
                    f"above the cap {p.max_drr_pct:g}%: {what}",
                    **camp_inputs, pause_kind="drr",
                ))
        elif status == Status.PAUSED:
            last_change = last_status_change(snapshot)
            if last_change is not None and last_change.action == Action.PAUSE and by(last_change, self.kind):
                paused_day = local_date(last_change.at, snapshot.timezone)
                why = (f"a new day ({today.isoformat()}): today's spend {fmt_base(spent_today)} is under the daily budget "
                       f"{fmt_base(p.daily_budget)}" if p.daily_budget is not None and paused_day < today
                       else f"ДРР {_fmt_drr(camp_drr)} over {days} days is within the cap {p.max_drr_pct:g}%")
                out.append(proposal(self.kind, Action.RESUME, snapshot,
                                    f"{why}: resuming the campaign paused at {last_change.at:%Y-%m-%d %H:%M} UTC",
                                    **camp_inputs))

        for item, target, placement in targets(snapshot):
            tot = totals(snapshot.daily_stats, first, last, item.nm_id)
            drr = self.drr(tot)
            inputs = {"window_days": days, "spend": str(tot.spend), "revenue": str(tot.revenue),
                      "drr_pct": _num(drr), "max_drr_pct": p.max_drr_pct}
            if target is None:
                out.append(proposal(self.kind, Action.HOLD, snapshot, "current bid unknown",
                                    nm_id=item.nm_id, placement=placement, **inputs))
                continue
            out.append(self._item(snapshot, target, drr, tot, days, inputs, now))
        return out

    def _item(self, snapshot: CampaignSnapshot, t: Target, drr: float | None, tot: Totals, days: int,
              inputs: dict, now: datetime) -> Proposal:
        p = self.params
        step = max(snapshot.rules.step, 1)
        nums = f"ДРР {_fmt_drr(drr)} over {days} days (spend {fmt_base(tot.spend)}, revenue {fmt_base(tot.revenue)})"
        if drr is None:
            why = ("no ad spend" if tot.spend <= 0 else
                   f"spend {fmt_base(tot.spend)} without revenue is under {fmt_base(p.min_spend_without_revenue)}")
            return proposal(self.kind, Action.HOLD, snapshot, f"{why} in {days} days: not enough data", t, **inputs)
        recent = cooling(snapshot, t.nm_id, t.placement, now, p.cooldown)
        if recent is not None:
            veto = {"no_raise": True} if drr > p.max_drr_pct else {}
            return proposal(self.kind, Action.HOLD, snapshot, f"{nums}; {cooling_reason(recent, p.cooldown, now)}",
                            t, **veto, **inputs)
        if drr > p.max_drr_pct:
            floor_bid = min_bid(snapshot, t.nm_id, t.placement)
            if t.bid <= floor_bid:
                return proposal(self.kind, Action.HOLD, snapshot,
                                f"{nums} is above the cap {p.max_drr_pct:g}% but the bid is at WB's minimum "
                                f"{fmt_money(floor_bid)}", t, min_bid=floor_bid, no_raise=True, **inputs)
            # at least step_pct; in proportion when far above (spend is roughly proportional to the bid)
            factor = 1 - p.step_pct / 100 if drr == INFINITE else min(1 - p.step_pct / 100, p.max_drr_pct / drr)
            want = max(floor_bid, round_up(t.bid * factor, step))
            if want >= t.bid:  # rounding ate the cut: one bid step down
                want = max(floor_bid, round_down(t.bid - 1, step))
            return proposal(self.kind, Action.SET_BID, snapshot,
                            f"{nums} is above the cap {p.max_drr_pct:g}%: lowering the bid by "
                            f"{(1 - factor) * 100:.0f}%", t, bid=want, **inputs)
        if drr <= p.max_drr_pct * (1 - p.restore_below_pct / 100):
            before = run_start_bid(snapshot, t.nm_id, t.placement, self.kind)
            if before is not None and before > t.bid:
                want = min(before, round_down(t.bid * (1 + p.step_pct / 100), step))
                if want <= t.bid:
                    want = before
                return proposal(self.kind, Action.SET_BID, snapshot,
                                f"{nums} is well under the cap {p.max_drr_pct:g}%: raising back toward "
                                f"{fmt_money(before)}", t, bid=want, restore_to=before, **inputs)
        return proposal(self.kind, Action.HOLD, snapshot, f"{nums} is within the cap {p.max_drr_pct:g}%", t, **inputs)


def _num(value: float | None) -> float | str | None:
    if value is None:
        return None
    return "inf" if value == INFINITE else round(value, 2)


def _fmt_drr(value: float | None) -> str:
    if value is None:
        return "unknown"
    if value == INFINITE:
        return "infinite (no revenue)"
    return f"{value:.1f}%"


# ---------------------------------------------------------------------------------- roi_floor (previous)
AT_MIN_BELOW_FLOOR = "at WB's minimum bid and below the ROI floor"


def roi_pct(revenue: float, spend: float, margin_pct: float) -> float | None:
    if spend <= 0:
        return None
    return (revenue * margin_pct / 100 - spend) / spend * 100


class PreviousRoiFloor(Strategy):
    """roi_floor before issue 15 (baseline only)."""

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
                out.append(proposal(self.kind, Action.HOLD, snapshot,
                                    f"no ad spend in the last {inputs['window_days']} days: ROI unknown",
                                    target, **inputs))
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
