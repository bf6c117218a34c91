"""The simulated WB ad market: pure, seeded, time injected. No I/O, no asyncio.

The HTTP simulator (:mod:`bidder.sim.app`) wraps it; strategies can also be run against it directly for
a simulated week without HTTP.

Model
-----
* Every search cluster (``norm_query``) has seeded competitors whose eCPM bids drift over the day
  (a sine over the Moscow hour plus a daily jitter). Competitor bids are piecewise constant per hour.
* Our item's score in a cluster is its bid (CPM) or ``bid x expected CTR x 1000`` (CPC, eCPM). Its ad
  position is ``1 + number of competitors with a strictly higher score``: a higher bid never gives a
  worse position, other things equal.
* Per hour and cluster: ``searches`` (daily volume x diurnal curve x seeded noise), views =
  searches x view probability of the position, clicks = views x CTR(position) x noise, add-to-carts and
  orders follow clicks. Recommendations (manual campaigns with the placement on, or unified) are a
  pseudo-cluster per subject that counts in fullstats but not in normquery statistics or positions.
* Spend = views / 1000 x CPM bid, or clicks x CPC bid; revenue = orders x price. Spend lowers the
  campaign budget; at zero the campaign is paused (status 11) at that instant, like WB. A campaign with a
  ``daily_budget`` gets its budget reset at each Moscow midnight and resumes if the budget had paused it.
* Average positions (fullstats ``boosterStats.avg_position``, normquery ``avg_pos``) are weighted by
  searches (the opportunity), not by views, so that a higher bid never worsens the average.
* Recommendations (``recommendation``) come from the auction as it stands at the call: every promoted
  card of the item's clusters (seeded competitors, responders at the level they stand at, the scenario's
  campaigns). ``leadersBid`` = mean bid of the ``LEADERS`` best-placed cards, the asking card included
  (WB: "the average bid with which items hold the leading places in your category"); ``competitiveBid`` =
  median bid of the other sellers' cards (WB: "the average bid of other sellers ...; half bid above it,
  half below"); reach corridor and CPC bands = one kopeck above the card that holds the place among the
  other cards (WB: "the bid that gets the card into places ..."). A policy that chases ``leadersBid``
  therefore raises the average it chases.
* The Analytics search report (``search_report``) is served as of its last 2-hour refresh (WB: "refreshed
  every 2 hours"), per item and search text (= the cluster of that name), weighted like ``avg_pos``.
* Noise is a pure hash of (seed, campaign, item, cluster, hour): results do not depend on how often or
  in which steps the market is advanced, only on the seed, the scenario and the bids/status history.
* WB timing: a bid change takes effect on the next 30-second tick (the last write in a window wins);
  a status change on the next whole minute; statistics visible to the API (``visible=True``) are a
  snapshot taken at the last 3-minute sync boundary.
* History: on creation each campaign in status 7/9/11 has ``history_days`` of statistics before
  ``start`` (spend in history does not touch the budget); from ``start`` on only status 9 accrues.
* Days are Moscow calendar days (UTC+3).

API
---
``Market(spec: ScenarioSpec, seed: int = 1, *, start: datetime | None = None)``

* ``advance(to)``: advance every campaign to ``to``; ``advance_campaign(advert_id, to)`` one campaign
  (the HTTP layer advances only the campaigns a request touches: lazy and cheap for 10,000 campaigns).
* ``set_bid(advert_id, nm_id, placement, kopecks, at) -> datetime`` (effective time, the next 30 s tick;
  placement ``search``/``recommendations`` for manual, ``combined`` for unified). ``check_bid(...)``
  returns an error text or ``None`` (min, max, step, placement, status).
* ``set_cluster_bid(advert_id, nm_id, norm_query, kopecks, at)``, ``cluster_bids(advert_id, nm_id)``.
* ``set_status(advert_id, status, at) -> datetime | None`` (``None``: no change, WB's 422).
* ``campaign(advert_id) -> CampaignState`` (``.status``, ``.bids[nm][placement]``, ``.budget``, ...).
* ``daily_stats(advert_id, begin, end, *, visible=False) -> list[DailyRow]`` per nm and day;
  ``cluster_stats(advert_id, nm_id, begin, end, *, visible=False, daily=False) -> list[ClusterRow]``.
* ``min_bid(advert_id, nm_id, placement)``, ``max_bid(payment_type)``, ``recommendation(advert_id, nm_id, at)``,
  ``position(advert_id, nm_id, norm_query, at)``, ``search_results(query, at)`` (the public search).
* ``bid_log`` / ``status_log``: lists of applied changes (dicts) for reports.
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from statistics import NormalDist

MSK = timezone(timedelta(hours=3), "MSK")
BID_TICK = 30
STATUS_TICK = 60
SYNC_TICK = 180
HOUR = 3600
LEADERS = 5  # the "leading places" leadersBid averages over (WB does not say how many)
REPORT_REFRESH = 7200  # the Analytics search report is refreshed every 2 hours (POSITIONS.md §2)
REQUIRED_CLICKS = 100  # daily limits: the recommended cap is this many clicks at the highest current bid

ACTIVE, PAUSED, READY, COMPLETED = 9, 11, 4, 7
BID_STATUSES = frozenset({4, 9, 11})
STATS_STATUSES = frozenset({7, 9, 11})

# Mean of 1 over the day; Moscow hours 0..23.
_DIURNAL_RAW = [0.25, 0.15, 0.1, 0.1, 0.15, 0.3, 0.5, 0.8, 1.0, 1.2, 1.3, 1.35,
                1.35, 1.3, 1.3, 1.3, 1.35, 1.4, 1.5, 1.6, 1.6, 1.4, 1.0, 0.55]
_m = sum(_DIURNAL_RAW) / 24
DIURNAL = [x / _m for x in _DIURNAL_RAW]


class MarketError(ValueError):
    """A request the market cannot apply (unknown campaign / item, wrong placement, bad bid)."""


# ----------------------------------------------------------------------------------------------- spec
@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """A search cluster: daily searches and its competitors (seeded from the name and the seed)."""

    query: str
    daily_searches: int = 20000
    competitors: int = 30
    median_bid: int = 30000  # competitors' median eCPM bid, kopecks per 1000 views
    spread: float = 0.6  # log-normal sigma of competitor bids
    drift: float = 0.25  # amplitude of the intraday drift
    bids: tuple[int, ...] = ()  # explicit competitor base bids (eCPM kopecks); seeded when empty
    # competitors who answer raises: (base, cap) eCPM kopecks. Once our item's score in the cluster has been
    # at or above ``base`` (and below ``cap``) for ``respond_after`` seconds, the responder bids our score
    # + 1 RUB (at most ``cap``); at or above ``cap`` it gives up and goes back to ``base``.
    responders: tuple[tuple[int, int], ...] = ()
    respond_after: int = 1200


@dataclass(frozen=True, slots=True)
class ItemSpec:
    nm_id: int
    subject_id: int
    subject_name: str
    price: int  # kopecks
    clusters: tuple[str, ...]
    search_bid: int = 0  # kopecks; unified campaigns use search_bid as the combined bid
    rec_bid: int = 0
    name: str = ""
    ctr: float = 0.03  # base click-through rate at position ~10
    cr: float = 0.05  # orders per click
    atb_rate: float = 0.12  # add-to-carts per click
    rec_searches: int = 3000  # daily recommendation-zone opportunities
    reach: float = 0.1  # share of a cluster's searches where this card can be shown


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    advert_id: int
    name: str
    payment_type: str  # cpm | cpc
    bid_type: str  # manual | unified
    status: int
    items: tuple[ItemSpec, ...]
    budget: int = 1_000_000  # kopecks at start
    search: bool = True  # placements (manual campaigns); unified has both
    recommendations: bool = False
    created: datetime | None = None
    daily_budget: int | None = None  # kopecks: the budget is reset to this at each Moscow midnight (after
    # start), and a campaign paused because its budget ran out is resumed then


@dataclass(frozen=True, slots=True)
class SellerSpec:
    name: str
    seller_id: str
    campaigns: tuple[CampaignSpec, ...]
    balance: int = 5_000_000  # kopecks
    bonus: int = 0


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    name: str
    sellers: tuple[SellerSpec, ...]
    clusters: dict[str, ClusterSpec] = field(default_factory=dict)
    start: datetime = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # default clock start (09:00 MSK)
    history_days: int = 3
    history_chunk_hours: int = 6  # history is accrued in chunks of this size (cheaper first touch)
    currency: str = "RUB"
    currency_code: int = 643
    cpm_step: int = 100  # kopecks
    cpc_step: int = 10
    min_top_up: int = 100_000
    min_daily_limit: int = 100_000
    cpm_min: int = 10_000  # manual CPM minimum (100 RUB); unified combined x1.5
    cpc_min: int = 400
    cpm_max: int = 1_000_000
    cpc_max: int = 100_000
    strict_step: bool = True  # reject bids that are not a multiple of the step
    faults: dict | None = None  # initial fault settings (see bidder.sim.faults)
    stats_lag: int = 0  # seconds: the API serves the statistics of the sync this long ago (WB: 1-2 h seen)


# ----------------------------------------------------------------------------------------------- noise
_M64 = (1 << 64) - 1


def _mix(*parts: int) -> int:
    """A 64-bit hash of integers (multiply-xorshift per part, one final avalanche)."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = ((h ^ p) * 0xBF58476D1CE4E5B9) & _M64
        h ^= h >> 31
    h = (h * 0x94D049BB133111EB) & _M64
    return h ^ (h >> 29)


def _unit(*parts: int) -> float:
    """A deterministic uniform number in (0, 1)."""
    return ((_mix(*parts) >> 11) + 0.5) / (1 << 53)


def _noise(sigma: float, *parts: int) -> float:
    """A deterministic multiplicative noise with mean ~1."""
    u1, u2 = _unit(*parts, 1), _unit(*parts, 2)
    z = math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
    return math.exp(sigma * z - sigma * sigma / 2)


_Z = [NormalDist().inv_cdf((i + 0.5) / 4096) for i in range(4096)]


def _noises(h: int, s1: float, s2: float, s3: float, s4: float) -> tuple[float, float, float, float]:
    """Four deterministic multiplicative noises (mean ~1) from one 64-bit hash."""
    exp = math.exp
    return (
        exp(s1 * _Z[h & 4095] - s1 * s1 / 2),
        exp(s2 * _Z[(h >> 12) & 4095] - s2 * s2 / 2),
        exp(s3 * _Z[(h >> 24) & 4095] - s3 * s3 / 2),
        exp(s4 * _Z[(h >> 36) & 4095] - s4 * s4 / 2),
    )


def _sid(text: str) -> int:
    return zlib.crc32(text.encode())


def view_prob(position: int) -> float:
    return math.exp(-(position - 1) / 15)


_VIEW = [0.0] + [math.exp(-(p - 1) / 15) for p in range(1, 256)]


def ctr_factor(position: int) -> float:
    return 1.4 - 0.8 * min(position, 40) / 40


# ----------------------------------------------------------------------------------------------- state
@dataclass(slots=True)
class Competitor:
    base: float
    amp: float
    phase: float
    advert_id: int
    nm_id: int
    tp: str


@dataclass(slots=True)
class CampaignState:
    spec: CampaignSpec
    seller: str
    status: int
    budget: float  # kopecks
    bids: dict[int, dict[str, int]]  # nm -> {"search": k, "recommendations": k}
    advanced_to: datetime
    changed_at: datetime
    started_at: datetime | None
    cluster_bids: dict[tuple[int, str], int] = field(default_factory=dict)
    pending_bids: dict[tuple[int, str], tuple[datetime, int]] = field(default_factory=dict)
    pending_cluster_bids: dict[tuple[int, str], tuple[datetime, int]] = field(default_factory=dict)
    pending_status: tuple[datetime, int, str] | None = None
    last_status_change: datetime | None = None
    # day -> nm -> [views, clicks, atbs, orders, spend_kop, revenue_kop, pos_w, pos_n]
    stats: dict[date, dict[int, list[float]]] = field(default_factory=dict)
    # day -> (nm, query) -> [views, clicks, atbs, orders, spend_kop, pos_w, pos_n]
    cstats: dict[date, dict[tuple[int, str], list[float]]] = field(default_factory=dict)
    published_at: datetime | None = None
    paused_by_budget: bool = False
    pub_stats: dict[date, dict[int, tuple[float, ...]]] = field(default_factory=dict)
    pub_cstats: dict[date, dict[tuple[int, str], tuple[float, ...]]] = field(default_factory=dict)
    spend_total: float = 0.0
    # WB's per-campaign daily limit (CPC only; REFERENCE-2026-10 §3.11), kopecks
    limit_enabled: bool = False
    daily_limit: int = 0
    carry_over: bool = False
    # (nm, cluster) -> (when our score there last changed, the score before): what responders answer
    bid_since: dict[tuple[int, str], tuple[datetime, float]] = field(default_factory=dict)
    snaps: list[tuple[datetime, dict, dict]] = field(default_factory=list)  # sync snapshots (stats_lag)
    # the Analytics search report as of its last 2-hour refresh: (when, day -> (nm, query) -> (orders,
    # pos_w, pos_n)) for yesterday and today; earlier days are complete in ``cstats``
    report: tuple[datetime, dict[date, dict[tuple[int, str], tuple[float, float, float]]]] | None = None

    @property
    def advert_id(self) -> int:
        return self.spec.advert_id

    @property
    def effective_status(self) -> int:
        """The status after any pending change (what a start/pause is compared against)."""
        return self.pending_status[1] if self.pending_status else self.status

    def item(self, nm_id: int) -> ItemSpec | None:
        for it in self.spec.items:
            if it.nm_id == nm_id:
                return it
        return None


@dataclass(frozen=True, slots=True)
class DailyRow:
    advert_id: int
    nm_id: int
    day: date
    views: int
    clicks: int
    atbs: int
    orders: int
    spend: float  # base units
    revenue: float  # base units
    avg_position: int | None


@dataclass(frozen=True, slots=True)
class ClusterRow:
    advert_id: int
    nm_id: int
    norm_query: str
    day: date | None  # None for a period aggregate
    views: int
    clicks: int
    atbs: int
    orders: int
    spend: float  # base units
    avg_pos: float | None


def _ceil_tick(t: datetime, tick: int) -> datetime:
    ts = t.timestamp()
    n = math.ceil(ts / tick - 1e-9) * tick
    return datetime.fromtimestamp(n, UTC)


def _floor_tick(t: datetime, tick: int) -> datetime:
    ts = t.timestamp()
    return datetime.fromtimestamp(math.floor(ts / tick + 1e-9) * tick, UTC)


def msk_day(t: datetime) -> date:
    return t.astimezone(MSK).date()


def round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step - 1e-9) * step)


# ----------------------------------------------------------------------------------------------- market
class Market:
    def __init__(self, spec: ScenarioSpec, seed: int = 1, *, start: datetime | None = None) -> None:
        self.spec = spec
        self.seed = seed
        self.start = (start or spec.start).astimezone(UTC)
        self._hist_start = _floor_tick(self.start, HOUR) - timedelta(days=spec.history_days)
        self._specs: dict[int, tuple[str, CampaignSpec]] = {}
        for s in spec.sellers:
            for c in s.campaigns:
                self._specs[c.advert_id] = (s.name, c)
        self._states: dict[int, CampaignState] = {}
        self._competitors: dict[str, list[Competitor]] = {}
        self._score_cache: dict[tuple[str, int], list[float]] = {}
        self._zh: dict[tuple[int, int, str], int] = {}
        self._zone_cache: dict[int, list] = {}
        self._history_chunk = max(1, spec.history_chunk_hours) * HOUR
        self.bid_log: list[dict] = []
        self.status_log: list[dict] = []
        self._responsive = frozenset(q for q, cs in spec.clusters.items() if cs.responders)

    # ---------------------------------------------------------------- campaigns
    def advert_ids(self, seller: str | None = None) -> list[int]:
        return [a for a, (s, _) in self._specs.items() if seller is None or s == seller]

    def owner(self, advert_id: int) -> str | None:
        entry = self._specs.get(advert_id)
        return entry[0] if entry else None

    def has(self, advert_id: int) -> bool:
        return advert_id in self._specs

    def campaign(self, advert_id: int) -> CampaignState:
        st = self._states.get(advert_id)
        if st is None:
            entry = self._specs.get(advert_id)
            if entry is None:
                raise MarketError(f"advert {advert_id} not found")
            seller, c = entry
            bids = {}
            for it in c.items:
                if c.bid_type == "unified":
                    bids[it.nm_id] = {"search": it.search_bid, "recommendations": it.search_bid}
                else:
                    bids[it.nm_id] = {
                        "search": it.search_bid if c.search else 0,
                        "recommendations": it.rec_bid if c.recommendations else 0,
                    }
            created = c.created or (self.start - timedelta(days=30 + c.advert_id % 60))
            st = CampaignState(
                spec=c,
                seller=seller,
                status=c.status,
                budget=float(c.budget),
                bids=bids,
                advanced_to=self._hist_start,
                changed_at=created + timedelta(days=1, seconds=c.advert_id % 7919),
                started_at=None if c.status == READY else created + timedelta(hours=2),
            )
            self._states[advert_id] = st
        return st

    def touched(self) -> Iterable[CampaignState]:
        return self._states.values()

    # ---------------------------------------------------------------- competitors
    def competitors(self, query: str) -> list[Competitor]:
        comps = self._competitors.get(query)
        if comps is None:
            cs = self.spec.clusters.get(query) or ClusterSpec(query)
            qid = _sid(query)
            comps = []
            for k in range(len(cs.bids) or cs.competitors):
                z = math.sqrt(-2 * math.log(_unit(self.seed, qid, k, 11))) * math.cos(
                    2 * math.pi * _unit(self.seed, qid, k, 12))
                comps.append(Competitor(
                    base=float(cs.bids[k]) if cs.bids else cs.median_bid * math.exp(cs.spread * z),
                    amp=cs.drift * _unit(self.seed, qid, k, 13),
                    phase=24 * _unit(self.seed, qid, k, 14),
                    advert_id=20_000_000 + (_mix(self.seed, qid, k, 15) % 9_000_000),
                    nm_id=100_000_000 + (_mix(self.seed, qid, k, 16) % 800_000_000),
                    tp="b" if _unit(self.seed, qid, k, 17) < 0.6 else "c",
                ))
            self._competitors[query] = comps
        return comps

    def _scores(self, query: str, hour_idx: int) -> list[float]:
        """Competitors' eCPM scores in one hour, sorted ascending (for bisect)."""
        key = (query, hour_idx)
        sc = self._score_cache.get(key)
        if sc is None:
            if len(self._score_cache) > 200_000:
                self._score_cache.clear()
            local_hour = (hour_idx + 3) % 24
            day_idx = (hour_idx + 3) // 24
            qid = _sid(query)
            sc = sorted(
                c.base * (1 + c.amp * math.sin(2 * math.pi * (local_hour + c.phase) / 24))
                * (0.95 + 0.1 * _unit(self.seed, qid, k, day_idx, 21))
                for k, c in enumerate(self.competitors(query))
            )
            self._score_cache[key] = sc
        return sc

    def _position_for_score(self, query: str, hour_idx: int, score: float) -> int:
        sc = self._scores(query, hour_idx)
        return 1 + len(sc) - bisect.bisect_right(sc, score)

    def _bid_for_position(self, query: str, hour_idx: int, position: int) -> float:
        """The smallest eCPM score that gets ``position`` or better in that hour."""
        sc = self._scores(query, hour_idx)
        above = position - 1  # competitors allowed above us
        if above >= len(sc):
            return 0.0
        return sc[len(sc) - 1 - above]  # must beat (>=... strictly above) this one

    def _zones(self, st: CampaignState) -> list[tuple[ItemSpec, str | None, str, float, int, float]]:
        """(item, cluster or None for recommendations, score-cache name, daily volume, noise hash,
        score multiplier) for each place a campaign's items can be shown; built once per campaign."""
        zones = self._zone_cache.get(st.advert_id)
        if zones is None:
            c = st.spec
            zones = []
            for item in c.items:
                mult = item.ctr * 1000 if c.payment_type == "cpc" else 1.0
                if self._search_on(c):
                    for q in item.clusters:
                        cs = self.spec.clusters.get(q)
                        vol = (cs.daily_searches if cs else 20000) * item.reach
                        zones.append((item, q, q, vol, self._zone_hash(c.advert_id, item.nm_id, q), mult))
                if self._rec_on(c):
                    qname = f"rec:{item.subject_id}"
                    zones.append((item, None, qname, float(item.rec_searches),
                                  self._zone_hash(c.advert_id, item.nm_id, qname), mult))
            self._zone_cache[st.advert_id] = zones
        return zones

    def _zone_hash(self, advert_id: int, nm_id: int, qname: str) -> int:
        key = (advert_id, nm_id, qname)
        h = self._zh.get(key)
        if h is None:
            if len(self._zh) > 500_000:
                self._zh.clear()
            h = self._zh[key] = _mix(self.seed, advert_id, nm_id, _sid(qname))
        return h

    def _score(self, c: CampaignSpec, item: ItemSpec, bid: int) -> float:
        if c.payment_type == "cpc":
            return bid * item.ctr * 1000
        return float(bid)

    def _search_bid(self, st: CampaignState, nm_id: int, query: str) -> int:
        cb = st.cluster_bids.get((nm_id, query))
        return cb if cb is not None else st.bids[nm_id]["search"]

    def position(self, advert_id: int, nm_id: int, query: str, at: datetime) -> int | None:
        st = self.campaign(advert_id)
        self.advance_campaign(advert_id, at)
        item = st.item(nm_id)
        if item is None or not self._search_on(st.spec):
            return None
        bid = self._search_bid(st, nm_id, query)
        if bid <= 0:
            return None
        score = self._score(st.spec, item, bid)
        return self._position_for_score(query, _hour_idx(at), score) + self.responders_above(
            st, nm_id, query, score, at)

    @staticmethod
    def _search_on(c: CampaignSpec) -> bool:
        return c.bid_type == "unified" or c.search

    @staticmethod
    def _rec_on(c: CampaignSpec) -> bool:
        return c.bid_type == "unified" or c.recommendations

    # ---------------------------------------------------------------- advancing
    def advance(self, to: datetime) -> None:
        for advert_id in self._specs:
            self.advance_campaign(advert_id, to)

    def advance_campaign(self, advert_id: int, to: datetime) -> CampaignState:
        st = self.campaign(advert_id)
        to = to.astimezone(UTC)
        if to <= st.advanced_to:
            return st
        if self.spec.stats_lag:
            self._run(st, to)
            self._publish_lagged(st, to)
            return st
        sync = _floor_tick(to, SYNC_TICK)
        if sync > st.advanced_to:
            self._run(st, sync)
            self._publish(st, sync)
        self._run(st, to)
        return st

    def _publish_lagged(self, st: CampaignState, to: datetime) -> None:
        """With ``stats_lag``: publish the newest sync snapshot at least that old."""
        cutoff = to - timedelta(seconds=self.spec.stats_lag)
        best = None
        while st.snaps and st.snaps[0][0] <= cutoff:
            best = st.snaps.pop(0)
        if best is not None and (st.published_at is None or best[0] > st.published_at):
            at, stats, cstats = best
            st.pub_stats.update(stats)
            st.pub_cstats.update(cstats)
            st.published_at = at

    def _snapshot(self, st: CampaignState, at: datetime) -> None:
        days = [d for d in (msk_day(at) - timedelta(days=1), msk_day(at))]
        st.snaps.append((at, {d: {k: tuple(v) for k, v in st.stats[d].items()} for d in days if d in st.stats},
                         {d: {k: tuple(v) for k, v in st.cstats[d].items()} for d in days if d in st.cstats}))

    def _run(self, st: CampaignState, to: datetime) -> None:
        t = st.advanced_to
        while t < to:
            # history (before start) is accrued in 6-hour chunks: nothing changes there, and it keeps
            # the first touch of a campaign cheap
            chunk = self._history_chunk if t < self.start else HOUR
            nxt = min(to, _floor_tick(t, chunk) + timedelta(seconds=chunk))
            events = [e[0] for e in st.pending_bids.values()] + [e[0] for e in st.pending_cluster_bids.values()]
            if st.pending_status:
                events.append(st.pending_status[0])
            lag = self.spec.stats_lag and t >= self.start
            if lag:
                events.append(_floor_tick(t, SYNC_TICK) + timedelta(seconds=SYNC_TICK))
            for (_, q), (since, _) in st.bid_since.items():
                cs = self.spec.clusters.get(q)
                if cs is not None:
                    events.append(since + timedelta(seconds=cs.respond_after))
            for e in events:
                if t < e < nxt:
                    nxt = e
            if t < self.start < nxt:
                nxt = self.start
            if (st.spec.daily_budget is not None or st.limit_enabled) and t >= self.start:
                midnight = _next_msk_midnight(t)
                if midnight < nxt:
                    nxt = midnight
            nxt = self._accrue(st, t, nxt)
            t = nxt
            st.advanced_to = t
            if lag and t == _floor_tick(t, SYNC_TICK):
                self._snapshot(st, t)
            if t >= self.start and t == _floor_tick(t, REPORT_REFRESH):
                days = (msk_day(t) - timedelta(days=1), msk_day(t))
                st.report = (t, {d: {k: (v[3], v[5], v[6]) for k, v in st.cstats[d].items()}
                                 for d in days if d in st.cstats})
            self._apply_events(st, t)
            if st.spec.daily_budget is not None and t > self.start and t == _next_msk_midnight(t - timedelta(seconds=1)):
                st.budget = float(st.spec.daily_budget)
                if st.status == PAUSED and st.paused_by_budget:
                    self._change_status(st, ACTIVE, t, "daily budget reset")

    def _apply_events(self, st: CampaignState, t: datetime) -> None:
        for key, (eff, value) in list(st.pending_bids.items()):
            if eff <= t:
                del st.pending_bids[key]
                nm, placement = key
                old = st.bids[nm][placement]
                if placement in ("search", "combined") or st.spec.bid_type == "unified":
                    self._note_score(st, nm, None, old, eff)
                st.bids[nm][placement] = value
                if st.spec.bid_type == "unified":
                    st.bids[nm]["recommendations" if placement == "search" else "search"] = value
                st.changed_at = eff
                self.bid_log.append({
                    "time": eff.isoformat(), "seller": st.seller, "advert_id": st.advert_id, "nm_id": nm,
                    "placement": "combined" if st.spec.bid_type == "unified" else placement,
                    "old": old, "new": value,
                })
        for key, (eff, value) in list(st.pending_cluster_bids.items()):
            if eff <= t:
                del st.pending_cluster_bids[key]
                old = st.cluster_bids.get(key)
                self._note_score(st, key[0], key[1], self._search_bid(st, key[0], key[1]), eff)
                st.cluster_bids[key] = value
                self.bid_log.append({
                    "time": eff.isoformat(), "seller": st.seller, "advert_id": st.advert_id, "nm_id": key[0],
                    "placement": "search", "norm_query": key[1], "old": old, "new": value,
                })
        if st.pending_status and st.pending_status[0] <= t:
            eff, new, reason = st.pending_status
            st.pending_status = None
            self._change_status(st, new, eff, reason)

    def _note_score(self, st: CampaignState, nm: int, query: str | None, old_bid: int, at: datetime) -> None:
        """Our score in a cluster with responders is about to change at ``at``: remember the old one."""
        item = st.item(nm)
        if item is None:
            return
        for q in (item.clusters if query is None else (query,)):
            cs = self.spec.clusters.get(q)
            if cs is None or not cs.responders or (query is None and (nm, q) in st.cluster_bids):
                continue
            st.bid_since[(nm, q)] = (at, self._score(st.spec, item, old_bid))

    def responders_above(self, st: CampaignState, nm: int, query: str, score: float, at: datetime) -> int:
        """How many responders of ``query`` stand above our ``score`` at ``at``."""
        cs = self.spec.clusters.get(query)
        if cs is None or not cs.responders:
            return 0
        since = st.bid_since.get((nm, query))
        answered = score
        if since is not None and (at - since[0]).total_seconds() < cs.respond_after:
            answered = since[1]  # they have not noticed the change yet: still answering the old score
        n = 0
        for base, cap in cs.responders:
            level = base if answered < base or answered >= cap else min(cap, answered + 100)
            n += level > score
        return n

    def _change_status(self, st: CampaignState, new: int, at: datetime, reason: str) -> None:
        old = st.status
        if old == new:
            return
        st.paused_by_budget = reason == "budget exhausted"
        st.status = new
        st.changed_at = at
        st.last_status_change = at
        if new == ACTIVE:
            st.started_at = at
        self.status_log.append({
            "time": at.isoformat(), "seller": st.seller, "advert_id": st.advert_id,
            "old": old, "new": new, "reason": reason,
        })

    def _publish(self, st: CampaignState, at: datetime) -> None:
        since = msk_day(st.published_at) if st.published_at else None
        for day, rows in st.stats.items():
            if since is None or day >= since:
                st.pub_stats[day] = {k: tuple(v) for k, v in rows.items()}
        for day, rows in st.cstats.items():
            if since is None or day >= since:
                st.pub_cstats[day] = {k: tuple(v) for k, v in rows.items()}
        st.published_at = at

    def _accrue(self, st: CampaignState, a: datetime, b: datetime) -> datetime:
        """Accrue statistics on [a, b) (inside one hour, constant bids). Returns where it stopped
        (earlier than ``b`` when the budget ran out)."""
        c = st.spec
        history = a < self.start
        if history:
            if st.status not in STATS_STATUSES:
                return b
        elif st.status != ACTIVE:
            return b
        limit_left = self._limit_left(st, msk_day(a)) if not history else None
        if limit_left is not None and limit_left <= 1e-6:
            return b  # WB stops showing the campaign for the rest of the day; its status stays active
        dt_h = (b - a).total_seconds() / HOUR
        if dt_h <= 0:
            return b
        hidx = _hour_idx(a)
        if history and dt_h > 1:
            frac = 0.0
            h = hidx
            ta = a.timestamp()
            tb = b.timestamp()
            while h * HOUR < tb:
                overlap = min(tb, (h + 1) * HOUR) - max(ta, h * HOUR)
                frac += overlap / HOUR * DIURNAL[(h + 3) % 24] / 24
                h += 1
            hidx = _hour_idx(a + (b - a) / 2)
        else:
            frac = dt_h * DIURNAL[(hidx + 3) % 24] / 24
        day = msk_day(a)
        rows: list[tuple[ItemSpec, str | None, float, float, float, float, float, int, float]] = []
        spend = 0.0
        cpm = c.payment_type == "cpm"
        bids_all = st.bids
        cluster_bids = st.cluster_bids
        scores = self._scores
        for item, q, qname, vol, base_h, score_mult in self._zones(st):
            if q is None:
                bid = bids_all[item.nm_id]["recommendations"]
            else:
                bid = cluster_bids.get((item.nm_id, q)) if cluster_bids else None
                if bid is None:
                    bid = bids_all[item.nm_id]["search"]
            if bid <= 0:
                continue
            sc = scores(qname, hidx)
            pos = 1 + len(sc) - bisect.bisect_right(sc, bid * score_mult)
            if q is not None and q in self._responsive:
                pos += self.responders_above(st, item.nm_id, q, bid * score_mult, a)
            n1, n2, n3, n4 = _noises(_mix(base_h, hidx), 0.25, 0.3, 0.3, 0.35)
            searches = vol * frac * n1
            views = searches * (_VIEW[pos] if pos < 256 else view_prob(pos))
            clicks = views * item.ctr * ctr_factor(pos) * n2
            atbs = clicks * item.atb_rate * n3
            orders = clicks * item.cr * n4
            cost = views / 1000 * bid if cpm else clicks * bid
            spend += cost
            rows.append((item, q, views, clicks, atbs, orders, cost, pos, searches))
        scale = 1.0
        stop = b
        limited = limit_left is not None and spend > 0 and spend >= limit_left and limit_left < st.budget
        if not history and spend > 0 and spend >= st.budget:
            scale = max(0.0, st.budget / spend)
            stop = a + (b - a) * scale
        elif limited:
            assert limit_left is not None
            scale = max(0.0, limit_left / spend)
            stop = a + (b - a) * scale
        day_stats = st.stats.setdefault(day, {})
        day_c = st.cstats.setdefault(day, {})
        for item, q, views, clicks, atbs, orders, cost, pos, searches in rows:
            nm = item.nm_id
            acc = day_stats.get(nm)
            if acc is None:
                acc = day_stats[nm] = [0.0] * 8
            acc[0] += views * scale
            acc[1] += clicks * scale
            acc[2] += atbs * scale
            acc[3] += orders * scale
            acc[4] += cost * scale
            acc[5] += orders * scale * item.price
            if q is not None:
                acc[6] += pos * searches * scale
                acc[7] += searches * scale
                cacc = day_c.get((nm, q))
                if cacc is None:
                    cacc = day_c[(nm, q)] = [0.0] * 7
                cacc[0] += views * scale
                cacc[1] += clicks * scale
                cacc[2] += atbs * scale
                cacc[3] += orders * scale
                cacc[4] += cost * scale
                cacc[5] += pos * searches * scale
                cacc[6] += searches * scale
        if not history:
            st.budget -= spend * scale
            st.spend_total += spend * scale
            if scale < 1.0 and not limited:
                st.budget = 0.0
                st.pending_status = None
                self._change_status(st, PAUSED, stop, "budget exhausted")
        return stop if stop > a else b

    # ---------------------------------------------------------------- writes
    def min_bid(self, advert_id: int, nm_id: int, placement: str) -> int:
        """Per-item minimum in minor units. ``placement``: combined | search | recommendation(s)."""
        st = self.campaign(advert_id)
        item = st.item(nm_id)
        if item is None:
            raise MarketError(f"nm {nm_id} not found or inactive")
        f = 1.0 + (_mix(item.subject_id, 7) % 50) / 100  # per-subject 1.00..1.49
        if st.spec.payment_type == "cpc":
            base = self.spec.cpc_min * f
            step = self.spec.cpc_step
        else:
            base = self.spec.cpm_min * f * (1.5 if placement == "combined" else 1.0)
            step = self.spec.cpm_step
        return round_up(base, step)

    def max_bid(self, payment_type: str) -> int:
        return self.spec.cpc_max if payment_type == "cpc" else self.spec.cpm_max

    def step(self, payment_type: str) -> int:
        return self.spec.cpc_step if payment_type == "cpc" else self.spec.cpm_step

    def check_bid(self, advert_id: int, nm_id: int, placement: str, kopecks: int) -> str | None:
        """WB's validator for one nm bid: the error detail, or None when the bid is acceptable."""
        st = self.campaign(advert_id)
        c = st.spec
        if st.status not in BID_STATUSES:
            return f"wrong advert status: {st.status}"
        if st.item(nm_id) is None:
            return f"nm {nm_id} not found or inactive"
        if c.bid_type == "unified" and placement != "combined":
            return f"wrong placement {placement} for advert {advert_id} with bid type unified"
        if c.bid_type == "manual":
            if placement not in ("search", "recommendations"):
                return f"wrong placement {placement} for advert {advert_id} with bid type manual"
            if not getattr(c, placement):
                return f"placement {placement} is disabled for advert {advert_id}"
        mn = self.min_bid(advert_id, nm_id, placement)
        mx = self.max_bid(c.payment_type)
        if kopecks < mn:
            return f"wrong bid value: {kopecks}; min: {mn}"
        if kopecks > mx:
            return f"wrong bid value: {kopecks}; min: {mn} max:{mx}"
        step = self.step(c.payment_type)
        if self.spec.strict_step and kopecks % step:
            return f"wrong bid value: {kopecks}; step: {step}"
        return None

    def set_bid(self, advert_id: int, nm_id: int, placement: str, kopecks: int, at: datetime) -> datetime:
        err = self.check_bid(advert_id, nm_id, placement, kopecks)
        if err:
            raise MarketError(err)
        st = self.advance_campaign(advert_id, at)
        eff = max(_ceil_tick(at, BID_TICK), st.advanced_to)
        key = (nm_id, "search" if placement == "combined" else placement)
        st.pending_bids[key] = (eff, kopecks)
        if eff <= st.advanced_to:
            self._apply_events(st, st.advanced_to)
        return eff

    def set_cluster_bid(self, advert_id: int, nm_id: int, query: str, kopecks: int, at: datetime) -> datetime:
        st = self.advance_campaign(advert_id, at)
        item = st.item(nm_id)
        if item is None:
            raise MarketError(f"nm {nm_id} not found or inactive")
        eff = max(_ceil_tick(at, BID_TICK), st.advanced_to)
        st.pending_cluster_bids[(nm_id, query)] = (eff, kopecks)
        if eff <= st.advanced_to:
            self._apply_events(st, st.advanced_to)
        return eff

    def cluster_bids(self, advert_id: int, nm_id: int) -> dict[str, int]:
        st = self.campaign(advert_id)
        item = st.item(nm_id)
        if item is None:
            return {}
        return {q: self._search_bid(st, nm_id, q) for q in item.clusters}

    def set_status(self, advert_id: int, status: int, at: datetime, reason: str = "api") -> datetime | None:
        """Request a status change; it takes effect on the next whole minute. None: nothing to change."""
        st = self.advance_campaign(advert_id, at)
        if st.effective_status == status:
            return None
        eff = _ceil_tick(at, STATUS_TICK)
        if eff <= st.advanced_to:
            eff = st.advanced_to
        st.pending_status = (eff, status, reason)
        if eff <= st.advanced_to:
            self._apply_events(st, eff)
        return eff

    # ---------------------------------------------------------------- daily limits (REFERENCE-2026-10 §3.11)
    def spent_on(self, st: CampaignState, day: date) -> float:
        """The campaign's spend on a Moscow day, kopecks (exact accrual)."""
        return sum(v[4] for v in st.stats.get(day, {}).values())

    def _limit_left(self, st: CampaignState, day: date) -> float | None:
        """What the daily limit still allows today (kopecks), None without a limit. Carry-over adds
        yesterday's unspent part of the limit (not compounding: the seller's total does not grow)."""
        if not st.limit_enabled or st.spec.payment_type != "cpc":
            return None
        cap = float(st.daily_limit)
        if st.carry_over:
            cap += max(0.0, st.daily_limit - self.spent_on(st, day - timedelta(days=1)))
        return cap - self.spent_on(st, day)

    def required_limit(self, st: CampaignState) -> int:
        """The smallest cap the simulator recommends at the current bids: ``REQUIRED_CLICKS`` clicks at the
        highest current bid (WB does not publish its formula), never below ``min_daily_limit``."""
        top = max((b for bids in st.bids.values() for b in bids.values()), default=0)
        return max(self.spec.min_daily_limit, round_up(top * REQUIRED_CLICKS, 100))

    def set_daily_limit(self, advert_id: int, at: datetime, *, enabled: bool, limit: int | None,
                        carry_over: bool | None) -> tuple[bool, int]:
        """PUT daily-limits for one campaign: (belowMinLimit, requiredLimit). Validation is the caller's."""
        st = self.advance_campaign(advert_id, at)
        st.limit_enabled = enabled
        if enabled:
            assert limit is not None and carry_over is not None
            st.daily_limit = limit
            st.carry_over = carry_over
        required = self.required_limit(st)
        return enabled and st.daily_limit < required, required

    def daily_limit(self, advert_id: int, at: datetime) -> dict:
        """GET daily-limits for one campaign (minor units)."""
        st = self.advance_campaign(advert_id, at)
        required = self.required_limit(st)
        return {
            "advertId": advert_id, "enabled": st.limit_enabled, "dailyLimit": st.daily_limit if st.limit_enabled else 0,
            "spentToday": int(round(self.spent_on(st, msk_day(at)))), "currency": self.spec.currency,
            "carryOverEnabled": st.carry_over if st.limit_enabled else False,
            "valid": not st.limit_enabled or st.daily_limit >= required, "requiredLimit": required,
        }

    def top_up(self, advert_id: int, kopecks: int) -> None:
        self.campaign(advert_id).budget += kopecks

    # ---------------------------------------------------------------- reads
    def daily_stats(self, advert_id: int, begin: date, end: date, *, visible: bool = False) -> list[DailyRow]:
        st = self.campaign(advert_id)
        src = st.pub_stats if visible else st.stats
        out = []
        for day in sorted(src):
            if not begin <= day <= end:
                continue
            for nm, v in sorted(src[day].items()):
                out.append(DailyRow(
                    advert_id=advert_id, nm_id=nm, day=day, views=int(v[0]), clicks=int(v[1]),
                    atbs=int(v[2]), orders=int(v[3]), spend=round(v[4] / 100, 2), revenue=round(v[5] / 100, 2),
                    avg_position=round(v[6] / v[7]) if v[7] > 0 else None,
                ))
        return out

    def cluster_stats(self, advert_id: int, nm_id: int, begin: date, end: date, *, visible: bool = False,
                      daily: bool = False) -> list[ClusterRow]:
        st = self.campaign(advert_id)
        src = st.pub_cstats if visible else st.cstats
        agg: dict[tuple[date | None, str], list[float]] = {}
        for day in sorted(src):
            if not begin <= day <= end:
                continue
            for (nm, q), v in src[day].items():
                if nm != nm_id:
                    continue
                key = (day if daily else None, q)
                acc = agg.setdefault(key, [0.0] * 7)
                for i in range(7):
                    acc[i] += v[i]
        return [
            ClusterRow(advert_id, nm_id, q, day, int(v[0]), int(v[1]), int(v[2]), int(v[3]),
                       round(v[4] / 100, 2), round(v[5] / v[6], 1) if v[6] > 0 else None)
            for (day, q), v in sorted(agg.items(), key=lambda kv: (kv[0][0] or date.min, kv[0][1]))
        ]

    def recommendation(self, advert_id: int, nm_id: int, at: datetime) -> dict:
        """Recommended bids (minor units), derived from the auction as it stands at ``at``: every card
        promoted in the item's clusters (the seeded competitors, the responders at the level they stand
        at, the scenario's campaigns), as WB's field descriptions define them (POSITIONS.md §1.4,
        promotion.yaml ``V0BidRecommendation*``):

        * ``leadersBid``: "the average bid with which items hold the leading places in your category": the
          mean bid of the ``LEADERS`` best-placed cards, whoever they are (the asking item included: WB's
          text excludes no one, unlike ``competitiveBid``);
        * ``competitiveBid``: "the average bid of *other* sellers ...; half of them bid above it, half
          below": the median bid of the cards of other sellers;
        * reach corridor per cluster and CPC bands: the bid that gets the card to a place, i.e. one
          kopeck above the card that now holds it among the *other* cards (the asking item left out).
        """
        st = self.campaign(advert_id)
        c = st.spec
        item = st.item(nm_id)
        if item is None:
            raise MarketError(f"nm {nm_id} not found or inactive")
        step = self.step(c.payment_type)
        auctions = {q: self._entries(q, at) for q in item.clusters}

        def need(q: str, p: int) -> float:
            """The score that gets the item to place ``p`` in ``q``: above the p-th other card."""
            others = [e[0] for e in auctions[q] if (e[1], e[2]) != (advert_id, nm_id)]
            return others[p - 1] + 1 if len(others) >= p else 0.0

        if c.payment_type == "cpc":
            levels = {}
            for name, pos in (("range1To2", 2), ("range3To10", 10), ("range11To34", 34)):
                score = max(need(q, pos) for q in item.clusters) if item.clusters else 0
                bid = round_up(score / (item.ctr * 1000), step)
                levels[name] = max(bid, self.min_bid(advert_id, nm_id, "search"))
            return {"paymentType": "cpc", "levels": levels}
        mn = self.min_bid(advert_id, nm_id, "combined" if c.bid_type == "unified" else "search")
        cards = sorted((e for q in item.clusters for e in auctions[q]), key=lambda e: -e[0])
        top = [e[3] for e in cards[:LEADERS]]
        leaders = sum(top) / len(top) if top else mn
        others = sorted(e[3] for e in cards if e[6] != st.seller)
        competitive = others[len(others) // 2] if others else mn
        top2 = 0
        if item.subject_id % 2 == 0 and item.clusters:
            top2 = max(need(q, 2) for q in item.clusters)
        norm = []
        for q in item.clusters:
            def band(p: int, q: str = q) -> int:
                return max(mn, round_up(need(q, p), step))
            norm.append({
                "normQuery": q,
                "reachMax": (band(1), band(5)),
                "reachMedium": (band(6), band(8)),
                "reachMin": (band(9), band(11)),
            })
        return {
            "paymentType": "cpm",
            "competitiveBid": max(mn, round_up(competitive, step)),
            "leadersBid": max(mn, round_up(leaders, step)),
            "top2": round_up(top2, step) if top2 else 0,
            "normQueries": norm,
        }

    def search_report(self, seller: str, nm_id: int, text: str, day: date, at: datetime) -> tuple[int, int, int]:
        """WB's Analytics search report for one item, search text and day as of its last 2-hour refresh
        before ``at``: (average place rounded to a whole place, 0 when not placed; orders; buyers' searches
        of the text that day). The simulated search text is the cluster of the same name; the average is
        weighted by searches like ``avg_pos``; the market has no organic results, so it is the ad place."""
        pos_w = pos_n = orders = searches = 0.0
        for advert_id in self._query_index().get(text, ()):
            st = self.campaign(advert_id)
            item = st.item(nm_id)
            if st.seller != seller or item is None:
                continue
            self.advance_campaign(advert_id, at)
            ref, snap = st.report if st.report is not None else (self.start, {})
            row = None
            if day in snap:
                row = snap[day].get((nm_id, text))
            elif day < msk_day(ref):  # a day that was over before the last refresh: complete
                v = st.cstats.get(day, {}).get((nm_id, text))
                row = None if v is None else (v[3], v[5], v[6])
            if row is not None:
                orders += row[0]
                pos_w += row[1]
                pos_n += row[2]
                searches += row[2] / max(item.reach, 1e-9)  # every buyer's search, not only those we reached
        return (round(pos_w / pos_n) if pos_n > 0 else 0), int(orders), int(searches)

    def _entries(self, query: str, at: datetime) -> list[tuple[float, int, int, int, str, bool, str | None]]:
        """Every card promoted in ``query`` at ``at``, best first: (score, advert_id, nm_id, bid in minor
        units, tp, ours (a scenario campaign), seller (None: a simulated outside seller))."""
        hidx = _hour_idx(at)
        local_hour = (hidx + 3) % 24
        day_idx = (hidx + 3) // 24
        qid = _sid(query)
        entries: list[tuple[float, int, int, int, str, bool, str | None]] = []
        for k, comp in enumerate(self.competitors(query)):
            score = comp.base * (1 + comp.amp * math.sin(2 * math.pi * (local_hour + comp.phase) / 24)) \
                * (0.95 + 0.1 * _unit(self.seed, qid, k, day_idx, 21))
            entries.append((score, comp.advert_id, comp.nm_id, int(score), comp.tp, False, None))
        for advert_id in self._query_index().get(query, ()):
            st = self.advance_campaign(advert_id, at)
            if st.status != ACTIVE or not self._search_on(st.spec):
                continue
            for item in st.spec.items:
                if query in item.clusters:
                    bid = self._search_bid(st, item.nm_id, query)
                    if bid > 0:
                        tp = "b" if st.spec.bid_type == "unified" else "c"
                        entries.append((self._score(st.spec, item, bid) + 1e-6, advert_id, item.nm_id,
                                        bid, tp, True, st.seller))
        cs = self.spec.clusters.get(query)
        if cs is not None and cs.responders:
            mine = next(((e[1], e[2], e[0]) for e in entries if e[5]), None)
            for k, (base, cap) in enumerate(cs.responders):
                level = float(base)
                if mine is not None:
                    st = self.campaign(mine[0])
                    since = st.bid_since.get((mine[1], query))
                    answered = mine[2]
                    if since is not None and (at - since[0]).total_seconds() < cs.respond_after:
                        answered = since[1]
                    if base <= answered < cap:
                        level = min(cap, answered + 100)
                entries.append((level, 29_000_000 + k, 190_000_000 + k, int(level), "c", False, None))
        entries.sort(key=lambda e: -e[0])
        return entries

    def search_results(self, query: str, at: datetime) -> list[dict]:
        """Promoted cards in a cluster's search, best first: dicts with advert_id, nm_id, cpm (kopecks),
        promo_position, tp and ours (bool). Only active campaigns of the scenario appear as ours."""
        return [
            {"advert_id": a, "nm_id": n, "cpm": cpm, "promo_position": i + 1, "tp": tp, "ours": ours}
            for i, (_, a, n, cpm, tp, ours, _) in enumerate(self._entries(query, at))
        ]

    def _query_index(self) -> dict[str, list[int]]:
        idx = getattr(self, "_qidx", None)
        if idx is None:
            idx = {}
            for advert_id, (_, c) in self._specs.items():
                for it in c.items:
                    for q in it.clusters:
                        lst = idx.setdefault(q, [])
                        if not lst or lst[-1] != advert_id:
                            lst.append(advert_id)
            self._qidx = idx
        return idx


def _next_msk_midnight(t: datetime) -> datetime:
    """The first Moscow midnight strictly after ``t`` (UTC)."""
    local = t.astimezone(MSK)
    nxt = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), MSK)
    return nxt.astimezone(UTC)


def _hour_idx(t: datetime) -> int:
    return int(t.timestamp() // HOUR)
