"""The WB Promotion API client: typed endpoints over one request function, :meth:`WBClient._request`.

``_request`` is the only place that touches HTTP: it sets the ``Authorization`` header, waits on the
shared :class:`~bidder.wb.pacing.Pacer` for the (seller, method group) bucket, applies the timeout, reads
the rate-limit headers, retries what may be retried and maps everything else into ``bidder.errors``.

Retries (:mod:`bidder.wb.retry`): an idempotent read is retried on 5xx, timeouts, connection errors and
2xx bodies that are not JSON (truncated, HTML from a proxy), up to 3 times with exponential back-off and
jitter on the clock, then raises TemporaryError; JSON that breaks the schema is SchemaDrift. A 429 blocks the bucket for ``X-Ratelimit-Retry`` seconds and is
retried after that (within the same attempt budget), then raises RateLimited. 4xx are never retried.
A write (``write=True``) is never retried after it may have reached WB (timeout, dropped connection,
5xx): it raises :class:`AmbiguousWrite` and the writer re-reads the state before trying again.
"""

from __future__ import annotations

import json as jsonlib
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import aiohttp
from pydantic import ValidationError

from bidder.clock import Clock
from bidder.domain import Campaign, CampaignRef, ClusterStat, DailyStat, Recommendation
from bidder.errors import (
    AuthFailed,
    BadRequest,
    EndpointGone,
    RateLimited,
    SchemaDrift,
    TemporaryError,
    TokenError,
)
from bidder.redact import redact, sample
from bidder.wb import batching, bodies, plausible, retry, schemas
from bidder.wb.models import (
    BidChange,
    ClusterBid,
    ClusterBidChange,
    DailyLimit,
    DailyLimitSet,
    WBConfig,
)
from bidder.wb.pacing import Pacer, group_for
from bidder.wb.schemas.limits import DailyLimitsPutResponse, DailyLimitsResponse
from bidder.wb.tokens import WBToken

log = logging.getLogger(__name__)
M = TypeVar("M")

CONFIG_TTL = 6 * 3600.0  # seconds of clock time; WB's config (currency, steps) changes rarely
RETRY_BACKOFF = retry.BACKOFF  # first back-off for transient faults, then x2, with jitter
MAX_DETAIL = 300
MAX_DAILY_LIMIT_IDS = 100  # REFERENCE-2026-10 §3.11


class AmbiguousWrite(TemporaryError):
    """A write may or may not have been applied (timeout after sending, dropped connection, 5xx).
    The writer re-reads the current state before any second attempt."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        if not self.body.strip():
            return None
        return jsonlib.loads(self.body)


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    # "nan", "inf", negative or absurd counters are not hints: the documented limits apply (defect 8)
    return number if math.isfinite(number) and 0 <= number < 1e9 else None


def error_detail(body: bytes) -> tuple[str, str | None]:
    """WB's error detail and field from a JSON body (any shape) or a text body."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return "", None
    try:
        data = jsonlib.loads(text)
    except ValueError:
        return redact(text)[:MAX_DETAIL], None
    if isinstance(data, dict):
        try:
            detail, field = schemas.ErrorBody.model_validate(data).text()
        except ValidationError:
            detail, field = text, None
        return redact(detail or text)[:MAX_DETAIL], field
    if isinstance(data, str):
        return redact(data)[:MAX_DETAIL], None
    return redact(text)[:MAX_DETAIL], None


class WBClient:
    """One seller's Promotion API client holding exactly one token (the read token, or for the live
    writer, the write token), already decoded and checked (:mod:`bidder.wb.tokens`). Does not own the
    session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        token: WBToken,
        pacer: Pacer,
        clock: Clock,
        *,
        seller_id: str | None = None,
        timeout: float = 30.0,
        attempts: int = retry.DEFAULT.attempts,
    ) -> None:
        self._token = token
        self.token_info = token.info
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.pacer = pacer
        self.clock = clock
        self.seller_id = seller_id or token.seller_id
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.role = token.role
        self.metrics: Counter[tuple[str, str]] = Counter()  # (method key, status | timeout | conn) -> count
        self.rate_limited = 0
        self._drift_reported: set[str] = set()
        self._config: tuple[float, WBConfig] | None = None

    def __repr__(self) -> str:
        return f"WBClient(base_url={self.base_url!r}, seller_id={self.seller_id!r}, role={self.role!r})"

    @property
    def token(self) -> WBToken:
        return self._token

    @property
    def can_write(self) -> bool:
        return self._token.can_write

    # ------------------------------------------------------------------ the request path
    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        write: bool = False,
        group: str | None = None,
        accept: Callable[[Response], Any] | None = None,
    ) -> Any:
        """One request with the retries it may take. With ``accept`` (reads), the 2xx reply is handed to it
        inside the retry loop and its result returned: a body that is not JSON (:class:`retry.NotJSON`)
        is retried like a 5xx."""
        method = method.upper()
        group = group or group_for(method, path)
        key = f"{method} {path}"
        if write and not self.can_write:
            raise TokenError(f"{key}: this client's token is read-only; writes need the write token")
        headers = {"Authorization": self._token.secret.get_secret_value()}
        real_timeout = aiohttp.ClientTimeout(total=self.timeout / max(self.clock.speed, 1e-9))
        backoff = RETRY_BACKOFF
        last: str = ""
        for attempt in range(self.attempts):
            ticket = await self.pacer.acquire(self.seller_id, group)
            try:
                async with self.session.request(
                    method, self.base_url + path, params=params, json=json, headers=headers, timeout=real_timeout
                ) as resp:
                    body = await resp.read()
                    status = resp.status
                    rh = resp.headers
            except (TimeoutError, aiohttp.ServerTimeoutError):
                self.metrics[(key, "timeout")] += 1
                last = "timed out"
                log.info("%s timed out (attempt %d of %d)", key, attempt + 1, self.attempts)
                if write:
                    raise AmbiguousWrite("timed out; the request may have been applied", method=key) from None
            except aiohttp.ClientConnectorError as exc:  # not connected: nothing was sent
                self.metrics[(key, "conn")] += 1
                last = f"connection failed ({type(exc).__name__})"
                log.info("%s: %s (attempt %d of %d)", key, last, attempt + 1, self.attempts)
            except aiohttp.ClientError as exc:
                self.metrics[(key, "conn")] += 1
                last = f"connection error ({type(exc).__name__})"
                log.info("%s: %s (attempt %d of %d)", key, last, attempt + 1, self.attempts)
                if write:
                    raise AmbiguousWrite(f"{last}; the request may have been applied", method=key) from None
            else:
                self.metrics[(key, str(status))] += 1
                if status == 429:
                    self.pacer.observe(ticket)
                    self.rate_limited += 1
                    hint = _header_float(rh, "X-Ratelimit-Retry")
                    wait = self.pacer.on_429(self.seller_id, group, hint, attempt)
                    detail, _ = error_detail(body)
                    log.warning("%s: 429 (%s); bucket %s blocked for %.1fs", key, detail, group, wait)
                    if attempt + 1 >= self.attempts:
                        raise RateLimited(detail or "too many requests", retry_after=wait, method=key)
                    continue  # the next acquire waits until the bucket's next-allowed time
                remaining = _header_float(rh, "X-Ratelimit-Remaining")
                self.pacer.observe(ticket, int(remaining) if remaining is not None else None)
                log.debug("%s -> %d", key, status)
                if status < 300:
                    if accept is None:
                        return Response(status, rh, body)
                    try:
                        return accept(Response(status, rh, body))
                    except retry.NotJSON:
                        if write:
                            raise
                        self.metrics[(key, "not_json")] += 1
                        last = f"HTTP {status}: {retry.not_json_reason(body)}"
                        log.info("%s: %s (attempt %d of %d)", key, last, attempt + 1, self.attempts)
                elif status >= 500:
                    detail, _ = error_detail(body)
                    last = f"HTTP {status} {detail}".strip()
                    log.info("%s: %s (attempt %d of %d)", key, last, attempt + 1, self.attempts)
                    if write:
                        raise AmbiguousWrite(
                            f"server error {detail}".strip() + "; the request may have been applied",
                            method=key,
                            status=status,
                        )
                else:
                    raise self._client_error(key, status, body)
            finally:
                self.pacer.observe(ticket)  # no longer in flight, whatever happened (no-op if done)
            if attempt + 1 < self.attempts:
                await self.clock.sleep(self.pacer.jitter(backoff))
                backoff *= 2
        raise TemporaryError(f"gave up after {self.attempts} attempts: {last}", method=key)

    def _client_error(self, key: str, status: int, body: bytes) -> Exception:
        detail, field = error_detail(body)
        if status in (401, 403):
            return AuthFailed(detail or "unauthorized", method=key, status=status)
        if status == 404:
            return EndpointGone(detail or "path not found", method=key, status=status)
        return BadRequest(detail or f"HTTP {status}", field=field, method=key, status=status)

    def _parse(self, key: str, resp: Response, parse: Callable[[Any], M], *, from_bytes: bool = False) -> M:
        """``parse`` gets the decoded JSON, or with ``from_bytes`` the body itself (for pydantic's JSON
        parser)."""
        try:
            data = resp.body if from_bytes else resp.json()
        except ValueError:  # json.JSONDecodeError: transport garbage, not drift
            raise retry.NotJSON(retry.not_json_reason(resp.body), method=key, status=resp.status) from None
        try:
            return parse(data)
        except ValidationError as exc:
            if from_bytes and any(e.get("type") == "json_invalid" for e in exc.errors()):
                raise retry.NotJSON(retry.not_json_reason(resp.body), method=key, status=resp.status) from None
            raise self._drift(key, resp, exc) from None
        except (ValueError, TypeError, AttributeError) as exc:
            raise self._drift(key, resp, exc) from None

    def _drift(self, key: str, resp: Response, exc: Exception) -> SchemaDrift:
        raw = sample(resp.body)
        why = type(exc).__name__
        if isinstance(exc, ValidationError) and exc.errors():
            first = exc.errors()[0]  # where and what, never the value itself
            why += f": {'.'.join(map(str, first.get('loc', ())))}: {first.get('msg', '')}"
        if key not in self._drift_reported:
            self._drift_reported.add(key)
            log.error("%s: reply does not parse (%s); sample: %s", key, why, raw)
        return SchemaDrift(f"reply does not parse ({why})", sample=raw, method=key)

    # ------------------------------------------------------------------ reads
    async def _read(self, method: str, path: str, parse: Callable[[Any], M], *,
                    params: Mapping[str, Any] | None = None, json: Any = None) -> M:
        """An idempotent read, parsed inside the retry loop (non-JSON bodies are retried)."""
        key = f"{method} {path}"
        return await self._request(method, path, params=params, json=json,
                                   accept=lambda resp: self._parse(key, resp, parse))

    async def count(self) -> list[CampaignRef]:
        path = "/adv/v1/promotion/count"
        return await self._read("GET", path, lambda d: schemas.CountResponse.model_validate(d or {}).to_domain())

    async def campaigns(self, ids: Iterable[int], *, types: Mapping[int, int] | None = None) -> list[Campaign]:
        """Campaign details with current bids, 50 ids per call. ``types`` (advert_id -> type, from
        count()) fills Campaign.type; the v2 reply has no type field (default 9)."""
        out: list[Campaign] = []
        for chunk in batching.chunked(batching.unique(int(i) for i in ids), batching.MAX_ADVERT_IDS):
            out.extend(await self._adverts({"ids": ",".join(map(str, chunk))}, types or {}))
        return out

    async def campaigns_by_status(self, statuses: Iterable[int]) -> list[Campaign]:
        """Campaign details by status, no ids (``statuses`` is a documented filter of the same call): the
        way to learn the ids of campaigns that can spend when the campaign list does not answer."""
        return await self._adverts({"statuses": ",".join(str(int(s)) for s in statuses)}, {})

    async def _adverts(self, params: Mapping[str, str], types: Mapping[int, int]) -> list[Campaign]:
        path = "/api/advert/v2/adverts"
        parsed = await self._read("GET", path, lambda d: schemas.AdvertsResponse.model_validate(d or {}),
                                  params=params)
        await self._check_plausible(f"GET {path}", parsed.adverts)
        return [a.to_domain(types.get(a.id, 9)) for a in parsed.adverts]

    async def _check_plausible(self, key: str, adverts: Sequence[schemas.AdvertV2]) -> None:
        """A current bid above ``plausible.max_plausible_bid`` in the account's currency is a broken
        reply (SchemaDrift). The config is read only when a bid exceeds the RUB ceiling."""
        top = max((max(nm.bids_kopecks.search, nm.bids_kopecks.recommendations)
                   for a in adverts for nm in a.nm_settings if nm.bids_kopecks is not None), default=0)
        if top <= plausible.RUB_CEILING:
            return
        limit = plausible.max_plausible_bid(await self.config())
        if top > limit:
            raise SchemaDrift(f"a current bid of {top} minor units is above {limit} ({plausible.PLAUSIBLE_STEPS} "
                              f"bid steps): the reply is broken", method=key)

    async def fullstats(self, ids: Iterable[int], begin: date, end: date) -> list[DailyStat]:
        """Daily per-item statistics: ids in 50s x date range in 31-day chunks."""
        path = "/adv/v3/fullstats"
        out: list[DailyStat] = []
        id_chunks = batching.chunked(batching.unique(int(i) for i in ids), batching.MAX_FULLSTATS_IDS)
        for b, e in batching.date_chunks(begin, end, batching.MAX_FULLSTATS_DAYS):
            for chunk in id_chunks:
                params = {"ids": ",".join(map(str, chunk)), "beginDate": b.isoformat(), "endDate": e.isoformat()}
                # a 7-day reply for 50 campaigns is ~1 MB of body (and several MB of models while parsed):
                # parsed inside the retry loop and not kept alive across the next paced call
                out.extend(await self._request(
                    "GET", path, params=params,
                    accept=lambda resp, b=b, e=e: self._fullstats_rows(resp, b, e, f"GET {path}"),
                ))
        return out

    def _fullstats_rows(self, resp: Response, begin: date, end: date, key: str) -> list[DailyStat]:
        out: list[DailyStat] = []
        for item in self._parse(key, resp, schemas.FullStatsResponse.parse_json, from_bytes=True).items:
            rows = item.to_domain()
            outside = sorted({r.day for r in rows if not begin <= r.day <= end})
            if outside:  # e.g. a date in the future: the reply is broken, store none of it
                raise SchemaDrift(f"statistics for {outside[0].isoformat()}, outside the requested "
                                  f"{begin.isoformat()}..{end.isoformat()}", method=key)
            out.extend(rows)
        return out

    async def min_bids(
        self, advert_id: int, nm_ids: Sequence[int], payment_type: str, placements: Sequence[str]
    ) -> dict[tuple[int, str], int]:
        """Minimum bids (minor units) keyed by (nm_id, placement) with plural ``recommendations``."""
        path = "/api/advert/v1/bids/min"
        if not placements:  # nothing to ask (e.g. a campaign whose bid type is unknown): WB would answer 400
            return {}
        wire_pl = []
        for p in placements:
            if p not in schemas.MIN_BID_PLACEMENT_TO_WIRE:
                raise BadRequest(f"campaign {advert_id}: unknown placement {p!r}; not asked",
                                 method=f"POST {path}", status=None)
            wire_pl.append(schemas.MIN_BID_PLACEMENT_TO_WIRE[p])
        if payment_type not in ("cpm", "cpc"):  # mapped (BadRequest, this campaign), never a bare ValueError
            raise BadRequest(f"campaign {advert_id}: unknown payment_type {payment_type!r}; not asked",
                             method=f"POST {path}", status=None)
        out: dict[tuple[int, str], int] = {}
        for chunk in batching.chunked(batching.unique(int(n) for n in nm_ids), batching.MAX_MIN_BID_NMS):
            body = {
                "advert_id": int(advert_id),
                "nm_ids": chunk,
                "payment_type": payment_type,
                "placement_types": list(dict.fromkeys(wire_pl)),
            }
            out.update(await self._read(
                "POST", path, lambda d: schemas.MinBidsResponse.model_validate(d or {}).to_domain(), json=body))
        return out

    async def recommendations(self, advert_id: int, nm_id: int) -> Recommendation:
        path = "/api/advert/v0/bids/recommendations"
        return await self._read(
            "GET", path,
            lambda d: schemas.RecommendationsResponse.model_validate(d or {}).to_domain(
                advert_id, nm_id, self.clock.now()),
            params={"nmId": int(nm_id), "advertId": int(advert_id)},
        )

    async def config(self, *, refresh: bool = False) -> WBConfig:
        """Currency and bid steps, cached for CONFIG_TTL seconds of clock time."""
        now = self.clock.monotonic()
        if not refresh and self._config is not None and now - self._config[0] < CONFIG_TTL:
            return self._config[1]
        path = "/api/advert/v1/config"
        cfg = await self._read("GET", path, lambda d: schemas.ConfigResponse.model_validate(d).to_domain())
        self._config = (now, cfg)
        return cfg

    async def cluster_stats(self, pairs: Iterable[tuple[int, int]], begin: date, end: date) -> list[ClusterStat]:
        """Search-cluster stats over a period (POST /adv/v0/normquery/stats): 100 (advert, nm) pairs per
        call, periods of at most 30 days (one ClusterStat per cluster per chunk)."""
        path = "/adv/v0/normquery/stats"
        out: list[ClusterStat] = []
        chunks = batching.chunked(batching.unique((int(a), int(n)) for a, n in pairs), batching.MAX_NORMQUERY_PAIRS)
        for b, e in batching.date_chunks(begin, end, batching.MAX_NORMQUERY_DAYS):
            for chunk in chunks:
                body = {"from": b.isoformat(), "to": e.isoformat(), "items": [{"advert_id": a, "nm_id": n} for a, n in chunk]}
                out.extend(await self._read(
                    "POST", path,
                    lambda d, b=b, e=e: schemas.NQStatsResponse.model_validate(d or {}).to_domain(b, e),
                    json=body,
                ))
        return out

    async def cluster_bids(self, pairs: Iterable[tuple[int, int]]) -> list[ClusterBid]:
        """Current search-cluster bids in minor units (``bid_kopecks``), 100 pairs per call."""
        path = "/adv/v0/normquery/get-bids"
        out: list[ClusterBid] = []
        for chunk in batching.chunked(batching.unique((int(a), int(n)) for a, n in pairs), batching.MAX_NORMQUERY_PAIRS):
            body = {"items": [{"advert_id": a, "nm_id": n} for a, n in chunk]}
            out.extend(await self._read(
                "POST", path, lambda d: schemas.NQGetBidsResponse.model_validate(d or {}).to_domain(), json=body))
        return out

    async def daily_limits(self, ids: Iterable[int]) -> list[DailyLimit]:
        """WB's daily limits of CPC campaigns, 100 ids per call (REFERENCE-2026-10 §3.11)."""
        path = "/api/advert/v0/daily-limits"
        out: list[DailyLimit] = []
        for chunk in batching.chunked(batching.unique(int(a) for a in ids), MAX_DAILY_LIMIT_IDS):
            resp = await self._request("GET", path, params={"advertIds": ",".join(map(str, chunk))})
            out.extend(self._parse(f"GET {path}", resp, lambda d: [
                a.to_domain() for a in DailyLimitsResponse.model_validate(d or {}).adverts]))
        return out

    async def set_daily_limits(self, ids: Sequence[int], *, enabled: bool, daily_limit: int | None = None,
                               carry_over: bool = False) -> list[DailyLimitSet]:
        """PUT the same daily limit (minor units) on up to 100 campaigns; a write (write token)."""
        if not 1 <= len(ids) <= MAX_DAILY_LIMIT_IDS:
            raise ValueError(f"1..{MAX_DAILY_LIMIT_IDS} campaigns per daily-limits call, got {len(ids)}")
        body: dict[str, Any] = {"advertIds": [int(a) for a in ids], "enabled": enabled}
        if enabled:
            if daily_limit is None:
                raise ValueError("daily_limit is required when enabled")
            body |= {"dailyLimit": int(daily_limit), "carryOverEnabled": bool(carry_over)}
        path = "/api/advert/v0/daily-limits"
        resp = await self._request("PUT", path, json=body, write=True)
        return self._parse(f"PUT {path}", resp, lambda d: [
            a.to_domain() for a in DailyLimitsPutResponse.model_validate(d or {}).adverts])

    # ------------------------------------------------------------------ raw writes (used by LiveWriter)
    async def patch_bids(self, batch: Sequence[tuple[int, Sequence[BidChange]]]) -> schemas.BidsPatchResponse:
        """One PATCH /api/advert/v1/bids call: at most 50 campaigns x 50 items, each campaign once."""
        path = "/api/advert/v1/bids"
        resp = await self._request("PATCH", path, json=bodies.bids_body(batch), write=True)
        return self._parse_write(f"PATCH {path}", resp, lambda d: schemas.BidsPatchResponse.model_validate(d or {}))

    async def post_cluster_bids(self, changes: Sequence[ClusterBidChange]) -> schemas.NQSetBidsResponse:
        path = "/api/advert/v1/normquery/bids"
        resp = await self._request("POST", path, json=bodies.cluster_bids_body(changes), write=True)
        return self._parse_write(f"POST {path}", resp, lambda d: schemas.NQSetBidsResponse.model_validate(d or {}))

    def _parse_write(self, key: str, resp: Response, parse: Callable[[Any], M]) -> M:
        """A write's 2xx reply that is not JSON: WB (or a proxy) answered after the request arrived, so it
        may have been applied; ambiguous, never "failed" (the writer re-reads before any retry)."""
        try:
            return self._parse(key, resp, parse)
        except retry.NotJSON as exc:
            raise AmbiguousWrite(f"{exc.args[0] if exc.args else 'not JSON'}; the request may have been applied",
                                 method=key, status=resp.status) from None

    async def change_status(self, action: str, advert_id: int) -> bool:
        """GET /adv/v0/{start|pause|stop}. True: changed; False: WB said 'status not changed' (422)."""
        if action not in ("start", "pause", "stop"):
            raise ValueError(f"unknown status action {action!r}")
        path = f"/adv/v0/{action}"
        try:
            await self._request("GET", path, params=bodies.status_params(advert_id), write=True)
        except BadRequest as exc:
            low = exc.detail.lower()
            if exc.status == 422 and ("not changed" in low or "не изменен" in low):
                return False
            raise
        return True
