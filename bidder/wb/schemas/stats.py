"""Statistics: fullstats (campaign x day x app x item) and search-cluster statistics."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from bidder.domain import (
    ClusterStat,
    DailyStat,
)
from bidder.wb.schemas.base import (
    Day,
    Int0,
    Money,
    NullList,
    Str,
    Wire,
)

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
    # money left out (or null) is missing, not zero (issue 14, defect 4): the row becomes no evidence
    sum: NativeSpend | None = None
    sum_price: NativeSpend | None = None


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
        missing: set[tuple[tuple[date, int], int]] = set()  # ((day, nm), 4 spend | 5 revenue)
        for d in self.days:
            for app in d.apps:
                for nm in app.nms or ():
                    a = acc[(d.date, nm.nmId)]
                    a[0] += nm.views or 0
                    a[1] += nm.clicks or 0
                    a[2] += nm.atbs or 0
                    a[3] += nm.orders or 0
                    if nm.sum is None:
                        missing.add(((d.date, nm.nmId), 4))
                    else:
                        a[4] += nm.sum
                    if nm.sum_price is None:
                        missing.add(((d.date, nm.nmId), 5))
                    else:
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
                    spend=None if ((day, nm_id), 4) in missing else v[4],
                    revenue=None if ((day, nm_id), 5) in missing else v[5],
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
