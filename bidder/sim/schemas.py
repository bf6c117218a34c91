"""Wire models of the simulated Promotion API, written from REFERENCE.md §3 and promotion.yaml.

Requests are strict (``extra="forbid"``, no type coercion: a string where WB wants an integer is a
400, as in WB's Go validator). Responses are built through these models so their shape cannot drift.
Money: bids are integer minor units; statistics money is float base units; budgets/balance int base units.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


def parse_date(value: str) -> date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError("date must be YYYY-MM-DD")
    return date.fromisoformat(value)


DateStr = Annotated[StrictStr, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]


# ------------------------------------------------------------------------------------------ requests
class NmBid(Strict):
    nm_id: StrictInt
    bid_kopecks: StrictInt
    placement: Literal["search", "recommendations", "combined"]


class AdvertBids(Strict):
    advert_id: StrictInt
    nm_bids: Annotated[list[NmBid], Field(min_length=1, max_length=50)]


class BidsPatchRequest(Strict):
    bids: Annotated[list[AdvertBids], Field(min_length=1, max_length=50)]


class MinBidsRequest(Strict):
    advert_id: StrictInt
    nm_ids: Annotated[list[StrictInt], Field(min_length=1, max_length=100)]
    payment_type: Literal["cpm", "cpc"]
    placement_types: Annotated[list[Literal["combined", "search", "recommendation"]], Field(min_length=1)]


class _Period(Strict):
    from_: DateStr = Field(alias="from")
    to: DateStr

    @field_validator("from_", "to")
    @classmethod
    def _valid_date(cls, v: str) -> str:
        parse_date(v)
        return v


class PairSnake(Strict):
    advert_id: StrictInt
    nm_id: StrictInt


class PairCamel(Strict):
    advertId: StrictInt
    nmId: StrictInt


class NormqueryStatsV0Request(_Period):
    items: Annotated[list[PairSnake], Field(min_length=1, max_length=100)]


class NormqueryStatsV1Request(_Period):
    items: Annotated[list[PairCamel], Field(min_length=1, max_length=100)]


class GetBidsRequest(Strict):
    items: Annotated[list[PairSnake], Field(min_length=1, max_length=100)]


class ClusterBidItem(Strict):
    advertId: StrictInt
    nmId: StrictInt
    normQuery: StrictStr
    bidMinorUnits: StrictInt


class ClusterBidsRequest(Strict):
    bids: Annotated[list[ClusterBidItem], Field(min_length=1, max_length=100)]


class BudgetRequest(Strict):
    advertIds: Annotated[list[StrictInt], Field(min_length=1, max_length=50)]


class FaultsRequest(Strict):
    seller: StrictStr | None = None
    settings: dict = {}
    rules: list[dict] = []  # targeted faults (bidder.sim.faults.FaultRule fields)
    clear_rules: bool = False


class RevokeRequest(Strict):
    seller: StrictStr
    token: Literal["read", "write", "both"] = "both"


# ------------------------------------------------------------------------------------------ responses
class AdvertRef(Out):
    advertId: int
    changeTime: str


class CountGroup(Out):
    type: int
    status: int
    count: int
    advert_list: list[AdvertRef]


class CountResponse(Out):
    adverts: list[CountGroup] | None
    all: int


class BidsKopecks(Out):
    search: int
    recommendations: int


class Subject(Out):
    id: int
    name: str


class NmSettings(Out):
    nm_id: int
    bids_kopecks: BidsKopecks
    subject: Subject


class Placements(Out):
    search: bool
    recommendations: bool


class AdvertSettings(Out):
    name: str
    payment_type: str
    placements: Placements


class Timestamps(Out):
    created: str
    updated: str
    started: str | None
    deleted: str


class Restrictions(Out):
    can_change_nms: bool


class Advert(Out):
    id: int
    bid_type: str
    currency: str
    status: int
    settings: AdvertSettings
    nm_settings: list[NmSettings] | None
    restrictions: Restrictions
    timestamps: Timestamps


class AdvertsResponse(Out):
    adverts: list[Advert]


class BidsPatchResponse(Out):
    bids: list[dict]
    currency: str


class MinBidValue(Out):
    type: str
    value: int
    currency: str


class MinBidsItem(Out):
    nm_id: int
    bids: list[MinBidValue]


class MinBidsResponse(Out):
    bids: list[MinBidsItem]


class BidKopecks(Out):
    bidKopecks: int


class ReachBand(Out):
    bidKopecks: int
    bidKopecksMin: int


class RecBase(Out):
    competitiveBid: BidKopecks
    leadersBid: BidKopecks
    top2: BidKopecks


class RecNormQuery(Out):
    normQuery: str
    reachMax: ReachBand
    reachMedium: ReachBand
    reachMin: ReachBand


class RecommendationsCPM(Out):
    advertId: int
    nmId: int
    paymentType: Literal["cpm"] = "cpm"
    base: RecBase
    normQueries: list[RecNormQuery] | None


class CPCLevel(Out):
    range1To2: BidKopecks
    range3To10: BidKopecks
    range11To34: BidKopecks


class RecommendationsCPC(Out):
    advertId: int
    nmId: int
    paymentType: Literal["cpc"] = "cpc"
    levels: list[CPCLevel]


class ConfigResponse(Out):
    currency: str
    currencyCode: int
    cpmStep: int
    cpcStep: int
    minTopUp: int
    minDailyLimit: int


class Metrics(Out):
    views: int
    clicks: int
    ctr: float
    cpc: float
    cr: float
    atbs: int
    orders: int
    shks: int
    canceled: int
    sum: float
    sum_price: float


class NmMetrics(Metrics):
    nmId: int
    name: str


class AppStats(Metrics):
    appType: Literal[1, 32, 64]
    nms: list[NmMetrics]


class DayStats(Metrics):
    date: str
    apps: list[AppStats]


class BoosterStat(Out):
    date: str
    nm: int
    avg_position: int


class FullStatsItem(Metrics):
    advertId: int
    currency: str
    boosterStats: list[BoosterStat] | None = None
    days: list[DayStats]


class NormStatV0(Out):
    norm_query: str
    views: int | None
    clicks: int
    atbs: int
    orders: int
    ctr: float | None
    cpc: float
    cpm: float | None
    avg_pos: float
    shks: int
    spend: float
    currency: str


class NormItemV0(Out):
    advert_id: int
    nm_id: int
    stats: list[NormStatV0]


class NormStatsV0Response(Out):
    stats: list[NormItemV0]


class NormStatV1(Out):
    normQuery: str
    views: int | None
    clicks: int
    atbs: int
    orders: int
    ctr: float | None
    cpc: float
    cpm: float | None
    avgPos: float
    shks: int
    spend: float


class NormDailyV1(Out):
    date: str
    stat: NormStatV1


class NormItemV1(Out):
    advertId: int
    nmId: int
    dailyStats: list[NormDailyV1]


class NormStatsV1Response(Out):
    items: list[NormItemV1]


class ClusterBidOut(Out):
    advert_id: int
    nm_id: int
    norm_query: str
    bid: int
    bid_kopecks: int
    currency: str


class GetBidsResponse(Out):
    bids: list[ClusterBidOut]


class ClusterBidSuccess(Out):
    advertId: int
    nmId: int
    normQuery: str
    currency: str


class ClusterBidFailed(Out):
    advertId: int
    nmId: int
    normQuery: str
    reason: str


class ClusterBidsResponse(Out):
    success: list[ClusterBidSuccess]
    failed: list[ClusterBidFailed]


class BudgetItem(Out):
    advertId: int
    currency: str
    total: int


class BudgetResponse(Out):
    adverts: list[BudgetItem] | None


class Cashback(Out):
    sum: int
    percent: int
    expiration_date: str


class BalanceResponse(Out):
    balance: int
    net: int
    bonus: int
    currency: str
    cashbacks: list[Cashback]


class UpdRow(Out):
    updNum: int
    updTime: str | None
    updSum: int
    advertId: int
    campName: str
    advertType: int
    paymentType: str
    advertStatus: int




# ------------------------------------------------------------------ daily limits (REFERENCE-2026-10 §3.11)
class DailyLimitsPut(Strict):
    """``V0PutDailyLimitsRequest``: the same values on every listed campaign."""

    advertIds: Annotated[list[Annotated[StrictInt, Field(ge=1)]], Field(min_length=1, max_length=100)]
    enabled: StrictBool
    dailyLimit: Annotated[StrictInt, Field(ge=1000)] | None = None
    carryOverEnabled: StrictBool | None = None


class DailyLimitAdvert(Out):
    advertId: int
    enabled: bool
    dailyLimit: int
    spentToday: int
    currency: str
    carryOverEnabled: bool
    valid: bool
    requiredLimit: int


class DailyLimitsResponse(Out):
    adverts: list[DailyLimitAdvert]


class DailyLimitSet(Out):
    advertId: int
    belowMinLimit: bool
    requiredLimit: int


class DailyLimitsPutResponse(Out):
    adverts: list[DailyLimitSet]


__all__ = [name for name in globals() if name[0].isupper()] + ["parse_date", "StrictBool"]
