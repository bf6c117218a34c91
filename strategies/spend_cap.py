"""The spend_cap strategy: keep ДРР (ad spend share of revenue) under a cap, and a daily budget.

ДРР = spend / revenue x 100 over ``window`` days of daily statistics (account time zone). With no
revenue, spend above ``min_spend_without_revenue`` counts as over the cap. Per item: above the cap the
bids go down by ``step_pct``, or in proportion (cap / ДРР) when that is more; well below it (``restore_below_pct`` % under the cap) bids this strategy
cut are raised back toward the bid it found. With ``on_breach: pause`` a campaign whose total ДРР is over
the cap is paused instead, and resumed once it is back under.

Daily budget: once today's spend (account time zone) reaches ``daily_budget`` an active campaign is
paused until the next local day; on a later day a campaign this strategy paused is resumed. Both are
proposals with the numbers. Budget pauses are marked time-based (``inputs["time_based"]``) so the
guardrails do not ask for performance evidence.

Reads: ``daily_stats`` (spend, revenue, today's spend), ``campaign.status``, ``history`` (its own cuts and
pauses), ``rules``, ``timezone``.
"""

from __future__ import annotations

from datetime import datetime

from bidder.domain import Action, CampaignSnapshot, Proposal, Status
from strategies.base import Strategy
from strategies.common import (
    TIME_BASED,
    Target,
    Totals,
    by,
    cooling,
    cooling_reason,
    fmt_base,
    fmt_money,
    last_status_change,
    local_date,
    min_bid,
    proposal,
    round_down,
    round_up,
    run_start_bid,
    spent,
    targets,
    totals,
    window_days,
)
from strategies.params import SpendCapParams

INFINITE = float("inf")


class SpendCap(Strategy):
    kind = "spend_cap"
    Params = SpendCapParams

    params: SpendCapParams

    def drr(self, tot: Totals) -> float | None:
        """ДРР in %, ``inf`` when spend without revenue is over the threshold, None when unknown."""
        if tot.incomplete:
            return None
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
        spent_today = spent(snapshot.daily_stats, today, today)
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
            why = ("statistics incomplete (WB left out a money field)" if tot.incomplete else
                   "no ad spend" if tot.spend <= 0 else
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

