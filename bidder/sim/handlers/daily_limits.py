"""WB's per-campaign daily limits (``GET``/``PUT /api/advert/v0/daily-limits``, REFERENCE-2026-10 §3.11).

Personal/Service tokens only (the route says so); 400 in the ``response400`` JSON shape. The market
enforces the limit (:meth:`bidder.sim.market.Market.set_daily_limit`): a CPC campaign stops spending
for the rest of the Moscow day once its spend reaches the limit (plus yesterday's unspent part with
carry-over); its status stays active. ``requiredLimit`` is the simulator's own rule (WB publishes no
formula): ``REQUIRED_CLICKS`` clicks at the campaign's highest current bid, never below ``minDailyLimit``.
Simulator choices where the spec is silent: a PUT naming a CPM campaign is a 400 (the limits are for
pay-per-click campaigns), and a campaign of another seller is a 400, as for the v2 budget.
"""

from __future__ import annotations

from bidder.sim import schemas as S
from bidder.sim.handlers.base import Ctx, body, int_list, query
from bidder.sim.replies import bad_request

MAX_IDS = 100


def _owned(ctx: Ctx, ids: list[int]) -> None:
    for a in ids:
        if not ctx.sim.owned(ctx.seller, a):
            raise bad_request(f"advert {a} not found")


async def h_daily_limits_get(ctx: Ctx) -> S.DailyLimitsResponse:
    q = query(ctx, {"advertIds"})
    if not q.get("advertIds"):
        raise bad_request("advertIds is required")
    ids = int_list(q["advertIds"], "advertIds", "response400", MAX_IDS)
    if not ids or any(a < 1 for a in ids):
        raise bad_request("invalid advertIds value")
    _owned(ctx, ids)
    m = ctx.sim.market
    return S.DailyLimitsResponse(adverts=[S.DailyLimitAdvert(**m.daily_limit(a, ctx.now)) for a in dict.fromkeys(ids)])


async def h_daily_limits_put(ctx: Ctx) -> S.DailyLimitsPutResponse:
    query(ctx, set())
    req = body(ctx, S.DailyLimitsPut)
    if req.enabled:
        if req.dailyLimit is None:
            raise bad_request("dailyLimit is required when enabled is true")
        if req.carryOverEnabled is None:
            raise bad_request("carryOverEnabled is required when enabled is true")
        if req.dailyLimit < ctx.sim.spec.min_daily_limit:
            raise bad_request(f"dailyLimit must be at least {ctx.sim.spec.min_daily_limit}")
    _owned(ctx, req.advertIds)
    m = ctx.sim.market
    for a in req.advertIds:
        if m.campaign(a).spec.payment_type != "cpc":
            raise bad_request(f"advert {a}: daily limits are available for cpc campaigns only")
    out = []
    for a in dict.fromkeys(req.advertIds):
        below, required = m.set_daily_limit(a, ctx.now, enabled=req.enabled, limit=req.dailyLimit,
                                            carry_over=req.carryOverEnabled)
        out.append(S.DailyLimitSet(advertId=a, belowMinLimit=below, requiredLimit=required))
    return S.DailyLimitsPutResponse(adverts=out)
