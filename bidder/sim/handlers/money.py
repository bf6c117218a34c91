"""Money: campaign budgets, the account balance and the spend history (upd)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from bidder.sim import schemas as S
from bidder.sim.handlers.base import Ctx, body, period, query
from bidder.sim.market import BID_STATUSES, MSK, STATS_STATUSES, msk_day
from bidder.sim.replies import error_text


async def h_budget(ctx: Ctx) -> S.BudgetResponse:
    query(ctx, set(), "text")
    req = body(ctx, S.BudgetRequest, "text")
    if any(not ctx.sim.owned(ctx.seller, a) for a in req.advertIds):
        raise error_text("campaign does not belong to the seller")
    out = []
    for a in dict.fromkeys(req.advertIds):
        st = ctx.sim.market.advance_campaign(a, ctx.now)
        if st.status in BID_STATUSES:
            out.append(S.BudgetItem(advertId=a, currency=ctx.sim.spec.currency, total=int(st.budget // 100)))
    return S.BudgetResponse(adverts=out or None)


async def h_balance(ctx: Ctx) -> S.BalanceResponse:
    query(ctx, set(), "text")
    s = next(x for x in ctx.sim.spec.sellers if x.name == ctx.seller.name)
    return S.BalanceResponse(balance=s.balance // 100, net=0, bonus=s.bonus // 100,
                             currency=ctx.sim.spec.currency, cashbacks=[])


async def h_upd(ctx: Ctx) -> list[dict[str, Any]]:
    q = query(ctx, {"from", "to"}, "text")
    if "from" not in q or "to" not in q:
        raise error_text("parameters from and to are required")
    begin, end = period(q["from"], q["to"], "text", 31, "the interval must be from 1 to 31 days")
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
