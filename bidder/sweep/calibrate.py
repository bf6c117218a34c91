"""A simulator market calibrated from an account's recorded statistics (``bidder sweep --calibrate-from-db``).

What is fitted, per item of every active or paused stored campaign, from the stored daily statistics of
the last ``days`` complete and partial days (:func:`fit_scenario`; every figure is written into the
report's ``calibration`` so the seller sees what the market was built from):

* **CTR**: clicks / views, divided by the market's position factor at the item's observed average
  position (``ctr_factor``), so the market gives back the observed CTR at the observed position.
* **conversion**: orders / clicks. **price**: revenue / orders (the average order value).
  An item without clicks (or without orders) takes the account's pooled figure, and says so.
* **search volume** per cluster: the item's daily views / (reach x view probability at its observed
  position), reach being the market's default share (0.1); the clusters are the item's stored
  search-cluster queries (else one synthetic cluster per item). Recommendation-zone traffic is not
  separated from search in WB's daily statistics: all views are counted as search.
* **competitors** per cluster: a log-normal distribution of eCPM bids (the market's model) fitted by
  least squares on log(bid) = log(median) + sigma x z, z being the normal quantile of the position each
  stored WB recommendation names among ``COMPETITORS`` competitors: CPM reach bands (positions 1, 6, 9),
  CPM competitive / leaders bids (the median; about position 3), CPC position bands (positions 2, 10,
  34 among ``CPC_COMPETITORS``, bids x CTR x 1000 as eCPM). Without a stored recommendation: the median
  that puts the item's current bid at its observed position, sigma 0.6 (the market's default).
* **bids, status, payment and bid type, placements**: as stored. **budget**: not recorded (unlimited).

The market's minimum bids, bid steps and noise are the simulator's own. Deterministic for the inputs.
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import NormalDist
from typing import Any

from bidder.domain import Campaign, ClusterStat, DailyStat, Recommendation
from bidder.sim.market import (
    ACTIVE,
    PAUSED,
    CampaignSpec,
    ClusterSpec,
    ItemSpec,
    ScenarioSpec,
    SellerSpec,
    ctr_factor,
    view_prob,
)

COMPETITORS = 30
CPC_COMPETITORS = 40
REACH = 0.1  # ItemSpec's default share of a cluster's searches
DEFAULT_SPREAD = 0.6
UNLIMITED = 10**12  # kopecks: the budget is not recorded
_N = NormalDist()


def _z(position: float, n: int) -> float:
    """The normal quantile of the competitor bid just above ``position`` among ``n`` competitors."""
    q = 1 - (position - 0.5) / n
    return _N.inv_cdf(min(0.995, max(0.005, q)))


def fit_lognormal(points: Iterable[tuple[float, float]]) -> tuple[float, float] | None:
    """(median, sigma) from (z, bid) points by least squares on log(bid); None without a usable point.
    One point (or points at one z): sigma is the default and the median follows from it."""
    pts = [(z, math.log(b)) for z, b in points if b and b > 0]
    if not pts:
        return None
    zs = {z for z, _ in pts}
    if len(zs) < 2:
        z, lb = pts[0]
        return math.exp(lb - DEFAULT_SPREAD * z), DEFAULT_SPREAD
    mz = sum(z for z, _ in pts) / len(pts)
    mb = sum(b for _, b in pts) / len(pts)
    sxx = sum((z - mz) ** 2 for z, _ in pts)
    sigma = sum((z - mz) * (b - mb) for z, b in pts) / sxx
    sigma = min(1.5, max(0.1, sigma))
    return math.exp(mb - sigma * mz), sigma


def rec_points(rec: Recommendation, ctr: float) -> dict[str | None, list[tuple[float, float]]]:
    """(z, eCPM bid) points per cluster (None: the item as a whole) from one stored recommendation."""
    out: dict[str | None, list[tuple[float, float]]] = defaultdict(list)
    if rec.payment_type == "cpc":
        for b in rec.bands:
            pos = {1: 2, 3: 10, 11: 34}.get(b.first, b.last)
            out[None].append((_z(pos, CPC_COMPETITORS), b.bid * ctr * 1000))
        return out
    for c in rec.clusters:
        out[c.norm_query].extend([(_z(1, COMPETITORS), c.max_bid), (_z(6, COMPETITORS), c.medium_bid),
                                  (_z(9, COMPETITORS), c.min_bid)])
    if rec.competitive_bid:
        out[None].append((0.0, rec.competitive_bid))
    if rec.leaders_bid:
        out[None].append((_z(3, COMPETITORS), rec.leaders_bid))
    return out


@dataclass(frozen=True, slots=True)
class ItemFit:
    advert_id: int
    nm_id: int
    ctr: float
    cr: float
    price_rub: float
    avg_position: float
    clusters: tuple[str, ...]
    pooled: tuple[str, ...]  # figures taken from the account's pool (no own evidence)
    evidence: tuple[int, int, int]  # the views, clicks and orders behind the figures

    def as_json(self) -> dict[str, Any]:
        return {"advert_id": self.advert_id, "nm_id": self.nm_id, "ctr": round(self.ctr, 5), "cr": round(self.cr, 5),
                "price_rub": round(self.price_rub, 2), "avg_position": round(self.avg_position, 1),
                "clusters": list(self.clusters), "pooled": list(self.pooled),
                "views": self.evidence[0], "clicks": self.evidence[1], "orders": self.evidence[2]}


@dataclass(frozen=True, slots=True)
class ClusterFit:
    query: str
    daily_searches: int
    median_bid_rub: float
    sigma: float
    source: str  # "recommendations" | "bid at observed position"

    def as_json(self) -> dict[str, Any]:
        return {"query": self.query, "daily_searches": self.daily_searches,
                "median_bid_rub": round(self.median_bid_rub, 2), "sigma": round(self.sigma, 3), "source": self.source}


@dataclass(frozen=True, slots=True)
class Calibration:
    spec: ScenarioSpec
    items: tuple[ItemFit, ...]
    clusters: tuple[ClusterFit, ...]
    days: tuple[date, date] | None

    def as_json(self) -> dict[str, Any]:
        return {"days": None if self.days is None else [d.isoformat() for d in self.days],
                "items": [i.as_json() for i in self.items], "clusters": [c.as_json() for c in self.clusters],
                "competitors_per_cluster": COMPETITORS, "reach": REACH,
                "method": ("CTR = clicks/views over the market's position factor; conversion = orders/clicks; "
                           "price = revenue/orders; searches = views/(reach x view probability at the observed "
                           "position); competitor eCPM bids log-normal, fitted by least squares to the stored WB "
                           "recommendations' (position, bid) points, else to the current bid at the observed "
                           "position; budget unlimited")}


def _bid(campaign: Campaign, nm_id: int) -> tuple[int, int]:
    item = campaign.item(nm_id)
    bids: Mapping[str, int] = item.bids if item is not None else {}
    search = bids.get("search") or bids.get("combined") or 0
    return int(search), int(bids.get("recommendations") or 0)


def fit_scenario(account: str, campaigns: list[Campaign], daily: list[DailyStat], clusters: list[ClusterStat],
                 recs: Mapping[tuple[int, int], Recommendation], *, start: datetime | None = None) -> Calibration:
    """A one-seller :class:`ScenarioSpec` fitted to what the account recorded (see the module)."""
    per_item: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0] * 7)  # views clicks orders rev pos_w n days
    days_seen: set[date] = set()
    for st in daily:
        acc = per_item[(st.advert_id, st.nm_id)]
        acc[0] += st.views
        acc[1] += st.clicks
        acc[2] += st.orders
        acc[3] += float(st.revenue)
        if st.avg_position is not None and st.views:
            acc[4] += float(st.avg_position) * st.views
            acc[5] += st.views
        acc[6] += 1
        days_seen.add(st.day)
    pool = [sum(v[i] for v in per_item.values()) for i in range(4)]
    pool_ctr = pool[1] / pool[0] if pool[0] else 0.03
    pool_cr = pool[2] / pool[1] if pool[1] else 0.05
    pool_price = pool[3] / pool[2] if pool[2] else 1000.0
    queries: dict[tuple[int, int], list[str]] = defaultdict(list)
    for cs in clusters:
        q = queries[(cs.advert_id, cs.nm_id)]
        if cs.norm_query not in q:
            q.append(cs.norm_query)
    fits: list[ItemFit] = []
    camp_specs: list[CampaignSpec] = []
    cluster_searches: dict[str, list[float]] = defaultdict(list)
    cluster_points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    cluster_fallback: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for camp in campaigns:
        if camp.status not in (ACTIVE, PAUSED) or not camp.items:
            continue
        cpc = camp.payment_type == "cpc"
        items: list[ItemSpec] = []
        for it in camp.items:
            v = per_item.get((camp.advert_id, it.nm_id), [0.0] * 7)
            pooled = []
            pos = v[4] / v[5] if v[5] else 10.0
            if v[0] > 0 and v[1] > 0:
                ctr = v[1] / v[0] / ctr_factor(round(pos))
            else:
                ctr, _ = pool_ctr / ctr_factor(10), pooled.append("ctr")
            if v[1] > 0 and v[2] > 0:
                cr = v[2] / v[1]
            else:
                cr, _ = pool_cr, pooled.append("cr")
            if v[2] > 0 and v[3] > 0:
                price = v[3] / v[2]
            else:
                price, _ = pool_price, pooled.append("price")
            qs = tuple(queries.get((camp.advert_id, it.nm_id)) or (f"{camp.advert_id}:{it.nm_id}",))
            per_day_views = v[0] / v[6] if v[6] else 0.0
            search_bid, rec_bid = _bid(camp, it.nm_id)
            for q in qs:
                searches = per_day_views / len(qs) / (REACH * view_prob(max(1, round(pos))))
                cluster_searches[q].append(searches)
                ecpm = search_bid * ctr * 1000 if cpc else float(search_bid)
                if ecpm > 0:
                    cluster_fallback[q].append((_z(pos, COMPETITORS), ecpm))
            rec = recs.get((camp.advert_id, it.nm_id))
            if rec is not None:
                for q, pts in rec_points(rec, ctr).items():
                    for target in ([q] if q is not None and q in qs else [] if q is not None else qs):
                        cluster_points[target].extend(pts)
            fits.append(ItemFit(camp.advert_id, it.nm_id, ctr, cr, price, pos, qs, tuple(pooled),
                                (round(v[0]), round(v[1]), round(v[2]))))
            items.append(ItemSpec(
                nm_id=it.nm_id, subject_id=zlib.crc32(it.subject.encode()) % 1000,
                subject_name=it.subject or "", price=max(1, round(price * 100)), clusters=qs,
                search_bid=search_bid, rec_bid=rec_bid, name=f"Товар {it.nm_id}", ctr=min(0.5, max(1e-4, ctr)),
                cr=min(1.0, max(1e-4, cr)), rec_searches=0, reach=REACH,
            ))
        camp_specs.append(CampaignSpec(
            camp.advert_id, camp.name, camp.payment_type, camp.bid_type, camp.status, tuple(items),
            budget=UNLIMITED, search="search" in camp.placements or camp.bid_type == "unified",
            recommendations=camp.bid_type == "manual" and "recommendations" in camp.placements,
        ))
    cluster_fits: list[ClusterFit] = []
    specs: dict[str, ClusterSpec] = {}
    for q in sorted(cluster_searches):
        searches = max(1, round(sum(cluster_searches[q]) / len(cluster_searches[q])))
        fitted = fit_lognormal(cluster_points.get(q, ()))
        source = "recommendations"
        if fitted is None:
            fitted = fit_lognormal(cluster_fallback.get(q, ())) or (30000.0, DEFAULT_SPREAD)
            source = "bid at observed position"
        median, sigma = fitted
        specs[q] = ClusterSpec(q, searches, COMPETITORS, max(1, round(median)), sigma)
        cluster_fits.append(ClusterFit(q, searches, median / 100, sigma, source))
    if start is None:
        last = max(days_seen) if days_seen else datetime.now(UTC).date()
        start = datetime.combine(last + timedelta(days=1), time(6, 0), tzinfo=UTC)  # 09:00 Moscow
    seller = SellerSpec(account, f"calibrated:{account}", tuple(camp_specs), balance=UNLIMITED)
    spec = ScenarioSpec(f"calibrated:{account}", (seller,), specs, start=start, history_days=3)
    span = (min(days_seen), max(days_seen)) if days_seen else None
    return Calibration(spec, tuple(fits), tuple(cluster_fits), span)


async def load_calibration(url: str, account: str, days: int) -> Calibration:
    """Read the account's stored campaigns, daily and cluster statistics of the last ``days`` days and the
    newest stored recommendation of every item, and fit (raises LookupError when nothing is stored)."""
    from bidder.store import observations as obs
    from bidder.store.campaigns import load_campaigns
    from bidder.store.db import Database
    from bidder.store.stats import load_cluster_stats, load_daily_stats

    async with Database(url) as db, db.read_sessions() as s:
        campaigns = await load_campaigns(s, account)
        if not campaigns:
            raise LookupError(f"no stored campaign of account {account!r} in the database")
        newest = await obs.newest_stat_day(s, account)
        if newest is None:
            raise LookupError(f"no stored statistics of account {account!r} in the database")
        since = newest - timedelta(days=days - 1)
        daily = await load_daily_stats(s, account, None, since)
        clusters = await load_cluster_stats(s, account, None, since=since)
        recs = await obs.latest_recommendations(s, account)
    return fit_scenario(account, campaigns, daily, clusters, recs)
