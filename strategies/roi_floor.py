"""The roi_floor strategy: keep each item's advertising ROI above a floor.

ROI = (revenue x margin - spend) / spend over ``window`` complete local days ending yesterday (revenue
lags spend: today's partial day is left out). "Below the floor" means probably below: P(ROI < floor) >=
``confidence_pct`` under the Gamma–Poisson model of strategies/evidence.py (orders given clicks, prior
from the campaign's earlier days); a single click without an order is not evidence. Without any order
seen (window or history) the order value is unknown and the strategy holds (spend_cap's
``min_spend_without_revenue`` covers spend without revenue). Below the floor the item's bids go down by
``step_pct``; when an item is already at WB's minimum bid and
still below the floor for ``pause_after`` consecutive evaluations (counted from the audit trail), and
that is true of every item of the campaign, the campaign is paused with the numbers in the reason.
Comfortably above the floor (``restore_margin_pct`` points more) the bids this strategy cut are raised
back toward the bid it found before cutting.

Reads: ``daily_stats`` (spend, revenue), ``history`` (its own cuts and holds), ``rules``, ``timezone``.
"""

from __future__ import annotations

from datetime import datetime

from bidder.domain import Action, CampaignSnapshot, Proposal, Status
from bidder.reasons import because, notes
from strategies.base import Strategy
from strategies.common import (
    Target,
    by,
    cooling,
    cooling_reason,
    min_bid,
    proposal,
    round_down,
    round_up,
    run_start_bid,
    targets,
)
from strategies.evidence import Verdict
from strategies.params import RoiFloorParams
from strategies.windows import complete_days, evidence


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
        first, last = complete_days(now, snapshot.timezone, p.window)
        out: list[Proposal] = []
        stuck: list[tuple[int, float, int]] = []  # (nm_id, roi, evaluations) of items ready to pause
        managed_items = 0
        judged: dict[int, tuple] = {}  # per item: its placements share the item's window
        for item, target, placement in targets(snapshot):
            found = judged.get(item.nm_id)
            if found is None:
                ev = evidence(snapshot.daily_stats, first, last, item.nm_id, p.prior_clicks)
                tot = ev.window
                roi = roi_pct(float(tot.revenue), float(tot.spend), p.margin_pct)
                v = ev.below(self.required_revenue(float(tot.spend)))
                inputs = {
                    "window_days": (last - first).days + 1, "spend": str(tot.spend), "revenue": str(tot.revenue),
                    "clicks": tot.clicks, "orders": tot.orders,
                    "margin_pct": p.margin_pct, "roi_pct": None if roi is None else round(roi, 2),
                    "min_roi_pct": p.min_roi_pct, "breach_probability": None if v is None else round(v.probability, 4),
                    "confidence_pct": p.confidence_pct,
                }
                found = judged[item.nm_id] = (tot, roi, v, inputs)
            tot, roi, v, inputs = found
            if target is None:
                out.append(proposal(self.kind, Action.HOLD, snapshot, because("common.bid_unknown"),
                                    nm_id=item.nm_id, placement=placement, **inputs))
                continue
            managed_items += 1
            if roi is None:
                why = (because("roi_floor.incomplete", days=inputs["window_days"]) if tot.incomplete
                       else because("roi_floor.no_spend", days=inputs["window_days"]))
                out.append(proposal(self.kind, Action.HOLD, snapshot, why, target, **inputs))
                continue
            if v is None:
                out.append(proposal(self.kind, Action.HOLD, snapshot,
                                    because("roi_floor.no_orders", roi=round(roi, 2), days=inputs["window_days"],
                                            spend=str(tot.spend), clicks=tot.clicks), target, **inputs))
                continue
            out.append(self._item(snapshot, target, roi, v, inputs, stuck, now))

        # A campaign pause only when every managed item is stuck at the minimum below the floor.
        stuck_items = {nm for nm, _, n in stuck if n >= p.pause_after}
        if (stuck_items and stuck_items == {t.nm_id for _, t, _ in targets(snapshot) if t is not None}
                and snapshot.campaign.status == Status.ACTIVE):
            cev = evidence(snapshot.daily_stats, first, last, None, p.prior_clicks)
            camp = cev.window
            roi = roi_pct(float(camp.revenue), float(camp.spend), p.margin_pct)
            cv = cev.below(self.required_revenue(float(camp.spend)))
            if roi is not None and cv is not None and cv.probability >= p.confidence_pct / 100:
                worst = min(n for nm, _, n in stuck if nm in stuck_items)
                out.append(proposal(
                    self.kind, Action.PAUSE, snapshot,
                    because("roi_floor.pause", roi=round(roi, 2), floor=p.min_roi_pct, days=(last - first).days + 1,
                            spend=str(camp.spend), revenue=str(camp.revenue), margin=p.margin_pct,
                            confidence=cv.percent, verdict=cv.words(), evaluations=worst),
                    roi_pct=round(roi, 2), min_roi_pct=p.min_roi_pct, spend=str(camp.spend),
                    revenue=str(camp.revenue), evaluations=worst, pause_after=p.pause_after,
                    breach_probability=round(cv.probability, 4), confidence_pct=p.confidence_pct,
                ))
        return out

    def required_revenue(self, spend: float) -> float:
        """The revenue at which ROI is exactly the floor: revenue x margin - spend = floor x spend."""
        p = self.params
        return spend * (1 + p.min_roi_pct / 100) / (p.margin_pct / 100)

    def _item(self, snapshot: CampaignSnapshot, t: Target, roi: float, v: Verdict, inputs: dict,
              stuck: list[tuple[int, float, int]], now: datetime) -> Proposal:
        p = self.params
        step = max(snapshot.rules.step, 1)
        floor_bid = min_bid(snapshot, t.nm_id, t.placement)
        nums = because("roi_floor.nums", roi=round(roi, 2), spend=inputs["spend"], revenue=inputs["revenue"],
                       margin=p.margin_pct)
        below = v.probability >= p.confidence_pct / 100
        recent = cooling(snapshot, t.nm_id, t.placement, now, p.cooldown)
        if recent is not None:
            veto = {"no_raise": True} if below else {}
            return proposal(self.kind, Action.HOLD, snapshot, notes([nums, cooling_reason(recent, p.cooldown, now)]),
                            t, **veto, **inputs)
        if below:
            nums = because("roi_floor.confident", nums=nums, confidence=v.percent, verdict=v.words())
            if t.bid > floor_bid:
                want = max(floor_bid, round_up(t.bid * (1 - p.step_pct / 100), step))
                if want >= t.bid:  # rounding ate the cut: one bid step down
                    want = max(floor_bid, round_down(t.bid - 1, step))
                return proposal(self.kind, Action.SET_BID, snapshot,
                                because("roi_floor.lower", nums=nums, floor=p.min_roi_pct, step=p.step_pct),
                                t, bid=want, **inputs)
            n = self._evaluations_at_min(snapshot, t, floor_bid, now)
            stuck.append((t.nm_id, roi, n))
            return proposal(self.kind, Action.HOLD, snapshot,
                            because("roi_floor.at_min", nums=nums, floor=p.min_roi_pct, min_bid=floor_bid,
                                    evaluations=n, pause_after=p.pause_after),
                            t, evaluations=n, min_bid=floor_bid, no_raise=True, **inputs)
        if roi < p.min_roi_pct:
            return proposal(self.kind, Action.HOLD, snapshot,
                            because("roi_floor.not_probable", nums=nums, floor=p.min_roi_pct, probability=v.percent,
                                    confidence=p.confidence_pct, verdict=v.words()), t, **inputs)
        if roi >= p.min_roi_pct + p.restore_margin_pct:
            before = run_start_bid(snapshot, t.nm_id, t.placement, self.kind)
            if before is not None and before > t.bid:
                want = min(before, round_down(t.bid * (1 + p.step_pct / 100), step))
                if want <= t.bid:
                    want = before
                return proposal(self.kind, Action.SET_BID, snapshot,
                                because("roi_floor.raise_back", nums=nums, floor=p.min_roi_pct, bid=before),
                                t, bid=want, restore_to=before, **inputs)
            return proposal(self.kind, Action.HOLD, snapshot,
                            because("roi_floor.comfortable", nums=nums, floor=p.min_roi_pct), t, **inputs)
        return proposal(self.kind, Action.HOLD, snapshot,
                        because("roi_floor.above", nums=nums, floor=p.min_roi_pct), t, **inputs)

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
