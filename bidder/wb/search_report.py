"""WB's Analytics search report: the item's average place per search text and day (POSITIONS.md §2.1).

``POST /api/v2/search-report/product/orders`` on the Analytics host, with a token of the Analytics
category (``tokens.analytics_token``), 3 calls a minute (pacer group ``search_report``). Body
``{period: {start, end}, nmId, searchTexts}`` (at most 7 days, 1..30 texts); answer
``{data: {total: [{dt, avgPosition, orders}], items: [{text, frequency, dateItems: [{dt, avgPosition,
orders}]}]}}``, parsed strictly (an unknown shape is :class:`~bidder.errors.SchemaDrift`). WB refreshes the
report every 2 hours; ``avgPosition`` is an integer average of the day so far, ads and organic together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from bidder.clock import Clock
from bidder.domain import PositionObservation, PositionSource
from bidder.wb.client import WBClient
from bidder.wb.pacing import Pacer
from bidder.wb.tokens import WBToken

PATH = "/api/v2/search-report/product/orders"
MAX_TEXTS = 30  # the schema's bound (the standard tariff); 100 only on Jam Advanced/Premium
MAX_DAYS = 7
REFRESH = timedelta(hours=2)  # WB: "refreshed every 2 hours" since 2026-10-12


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DayMetrics(_Strict):
    dt: date
    avgPosition: int = Field(ge=0)
    orders: int = Field(ge=0)


class TextItem(_Strict):
    text: str
    frequency: int = Field(ge=0)
    dateItems: list[DayMetrics]


class OrdersData(_Strict):
    total: list[DayMetrics]
    items: list[TextItem]


class OrdersResponse(_Strict):
    data: OrdersData


@dataclass(frozen=True, slots=True)
class TextDay:
    """One search text on one day: the item's average place (0: WB did not place it), orders, and how
    often buyers searched the text over the asked period."""

    nm_id: int
    text: str
    day: date
    avg_position: int
    orders: int
    frequency: int


def request_body(nm_id: int, texts: Sequence[str], start: date, end: date) -> dict:
    if not 1 <= len(texts) <= MAX_TEXTS:
        raise ValueError(f"1..{MAX_TEXTS} search texts per call")
    if not start <= end or (end - start).days >= MAX_DAYS:
        raise ValueError(f"a period of 1..{MAX_DAYS} days")
    return {"period": {"start": start.isoformat(), "end": end.isoformat()}, "nmId": int(nm_id),
            "searchTexts": list(texts)}


class SearchReport:
    """The search-report reader of one account: its own host and Analytics token, the shared pacer."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: WBToken, pacer: Pacer,
                 clock: Clock) -> None:
        self.client = WBClient(session, base_url, token, pacer, clock)

    async def orders(self, nm_id: int, texts: Sequence[str], start: date, end: date) -> list[TextDay]:
        out: list[TextDay] = []
        for i in range(0, len(texts), MAX_TEXTS):
            body = request_body(nm_id, texts[i:i + MAX_TEXTS], start, end)
            resp = await self.client._read("POST", PATH, OrdersResponse.model_validate, json=body)
            out.extend(TextDay(nm_id, it.text, d.dt, d.avgPosition, d.orders, it.frequency)
                       for it in resp.data.items for d in it.dateItems)
        return out


def search_report_observations(advert_id: int, rows: Sequence[TextDay], day: date, observed_at: datetime,
                               bids: Mapping[int, int] | None = None) -> list[PositionObservation]:
    """Today's rows as observations (a text WB did not place, ``avgPosition`` 0, says nothing). The value
    is the day's average so far as of WB's last refresh: ``describes_at`` is when it was read (WB does not
    say when it refreshed; the strategy allows for ``REFRESH``); ``sample`` is the text's frequency."""
    return [
        PositionObservation(
            source=PositionSource.SEARCH_REPORT.value, advert_id=advert_id, nm_id=r.nm_id, query=r.text,
            position=float(r.avg_position), observed_at=observed_at, describes_at=observed_at,
            bid=(bids or {}).get(r.nm_id), sample=r.frequency,
        )
        for r in rows if r.day == day and r.avg_position > 0
    ]
