"""WB's Analytics search report (POSITIONS.md §2.1): ``POST /api/v2/search-report/product/orders``, answered
from the market's report as of its last 2-hour refresh. Needs a token with the Analytics category. The body
is checked as WB's schema has it (``ItemOrdersRequest``): ``period {start, end}`` (dates, start <= end, at
most 7 days, none earlier than 365 days before today), ``nmId`` (int), ``searchTexts`` (1..30 strings), no
other field; a bad body is 400 ``{title, detail, requestId, origin}`` (``ErrorObject400``)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from bidder.sim.market import msk_day
from bidder.sim.replies import ApiError

if TYPE_CHECKING:
    from bidder.sim.handlers.base import Ctx

ORIGIN = "analytics-open-api"
MAX_TEXTS = 30
MAX_DAYS = 7


def _bad(detail: str) -> ApiError:
    return ApiError(400, {"title": "Invalid request body", "detail": detail, "requestId": uuid.uuid4().hex,
                          "origin": ORIGIN}, reason=detail)


def _date(value: Any, name: str) -> date:
    if not isinstance(value, str):
        raise _bad(f"period.{name}: a date string is required")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _bad(f"period.{name}: invalid date, expected YYYY-MM-DD") from None


def _request(body: Any, today: date) -> tuple[date, date, int, list[str]]:
    if not isinstance(body, dict):
        raise _bad("request body must be an object")
    unknown = set(body) - {"period", "nmId", "searchTexts"}
    if unknown:
        raise _bad(f"unknown field {sorted(unknown)[0]}")
    period = body.get("period")
    if not isinstance(period, dict) or set(period) - {"start", "end"}:
        raise _bad("period: {start, end} is required")
    start, end = _date(period.get("start"), "start"), _date(period.get("end"), "end")
    if start > end:
        raise _bad("period: start is after end")
    if (end - start).days + 1 > MAX_DAYS:
        raise _bad(f"period: at most {MAX_DAYS} days")
    if start < today - timedelta(days=365):
        raise _bad("period: no earlier than 365 days before today")
    nm = body.get("nmId")
    if not isinstance(nm, int) or isinstance(nm, bool):
        raise _bad("nmId: an integer is required")
    texts = body.get("searchTexts")
    if not isinstance(texts, list) or not 1 <= len(texts) <= MAX_TEXTS or not all(
            isinstance(t, str) and t for t in texts):
        raise _bad(f"searchTexts: 1..{MAX_TEXTS} non-empty strings are required")
    return start, end, nm, texts


async def h_search_report_orders(ctx: Ctx) -> dict:
    today = msk_day(ctx.now)
    start, end, nm, texts = _request(ctx.body, today)
    market = ctx.sim.market
    days = [start + timedelta(days=i) for i in range((min(end, today) - start).days + 1)]
    items = []
    totals: dict[date, list[float]] = {d: [0.0, 0.0, 0.0] for d in days}  # orders, pos x searches, searches
    for text in dict.fromkeys(texts):
        rows = [(d, *market.search_report(ctx.seller.name, nm, text, d, ctx.now)) for d in days]
        placed = [(d, p, o, f) for d, p, o, f in rows if p > 0]
        if not placed:
            continue  # the card was not shown for this text in the period
        for d, p, o, f in placed:
            totals[d][0] += o
            totals[d][1] += p * f
            totals[d][2] += f
        items.append({"text": text, "frequency": sum(f for _, _, _, f in rows),
                      "dateItems": [{"dt": d.isoformat(), "avgPosition": p, "orders": o} for d, p, o, _ in placed]})
    total = [{"dt": d.isoformat(), "avgPosition": round(v[1] / v[2]) if v[2] else 0, "orders": int(v[0])}
             for d, v in totals.items() if v[2]]
    return {"data": {"total": total, "items": items}}
