"""The simulated WB Promotion API: aiohttp routes over :class:`bidder.sim.market.Market`.

Every request goes through one pipeline (:meth:`Simulator.handle`): authorization (JWT claims decoded
without a signature check) -> rate limit (token bucket per seller, token type and method, in the
injected clock's time) -> injected faults -> strict validation and the handler -> recording.
The handlers live in :mod:`bidder.sim.handlers` by endpoint group (campaigns, bids, stats, money, search),
the error replies in :mod:`bidder.sim.replies`, token claims in :mod:`bidder.sim.tokens`.

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
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from bidder.clock import Clock, ScaledClock
from bidder.sim import schemas as S
from bidder.sim.faults import (
    HTML_PAGE,
    FaultPlan,
    FaultRule,
    FaultRules,
    Faults,
    add_one_field,
    drop_one_field,
    edit_fields,
    make_absurd,
    request_adverts,
)
from bidder.sim.handlers import analytics, bids, campaigns, daily_limits, money, search, stats
from bidder.sim.handlers.base import Ctx
from bidder.sim.limits import RateLimiter
from bidder.sim.market import (
    CampaignState,
    Market,
    MarketError,
    ScenarioSpec,
)
from bidder.sim.replies import ApiError, bad_request, error_json, error_text, problem
from bidder.sim.scenarios import build_scenario
from bidder.sim.tokens import ANALYTICS, PROMOTION, Claims, MalformedToken, issue, read_claims

REMOVED_PATHS = [
    ("POST", "/adv/v1/promotion/adverts"), ("GET", "/adv/v0/auction/adverts"), ("GET", "/adv/v0/config"),
    ("POST", "/adv/v0/bids/min"), ("PATCH", "/adv/v0/bids"), ("PATCH", "/adv/v0/auction/bids"),
    ("POST", "/adv/v2/fullstats"), ("GET", "/adv/v2/auto/stat-words"), ("GET", "/adv/v1/stat/words"),
    ("GET", "/adv/v0/stats/keywords"), ("GET", "/adv/v2/adverts"), ("GET", "/adv/v1/cpm/config"),
    ("GET", "/adv/v0/adverts"), ("POST", "/adv/v0/cpm"), ("GET", "/adv/v1/search/set-plus"),
    ("GET", "/adv/v1/auto/getnmtoadd"),
]


@dataclass
class SimSeller:
    name: str
    seller_id: str
    read_token: str
    write_token: str
    base_token: str  # a Base-type (acc=1) Promotion token, for testing 403 "base token is not allowed"
    analytics_token: str = ""  # a read-only Analytics token (the search report, POSITIONS.md §2)
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
    category: int = PROMOTION  # the token category bit the endpoint needs (Analytics: 2)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


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
                analytics_token=issue(s.seller_id, read_only=True, categories=(ANALYTICS,),
                                      token_id=str(uuid.uuid5(uuid.UUID(s.seller_id), f"analytics:{seed}"))),
                token_ids=ids,
            )
            self.sellers[s.name] = seller
            self._by_sid[s.seller_id] = seller
        self.limiter = RateLimiter()
        self.faults = Faults(seed, spec.faults)
        self.rules = FaultRules()  # targeted, persistent faults (per endpoint / seller / campaign)
        self.revoked: set[str] = set()
        self.requests: dict[str, Counter[str]] = defaultdict(Counter)
        self.rejected: list[dict[str, Any]] = []
        self.total_429 = 0
        self.writes: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.max_rejected = 10_000
        # every write request as sent (seller, method, query, body) and the status it got: what the fault
        # suite checks for repeated rejected requests and misfit placements
        self.write_log: list[dict[str, Any]] = []

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
        if not info.s >> ep.category & 1:
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
        response = await self._handle(ep, request)
        if ep.write and len(self.write_log) < 100_000:
            raw = await request.read() if request.can_read_body or request.body_exists else b""
            self.write_log.append({"time": self.now().isoformat(), "method": ep.key,
                                   "seller_id": _seller_of(request.headers.get("Authorization", "")),
                                   "query": dict(request.query), "body": _loads_or_none(raw),
                                   "status": response.status})
        return response

    async def _handle(self, ep: Endpoint, request: web.Request) -> web.StreamResponse:
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
            # ``body_exists`` too: a middleware that read the body first (a test's request hook) leaves the
            # stream at its end, and ``read()`` returns the body it kept
            raw_body = (await request.read() if request.method in ("POST", "PATCH", "PUT")
                        and (request.can_read_body or request.body_exists) else b"")
            adverts = request_adverts(request.query, _loads_or_none(raw_body))
            post_rules = self.rules.pick(seller.name, ep.key, adverts, pre=False)
            for rule in self.rules.pick(seller.name, ep.key, adverts, pre=True):
                early = await self._pre_rule(rule, ep, seller.name, headers, now)
                if early is not None:
                    return early
            plan = self.faults.plan(seller.name)
            plan.rules = post_rules
            if plan.normquery_forbidden and "/normquery/" in ep.key:
                self.injected["normquery_forbidden"] += 1
                raise problem(403, "request forbidden", "norm_query API not available", now)
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
            if request.method in ("POST", "PATCH", "PUT"):
                raw = raw_body
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

    async def _pre_rule(self, rule: FaultRule, ep: Endpoint, seller: str, headers: dict[str, str],
                        now: datetime) -> web.Response | None:
        """A targeted fault that answers before the handler (nothing is applied)."""
        rule.hits += 1
        self.injected[f"rule:{rule.kind}"] += 1
        if rule.kind == "slow":
            await asyncio.sleep(rule.seconds)
            return None
        if rule.kind == "html":
            self._record(ep.key, 200, seller, None)
            return web.Response(status=200, text=HTML_PAGE, content_type="text/html", headers=headers)
        if rule.kind == "rate_limit":
            headers.update({"X-Ratelimit-Retry": rule.header, "X-Ratelimit-Remaining": "0",
                            "X-Ratelimit-Reset": rule.header})
            raise problem(429, "too many requests", "injected fault: rate limited", now)
        if rule.status >= 500:
            self._record(ep.key, rule.status, seller, "injected fault")
            return web.Response(status=rule.status, text="Internal Server Error", content_type="text/plain",
                                headers=headers)
        detail = {400: "injected fault: invalid payload", 403: "feature not available for this seller",
                  409: "injected fault: conflict", 422: "injected fault: unprocessable"}.get(rule.status,
                                                                                         "injected fault")
        raise bad_request(detail, title="injected fault", status=rule.status)

    def _json(self, data: Any, plan: FaultPlan, headers: dict[str, str]) -> web.Response:
        for rule in plan.rules:
            if rule.kind in ("drop_field", "set_field") and edit_fields(data, rule):
                rule.hits += 1
                self.injected[f"rule:{rule.kind}"] += 1
        if plan.missing_field and drop_one_field(data):
            self.injected["missing_field"] += 1
        if plan.extra_field and add_one_field(data):
            self.injected["extra_field"] += 1
        if plan.absurd and make_absurd(data):
            self.injected["absurd"] += 1
        truncated = [r for r in plan.rules if r.kind == "truncated"]
        for rule in truncated:
            rule.hits += 1
            self.injected["rule:truncated"] += 1
        if plan.malformed or truncated:
            self.injected["malformed"] += 1
            text = json.dumps(data, ensure_ascii=False)
            text = text[: max(1, len(text) // 2)]
            return web.Response(status=200, text=text, content_type="application/json", headers=headers)
        return web.Response(status=200, body=dumps_json(data), content_type="application/json",
                            charset="utf-8", headers=headers)

    @staticmethod
    def _invalid_body(ep: Endpoint, detail: str) -> ApiError:
        if ep.kind == "error":
            return error_json(f"Invalid Params: {detail}")
        if ep.kind == "text":
            return error_text(detail)
        return bad_request(detail, title="invalid request body")


def dumps_json(data: Any) -> bytes:
    """A reply body: orjson (several times faster than ``json.dumps`` on the large statistics replies;
    the same JSON values, without the blanks after ``,`` and ``:``), ``json.dumps`` for what orjson
    refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(data, ensure_ascii=False).encode()


def _seller_of(raw_token: str) -> str | None:
    try:
        return read_claims(raw_token).seller_id
    except MalformedToken:
        return None


def _loads_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


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
            if req.clear_rules:
                sim.rules.clear()
            for rule in req.rules:
                sim.rules.add(rule)
        except (ValueError, ValidationError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({**sim.faults.as_dict(), "rules": sim.rules.as_list()})


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
    Endpoint("GET", "/adv/v1/promotion/count", campaigns.h_count),
    Endpoint("GET", "/api/advert/v2/adverts", campaigns.h_adverts),
    Endpoint("GET", "/adv/v3/fullstats", stats.h_fullstats, kind="fullstats"),
    Endpoint("PATCH", "/api/advert/v1/bids", bids.h_bids_patch, write=True),
    Endpoint("POST", "/api/advert/v1/bids/min", bids.h_bids_min),
    Endpoint("GET", "/api/advert/v0/bids/recommendations", bids.h_recommendations, kind="text"),
    Endpoint("GET", "/api/advert/v1/config", campaigns.h_config, personal_only=True),
    Endpoint("GET", "/adv/v0/start", campaigns.h_start, write=True, kind="error"),
    Endpoint("GET", "/adv/v0/pause", campaigns.h_pause, write=True, kind="error"),
    Endpoint("GET", "/adv/v0/stop", campaigns.h_stop, write=True, kind="error"),
    Endpoint("POST", "/adv/v0/normquery/stats", stats.h_norm_stats_v0),
    Endpoint("POST", "/adv/v1/normquery/stats", stats.h_norm_stats_v1),
    Endpoint("POST", "/adv/v0/normquery/get-bids", bids.h_get_bids),
    Endpoint("POST", "/api/advert/v1/normquery/bids", bids.h_cluster_bids, write=True, personal_only=True),
    Endpoint("POST", "/api/advert/v2/budget", money.h_budget, kind="text"),
    Endpoint("GET", "/adv/v1/balance", money.h_balance, kind="text"),
    Endpoint("GET", "/adv/v1/upd", money.h_upd, kind="text"),
    Endpoint("GET", "/api/advert/v0/daily-limits", daily_limits.h_daily_limits_get, personal_only=True),
    Endpoint("PUT", "/api/advert/v0/daily-limits", daily_limits.h_daily_limits_put, write=True, personal_only=True),
    Endpoint("POST", "/api/v2/search-report/product/orders", analytics.h_search_report_orders, category=ANALYTICS),
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


async def _public_search(request: web.Request) -> web.Response:
    return await search.public_search(request.app[SIM_KEY], request)


def create_app(sim: Simulator) -> web.Application:
    app = web.Application(middlewares=[_not_found])
    app[SIM_KEY] = sim
    for ep in ENDPOINTS:
        app.router.add_route(ep.method, ep.path, _route(ep))
    app.router.add_get("/exactmatch/ru/common/v18/search", _public_search)
    app.router.add_get("/__sim/report", sim_report)
    app.router.add_route("*", "/__sim/faults", sim_faults)
    app.router.add_post("/__sim/revoke", sim_revoke)
    return app


__all__ = ["ENDPOINTS", "REMOVED_PATHS", "ApiError", "Endpoint", "MarketError", "SimSeller", "Simulator", "create_app"]
