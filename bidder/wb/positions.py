"""Position sources on WB's side (see README "Where positions come from" and ../shared/wb-api/POSITIONS.md).

* :func:`clusters_today` turns ``POST /adv/v0/normquery/stats`` rows for ``from = to = today`` (read with
  :meth:`bidder.wb.client.WBClient.cluster_stats`) into :class:`PositionObservation` rows: WB's running
  average of the day so far per campaign, item and cluster, synced every 3 minutes.
* :class:`PublicSearch` reads the buyer-facing storefront search (unofficial, optional, off by default):
  one query and region, through a configurable HTTP proxy, paced conservatively (one call per
  ``min_interval`` seconds, a long pause after a refusal), parsed strictly: an answer whose shape is not
  the known one raises :class:`~bidder.errors.SchemaDrift` (the caller alerts once and falls back to
  the official data); an answer with 0 or 1 product is a failed answer, never "not found".

No token is ever sent to the public search.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from bidder.clock import Clock
from bidder.domain import ClusterStat, PositionObservation, PositionSource
from bidder.errors import RateLimited, SchemaDrift, TemporaryError
from bidder.redact import sample

WB_SYNC = timedelta(minutes=3)  # WB: promotion data syncs with its database every 3 minutes
PUBLIC_PATH = "/exactmatch/ru/common/v18/search"
PUBLIC_METHOD = f"GET {PUBLIC_PATH}"
PAGE_SIZE = 100


def sync_floor(at: datetime) -> datetime:
    """The last WB 3-minute sync at or before ``at``: the moment today's cluster statistics describe."""
    step = int(WB_SYNC.total_seconds())
    return datetime.fromtimestamp(int(at.timestamp()) // step * step, UTC)


def clusters_today(stats: Iterable[ClusterStat], observed_at: datetime,
                   bids: Mapping[tuple[int, int, str], int] | None = None) -> list[PositionObservation]:
    """Observations from today's cluster statistics (rows without ``avg_pos`` are skipped). ``bids``:
    (advert, nm, cluster) -> the bid in force when read, when known."""
    describes = sync_floor(observed_at)
    out = []
    for c in stats:
        if c.avg_pos is None or c.avg_pos <= 0:
            continue
        out.append(PositionObservation(
            source=PositionSource.CLUSTERS_TODAY.value, advert_id=c.advert_id, nm_id=c.nm_id, query=c.norm_query,
            position=float(c.avg_pos), observed_at=observed_at, describes_at=describes,
            bid=(bids or {}).get((c.advert_id, c.nm_id, c.norm_query)), sample=c.views,
            spend=None if c.spend is None else float(c.spend), clicks=c.clicks,
        ))
    return out


@dataclass(frozen=True, slots=True)
class SearchHit:
    """Where one card stands in a public-search answer: ``place`` is the 1-based observed place (ads
    included); ``ad`` when the card carried the ad marker."""

    nm_id: int
    place: int
    ad: bool
    cpm: int | None = None  # rubles as the storefront shows them


def parse_search(body: Any, page: int, offset: int) -> list[SearchHit]:
    """The cards of one public-search page, strictly: raises SchemaDrift on any unknown shape."""
    if not isinstance(body, dict):
        raise SchemaDrift("public search: the answer is not an object", sample=sample(body), method=PUBLIC_METHOD)
    products = body.get("products")
    if products is None and isinstance(body.get("data"), dict) and "products" in body["data"]:
        products = body["data"]["products"]
    if not isinstance(products, list):
        raise SchemaDrift("public search: no products list at `products` or `data.products`",
                          sample=sample(body), method=PUBLIC_METHOD)
    hits: list[SearchHit] = []
    for i, p in enumerate(products):
        if not isinstance(p, dict) or not isinstance(p.get("id"), int) or isinstance(p.get("id"), bool):
            raise SchemaDrift("public search: a product without an integer `id`", sample=sample(p),
                              method=PUBLIC_METHOD)
        log = p.get("log")
        cpm = None
        if log is not None:
            if not isinstance(log, dict) or not isinstance(log.get("promoPosition"), int) \
                    or not isinstance(log.get("cpm"), int | float):
                raise SchemaDrift("public search: an ad marker `log` without integer `promoPosition` and `cpm`",
                                  sample=sample(p), method=PUBLIC_METHOD)
            cpm = int(log["cpm"])
        hits.append(SearchHit(nm_id=p["id"], place=offset + i + 1, ad=log is not None, cpm=cpm))
    return hits


class PublicSearch:
    """``PublicSearch(session, base_url, clock, proxy=None, min_interval=10, pages=1)``; ``await
    place(query, dest, nm_ids)`` -> {nm_id: observed place} for the cards found in the first ``pages``
    pages (a card not found is absent: "not in the top N", never a number). Raises RateLimited after a
    refusal (429/498/403: the next call waits ``refusal_pause``), TemporaryError on a failed answer,
    SchemaDrift on a changed shape."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, clock: Clock, *, proxy: str | None = None,
                 min_interval: float = 10.0, pages: int = 1, refusal_pause: float = 300.0,
                 timeout: float = 20.0) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.proxy = proxy
        self.min_interval = min_interval
        self.pages = max(1, pages)
        self.refusal_pause = refusal_pause
        self.timeout = timeout
        self._next = 0.0  # clock.monotonic() before which no call goes out
        self.calls = 0

    def ready(self) -> bool:
        """True when a call may go out now (no pacing wait, no refusal pause)."""
        return self.clock.monotonic() >= self._next

    async def _wait(self) -> None:
        wait = self._next - self.clock.monotonic()
        if wait > 0:
            await self.clock.sleep(wait)
        self._next = self.clock.monotonic() + self.min_interval

    async def _page(self, query: str, dest: str, page: int) -> Any:
        await self._wait()
        params = {"query": query, "dest": dest, "page": str(page), "resultset": "catalog", "sort": "popular",
                  "appType": "1", "curr": "rub", "lang": "ru", "spp": "30"}
        self.calls += 1
        try:
            async with self.session.get(self.base_url + PUBLIC_PATH, params=params, proxy=self.proxy,
                                        timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TemporaryError(f"public search: {type(exc).__name__}", method=PUBLIC_METHOD) from None
        if status in (403, 429, 498):
            self._next = self.clock.monotonic() + self.refusal_pause
            raise RateLimited("public search refused the call", retry_after=self.refusal_pause,
                              method=PUBLIC_METHOD, status=status)
        if status != 200:
            raise TemporaryError("public search failed", method=PUBLIC_METHOD, status=status)
        try:
            return jsonlib.loads(raw)
        except ValueError:
            raise TemporaryError("public search: the answer is not JSON (cut short?)",
                                 method=PUBLIC_METHOD, status=status) from None

    async def place(self, query: str, dest: str, nm_ids: Iterable[int]) -> dict[int, int]:
        wanted = set(nm_ids)
        found: dict[int, int] = {}
        offset = 0
        for page in range(1, self.pages + 1):
            hits = parse_search(await self._page(query, dest, page), page, offset)
            if len(hits) <= 1:
                raise TemporaryError("public search: a failed answer (0 or 1 product)", method=PUBLIC_METHOD)
            for h in hits:
                if h.nm_id in wanted and h.nm_id not in found:
                    found[h.nm_id] = h.place
            offset += len(hits)
            if wanted <= set(found):
                break
        return found


def public_observations(advert_id: int, query: str, dest: str, places: Mapping[int, int], observed_at: datetime,
                        bids: Mapping[int, int] | None = None) -> list[PositionObservation]:
    return [
        PositionObservation(source=PositionSource.PUBLIC_SEARCH.value, advert_id=advert_id, nm_id=nm, query=query,
                            position=float(place), observed_at=observed_at, describes_at=observed_at,
                            region=dest, bid=(bids or {}).get(nm))
        for nm, place in sorted(places.items())
    ]
