"""Builders for strategy and guard tests: small snapshots with sensible defaults."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bidder.domain import (
    Action,
    BidRules,
    Campaign,
    CampaignSnapshot,
    ClusterStat,
    DailyStat,
    DecisionRecord,
    Item,
    PositionBand,
    Recommendation,
    Status,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 15:00 in Moscow
TODAY = date(2026, 11, 24)
ADVERT = 100


def campaign(*, status: int = Status.ACTIVE, bid_type: str = "unified", payment_type: str = "cpm",
             bids: dict[int, int] | None = None, placements: frozenset[str] = frozenset({"search", "recommendations"})
             ) -> Campaign:
    bids = {1: 20000} if bids is None else bids
    if bid_type == "unified":
        items = tuple(Item(nm, {"search": b, "recommendations": b}) for nm, b in bids.items())
    else:
        items = tuple(Item(nm, {p: b for p in placements}) for nm, b in bids.items())
    return Campaign(ADVERT, "c", 9, status, bid_type, payment_type, "RUB", placements, items)


def day(nm: int = 1, days_ago: int = 0, *, spend: float = 100, revenue: float = 1000, clicks: int = 10,
        orders: int = 1, views: int = 1000, pos: float | None = None) -> DailyStat:
    return DailyStat(ADVERT, nm, TODAY - timedelta(days=days_ago), views, clicks, 0, orders,
                     Decimal(str(spend)), Decimal(str(revenue)), pos)


def cluster(nm: int = 1, query: str = "платье", pos: float | None = 5.0, views: int = 100) -> ClusterStat:
    return ClusterStat(ADVERT, nm, query, TODAY - timedelta(days=1), TODAY, views, 10, 1, Decimal(50), pos)


def rec_cpc(nm: int = 1, b12: int = 60000, b310: int = 40000, b1134: int = 25000) -> Recommendation:
    return Recommendation(ADVERT, nm, "cpc", bands=(PositionBand(1, 2, b12), PositionBand(3, 10, b310),
                                                     PositionBand(11, 34, b1134)))


def rec_cpm(nm: int = 1, competitive: int = 20000, leaders: int = 35000, top: int | None = 50000) -> Recommendation:
    return Recommendation(ADVERT, nm, "cpm", competitive_bid=competitive, leaders_bid=leaders, top_bid=top)


def record(action: Action = Action.SET_BID, *, strategy: str = "target_position", ago: timedelta = timedelta(hours=3),
           nm: int | None = 1, placement: str | None = "combined", before: int | None = 20000,
           after: int | None = 22000, applied: bool = True, pos: float | None = None,
           evidence_ago: timedelta | None = None) -> DecisionRecord:
    return DecisionRecord(
        at=NOW - ago, strategy=strategy, action=action, nm_id=nm, placement=placement,
        bid_before=before, bid_after=after, applied=applied,
        evidence_at=None if evidence_ago is None else NOW - evidence_ago, avg_position=pos,
    )


def pause_record(strategy: str, ago: timedelta = timedelta(hours=1)) -> DecisionRecord:
    return record(Action.PAUSE, strategy=strategy, ago=ago, nm=None, placement=None, before=None, after=None)


def snapshot(*, camp: Campaign | None = None, stats: tuple[DailyStat, ...] = (), clusters: tuple[ClusterStat, ...] = (),
             recs: dict[int, Recommendation] | None = None, history: tuple[DecisionRecord, ...] = (),
             stats_age: timedelta | None = timedelta(minutes=5), step: int = 100,
             min_bids: dict[tuple[int, str], int] | None = None, max_bid: int | None = None,
             operator_paused: bool = False) -> CampaignSnapshot:
    camp = camp or campaign()
    if min_bids is None:
        min_bids = {(it.nm_id, p): 10000 for it in camp.items for p in ("combined", "search", "recommendations")}
    return CampaignSnapshot(
        account="acc", campaign=camp, rules=BidRules(step=step, min_bids=min_bids, max_bid=max_bid),
        timezone="Europe/Moscow", daily_stats=stats, cluster_stats=clusters, recommendations=recs or {},
        stats_as_of=None if stats_age is None else NOW - stats_age, history=history,
        operator_paused=operator_paused,
    )


def only(proposals: list, action: Action | None = None):
    assert len(proposals) == 1, proposals
    if action is not None:
        assert proposals[0].action == action, proposals[0]
    return proposals[0]
