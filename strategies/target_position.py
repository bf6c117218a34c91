"""The target_position strategy: keep an item at or above an ad position, as cheaply as possible.

Inputs, official first:

* the observed average position: the search cluster's ``avg_pos`` when ``query`` is set
  (``snapshot.cluster_stats``), else the newest daily ``avg_position`` from fullstats ``boosterStats``
  (``snapshot.daily_stats``), else a views-weighted average over the item's clusters;
* WB's recommendations (``snapshot.recommendations``) as the estimated entry bid: the CPC band that
  contains the target position, or for CPM the top / leaders / competitive bid.

A closed loop with hysteresis: worse than the target -> raise by ``step_up_pct``, or straight to the
entry estimate when the position is at least twice the target; better than the target by ``margin`` positions or more -> step down by
``step_down_pct``, but not to a bid that recently lost the position; in between -> hold. Never above
``max_bid``. It does not react twice to the same evidence: after an applied change of the item it holds
until statistics read at least ``settle`` after that change arrive.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bidder.domain import Action, CampaignSnapshot, Placement, Proposal, Recommendation, base_to_minor
from strategies.base import Strategy
from strategies.common import (
    Target,
    applied_bid_changes,
    by,
    fmt_money,
    min_bid,
    proposal,
    round_down,
    round_up,
    targets,
)
from strategies.params import TargetPositionParams

LOST_BID_MEMORY = timedelta(hours=24)  # how long a bid that lost the position is remembered
FAR = 2  # observed position at least FAR x the target: jump to WB's entry estimate instead of a step


def observed_position(snapshot: CampaignSnapshot, nm_id: int, query: str | None) -> tuple[float | None, str]:
    """(average position, where it came from) for an item; (None, reason) when nothing is known."""
    clusters = [c for c in snapshot.cluster_stats if c.nm_id == nm_id and c.avg_pos is not None]
    if query is not None:
        q = query.strip().lower()
        mine = [c for c in clusters if c.norm_query.strip().lower() == q]
        if not mine:
            return None, f"no statistics for the search cluster {query!r}"
        c = max(mine, key=lambda c: (c.period_to, c.period_from))
        return float(c.avg_pos), f"cluster {c.norm_query!r} avg_pos"  # type: ignore[arg-type]
    daily = [s for s in snapshot.daily_stats if s.nm_id == nm_id and s.avg_position is not None]
    if daily:
        s = max(daily, key=lambda s: s.day)
        return float(s.avg_position), f"boosterStats avg_position of {s.day.isoformat()}"  # type: ignore[arg-type]
    if clusters:
        last = max(c.period_to for c in clusters)
        recent = [c for c in clusters if c.period_to == last]
        weights = [(c.views if c.views is not None else c.clicks) or 0 for c in recent]
        if sum(weights) > 0:
            pos = sum(w * float(c.avg_pos) for w, c in zip(weights, recent, strict=True)) / sum(weights)  # type: ignore[arg-type]
            return pos, "views-weighted cluster avg_pos"
    return None, "no observed position yet"


def entry_estimate(rec: Recommendation | None, position: int) -> tuple[int | None, str]:
    """WB's recommended bid for reaching ``position``: (bid, source) or (None, reason)."""
    if rec is None:
        return None, "no WB recommendation"
    if rec.bands:
        for band in sorted(rec.bands, key=lambda b: b.first):
            if band.first <= position <= band.last and band.bid > 0:
                return band.bid, f"WB recommends {fmt_money(band.bid)} for positions {band.first}-{band.last}"
        return None, "no WB position band covers the target"
    if position <= 2 and rec.top_bid:
        return rec.top_bid, f"WB top bid {fmt_money(rec.top_bid)}"
    if position <= 10 and rec.leaders_bid:
        return rec.leaders_bid, f"WB leaders bid {fmt_money(rec.leaders_bid)}"
    if rec.competitive_bid:
        return rec.competitive_bid, f"WB competitive bid {fmt_money(rec.competitive_bid)}"
    return None, "no usable WB recommendation"


class TargetPosition(Strategy):
    kind = "target_position"
    Params = TargetPositionParams
    needs_clusters = True  # avg_pos of the `query` cluster (and a fallback without boosterStats)
    needs_recommendations = True  # entry-bid estimate

    params: TargetPositionParams

    def decide(self, snapshot: CampaignSnapshot, now: datetime) -> list[Proposal]:
        out: list[Proposal] = []
        for item, target, placement in targets(snapshot):
            if placement == Placement.RECOMMENDATIONS:
                continue  # positions are a search notion; the recommendations bid is left to others
            if target is None:
                out.append(proposal(self.kind, Action.HOLD, snapshot, "current bid unknown",
                                    nm_id=item.nm_id, placement=placement))
                continue
            out.append(self._one(snapshot, target, now))
        if not out:
            out.append(proposal(self.kind, Action.HOLD, snapshot, "no search or combined bids to manage"))
        return out

    def _one(self, snapshot: CampaignSnapshot, t: Target, now: datetime) -> Proposal:
        p = self.params
        step = max(snapshot.rules.step, 1)
        max_bid = round_down(base_to_minor(p.max_bid), step)
        floor = min_bid(snapshot, t.nm_id, t.placement)
        pos, source = observed_position(snapshot, t.nm_id, p.query)
        entry, entry_source = entry_estimate(snapshot.recommendations.get(t.nm_id), p.position)
        inputs = {
            "target_position": p.position, "position": pos, "avg_position": pos, "position_source": source,
            "entry_bid": entry, "entry_source": entry_source, "max_bid": max_bid, "min_bid": floor,
            "stats_as_of": snapshot.stats_as_of.isoformat() if snapshot.stats_as_of else None,
        }

        def hold(reason: str) -> Proposal:
            return proposal(self.kind, Action.HOLD, snapshot, reason, t, **inputs)

        def set_bid(bid: int, reason: str) -> Proposal:
            bid = min(bid, max_bid)
            if bid == t.bid:
                return hold(reason)
            return proposal(self.kind, Action.SET_BID, snapshot, reason, t, bid=bid, **inputs)

        if t.bid > max_bid:
            return set_bid(max_bid, f"bid {fmt_money(t.bid)} is above max_bid {fmt_money(max_bid)}")

        # Do not react twice to the same evidence.
        changes = applied_bid_changes(snapshot, t.nm_id)
        if changes:
            last = changes[0]
            asof = snapshot.stats_as_of
            if asof is None or last.at + p.settle > asof or (
                last.evidence_at is not None and last.evidence_at >= asof
            ):
                return hold(
                    f"waiting for statistics after the change at {last.at:%Y-%m-%d %H:%M} UTC "
                    f"({fmt_money(last.bid_before or 0)} -> {fmt_money(last.bid_after or 0)})"
                )

        if pos is None:
            cold = not any(by(r, self.kind) for r in changes)
            if cold and entry is not None and entry > t.bid and t.bid < max_bid:
                return set_bid(round_up(entry, step), f"{source}; starting from the entry bid: {entry_source}")
            return hold(f"{source}; not enough data to move the bid")

        where = f"position {pos:.1f} ({source}), target {p.position}"
        if pos > p.position:
            if t.bid >= max_bid:
                return hold(f"{where}: worse than the target but already at max_bid {fmt_money(max_bid)}")
            want = max(round_up(t.bid * (1 + p.step_up_pct / 100), step), t.bid + step)
            why = ""
            if entry is not None and entry > want and pos >= FAR * p.position:
                want, why = entry, f" to the entry bid ({entry_source})"
            return set_bid(want, f"{where}: worse than the target, raising{why}")
        if pos <= p.position - p.margin:
            want = max(floor, round_up(t.bid * (1 - p.step_down_pct / 100), step))
            lost = self._lost_bid(snapshot, t, now)
            if lost is not None and want <= lost:
                want = lost + step
                inputs["lost_bid"] = lost
            if want >= t.bid:
                if lost is not None:
                    return hold(f"{where}: better than needed, but {fmt_money(lost)} lost the position recently")
                return hold(f"{where}: better than needed, but already at WB's minimum {fmt_money(floor)}")
            return set_bid(want, f"{where}: better than the target by {p.margin}+ positions, stepping down")
        return hold(f"{where}: on target")

    def _lost_bid(self, snapshot: CampaignSnapshot, t: Target, now: datetime) -> int | None:
        """The bid from which this strategy recently had to raise because the position was lost."""
        for r in applied_bid_changes(snapshot, t.nm_id, t.placement):
            if now - r.at > LOST_BID_MEMORY:
                break
            if by(r, self.kind) and (r.bid_after or 0) > (r.bid_before or 0):
                if r.avg_position is None or r.avg_position > self.params.position:
                    return r.bid_before
        return None
