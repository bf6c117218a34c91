"""Statistics: fullstats (per day, app and item) and search-cluster statistics (v0 period, v1 daily)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from bidder.sim import schemas as S
from bidder.sim.handlers.base import Ctx, body, int_list, period, query
from bidder.sim.market import STATS_STATUSES
from bidder.sim.replies import fullstats_error


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


def _float(x: float) -> float:
    return x if type(x) is float else float(x)


def _fullstats_item(ctx: Ctx, advert_id: int, st: Any, rows: list) -> dict[str, Any]:
    """One campaign's fullstats element, built directly in the shape of :class:`S.FullStatsItem`
    (``model_dump(exclude_none=True)`` of it: same keys, order and types; ``tests/sim`` checks it against
    the model on every scenario campaign), without a pydantic round trip per campaign: this is the
    simulator's hottest reply."""
    names = {it.nm_id: it.name for it in st.spec.items}
    days: dict[date, list] = defaultdict(list)
    for r in rows:
        days[r.day].append(r)
    day_out = []
    total = [0, 0, 0, 0, 0.0, 0.0]
    for day in sorted(days):
        drows = days[day]
        nms: list[list[dict[str, Any]]] = [[] for _ in APP_SHARES]
        acc = [[0, 0, 0, 0, 0.0, 0.0] for _ in APP_SHARES]
        dtot = [0, 0, 0, 0, 0.0, 0.0]
        for r in drows:
            vals = (r.views, r.clicks, r.atbs, r.orders, r.spend, r.revenue)
            for i in range(6):
                dtot[i] += vals[i]
            name = names.get(r.nm_id, "")
            for k, (_app, part) in enumerate(_split(vals)):
                m = _metrics(*part)
                m["sum"], m["sum_price"] = _float(m["sum"]), _float(m["sum_price"])
                m["nmId"] = r.nm_id
                m["name"] = name
                nms[k].append(m)
                a = acc[k]
                for i in range(6):
                    a[i] += part[i]
        total = [a + b for a, b in zip(total, dtot, strict=True)]
        apps = []
        for k, (app, _share) in enumerate(APP_SHARES):
            m = _metrics(*acc[k])
            m["sum"], m["sum_price"] = _float(m["sum"]), _float(m["sum_price"])
            m["appType"] = app
            m["nms"] = nms[k]
            apps.append(m)
        d = _metrics(*dtot)
        d["sum"], d["sum_price"] = _float(d["sum"]), _float(d["sum_price"])
        d["date"] = f"{day.isoformat()}T00:00:00Z"
        d["apps"] = apps
        day_out.append(d)
    item = _metrics(*total)
    item["sum"], item["sum_price"] = _float(item["sum"]), _float(item["sum_price"])
    item["advertId"] = advert_id
    item["currency"] = ctx.sim.spec.currency
    if st.spec.bid_type == "unified":
        item["boosterStats"] = [
            {"date": r.day.isoformat(), "nm": r.nm_id, "avg_position": r.avg_position}
            for r in rows if r.avg_position is not None
        ]
    item["days"] = day_out
    return item


async def h_fullstats(ctx: Ctx) -> list[dict[str, Any]]:
    q = query(ctx, {"ids", "beginDate", "endDate"}, "fullstats")
    for name in ("ids", "beginDate", "endDate"):
        if name not in q:
            raise fullstats_error(f"parameter {name} is required", name)
    ids = int_list(q["ids"], "ids", "fullstats", 50)
    if not ids:
        raise fullstats_error("invalid ids")
    begin, end = period(q["beginDate"], q["endDate"], "fullstats", 31, "max date range 31 days")
    market = ctx.sim.market
    out = []
    for advert_id in dict.fromkeys(ids):
        if not ctx.sim.owned(ctx.seller, advert_id):
            continue
        st = market.advance_campaign(advert_id, ctx.now)
        if st.status not in STATS_STATUSES:
            continue
        out.append(_fullstats_item(ctx, advert_id, st, market.daily_stats(advert_id, begin, end, visible=True)))
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
    query(ctx, set())
    req = body(ctx, S.NormqueryStatsV0Request)
    begin, end = period(req.from_, req.to, "response400", 30, "date range must not exceed 30 days")
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
    query(ctx, set())
    req = body(ctx, S.NormqueryStatsV1Request)
    begin, end = period(req.from_, req.to, "response400", 30, "date range must not exceed 30 days")
    out = []
    for pair in req.items:
        st, rows = _pair_rows(ctx, pair.advertId, pair.nmId, begin, end, True)
        cpc = st is not None and st.spec.payment_type == "cpc"
        out.append(S.NormItemV1(advertId=pair.advertId, nmId=pair.nmId, dailyStats=[
            S.NormDailyV1(date=r.day.isoformat(), stat=S.NormStatV1(normQuery=r.norm_query, avgPos=r.avg_pos,
                                                                  **_norm_metrics(r, cpc)))
            for r in rows if r.avg_pos is not None and r.day is not None]))
    return S.NormStatsV1Response(items=out)
