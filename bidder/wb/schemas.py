"""Wire models of the Promotion API (pydantic), lenient by design, and their conversion to domain types.

Parsing rules (REFERENCE.md §5, §3): ``null`` lists are empty; unknown fields are ignored; unknown enum
values (bid_type, payment_type, status, placement types) are logged once and kept; statistics money
floats become ``Decimal`` through ``str``; ``days[].date`` is read from its first 10 characters.
A body that does not fit these models at all is a SchemaDrift (raised by the client). So is an absurd
value: negative spend, or a current bid above ``MAX_PLAUSIBLE_BID`` (nothing is stored or decided on it).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter

from bidder.domain import (
    Campaign,
    CampaignRef,
    ClusterStat,
    DailyStat,
    Item,
    PositionBand,
    ReachBand,
    Recommendation,
    Status,
)
from bidder.wb.models import (
    ClusterBid,
    WBConfig,
)

log = logging.getLogger(__name__)

KNOWN_BID_TYPES = frozenset({"manual", "unified"})
KNOWN_PAYMENT_TYPES = frozenset({"cpm", "cpc"})
KNOWN_STATUSES = frozenset(
    {Status.DELETED, Status.READY, Status.COMPLETED, Status.DECLINED, Status.ACTIVE, Status.PAUSED}
)
KNOWN_TYPES = frozenset({4, 5, 6, 7, 8, 9})
_seen_unknown: set[tuple[str, str]] = set()


def note_unknown(field: str, value: object, known: frozenset) -> None:
    """Log an unknown enum value once per (field, value) and let the caller keep it."""
    if value in known:
        return
    key = (field, repr(value))
    if key not in _seen_unknown:
        _seen_unknown.add(key)
        log.warning("WB sent an unknown %s value %r; keeping it", field, value)


def _none_list(v: Any) -> Any:
    return [] if v is None else v


def _none_zero(v: Any) -> Any:
    return 0 if v is None else v


def _decimal(v: Any) -> Decimal:
    if v is None or v == "":
        return Decimal(0)
    if isinstance(v, Decimal):
        return v
    return Decimal(str(v))


def _day(v: Any) -> Any:
    if isinstance(v, str):
        return v[:10]
    return v


def _str(v: Any) -> Any:
    return "" if v is None else v


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


Int0 = Annotated[int, BeforeValidator(_none_zero)]
Money = Annotated[Decimal, BeforeValidator(_decimal)]
Spend = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0)]
# 100,000 rubles: ten times WB's highest CPM bid; a current bid above it is a broken reply, not a bid
MAX_PLAUSIBLE_BID = 10_000_000
Bid = Annotated[int, BeforeValidator(_none_zero), Field(ge=0, le=MAX_PLAUSIBLE_BID)]
Day = Annotated[date, BeforeValidator(_day)]
Str = Annotated[str, BeforeValidator(_str)]


def NullList(t: Any) -> Any:
    return Annotated[list[t], BeforeValidator(_none_list)]


# ---------------------------------------------------------------- /adv/v1/promotion/count
class CountAdvert(Wire):
    advertId: int
    changeTime: datetime | None = None


class CountGroup(Wire):
    type: int
    status: int
    count: int = 0
    advert_list: NullList(CountAdvert) = Field(default_factory=list)


class CountResponse(Wire):
    adverts: NullList(CountGroup) = Field(default_factory=list)
    all: int = 0

    def to_domain(self) -> list[CampaignRef]:
        out = []
        for g in self.adverts:
            note_unknown("campaign status", g.status, KNOWN_STATUSES)
            note_unknown("campaign type", g.type, KNOWN_TYPES)
            for a in g.advert_list:
                out.append(CampaignRef(advert_id=a.advertId, type=g.type, status=g.status, changed_at=a.changeTime))
        return out


# ---------------------------------------------------------------- /api/advert/v2/adverts
class BidsKopecks(Wire):
    search: Bid = 0
    recommendations: Bid = 0


class Subject(Wire):
    id: int | None = None
    name: Str = ""


class NmSetting(Wire):
    nm_id: int
    bids_kopecks: BidsKopecks | None = None
    subject: Subject | None = None


class Placements(Wire):
    search: bool = False
    recommendations: bool = False


class AdvertSettings(Wire):
    name: Str = ""
    payment_type: Str = ""
    placements: Placements | None = None


class Timestamps(Wire):
    created: datetime | None = None
    updated: datetime | None = None
    started: datetime | None = None
    deleted: datetime | None = None


class AdvertV2(Wire):
    id: int
    bid_type: Str = ""
    currency: Str = ""
    status: int
    settings: AdvertSettings = Field(default_factory=AdvertSettings)
    nm_settings: NullList(NmSetting) = Field(default_factory=list)
    timestamps: Timestamps | None = None

    def to_domain(self, campaign_type: int = 9) -> Campaign:
        note_unknown("bid_type", self.bid_type, KNOWN_BID_TYPES)
        note_unknown("payment_type", self.settings.payment_type, KNOWN_PAYMENT_TYPES)
        note_unknown("campaign status", self.status, KNOWN_STATUSES)
        pl = self.settings.placements or Placements()
        placements = frozenset(name for name, on in (("search", pl.search), ("recommendations", pl.recommendations)) if on)
        items = []
        for nm in self.nm_settings:
            b = nm.bids_kopecks or BidsKopecks()
            items.append(
                Item(
                    nm_id=nm.nm_id,
                    bids={"search": b.search, "recommendations": b.recommendations},
                    subject=(nm.subject.name if nm.subject else ""),
                )
            )
        ts = self.timestamps
        return Campaign(
            advert_id=self.id,
            name=self.settings.name,
            type=campaign_type,
            status=self.status,
            bid_type=self.bid_type,
            payment_type=self.settings.payment_type,
            currency=self.currency,
            placements=placements,
            items=tuple(items),
            changed_at=ts.updated if ts else None,
        )


class AdvertsResponse(Wire):
    adverts: NullList(AdvertV2) = Field(default_factory=list)


# ---------------------------------------------------------------- /adv/v3/fullstats
# A fullstats reply carries every campaign x day x app x item: thousands of these per call, so its fields
# use pydantic's own (Rust) validation, no Python callbacks; None is read as 0 in to_domain.
NativeSpend = Annotated[Decimal, Field(ge=0)]


class NmStat(Wire):
    nmId: int
    views: int | None = 0
    clicks: int | None = 0
    atbs: int | None = 0
    orders: int | None = 0
    sum: NativeSpend | None = Decimal(0)
    sum_price: NativeSpend | None = Decimal(0)


class AppStat(Wire):
    appType: int | None = None
    nms: list[NmStat] | None = None


class DayStat(Wire):
    date: Day
    apps: NullList(AppStat) = Field(default_factory=list)


class BoosterStat(Wire):
    date: Day
    nm: int
    avg_position: float | None = None


class FullStatsItem(Wire):
    advertId: int
    currency: Str = ""
    days: NullList(DayStat) = Field(default_factory=list)
    boosterStats: NullList(BoosterStat) = Field(default_factory=list)

    def to_domain(self) -> list[DailyStat]:
        acc: dict[tuple[date, int], list] = defaultdict(lambda: [0, 0, 0, 0, Decimal(0), Decimal(0)])
        for d in self.days:
            for app in d.apps:
                for nm in app.nms or ():
                    a = acc[(d.date, nm.nmId)]
                    a[0] += nm.views or 0
                    a[1] += nm.clicks or 0
                    a[2] += nm.atbs or 0
                    a[3] += nm.orders or 0
                    if nm.sum:
                        a[4] += nm.sum
                    if nm.sum_price:
                        a[5] += nm.sum_price
        positions = {(b.date, b.nm): b.avg_position for b in self.boosterStats}
        keys = sorted(set(acc) | set(positions))
        out = []
        for day, nm_id in keys:
            v = acc.get((day, nm_id)) or [0, 0, 0, 0, Decimal(0), Decimal(0)]
            out.append(
                DailyStat(
                    advert_id=self.advertId,
                    nm_id=nm_id,
                    day=day,
                    views=v[0],
                    clicks=v[1],
                    atbs=v[2],
                    orders=v[3],
                    spend=v[4],
                    revenue=v[5],
                    avg_position=positions.get((day, nm_id)),
                )
            )
        return out


class FullStatsResponse(Wire):
    items: NullList(FullStatsItem) = Field(default_factory=list)

    @classmethod
    def parse(cls, data: Any) -> FullStatsResponse:
        return cls.model_validate({"items": data})

    @classmethod
    def parse_json(cls, body: bytes) -> FullStatsResponse:
        """The reply body straight from bytes (pydantic's JSON parser: no intermediate Python objects)."""
        items = _FULLSTATS_ITEMS.validate_json(body) if body.strip() else None
        return cls.model_construct(items=items or [])


_FULLSTATS_ITEMS = TypeAdapter(list[FullStatsItem] | None)


# ---------------------------------------------------------------- /api/advert/v1/bids (PATCH)
class NmBidOut(Wire):
    nm_id: int
    bid_kopecks: int
    placement: Str = ""


class AdvertBidsOut(Wire):
    advert_id: int
    nm_bids: NullList(NmBidOut) = Field(default_factory=list)


class BidsPatchResponse(Wire):
    bids: NullList(AdvertBidsOut) = Field(default_factory=list)
    currency: Str = ""


# ---------------------------------------------------------------- /api/advert/v1/bids/min
MIN_BID_PLACEMENT_TO_WIRE = {"search": "search", "recommendations": "recommendation", "combined": "combined"}
MIN_BID_PLACEMENT_FROM_WIRE = {"search": "search", "recommendation": "recommendations", "combined": "combined"}


class MinBidValue(Wire):
    type: Str = ""
    value: int
    currency: Str = ""


class MinBidNm(Wire):
    nm_id: int
    bids: NullList(MinBidValue) = Field(default_factory=list)


class MinBidsResponse(Wire):
    bids: NullList(MinBidNm) = Field(default_factory=list)

    def to_domain(self) -> dict[tuple[int, str], int]:
        out: dict[tuple[int, str], int] = {}
        for nm in self.bids:
            for b in nm.bids:
                note_unknown("bids/min type", b.type, frozenset(MIN_BID_PLACEMENT_FROM_WIRE))
                out[(nm.nm_id, MIN_BID_PLACEMENT_FROM_WIRE.get(b.type, b.type))] = b.value
        return out


# ---------------------------------------------------------------- /api/advert/v0/bids/recommendations
class BidKopecks(Wire):
    bidKopecks: Int0 = 0
    bidKopecksMin: int | None = None


class RecBase(Wire):
    competitiveBid: BidKopecks | None = None
    leadersBid: BidKopecks | None = None
    top2: BidKopecks | None = None


class RecNormQuery(Wire):
    normQuery: Str = ""
    reachMax: BidKopecks | None = None
    reachMedium: BidKopecks | None = None
    reachMin: BidKopecks | None = None


class RecLevel(Wire):
    range1To2: BidKopecks | None = None
    range3To10: BidKopecks | None = None
    range11To34: BidKopecks | None = None


class RecommendationsResponse(Wire):
    advertId: int | None = None
    nmId: int | None = None
    paymentType: str | None = None
    base: RecBase | None = None
    normQueries: NullList(RecNormQuery) = Field(default_factory=list)
    levels: NullList(RecLevel) = Field(default_factory=list)

    def to_domain(self, advert_id: int, nm_id: int, fetched_at: datetime | None) -> Recommendation:
        def kop(b: BidKopecks | None) -> int | None:
            return b.bidKopecks if b is not None and b.bidKopecks else None

        payment = self.paymentType or ("cpc" if self.levels and not self.base else "cpm")
        note_unknown("payment_type", payment, KNOWN_PAYMENT_TYPES)
        bands: list[PositionBand] = []
        for lvl in self.levels:
            for first, last, b in ((1, 2, lvl.range1To2), (3, 10, lvl.range3To10), (11, 34, lvl.range11To34)):
                if b is not None:
                    bands.append(PositionBand(first=first, last=last, bid=b.bidKopecks))
        base = self.base or RecBase()
        return Recommendation(
            advert_id=self.advertId or advert_id,
            nm_id=self.nmId or nm_id,
            payment_type=payment,
            competitive_bid=kop(base.competitiveBid),
            leaders_bid=kop(base.leadersBid),
            top_bid=kop(base.top2),
            clusters=tuple(
                ReachBand(
                    norm_query=q.normQuery,
                    max_bid=(q.reachMax.bidKopecks if q.reachMax else 0),
                    medium_bid=(q.reachMedium.bidKopecks if q.reachMedium else 0),
                    min_bid=(q.reachMin.bidKopecks if q.reachMin else 0),
                )
                for q in self.normQueries
            ),
            bands=tuple(bands),
            fetched_at=fetched_at,
        )


# ---------------------------------------------------------------- /api/advert/v1/config
class ConfigResponse(Wire):
    currency: Str = ""
    currencyCode: int | None = None
    cpmStep: int
    cpcStep: int
    minTopUp: int | None = None
    minDailyLimit: int | None = None

    def to_domain(self) -> WBConfig:
        return WBConfig(
            currency=self.currency,
            currency_code=self.currencyCode,
            cpm_step=self.cpmStep,
            cpc_step=self.cpcStep,
            min_top_up=self.minTopUp,
            min_daily_limit=self.minDailyLimit,
        )


# ---------------------------------------------------------------- normquery
class NQStat(Wire):
    norm_query: Str = ""
    views: int | None = None
    clicks: Int0 = 0
    atbs: Int0 = 0
    orders: Int0 = 0
    avg_pos: float | None = None
    spend: Money = Decimal(0)
    currency: str | None = None


class NQItemStats(Wire):
    advert_id: int
    nm_id: int
    stats: NullList(NQStat) = Field(default_factory=list)


class NQStatsResponse(Wire):
    stats: NullList(NQItemStats) = Field(default_factory=list)

    def to_domain(self, begin: date, end: date) -> list[ClusterStat]:
        return [
            ClusterStat(
                advert_id=it.advert_id,
                nm_id=it.nm_id,
                norm_query=s.norm_query,
                period_from=begin,
                period_to=end,
                views=s.views,
                clicks=s.clicks,
                orders=s.orders,
                spend=s.spend,
                avg_pos=s.avg_pos,
            )
            for it in self.stats
            for s in it.stats
        ]


class NQBid(Wire):
    advert_id: int
    nm_id: int
    norm_query: Str = ""
    bid: int | None = None  # base units (legacy); trust bid_kopecks
    bid_kopecks: int | None = None
    currency: str | None = None


class NQGetBidsResponse(Wire):
    bids: NullList(NQBid) = Field(default_factory=list)

    def to_domain(self) -> list[ClusterBid]:
        out = []
        for b in self.bids:
            kop = b.bid_kopecks if b.bid_kopecks is not None else (b.bid or 0) * 100
            out.append(ClusterBid(b.advert_id, b.nm_id, b.norm_query, kop, b.currency))
        return out


class NQSetOk(Wire):
    advertId: int
    nmId: int
    normQuery: Str = ""
    currency: str | None = None


class NQSetFailed(Wire):
    advertId: int
    nmId: int
    normQuery: Str = ""
    reason: Str = ""


class NQSetBidsResponse(Wire):
    success: NullList(NQSetOk) = Field(default_factory=list)
    failed: NullList(NQSetFailed) = Field(default_factory=list)


# ---------------------------------------------------------------- error bodies
class ErrorBody(Wire):
    """Any of WB's error shapes: response400 / FullStatsError / problem+json / {"error": ...}."""

    detail: str | None = None
    title: str | None = None
    error: str | None = None
    message: str | None = None
    errors: list[dict[str, Any]] | None = None

    def text(self) -> tuple[str, str | None]:
        """(detail, field) for BadRequest."""
        field = None
        parts = []
        for e in self.errors or []:
            if isinstance(e, dict):
                if e.get("detail"):
                    parts.append(str(e["detail"]))
                if field is None and e.get("field"):
                    field = str(e["field"])
        detail = self.detail or self.error or self.message or ("; ".join(parts) if parts else None) or self.title
        if detail and parts and self.detail:
            detail = f"{detail}: {'; '.join(parts)}"
        return (detail or ""), field
