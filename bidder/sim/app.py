"""The simulated WB Promotion API: aiohttp routes over :class:`bidder.sim.market.Market`.

Every request goes through one pipeline (:meth:`Simulator.handle`): authorization (JWT claims decoded
without a signature check) -> rate limit (token bucket per seller, token type and method, in the
injected clock's time) -> injected faults -> strict validation and the handler -> recording.

Status codes and bodies follow REFERENCE.md §3/§5: ``response400`` JSON for the ``/api/advert`` family
and normquery, ``FullStatsError`` for fullstats, ``{"error": ...}`` for start/pause/stop, text/plain for
the 422 "Campaign status not changed", recommendations, budget, balance and upd 400s, and
``application/problem+json`` for 401/403/429. Removed and unknown paths answer 404 like WB.

Choices where the facts leave room (documented for the client author):
* A bid must be a multiple of the step from ``/api/advert/v1/config`` (``cpmStep`` 100, ``cpcStep`` 10
  kopecks); otherwise 400 ``wrong bid value: X; step: S`` (``ScenarioSpec.strict_step``).
  Above the maximum: 400 ``wrong bid value: X; min: Y max:Z`` (the old validator's format).
* A bids PATCH is all-or-nothing: the first invalid element gives a 400 and nothing is applied.
* stop is allowed from 9 and 11 only (RU spec); pause only from 9; start from 4 and 11 (with budget).
* fullstats leaves out campaigns of other sellers or in other statuses; if none remain: 400 "invalid ids".
* A 4xx costs one request from the bucket (the "x10" rule is not stated for Promotion).
* Order: 401 (token) -> 429 (bucket) -> 403 (read-only / Base) -> 5xx faults -> 400/422/200. 401s carry no
  ``X-Ratelimit-Remaining`` (the seller is unknown); every other non-429 reply does.
"""

from __future__ import annotations

import asyncio
import json
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from bidder.clock import Clock, ScaledClock
from bidder.sim import schemas as S
from bidder.sim.faults import FaultPlan, Faults, drop_one_field, make_absurd
from bidder.sim.limits import RateLimiter
from bidder.sim.market import (
    BID_STATUSES,
    MSK,
    STATS_STATUSES,
    CampaignState,
    Market,
    MarketError,
    ScenarioSpec,
    msk_day,
)
from bidder.sim.scenarios import build_scenario
from bidder.sim.tokens import Claims, MalformedToken, issue, read_claims

ORIGIN = "camp-api-public-cache"
AUTH_ORIGIN = "s2s-api-auth-catalog"
DELETED_FAR = "2100-01-01T00:00:00+03:00"
REMOVED_PATHS = [
    ("POST", "/adv/v1/promotion/adverts"), ("GET", "/adv/v0/auction/adverts"), ("GET", "/adv/v0/config"),
    ("POST", "/adv/v0/bids/min"), ("PATCH", "/adv/v0/bids"), ("PATCH", "/adv/v0/auction/bids"),
    ("POST", "/adv/v2/fullstats"), ("GET", "/adv/v2/auto/stat-words"), ("GET", "/adv/v1/stat/words"),
    ("GET", "/adv/v0/stats/keywords"), ("GET", "/adv/v2/adverts"), ("GET", "/adv/v1/cpm/config"),
    ("GET", "/adv/v0/adverts"), ("POST", "/adv/v0/cpm"), ("GET", "/adv/v1/search/set-plus"),
    ("GET", "/adv/v1/auto/getnmtoadd"),
]


class ApiError(Exception):
    def __init__(self, status: int, body: Any, content_type: str = "application/json", reason: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.body = body
        self.content_type = content_type
        self.reason = reason or (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False))


def _rid() -> str:
    return uuid.uuid4().hex


def bad_request(detail: str, title: str = "invalid payload", status: int = 400) -> ApiError:
    body = {"detail": detail, "origin": ORIGIN, "request_id": _rid(), "status": status, "title": title}
    return ApiError(status, body, reason=detail)


def error_json(message: str, status: int = 400) -> ApiError:
    return ApiError(status, {"error": message}, reason=message)


def error_text(message: str, status: int = 400) -> ApiError:
    return ApiError(status, message, "text/plain", reason=message)


def fullstats_error(detail: str, field_name: str | None = None) -> ApiError:
    body: dict[str, Any] = {"origin": ORIGIN, "request_id": _rid(), "status": 400, "title": "invalid payload",
                            "type": "Bad Request"}
    if field_name:
        body["errors"] = [{"detail": detail, "field": field_name}]
    else:
        body["detail"] = detail
    return ApiError(400, body, reason=detail)


def problem(status: int, title: str, detail: str, now: datetime) -> ApiError:
    texts = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests"}
    body = {
        "title": title, "detail": detail, "code": f"sim-{uuid.uuid4().hex[:12]}", "requestId": _rid(),
        "origin": AUTH_ORIGIN, "status": status, "statusText": texts.get(status, ""),
        "timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return ApiError(status, body, "application/problem+json", reason=detail)


def _pydantic_detail(exc: ValidationError) -> str:
    err = exc.errors()[0]
    path = ""
    for part in err["loc"]:
        path += f"[{part}]" if isinstance(part, int) else f".{'from' if part == 'from_' else part}"
    return f"{path or '.'}: {err['msg']}"


def _iso(t: datetime) -> str:
    return t.astimezone(MSK).isoformat()


@dataclass
class SimSeller:
    name: str
    seller_id: str
    read_token: str
    write_token: str
    base_token: str  # a Base-type (acc=1) Promotion token, for testing 403 "base token is not allowed"
    token_ids: dict[str, str] = field(default_factory=dict)  # "read"/"write"/"base" -> token id
    calls: int = 0


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Callable[[Ctx], Awaitable[Any]]
    write: bool = False
    personal_only: bool = False
    kind: str = "response400"  # how validation errors are shaped

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Ctx:
    sim: Simulator
    request: web.Request
    seller: SimSeller
    token: Claims
    now: datetime
    body: Any = None


class Simulator:
    """The simulator's state: market, sellers and tokens, limits, faults and what the server saw."""

    def __init__(self, scenario: str | ScenarioSpec = "demo", *, seed: int = 1, clock: Clock | None = None) -> None:
        spec = scenario if isinstance(scenario, ScenarioSpec) else build_scenario(scenario, seed)
        self.spec = spec
        self.seed = seed
        self.clock: Clock = clock or ScaledClock(spec.start, 1.0)
        self.market = Market(spec, seed, start=self.clock.now())
        self.sellers: dict[str, SimSeller] = {}
        self._by_sid: dict[str, SimSeller] = {}
        for s in spec.sellers:
            ids = {kind: str(uuid.uuid5(uuid.UUID(s.seller_id), f"{kind}:{seed}")) for kind in ("read", "write", "base")}
            seller = SimSeller(
                name=s.name, seller_id=s.seller_id,
                read_token=issue(s.seller_id, read_only=True, token_id=ids["read"]),
                write_token=issue(s.seller_id, read_only=False, token_id=ids["write"]),
                base_token=issue(s.seller_id, acc=1, token_id=ids["base"]),
                token_ids=ids,
            )
            self.sellers[s.name] = seller
            self._by_sid[s.seller_id] = seller
        self.limiter = RateLimiter()
        self.faults = Faults(seed, spec.faults)
        self.revoked: set[str] = set()
        self.requests: dict[str, Counter[str]] = defaultdict(Counter)
        self.rejected: list[dict[str, Any]] = []
        self.total_429 = 0
        self.writes: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.max_rejected = 10_000

    # ------------------------------------------------------------------ helpers
    def now(self) -> datetime:
        return self.clock.now().astimezone(UTC)

    def revoke(self, seller: str, which: str = "both") -> None:
        s = self.sellers[seller]
        kinds = ("read", "write", "base") if which == "both" else (which,)
        for k in kinds:
            self.revoked.add(s.token_ids[k])

    def seller_campaigns(self, seller: SimSeller, now: datetime) -> list[CampaignState]:
        return [self.market.advance_campaign(a, now) for a in self.market.advert_ids(seller.name)]

    def owned(self, seller: SimSeller, advert_id: int) -> bool:
        return self.market.owner(advert_id) == seller.name

    def report(self) -> dict[str, Any]:
        from bidder.sim.report import build_report

        return build_report(self)

    def _record(self, key: str, status: int, seller: str | None, reason: str | None) -> None:
        self.requests[key][str(status)] += 1
        if status == 429:
            self.total_429 += 1
        if status >= 400 and reason is not None and len(self.rejected) < self.max_rejected:
            self.rejected.append({"time": self.now().isoformat(), "seller": seller, "method": key,
                                  "status": status, "reason": reason})

    # ------------------------------------------------------------------ pipeline
    def _authorize(self, ep: Endpoint, request: web.Request, now: datetime) -> tuple[SimSeller, Claims]:
        raw = request.headers.get("Authorization", "")
        if not raw.strip():
            raise problem(401, "unauthorized", "empty Authorization header", now)
        try:
            info = read_claims(raw)
        except MalformedToken:
            raise problem(401, "unauthorized", "token problem; token is malformed: could not parse the JWT",
                          now) from None
        if info.expired(now):
            raise problem(401, "unauthorized", "token problem; token is expired", now)
        if not info.promotion:
            raise problem(401, "unauthorized", "token problem; token scope not allowed for this API", now)
        if info.token_id in self.revoked:
            raise problem(401, "unauthorized", "token problem; token has been withdrawn", now)
        seller = self._by_sid.get(info.seller_id)
        if seller is None:
            raise problem(401, "unauthorized", "token problem; unknown seller", now)
        return seller, info

    @staticmethod
    def _permit(ep: Endpoint, info: Claims, now: datetime) -> None:
        if ep.personal_only and info.token_type == "Base":
            raise problem(403, "request forbidden", "base token is not allowed", now)
        if ep.write and info.read_only:
            raise problem(403, "request forbidden", "read-only token scope is not allowed for this resource", now)

    async def handle(self, ep: Endpoint, request: web.Request) -> web.StreamResponse:
        now = self.now()
        seller_name: str | None = None
        headers: dict[str, str] = {}
        try:
            seller, info = self._authorize(ep, request, now)
            seller_name = seller.name
            seller.calls += 1
            settings = self.faults.settings(seller.name)
            if settings.revoke_after is not None and seller.calls > settings.revoke_after:
                self.revoke(seller.name)
                raise problem(401, "unauthorized", "token problem; token has been withdrawn", now)
            decision = self.limiter.check(seller.seller_id, info.token_type, ep.key, self.clock.monotonic())
            if decision is not None:
                headers.update(decision.headers())
                if not decision.allowed:
                    raise problem(429, "too many requests",
                                  f"limited by {uuid.uuid5(uuid.UUID(seller.seller_id), ep.key)}", now)
            self._permit(ep, info, now)
            plan = self.faults.plan(seller.name)
            if plan.rate_limited:
                self.injected["429"] += 1
                headers.update({"X-Ratelimit-Retry": f"{settings.rate_limit_retry:g}", "X-Ratelimit-Remaining": "0",
                                "X-Ratelimit-Reset": f"{settings.rate_limit_retry:g}"})
                raise problem(429, "too many requests", "injected fault: rate limited", now)
            if plan.slow:
                self.injected["slow"] += 1
                await asyncio.sleep(plan.slow)
            if plan.error_status:
                self.injected[str(plan.error_status)] += 1
                self._record(ep.key, plan.error_status, seller_name, "injected fault")
                return web.Response(status=plan.error_status, text="Internal Server Error",
                                    content_type="text/plain", headers=headers)
            ctx = Ctx(self, request, seller, info, now)
            if request.method in ("POST", "PATCH", "PUT") and request.can_read_body:
                raw = await request.read()
                try:
                    ctx.body = json.loads(raw) if raw else None
                except ValueError:
                    raise self._invalid_body(ep, "can not deserialize request body") from None
            result = await ep.handler(ctx)
        except ApiError as exc:
            self._record(ep.key, exc.status, seller_name, exc.reason)
            if exc.content_type == "text/plain":
                return web.Response(status=exc.status, text=exc.body, content_type="text/plain", headers=headers)
            return web.Response(status=exc.status, text=json.dumps(exc.body, ensure_ascii=False),
                                content_type=exc.content_type, headers=headers)
        self._record(ep.key, 200, seller_name, None)
        if ep.write:
            self.writes[ep.key] += 1
        if plan.lost_reply:  # handled (and applied); the reply comes too late for the client's timeout
            self.injected["lost_reply"] += 1
            await asyncio.sleep(plan.lost_reply)
        if result is None:
            return web.Response(status=200, text="", content_type="text/plain", headers=headers)
        if isinstance(result, S.Out):
            result = result.model_dump(exclude_none=False)
        return self._json(result, plan, headers)

    def _json(self, data: Any, plan: FaultPlan, headers: dict[str, str]) -> web.Response:
        if plan.missing_field and drop_one_field(data):
            self.injected["missing_field"] += 1
        if plan.absurd and make_absurd(data):
            self.injected["absurd"] += 1
        text = json.dumps(data, ensure_ascii=False)
        if plan.malformed:
            self.injected["malformed"] += 1
            text = text[: max(1, len(text) // 2)]
        return web.Response(status=200, text=text, content_type="application/json", headers=headers)

    @staticmethod
    def _invalid_body(ep: Endpoint, detail: str) -> ApiError:
        if ep.kind == "error":
            return error_json(f"Invalid Params: {detail}")
        if ep.kind == "text":
            return error_text(detail)
        return bad_request(detail, title="invalid request body")


# ====================================================================================== validation
def _query(ctx: Ctx, allowed: set[str], kind: str = "response400") -> dict[str, str]:
    q = ctx.request.query
    out: dict[str, str] = {}
    for key in q:
        if key not in allowed:
            raise _param_error(kind, f"unknown parameter {key}")
        values = q.getall(key)
        if len(values) > 1:
            raise _param_error(kind, f"parameter {key} is repeated")
        out[key] = values[0]
    return out


def _param_error(kind: str, detail: str, field_name: str | None = None) -> ApiError:
    if kind == "error":
        return error_json(detail)
    if kind == "text":
        return error_text(detail)
    if kind == "fullstats":
        return fullstats_error(detail, field_name)
    return bad_request(detail)


def _int_list(value: str, name: str, kind: str, max_len: int | None = None) -> list[int]:
    try:
        items = [int(x) for x in value.split(",")] if value != "" else []
    except ValueError:
        raise _param_error(kind, f"invalid {name} value") from None
    if any(str(x) != part.strip().lstrip("+") for x, part in zip(items, value.split(","), strict=False)):
        raise _param_error(kind, f"invalid {name} value")
    if max_len is not None and len(items) > max_len:
        raise _param_error(kind, f"too many {name}: max {max_len}")
    return items


def _body(ctx: Ctx, model: type[S.Strict], kind: str = "response400") -> Any:
    if ctx.body is None:
        raise _param_error(kind, "empty request body")
    try:
        return model.model_validate(ctx.body)
    except ValidationError as exc:
        if kind == "response400":
            raise bad_request(_pydantic_detail(exc), title="invalid request body") from None
        raise _param_error(kind, _pydantic_detail(exc)) from None


def _period(begin_s: str, end_s: str, kind: str, max_days: int, msg: str) -> tuple[date, date]:
    try:
        begin, end = S.parse_date(begin_s), S.parse_date(end_s)
    except ValueError:
        raise _param_error(kind, "invalid date format, expected YYYY-MM-DD", "begin and end") from None
    if begin > end:
        raise _param_error(kind, "begin date is after end date", "begin and end")
    if (end - begin).days + 1 > max_days:
        raise _param_error(kind, msg, "begin and end")
    return begin, end


# ====================================================================================== handlers
async def h_count(ctx: Ctx) -> S.CountResponse:
    _query(ctx, set())
    groups: dict[tuple[int, int], list[CampaignState]] = defaultdict(list)
    camps = ctx.sim.seller_campaigns(ctx.seller, ctx.now)
    for st in camps:
        groups[(9, st.status)].append(st)
    adverts = [
        S.CountGroup(type=t, status=s, count=len(lst), advert_list=[
            S.AdvertRef(advertId=st.advert_id, changeTime=_iso(st.changed_at)) for st in lst])
        for (t, s), lst in sorted(groups.items())
    ]
    return S.CountResponse(adverts=adverts or None, all=len(camps))


def _advert(ctx: Ctx, st: CampaignState) -> S.Advert:
    c = st.spec
    unified = c.bid_type == "unified"
    created = st.started_at or st.changed_at
    created = min(created, st.changed_at) - timedelta(hours=3)
    return S.Advert(
        id=c.advert_id, bid_type=c.bid_type, currency=ctx.sim.spec.currency, status=st.status,
        settings=S.AdvertSettings(name=c.name, payment_type=c.payment_type, placements=S.Placements(
            search=unified or c.search, recommendations=unified or c.recommendations)),
        nm_settings=[
            S.NmSettings(nm_id=it.nm_id, bids_kopecks=S.BidsKopecks(**st.bids[it.nm_id]),
                         subject=S.Subject(id=it.subject_id, name=it.subject_name))
            for it in c.items
        ] or None,
        restrictions=S.Restrictions(can_change_nms=st.status in BID_STATUSES),
        timestamps=S.Timestamps(created=_iso(created), updated=_iso(st.changed_at),
                                started=_iso(st.started_at) if st.started_at else None, deleted=DELETED_FAR),
    )


async def h_adverts(ctx: Ctx) -> S.AdvertsResponse:
    q = _query(ctx, {"ids", "statuses", "payment_type"})
    ids = _int_list(q["ids"], "ids", "response400", 50) if "ids" in q else None
    statuses = set(_int_list(q["statuses"], "statuses", "response400")) if "statuses" in q else None
    if statuses is not None and not statuses <= {-1, 4, 7, 8, 9, 11}:
        raise bad_request("invalid statuses value")
    pt = q.get("payment_type")
    if pt is not None and pt not in ("cpm", "cpc"):
        raise bad_request("invalid payment_type value")
    market = ctx.sim.market
    if ids is None:
        states = ctx.sim.seller_campaigns(ctx.seller, ctx.now)
    else:
        states = [market.advance_campaign(a, ctx.now) for a in dict.fromkeys(ids) if ctx.sim.owned(ctx.seller, a)]
    out = [
        _advert(ctx, st) for st in states
        if (statuses is None or st.status in statuses) and (pt is None or st.spec.payment_type == pt)
    ]
    return S.AdvertsResponse(adverts=out)


async def h_bids_patch(ctx: Ctx) -> S.BidsPatchResponse:
    _query(ctx, set())
    req = _body(ctx, S.BidsPatchRequest)
    market = ctx.sim.market
    seen: set[int] = set()
    for i, ab in enumerate(req.bids):
        if ab.advert_id in seen:
            raise bad_request(f"advert {ab.advert_id} is not unique (.bids[{i}])")
        seen.add(ab.advert_id)
        if not ctx.sim.owned(ctx.seller, ab.advert_id):
            raise bad_request(f"advert {ab.advert_id} not found (.bids[{i}])")
        market.advance_campaign(ab.advert_id, ctx.now)
        nms: set[tuple[int, str]] = set()
        for j, nb in enumerate(ab.nm_bids):
            if (nb.nm_id, nb.placement) in nms:
                raise bad_request(f"nm {nb.nm_id} is not unique (.bids[{i}].nm_bids[{j}])")
            nms.add((nb.nm_id, nb.placement))
            err = market.check_bid(ab.advert_id, nb.nm_id, nb.placement, nb.bid_kopecks)
            if err:
                raise bad_request(err)
    for ab in req.bids:
        for nb in ab.nm_bids:
            market.set_bid(ab.advert_id, nb.nm_id, nb.placement, nb.bid_kopecks, ctx.now)
    return S.BidsPatchResponse(bids=[ab.model_dump() for ab in req.bids], currency=ctx.sim.spec.currency)


async def h_bids_min(ctx: Ctx) -> S.MinBidsResponse:
    _query(ctx, set())
    req = _body(ctx, S.MinBidsRequest)
    market = ctx.sim.market
    if not ctx.sim.owned(ctx.seller, req.advert_id):
        raise bad_request(f"advert {req.advert_id} not found")
    st = market.campaign(req.advert_id)
    if req.payment_type != st.spec.payment_type:
        raise bad_request(f"advert {req.advert_id} has payment type {st.spec.payment_type}")
    if any(st.item(nm) is None for nm in req.nm_ids):
        raise bad_request("some nms are not belong to advert")
    cur = ctx.sim.spec.currency
    return S.MinBidsResponse(bids=[
        S.MinBidsItem(nm_id=nm, bids=[
            S.MinBidValue(type=p, value=market.min_bid(req.advert_id, nm, p), currency=cur)
            for p in dict.fromkeys(req.placement_types)
        ]) for nm in dict.fromkeys(req.nm_ids)
    ])


async def h_recommendations(ctx: Ctx) -> S.RecommendationsCPM | S.RecommendationsCPC:
    q = _query(ctx, {"nmId", "advertId"}, "text")
    for name in ("nmId", "advertId"):
        if name not in q:
            raise error_text(f"parameter {name} is required")
        if not q[name].isdigit():
            raise error_text(f"Incorrect value for the `{name}` parameter")
    advert_id, nm_id = int(q["advertId"]), int(q["nmId"])
    if not ctx.sim.owned(ctx.seller, advert_id):
        raise error_text("Некорректный ID РК")
    market = ctx.sim.market
    st = market.advance_campaign(advert_id, ctx.now)
    if st.item(nm_id) is None:
        raise error_text("Incorrect value for the `nmId` parameter")
    rec = market.recommendation(advert_id, nm_id, ctx.now)
    if rec["paymentType"] == "cpc":
        lv = rec["levels"]
        return S.RecommendationsCPC(advertId=advert_id, nmId=nm_id, levels=[S.CPCLevel(
            **{k: S.BidKopecks(bidKopecks=v) for k, v in lv.items()})])
    return S.RecommendationsCPM(
        advertId=advert_id, nmId=nm_id,
        base=S.RecBase(competitiveBid=S.BidKopecks(bidKopecks=rec["competitiveBid"]),
                       leadersBid=S.BidKopecks(bidKopecks=rec["leadersBid"]),
                       top2=S.BidKopecks(bidKopecks=rec["top2"])),
        normQueries=[S.RecNormQuery(normQuery=n["normQuery"], **{
            band: S.ReachBand(bidKopecks=n[band][0], bidKopecksMin=n[band][1])
            for band in ("reachMax", "reachMedium", "reachMin")}) for n in rec["normQueries"]] or None,
    )


async def h_config(ctx: Ctx) -> S.ConfigResponse:
    _query(ctx, set())
    sp = ctx.sim.spec
    return S.ConfigResponse(currency=sp.currency, currencyCode=sp.currency_code, cpmStep=sp.cpm_step,
                            cpcStep=sp.cpc_step, minTopUp=sp.min_top_up, minDailyLimit=sp.min_daily_limit)


def _status_target(ctx: Ctx, action: str) -> tuple[int, CampaignState]:
    q = _query(ctx, {"id"}, "error")
    raw = q.get("id")
    if raw is None or not raw.isdigit() or int(raw) <= 0:
        raise error_json("Invalid Advert: invalid advert")
    advert_id = int(raw)
    if not ctx.sim.owned(ctx.seller, advert_id):
        raise error_json("AdvertChangeStatus: Not Found: advert not found")
    return advert_id, ctx.sim.market.advance_campaign(advert_id, ctx.now)


def _change(ctx: Ctx, advert_id: int, st: CampaignState, target: int, allowed: set[int], action: str) -> None:
    current = st.effective_status
    if current == target:
        raise error_text("Campaign status not changed", 422)
    if current not in allowed:
        raise error_json(f"AdvertChangeStatus: Invalid Status: cannot {action} an advert in status {current}")
    if ctx.sim.market.set_status(advert_id, target, ctx.now, reason=action) is None:
        raise error_text("Campaign status not changed", 422)


async def h_start(ctx: Ctx) -> None:
    advert_id, st = _status_target(ctx, "start")
    if st.effective_status in (4, 11) and st.budget < 100:
        raise error_json("AdvertChangeStatus: Low Budget: not enough budget")
    _change(ctx, advert_id, st, 9, {4, 11}, "start")


async def h_pause(ctx: Ctx) -> None:
    advert_id, st = _status_target(ctx, "pause")
    _change(ctx, advert_id, st, 11, {9}, "pause")


async def h_stop(ctx: Ctx) -> None:
    advert_id, st = _status_target(ctx, "stop")
    _change(ctx, advert_id, st, 7, {9, 11}, "stop")


def _metrics(views: int, clicks: int, atbs: int, orders: int, spend: float, revenue: float) -> dict[str, Any]:
    return {
        "views": views, "clicks": clicks,
        "ctr": round(clicks / views * 100, 2) if views else 0.0,
        "cpc": round(spend / clicks, 2) if clicks else 0.0,
        "cr": round(orders / clicks * 100, 2) if clicks else 0.0,
        "atbs": atbs, "orders": orders, "shks": orders, "canceled": 0,
        "sum": round(spend, 2), "sum_price": round(revenue, 2),
    }


APP_SHARES = ((1, 0.2), (32, 0.45), (64, 0.35))


def _split(v: tuple[int, int, int, int, float, float]) -> list[tuple[int, tuple]]:
    out = []
    rest = list(v)
    for i, (app, share) in enumerate(APP_SHARES):
        if i == len(APP_SHARES) - 1:
            part = tuple(rest)
        else:
            part = tuple(int(x * share) if isinstance(x, int) else round(x * share, 2) for x in v)
            rest = [r - p if isinstance(r, int) else round(r - p, 2) for r, p in zip(rest, part, strict=True)]
        out.append((app, part))
    return out


async def h_fullstats(ctx: Ctx) -> list[dict[str, Any]]:
    q = _query(ctx, {"ids", "beginDate", "endDate"}, "fullstats")
    for name in ("ids", "beginDate", "endDate"):
        if name not in q:
            raise fullstats_error(f"parameter {name} is required", name)
    ids = _int_list(q["ids"], "ids", "fullstats", 50)
    if not ids:
        raise fullstats_error("invalid ids")
    begin, end = _period(q["beginDate"], q["endDate"], "fullstats", 31, "max date range 31 days")
    market = ctx.sim.market
    out = []
    for advert_id in dict.fromkeys(ids):
        if not ctx.sim.owned(ctx.seller, advert_id):
            continue
        st = market.advance_campaign(advert_id, ctx.now)
        if st.status not in STATS_STATUSES:
            continue
        rows = market.daily_stats(advert_id, begin, end, visible=True)
        names = {it.nm_id: it.name for it in st.spec.items}
        days: dict[date, list] = defaultdict(list)
        for r in rows:
            days[r.day].append(r)
        day_out = []
        total = [0, 0, 0, 0, 0.0, 0.0]
        for day in sorted(days):
            drows = days[day]
            apps = []
            for app, _share in APP_SHARES:
                apps.append({"appType": app, "nms": [], "acc": [0, 0, 0, 0, 0.0, 0.0]})
            for r in drows:
                vals = (r.views, r.clicks, r.atbs, r.orders, r.spend, r.revenue)
                for k, (_app, part) in enumerate(_split(vals)):
                    apps[k]["nms"].append({**_metrics(*part), "nmId": r.nm_id, "name": names.get(r.nm_id, "")})
                    apps[k]["acc"] = [a + p for a, p in zip(apps[k]["acc"], part, strict=True)]
            dtot = [sum(r.views for r in drows), sum(r.clicks for r in drows), sum(r.atbs for r in drows),
                    sum(r.orders for r in drows), sum(r.spend for r in drows), sum(r.revenue for r in drows)]
            total = [a + b for a, b in zip(total, dtot, strict=True)]
            day_out.append({
                **_metrics(*dtot), "date": f"{day.isoformat()}T00:00:00Z",
                "apps": [{**_metrics(*a.pop("acc")), **a} for a in apps],
            })
        item: dict[str, Any] = {**_metrics(*total), "advertId": advert_id, "currency": ctx.sim.spec.currency,
                                "days": day_out}
        if st.spec.bid_type == "unified":
            item["boosterStats"] = [
                {"date": r.day.isoformat(), "nm": r.nm_id, "avg_position": r.avg_position}
                for r in rows if r.avg_position is not None
            ]
        out.append(S.FullStatsItem.model_validate(item).model_dump(exclude_none=True))
    if not out:
        raise fullstats_error("invalid ids")
    return out


def _norm_metrics(row: Any, cpc_campaign: bool) -> dict[str, Any]:
    views = None if cpc_campaign else row.views
    return {
        "views": views, "clicks": row.clicks, "atbs": row.atbs, "orders": row.orders,
        "ctr": None if cpc_campaign else (round(row.clicks / row.views * 100, 2) if row.views else 0.0),
        "cpc": round(row.spend / row.clicks, 2) if row.clicks else 0.0,
        "cpm": None if cpc_campaign else (round(row.spend / row.views * 1000, 2) if row.views else 0.0),
        "shks": row.orders, "spend": row.spend,
    }


def _pair_rows(ctx: Ctx, advert_id: int, nm_id: int, begin: date, end: date, daily: bool):
    if not ctx.sim.owned(ctx.seller, advert_id):
        return None, []
    st = ctx.sim.market.advance_campaign(advert_id, ctx.now)
    if st.item(nm_id) is None:
        return st, []
    return st, ctx.sim.market.cluster_stats(advert_id, nm_id, begin, end, visible=True, daily=daily)


async def h_norm_stats_v0(ctx: Ctx) -> S.NormStatsV0Response:
    _query(ctx, set())
    req = _body(ctx, S.NormqueryStatsV0Request)
    begin, end = _period(req.from_, req.to, "response400", 30, "date range must not exceed 30 days")
    out = []
    for pair in req.items:
        st, rows = _pair_rows(ctx, pair.advert_id, pair.nm_id, begin, end, False)
        cpc = st is not None and st.spec.payment_type == "cpc"
        out.append(S.NormItemV0(advert_id=pair.advert_id, nm_id=pair.nm_id, stats=[
            S.NormStatV0(norm_query=r.norm_query, avg_pos=r.avg_pos, currency=ctx.sim.spec.currency,
                         **_norm_metrics(r, cpc))
            for r in rows if r.avg_pos is not None]))
    return S.NormStatsV0Response(stats=out)


async def h_norm_stats_v1(ctx: Ctx) -> S.NormStatsV1Response:
    _query(ctx, set())
    req = _body(ctx, S.NormqueryStatsV1Request)
    begin, end = _period(req.from_, req.to, "response400", 30, "date range must not exceed 30 days")
    out = []
    for pair in req.items:
        st, rows = _pair_rows(ctx, pair.advertId, pair.nmId, begin, end, True)
        cpc = st is not None and st.spec.payment_type == "cpc"
        out.append(S.NormItemV1(advertId=pair.advertId, nmId=pair.nmId, dailyStats=[
            S.NormDailyV1(date=r.day.isoformat(), stat=S.NormStatV1(normQuery=r.norm_query, avgPos=r.avg_pos,
                                                                  **_norm_metrics(r, cpc)))
            for r in rows if r.avg_pos is not None and r.day is not None]))
    return S.NormStatsV1Response(items=out)


async def h_get_bids(ctx: Ctx) -> S.GetBidsResponse:
    _query(ctx, set())
    req = _body(ctx, S.GetBidsRequest)
    market = ctx.sim.market
    out = []
    for pair in req.items:
        if not ctx.sim.owned(ctx.seller, pair.advert_id):
            continue
        st = market.advance_campaign(pair.advert_id, ctx.now)
        if st.spec.bid_type != "manual" or st.spec.payment_type != "cpm":
            continue
        for q, bid in market.cluster_bids(pair.advert_id, pair.nm_id).items():
            out.append(S.ClusterBidOut(advert_id=pair.advert_id, nm_id=pair.nm_id, norm_query=q, bid=bid // 100,
                                       bid_kopecks=bid, currency=ctx.sim.spec.currency))
    return S.GetBidsResponse(bids=out)


async def h_cluster_bids(ctx: Ctx) -> S.ClusterBidsResponse:
    _query(ctx, set())
    req = _body(ctx, S.ClusterBidsRequest)
    market = ctx.sim.market
    success, failed = [], []
    cur = ctx.sim.spec.currency
    for b in req.bids:
        reason = None
        if not ctx.sim.owned(ctx.seller, b.advertId):
            reason = f"advert {b.advertId} not found"
        else:
            st = market.advance_campaign(b.advertId, ctx.now)
            item = st.item(b.nmId)
            if st.spec.bid_type != "manual" or st.spec.payment_type != "cpm":
                reason = "cluster bids are available for manual cpm campaigns only"
            elif st.status not in BID_STATUSES:
                reason = f"wrong advert status: {st.status}"
            elif item is None:
                reason = f"nm {b.nmId} not found or inactive"
            elif b.normQuery not in item.clusters:
                reason = f"norm query {b.normQuery!r} not found for nm {b.nmId}"
            else:
                mn = market.min_bid(b.advertId, b.nmId, "search")
                mx = market.max_bid("cpm")
                step = market.step("cpm")
                if b.bidMinorUnits < mn:
                    reason = f"wrong bid value: {b.bidMinorUnits}; min: {mn}"
                elif b.bidMinorUnits > mx:
                    reason = f"wrong bid value: {b.bidMinorUnits}; min: {mn} max:{mx}"
                elif b.bidMinorUnits % step:
                    reason = f"wrong bid value: {b.bidMinorUnits}; step: {step}"
        if reason:
            failed.append(S.ClusterBidFailed(advertId=b.advertId, nmId=b.nmId, normQuery=b.normQuery, reason=reason))
            ctx.sim.rejected.append({"time": ctx.now.isoformat(), "seller": ctx.seller.name,
                                     "method": "POST /api/advert/v1/normquery/bids", "status": 200,
                                     "reason": f"failed item: {reason}"})
        else:
            market.set_cluster_bid(b.advertId, b.nmId, b.normQuery, b.bidMinorUnits, ctx.now)
            success.append(S.ClusterBidSuccess(advertId=b.advertId, nmId=b.nmId, normQuery=b.normQuery, currency=cur))
    return S.ClusterBidsResponse(success=success, failed=failed)


async def h_budget(ctx: Ctx) -> S.BudgetResponse:
    _query(ctx, set(), "text")
    req = _body(ctx, S.BudgetRequest, "text")
    if any(not ctx.sim.owned(ctx.seller, a) for a in req.advertIds):
        raise error_text("campaign does not belong to the seller")
    out = []
    for a in dict.fromkeys(req.advertIds):
        st = ctx.sim.market.advance_campaign(a, ctx.now)
        if st.status in BID_STATUSES:
            out.append(S.BudgetItem(advertId=a, currency=ctx.sim.spec.currency, total=int(st.budget // 100)))
    return S.BudgetResponse(adverts=out or None)


async def h_balance(ctx: Ctx) -> S.BalanceResponse:
    _query(ctx, set(), "text")
    s = next(x for x in ctx.sim.spec.sellers if x.name == ctx.seller.name)
    return S.BalanceResponse(balance=s.balance // 100, net=0, bonus=s.bonus // 100,
                             currency=ctx.sim.spec.currency, cashbacks=[])


async def h_upd(ctx: Ctx) -> list[dict[str, Any]]:
    q = _query(ctx, {"from", "to"}, "text")
    if "from" not in q or "to" not in q:
        raise error_text("parameters from and to are required")
    begin, end = _period(q["from"], q["to"], "text", 31, "the interval must be from 1 to 31 days")
    today = msk_day(ctx.now)
    rows = []
    n = 0
    for st in ctx.sim.seller_campaigns(ctx.seller, ctx.now):
        if st.status not in STATS_STATUSES and st.spend_total == 0:
            continue
        per_day: dict[date, float] = defaultdict(float)
        for r in ctx.sim.market.daily_stats(st.advert_id, begin, end, visible=True):
            per_day[r.day] += r.spend
        for day, spend in sorted(per_day.items()):
            if spend < 0.5:
                continue
            n += 1
            end_of_day = datetime.combine(day, datetime.min.time(), MSK) + timedelta(hours=23, minutes=59)
            rows.append((day, S.UpdRow(
                updNum=0, updTime=None if day >= today else end_of_day.isoformat(), updSum=round(spend),
                advertId=st.advert_id, campName=st.spec.name, advertType=9, paymentType="Баланс",
                advertStatus=st.status).model_dump()))
    rows.sort(key=lambda x: (x[0], x[1]["advertId"]))
    return [r for _, r in rows]


# ------------------------------------------------------------------------------ public search (§6)
async def public_search(request: web.Request) -> web.Response:
    sim: Simulator = request.app[SIM_KEY]
    query = request.query.get("query", "")
    try:
        page = int(request.query.get("page", "1"))
    except ValueError:
        page = 1
    key = "GET /exactmatch/ru/common/v18/search"
    if sim.faults.search_blocked():
        sim.requests[key]["429"] += 1
        return web.Response(status=429, text="", content_type="text/plain")
    sim.requests[key]["200"] += 1
    page = max(1, page)
    now = sim.now()
    ads = sim.market.search_results(query, now) if query else []
    total = max(300, len(ads)) if query else 0
    products = []
    for pos in range((page - 1) * 100 + 1, min(total, page * 100) + 1):
        if pos <= len(ads):
            ad = ads[pos - 1]
            nm = ad["nm_id"]
            organic = 10 + (nm * 2654435761 % 990)
            products.append({
                "id": nm, "name": f"Товар {nm}", "brand": "", "supplierId": 0,
                "log": {"cpm": ad["cpm"] // 100, "position": organic, "promoPosition": pos - 1,
                        "promotion": 1, "tp": ad["tp"], "advertId": ad["advert_id"]},
                "logs": f"sim:{ad['advert_id']}:{pos}",
            })
        else:
            nm = 500_000_000 + (zlib.crc32(f"{query}|{pos}".encode()) & 0xFFFFFF)
            products.append({"id": nm, "name": f"Товар {nm}", "brand": "", "supplierId": 0})
    body = {"metadata": {"name": query, "catalog_type": "preset"}, "products": products, "total": total}
    return web.json_response(body, dumps=lambda x: json.dumps(x, ensure_ascii=False))


# ------------------------------------------------------------------------------ inspection
async def sim_report(request: web.Request) -> web.Response:
    sim: Simulator = request.app[SIM_KEY]
    return web.json_response(sim.report(), dumps=lambda x: json.dumps(x, ensure_ascii=False, default=str))


async def sim_faults(request: web.Request) -> web.Response:
    sim: Simulator = request.app[SIM_KEY]
    if request.method == "POST":
        try:
            data = await request.json()
            req = S.FaultsRequest.model_validate(data)
            if req.seller is not None and req.seller not in sim.sellers:
                raise ValueError(f"unknown seller {req.seller}")
            sim.faults.configure(req.settings, req.seller)
        except (ValueError, ValidationError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(sim.faults.as_dict())


async def sim_revoke(request: web.Request) -> web.Response:
    sim: Simulator = request.app[SIM_KEY]
    try:
        req = S.RevokeRequest.model_validate(await request.json())
        if req.seller not in sim.sellers:
            raise ValueError(f"unknown seller {req.seller}")
    except (ValueError, ValidationError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    sim.revoke(req.seller, req.token)
    return web.json_response({"revoked": req.seller, "token": req.token})


# ------------------------------------------------------------------------------ app
ENDPOINTS = [
    Endpoint("GET", "/adv/v1/promotion/count", h_count),
    Endpoint("GET", "/api/advert/v2/adverts", h_adverts),
    Endpoint("GET", "/adv/v3/fullstats", h_fullstats, kind="fullstats"),
    Endpoint("PATCH", "/api/advert/v1/bids", h_bids_patch, write=True),
    Endpoint("POST", "/api/advert/v1/bids/min", h_bids_min),
    Endpoint("GET", "/api/advert/v0/bids/recommendations", h_recommendations, kind="text"),
    Endpoint("GET", "/api/advert/v1/config", h_config, personal_only=True),
    Endpoint("GET", "/adv/v0/start", h_start, write=True, kind="error"),
    Endpoint("GET", "/adv/v0/pause", h_pause, write=True, kind="error"),
    Endpoint("GET", "/adv/v0/stop", h_stop, write=True, kind="error"),
    Endpoint("POST", "/adv/v0/normquery/stats", h_norm_stats_v0),
    Endpoint("POST", "/adv/v1/normquery/stats", h_norm_stats_v1),
    Endpoint("POST", "/adv/v0/normquery/get-bids", h_get_bids),
    Endpoint("POST", "/api/advert/v1/normquery/bids", h_cluster_bids, write=True, personal_only=True),
    Endpoint("POST", "/api/advert/v2/budget", h_budget, kind="text"),
    Endpoint("GET", "/adv/v1/balance", h_balance, kind="text"),
    Endpoint("GET", "/adv/v1/upd", h_upd, kind="text"),
]

SIM_KEY: web.AppKey[Simulator] = web.AppKey("simulator", Simulator)


def _route(ep: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await request.app[SIM_KEY].handle(ep, request)

    return handler


@web.middleware
async def _not_found(request: web.Request, handler: Callable) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        sim: Simulator = request.app[SIM_KEY]
        err = problem(404, "path not found", "path not found; see https://dev.wildberries.ru/openapi/promotion",
                      sim.now())
        sim._record(f"{request.method} {request.path}", 404, None, "path not found")
        return web.Response(status=404, text=json.dumps(err.body), content_type="application/json")


def create_app(sim: Simulator) -> web.Application:
    app = web.Application(middlewares=[_not_found])
    app[SIM_KEY] = sim
    for ep in ENDPOINTS:
        app.router.add_route(ep.method, ep.path, _route(ep))
    app.router.add_get("/exactmatch/ru/common/v18/search", public_search)
    app.router.add_get("/__sim/report", sim_report)
    app.router.add_route("*", "/__sim/faults", sim_faults)
    app.router.add_post("/__sim/revoke", sim_revoke)
    return app


__all__ = ["ENDPOINTS", "REMOVED_PATHS", "ApiError", "Endpoint", "MarketError", "SimSeller", "Simulator", "create_app"]
