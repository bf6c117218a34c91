"""One sweep value in the embedded simulator's market (:class:`bidder.sim.market.Market`), on the market's
own clock, as fast as the CPU allows (no real-time wait, no HTTP).

Every ``every`` of simulated time, each campaign that has strategies is decided by the daemon's one
decision path, :func:`bidder.engine.evaluate.decide_campaign` (the operator's switches, the strategies,
then :func:`bidder.engine.guards.decide`), from a :class:`CampaignSnapshot` of what WB's API would publish
at that moment (statistics as of the last 3-minute sync, WB's bid step and minimum bids, recommendations
and cluster statistics for the strategies that read them, the positions the market shows now, the audit
trail of the run); bid changes, pauses and resumes are applied to the market at once (it applies them on
WB's ticks). Holds are recorded when their reason changes, like the engine's applier.

What it leaves out (the daemon's I/O stages): pacing and rate limits, read failures, the lazy reads of
WB's minimum bids (the market's minimums are known from the start), approvals and the operator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bidder.domain import (
    Action,
    BidRules,
    Campaign,
    CampaignSnapshot,
    ClusterStat,
    DailyStat,
    Decision,
    DecisionRecord,
    Item,
    PositionBand,
    PositionObservation,
    PositionSource,
    ReachBand,
    Recommendation,
)
from bidder.engine.evaluate import decide_campaign
from bidder.engine.guards import GuardConfig
from bidder.sim.market import ACTIVE, PAUSED, CampaignState, Market, ScenarioSpec, msk_day

HISTORY_DAYS = 14
EDITABLE = frozenset({4, 9, 11})


def _d(x: float) -> Decimal:
    return Decimal(str(x))


@dataclass
class CampaignRun:
    """One campaign in one market, decided by its strategies through the daemon's decision path."""

    market: Market
    advert_id: int
    strategies: list
    guard: GuardConfig
    account: str
    timezone: str
    history: list[DecisionRecord] = field(default_factory=list)
    last_hold: dict[tuple, str] = field(default_factory=dict)
    changes: int = 0
    pauses: int = 0
    resumes: int = 0
    decisions: int = 0

    def snapshot(self, t: datetime) -> CampaignSnapshot:
        m = self.market
        st = m.advance_campaign(self.advert_id, t)
        c = st.spec
        placements = frozenset({"search", "recommendations"}) if c.bid_type == "unified" else frozenset(
            p for p, on in (("search", c.search), ("recommendations", c.recommendations)) if on)
        camp = Campaign(
            advert_id=c.advert_id, name=c.name, type=9, status=st.status, bid_type=c.bid_type,
            payment_type=c.payment_type, currency=m.spec.currency, placements=placements,
            items=tuple(Item(it.nm_id, dict(st.bids[it.nm_id]), it.subject_name) for it in c.items),
        )
        rules = BidRules(
            step=m.step(c.payment_type),
            min_bids={(it.nm_id, p): m.min_bid(self.advert_id, it.nm_id, p)
                      for it in c.items for p in camp.bid_placements},
            max_bid=m.max_bid(c.payment_type),
        )
        today = msk_day(t)
        daily = tuple(
            DailyStat(r.advert_id, r.nm_id, r.day, r.views, r.clicks, r.atbs, r.orders, _d(r.spend), _d(r.revenue),
                      None if r.avg_position is None else float(r.avg_position))
            for r in m.daily_stats(self.advert_id, today - timedelta(days=HISTORY_DAYS), today, visible=True)
        )
        clusters: list[ClusterStat] = []
        recs: dict[int, Recommendation] = {}
        positions: list[PositionObservation] = []
        needs_clusters = any(s.needs_clusters for s in self.strategies)
        needs_recs = any(s.needs_recommendations for s in self.strategies)
        needs_positions = any(getattr(s, "needs_positions", False) for s in self.strategies)
        for it in c.items:
            if needs_clusters:
                for r in m.cluster_stats(self.advert_id, it.nm_id, today - timedelta(days=1), today, visible=True,
                                         daily=True):
                    day = r.day or today
                    clusters.append(ClusterStat(self.advert_id, it.nm_id, r.norm_query, day, day, r.views,
                                                r.clicks, r.orders, _d(r.spend), r.avg_pos))
            if needs_recs:
                recs[it.nm_id] = recommendation(self.advert_id, it.nm_id, m.recommendation(self.advert_id, it.nm_id, t))
            if needs_positions and st.status == ACTIVE:
                for q in it.clusters:
                    pos = m.position(self.advert_id, it.nm_id, q, t)
                    if pos is not None:
                        positions.append(PositionObservation(
                            PositionSource.PUBLIC_SEARCH.value, self.advert_id, it.nm_id, q, float(pos), t, t,
                            bid=m.cluster_bids(self.advert_id, it.nm_id).get(q)))
        since = t - timedelta(days=HISTORY_DAYS)
        while self.history and self.history[0].at < since:
            self.history.pop(0)
        return CampaignSnapshot(
            account=self.account, campaign=camp, rules=rules, timezone=self.timezone, daily_stats=daily,
            cluster_stats=tuple(clusters), recommendations=recs, stats_as_of=st.published_at,
            history=tuple(self.history), positions=tuple(positions),
            cluster_bids={(it.nm_id, q): b for it in c.items
                          for q, b in m.cluster_bids(self.advert_id, it.nm_id).items()} if needs_positions else {},
        )

    def step(self, t: datetime) -> None:
        if self.market.campaign(self.advert_id).status not in EDITABLE:
            return
        snap = self.snapshot(t)
        for d in decide_campaign(snap, t, self.strategies, self.guard, stopped=False, rules_known=True):
            self._apply(snap, d, t)

    def _apply(self, snap: CampaignSnapshot, d: Decision, t: datetime) -> None:
        self.decisions += 1
        applied = False
        m = self.market
        if d.changes_bid:
            assert d.nm_id is not None and d.bid_after is not None
            if d.norm_query:
                m.set_cluster_bid(self.advert_id, d.nm_id, d.norm_query, d.bid_after, t)
            else:
                assert d.placement is not None
                m.set_bid(self.advert_id, d.nm_id, d.placement, d.bid_after, t)
            applied = True
            self.changes += 1
        elif d.action in (Action.PAUSE, Action.RESUME):
            pause = d.action == Action.PAUSE
            applied = m.set_status(self.advert_id, PAUSED if pause else ACTIVE, t, d.strategy) is not None
            self.pauses += pause and applied
            self.resumes += (not pause) and applied
        elif d.action == Action.HOLD:  # like the engine: a hold is recorded when its reason changes
            key = (d.nm_id, d.placement, d.norm_query)
            if self.last_hold.get(key) == d.reason:
                return
            self.last_hold[key] = d.reason
        pos = d.inputs.get("avg_position")
        self.history.append(DecisionRecord(
            at=t, strategy=d.strategy, action=d.action, nm_id=d.nm_id, placement=d.placement,
            bid_before=d.bid_before, bid_after=d.bid_after, applied=applied, evidence_at=snap.stats_as_of,
            avg_position=float(pos) if isinstance(pos, int | float) else None, norm_query=d.norm_query,
            war=bool(d.inputs.get("bidding_war")),  # as the audit trail reads it back
        ))


def recommendation(advert_id: int, nm_id: int, raw: dict[str, Any]) -> Recommendation:
    """The market's recommendation reply as the WB client returns it."""
    if raw.get("paymentType") == "cpc":
        lv = raw["levels"]
        return Recommendation(advert_id, nm_id, "cpc", bands=(
            PositionBand(1, 2, lv["range1To2"]), PositionBand(3, 10, lv["range3To10"]),
            PositionBand(11, 34, lv["range11To34"])))
    return Recommendation(
        advert_id, nm_id, "cpm", competitive_bid=raw["competitiveBid"] or None, leaders_bid=raw["leadersBid"] or None,
        top_bid=raw["top2"] or None,
        clusters=tuple(ReachBand(q["normQuery"], q["reachMax"][0], q["reachMedium"][0], q["reachMin"][0])
                       for q in raw["normQueries"]),
    )


@dataclass(frozen=True, slots=True)
class CampaignFigures:
    advert_id: int
    spend: float  # base units, exact accrual over the swept days
    revenue: float
    orders: float
    views: float
    clicks: float
    avg_position: float | None  # searches-weighted, like WB's avg_position
    searches: float  # the weight behind avg_position
    bid_changes: int
    pauses: int
    resumes: int


def run_market(spec: ScenarioSpec, seed: int, *, days: float, every: timedelta,
               strategies: Callable[[int], list], guard: GuardConfig, account: str, timezone: str,
               seller: str | None = None) -> list[CampaignFigures]:
    """Run the market for ``days`` from the scenario's start, deciding every ``every``; the figures of every
    campaign of ``seller`` (default: the first) that had strategies."""
    market = Market(spec, seed)
    owner = seller or spec.sellers[0].name
    runs = []
    for aid in market.advert_ids(owner):
        s = strategies(aid)
        if s:
            runs.append(CampaignRun(market, aid, s, guard, account, timezone))
    start = spec.start
    before = {run.advert_id: _totals(market.advance_campaign(run.advert_id, start)) for run in runs}
    end = start + timedelta(days=days)
    t = start
    while t < end:
        for run in runs:
            run.step(t)
        t += every
    out = []
    for run in runs:
        after = _totals(market.advance_campaign(run.advert_id, end))
        tot = [a - b for a, b in zip(after, before[run.advert_id], strict=True)]
        out.append(CampaignFigures(
            run.advert_id, spend=tot[4] / 100, revenue=tot[5] / 100, orders=tot[3], views=tot[0], clicks=tot[1],
            avg_position=tot[6] / tot[7] if tot[7] > 0 else None, searches=tot[7], bid_changes=run.changes, pauses=run.pauses,
            resumes=run.resumes,
        ))
    return out


def _totals(st: CampaignState) -> list[float]:
    """[views, clicks, atbs, orders, spend_kop, revenue_kop, pos_w, pos_n] summed over every day so far
    (the history the market made before its start included: the caller takes differences)."""
    tot = [0.0] * 8
    for rows in st.stats.values():
        for v in rows.values():
            for i in range(8):
                tot[i] += v[i]
    return tot
