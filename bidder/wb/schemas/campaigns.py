"""Campaign lists and details (with current bids) and the promotion config."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from bidder.domain import (
    Campaign,
    CampaignRef,
    Item,
)
from bidder.wb.models import WBConfig
from bidder.wb.schemas.base import (
    KNOWN_BID_TYPES,
    KNOWN_PAYMENT_TYPES,
    KNOWN_STATUSES,
    KNOWN_TYPES,
    Bid,
    NullList,
    Str,
    Wire,
    note_unknown,
)


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
    status: int | None = None  # missing: the campaign is read, marked not writable (not the account failed)
    settings: AdvertSettings = Field(default_factory=AdvertSettings)
    nm_settings: NullList(NmSetting) = Field(default_factory=list)
    timestamps: Timestamps | None = None

    def to_domain(self, campaign_type: int = 9) -> Campaign:
        note_unknown("bid_type", self.bid_type, KNOWN_BID_TYPES)
        note_unknown("payment_type", self.settings.payment_type, KNOWN_PAYMENT_TYPES)
        note_unknown("campaign status", self.status, KNOWN_STATUSES)
        unknown = {name for name, value, known in (
            ("bid_type", self.bid_type, KNOWN_BID_TYPES),
            ("payment_type", self.settings.payment_type, KNOWN_PAYMENT_TYPES),
            ("status", self.status, KNOWN_STATUSES),
        ) if value not in known}
        if self.settings.placements is None:
            unknown.add("placements")
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
            status=self.status if self.status is not None else 0,
            bid_type=self.bid_type,
            payment_type=self.settings.payment_type,
            currency=self.currency,
            placements=placements,
            items=tuple(items),
            changed_at=ts.updated if ts else None,
            unknown_fields=frozenset(unknown),
        )


class AdvertsResponse(Wire):
    adverts: NullList(AdvertV2) = Field(default_factory=list)


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
