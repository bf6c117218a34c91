"""Bids: the PATCH reply, minimum and recommended bids, search-cluster bids (read and write)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from bidder.domain import (
    PositionBand,
    ReachBand,
    Recommendation,
)
from bidder.wb.models import ClusterBid
from bidder.wb.schemas.base import (
    KNOWN_PAYMENT_TYPES,
    Int0,
    NullList,
    Str,
    Wire,
    note_unknown,
)


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


# ---------------------------------------------------------------- normquery bids
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
