"""Position readings for target_position: what each source says about one item and query, and when. Pure.

A :class:`Reading` is one position for one stretch of time (``start``..``at``) that a strategy may act on:

* ``public_search``: a point reading (``start == at``: the moment the storefront answered);
* ``clusters_today``: WB's running average of the day so far, per cluster, synced every 3 minutes. A new
  answer only says something new when the cluster's views grew: the position over the stretch between two
  answers is the views-weighted difference of the two running averages
  ``(p2 * v2 - p1 * v1) / (v2 - v1)``. WB rounds ``avg_pos`` to 0.1, so a stretch is only used when its
  views are at least ``MIN_SHARE`` of the day's (the rounding then moves it by at most ``MAX_ERROR``
  position; a rounding error is what makes a steady position 3 read as 2.2 and then 3.4);
  the first answer of the day is its own stretch (from midnight).

A reading is *fresh* for a bid when its whole stretch lies after that bid took effect (WB applies bids on
a 30-second tick): that is the source's real settle time, not a fixed hour. WB's statistics arrive late
(WB states a 3-minute sync; 1-2 hours are seen), and the answer does not say how late. For CPM the
stretch says it itself: its spend over its views is the CPM that was paid in it (``paid``), i.e. the
bid the position describes. A stretch that paid the old bid is lagging data, whatever its time stamps.
For CPC WB sends no views, so the running average cannot be differenced and is used as it is (a weaker
signal); but the stretch still names its bid: its spend over its clicks is the CPC paid in it (WB charges
the bid per click). A stretch with too few clicks for that (``MIN_CLICKS``), or a reading without clicks,
is trusted for a bid only once it starts ``LAG_SEEN`` after the bid took effect (the 1-2 hours WB's
statistics are seen to lag, POSITIONS.md §1): lagging CPC data is never taken for the new bid.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bidder.domain import PositionObservation, PositionSource

BID_TICK = timedelta(seconds=30)
ON_TARGET = 0.1  # an average this much worse than the target still counts as on it (WB rounds to 0.1)
ROUNDING = 0.05  # WB gives avg_pos to 0.1: each running average is off by up to half of that
MAX_ERROR = 1.0  # a differenced stretch is used only when the rounding moves it by at most this much:
# ROUNDING x (v1 + v2) / (v2 - v1) <= MAX_ERROR, i.e. its views are at least MIN_SHARE of the day's so far
MIN_SHARE = 2 * ROUNDING / (MAX_ERROR + ROUNDING)
MIN_VIEWS = 50  # and at least this many views (fewer: the paid CPM and the position are rounding noise)
PUBLIC_FRESH = timedelta(minutes=20)  # a public-search reading older than this is not "live" any more
CLUSTERS_FRESH = timedelta(hours=3)  # nor a clusters_today stretch that ended longer ago
PAID_TOLERANCE = 0.005  # a stretch that paid within 0.5 % of a bid describes that bid (WB rounds spend)
MIN_CLICKS = 20  # a CPC stretch names its bid (spend / clicks) from this many clicks (whole clicks: +-1/20)
LAG_SEEN = timedelta(hours=2)  # WB's statistics are seen up to 2 hours late: a reading that cannot name its
# bid describes a bid only when it starts this long after the bid took effect
REPORT_REFRESH = timedelta(hours=2)  # WB refreshes the Analytics search report every 2 hours
REPORT_FRESH = timedelta(hours=8)  # a search-report reading older than this is not used any more (its
# stretches are long: at least as many searches as the day before them)
REPORT_ROUNDING = 0.5  # WB's avgPosition is a whole place
REPORT_MAX_ERROR = 1.5  # a search-report stretch is used when the rounding moves it by at most this much


def _rounding(source: str) -> float:
    return REPORT_ROUNDING if source == PositionSource.SEARCH_REPORT else ROUNDING


def lag_of(source: str) -> timedelta:
    """How long after a change a reading of ``source`` that cannot name its bid may still describe the time
    before it: WB's statistics lag (clusters_today), the report's refresh (search_report), none for the
    live public search."""
    if source == PositionSource.CLUSTERS_TODAY:
        return LAG_SEEN
    if source == PositionSource.SEARCH_REPORT:
        return REPORT_REFRESH
    return timedelta(0)


def describes(reading: Reading, bid: int) -> bool:
    """True when ``reading`` describes ``bid`` (a paid CPM within the tolerance, else the bid when read)."""
    if reading.bid is None:
        return False
    if reading.paid:
        return abs(reading.bid - bid) <= max(1, bid * reading.tol)
    return reading.bid == bid


@dataclass(frozen=True, slots=True)
class Reading:
    source: str
    position: float
    start: datetime  # the stretch of time the value describes
    at: datetime
    bid: int | None  # the bid the value describes: the CPM paid in the stretch, else the bid when read
    paid: bool = False  # ``bid`` was measured from the stretch's own spend and views (CPC: clicks)
    tol: float = PAID_TOLERANCE  # how far (relative) a paid ``bid`` may be from the bid it describes
    err: float = 0.0  # how far WB's rounding may move ``position`` (a differenced stretch), <= MAX_ERROR
    views: int = 0  # views in the stretch (clusters_today CPM), for pooling two stretches (:func:`pooled`)
    total: int = 0  # the day's views at the end of the stretch


def _norm(q: str) -> str:
    return q.strip().lower()


def readings(observations: Iterable[PositionObservation], nm_id: int, query: str) -> dict[str, list[Reading]]:
    """Readings per source for one item and query, oldest first."""
    mine = [o for o in observations if o.nm_id == nm_id and _norm(o.query) == _norm(query)]
    mine.sort(key=lambda o: (o.describes_at, o.observed_at))
    out: dict[str, list[Reading]] = {}
    public = [o for o in mine if o.source == PositionSource.PUBLIC_SEARCH]
    if public:
        out[PositionSource.PUBLIC_SEARCH.value] = [
            Reading(o.source, o.position, o.describes_at, o.describes_at, o.bid) for o in public]
    clusters = [o for o in mine if o.source == PositionSource.CLUSTERS_TODAY]
    if clusters:
        out[PositionSource.CLUSTERS_TODAY.value] = _stretches(clusters)
    report = [o for o in mine if o.source == PositionSource.SEARCH_REPORT]
    if report:
        out[PositionSource.SEARCH_REPORT.value] = _report(report)
    return out


def _report(obs: Sequence[PositionObservation]) -> list[Reading]:
    """Search-report readings. WB's ``avgPosition`` is the day's average so far in *whole* places, weighted
    (we assume, like ``avg_pos``) by the text's searches, ``frequency`` (``sample``) the searches so far: a
    stretch between two refreshes is their searches-weighted difference, like a clusters_today stretch, but
    off by up to ``REPORT_ROUNDING x (v1 + v2) / (v2 - v1)`` places: used only when that is at most
    ``REPORT_MAX_ERROR``, i.e. when the stretch saw at least as many searches as the day before it (a few
    readings a day). Reading the running average as if it described the last 2 hours (as before) steered on
    the morning's positions all afternoon (held 54-65 % in the bench). The first answer of the day is its own
    stretch from midnight (off by its rounding)."""
    out: list[Reading] = []
    base: PositionObservation | None = None
    for o in obs:
        day = _day_start(o.describes_at)
        v = o.sample or 0
        if base is None or _day_start(base.describes_at) != day:
            out.append(Reading(o.source, o.position, day, o.describes_at, o.bid, err=REPORT_ROUNDING, views=v,
                               total=v))
            base = o
            continue
        v1 = base.sample or 0
        gained = v - v1
        if gained <= 0 or REPORT_ROUNDING * (v1 + v) > REPORT_MAX_ERROR * gained:
            continue  # not refreshed since, or too few new searches to rise above the whole-place rounding
        pos = (o.position * v - base.position * v1) / gained
        out.append(Reading(o.source, max(1.0, pos), base.describes_at, o.describes_at, o.bid,
                           err=round(REPORT_ROUNDING * (v1 + v) / gained, 2), views=gained, total=v))
        base = o
    return out


def _day_start(at: datetime) -> datetime:
    """Midnight of WB's (Moscow) day containing ``at``, in UTC."""
    msk = at + timedelta(hours=3)
    return msk.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=3)


def _paid(spend: float, views: int) -> int | None:
    """The CPM paid (minor units per 1000 views) for ``spend`` base units over ``views``."""
    if views <= 0 or spend <= 0:
        return None
    return round(spend / views * 1000 * 100)


def _paid_tol(views: int) -> float:
    """How far the CPM paid over ``views`` may be from the bid it describes: WB rounds spend, and WB's
    views are whole numbers while the spend behind them need not stop at a whole view (the two counters of
    one answer need not be cut at the same impression), so each running total may be a view off: one view
    more or less moves the CPM of a stretch by 1/views (2 % at MIN_VIEWS; a night stretch of 100 views
    paying 596 RUB for a 597 RUB bid is not lagging data)."""
    return max(PAID_TOLERANCE, 1 / views) if views > 0 else PAID_TOLERANCE


def _paid_cpc(spend: float | None, clicks: int | None) -> tuple[int | None, float]:
    """The CPC paid (minor units) for ``spend`` base units over ``clicks``, and its tolerance (whole
    clicks: one click more or less moves it by 1/clicks)."""
    if spend is None or clicks is None or clicks < MIN_CLICKS or spend <= 0:
        return None, PAID_TOLERANCE
    return round(spend / clicks * 100), max(PAID_TOLERANCE, 1 / clicks)


def _cpc(o: PositionObservation, base: PositionObservation | None, day: datetime) -> Reading | None:
    """A CPC stretch (no views): the running average as it is, its bid from the CPC paid when it can."""
    same_day = base is not None and _day_start(base.describes_at) == day
    if o.clicks is None or (same_day and base is not None and base.clicks is None):
        if same_day and base is not None and o.position == base.position:
            return None
        start = base.describes_at if same_day and base is not None else day
        return Reading(o.source, o.position, start, o.describes_at, o.bid)
    if not same_day or base is None:
        paid, tol = _paid_cpc(o.spend, o.clicks)
        return Reading(o.source, o.position, day, o.describes_at, paid or o.bid, paid is not None, tol)
    gained = o.clicks - (base.clicks or 0)
    if gained < MIN_CLICKS:
        return None  # no new evidence yet (or too little to name the bid)
    spend = None if o.spend is None or base.spend is None else o.spend - base.spend
    paid, tol = _paid_cpc(spend, gained)
    return Reading(o.source, o.position, base.describes_at, o.describes_at, paid or o.bid, paid is not None, tol)


def _stretches(obs: Sequence[PositionObservation]) -> list[Reading]:
    out: list[Reading] = []
    base: PositionObservation | None = None  # the answer the next stretch starts from
    for o in obs:
        views = o.sample
        day = _day_start(o.describes_at)
        if views is None:  # CPC: no views to difference with (see the module)
            r = _cpc(o, base, day)
            if r is not None:
                out.append(r)
                base = o
            continue
        if base is None or _day_start(base.describes_at) != day:
            if views >= MIN_VIEWS:
                paid = _paid(o.spend or 0.0, views)
                out.append(Reading(o.source, o.position, day, o.describes_at, paid or o.bid, paid is not None,
                                   _paid_tol(views), views=views, total=views))
                base = o
            continue
        v1 = base.sample or 0
        gained = views - v1
        if gained < MIN_VIEWS or ROUNDING * (v1 + views) > MAX_ERROR * gained:
            continue  # no new evidence yet (or too little to rise above WB's rounding)
        pos = (o.position * views - base.position * v1) / gained
        paid = None if o.spend is None or base.spend is None else _paid(o.spend - base.spend, gained)
        out.append(Reading(o.source, max(1.0, pos), base.describes_at, o.describes_at, paid or o.bid, paid is not None,
                           _paid_tol(gained), err=round(ROUNDING * (v1 + views) / gained, 2), views=gained,
                           total=views))
        base = o
    return out


def pooled(older: Reading, newer: Reading) -> Reading | None:
    """Two back-to-back clusters_today stretches of one day as one: WB's rounding of the running average
    between them cancels out, so the pooled position is off by at most ``ROUNDING x (v0 + v2) / (g1 + g2)``
    (about half of either stretch's error). None when they do not join (a gap, another day, no views)."""
    if (older.source != newer.source or older.at != newer.start or not older.views or not newer.views
            or _day_start(older.at) != _day_start(newer.at) or newer.total - newer.views != older.total):
        return None
    gained = older.views + newer.views
    v0 = older.total - older.views
    pos = (older.position * older.views + newer.position * newer.views) / gained
    return Reading(newer.source, max(1.0, pos), older.start, newer.at, newer.bid, newer.paid, newer.tol,
                   err=round(_rounding(newer.source) * (v0 + newer.total) / gained, 2), views=gained,
                   total=newer.total)


def freshest(by_source: dict[str, list[Reading]], now: datetime) -> Reading | None:
    """The newest usable reading: the live public search when it has a recent one, else the newest
    clusters_today stretch that is not too old, else the newest search-report reading."""
    public = by_source.get(PositionSource.PUBLIC_SEARCH.value) or []
    if public and now - public[-1].at <= PUBLIC_FRESH:
        return public[-1]
    clusters = by_source.get(PositionSource.CLUSTERS_TODAY.value) or []
    if clusters and now - clusters[-1].at <= CLUSTERS_FRESH:
        return clusters[-1]
    report = by_source.get(PositionSource.SEARCH_REPORT.value) or []
    if report and now - report[-1].at <= REPORT_FRESH:
        return report[-1]
    return None


def readings_of(by_source: dict[str, list[Reading]], source: str) -> list[Reading]:
    return by_source.get(source) or []
