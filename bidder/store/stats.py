"""Statistics: daily stats per campaign item and day, per-day totals for reports, search-cluster stats."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.domain import ClusterStat, DailyStat
from bidder.store.common import chunks, require_account_id, upsert
from bidder.store.models import AccountRow, ClusterStatRow, DailyStatRow


@dataclass(frozen=True, slots=True)
class DailyTotal:
    day: date
    advert_id: int
    spend: Decimal
    revenue: Decimal
    orders: int
    views: int
    clicks: int


async def save_daily_stats(session: AsyncSession, account: str, stats: Sequence[DailyStat]) -> None:
    """Upsert daily statistics by (account, advert_id, nm_id, day): saving the same rows twice is a no-op."""
    account_id = await require_account_id(session, account)
    rows: dict[tuple[int, int, date], dict[str, Any]] = {}
    for st in stats:
        rows[(st.advert_id, st.nm_id, st.day)] = {
            "account_id": account_id,
            "advert_id": st.advert_id,
            "nm_id": st.nm_id,
            "day": st.day,
            "views": st.views,
            "clicks": st.clicks,
            "atbs": st.atbs,
            "orders": st.orders,
            "spend": st.spend,
            "revenue": st.revenue,
            "avg_position": st.avg_position,
        }
    await upsert(
        session, DailyStatRow.__table__, ("account_id", "advert_id", "nm_id", "day"), list(rows.values())
    )


async def load_daily_stats(
    session: AsyncSession,
    account: str,
    advert_ids: Iterable[int] | None,
    since: date,
    until: date | None = None,
) -> list[DailyStat]:
    """Daily statistics with ``since <= day [<= until]``; ``advert_ids=None`` means every campaign.
    Ordered by advert_id, nm_id, day."""
    d = DailyStatRow
    # columns, not ORM instances: this runs every cycle for the campaigns being evaluated
    stmt = (
        select(d.advert_id, d.nm_id, d.day, d.views, d.clicks, d.atbs, d.orders, d.spend, d.revenue,
               d.avg_position)
        .join(AccountRow, AccountRow.id == d.account_id)
        .where(AccountRow.name == account, d.day >= since)
        .order_by(d.advert_id, d.nm_id, d.day)
    )
    if until is not None:
        stmt = stmt.where(d.day <= until)
    if advert_ids is None:
        return [DailyStat(*row) for row in await session.execute(stmt)]
    ids = sorted(set(advert_ids))
    out: list[DailyStat] = []
    for chunk in chunks(ids):
        out.extend(DailyStat(*row) for row in await session.execute(stmt.where(d.advert_id.in_(chunk))))
    return out


async def daily_totals(
    session: AsyncSession, account: str, since: date, until: date | None = None
) -> list[DailyTotal]:
    """Per day and campaign sums over items, for reports. Money is summed exactly (in Python, since
    SQLite would sum it as floats). Ordered by day, advert_id."""
    totals: dict[tuple[date, int], list[Any]] = {}
    for st in await load_daily_stats(session, account, None, since, until):
        t = totals.setdefault((st.day, st.advert_id), [Decimal(0), Decimal(0), 0, 0, 0])
        t[0] += st.spend or 0  # reports show what is known; a missing field adds nothing
        t[1] += st.revenue or 0
        t[2] += st.orders
        t[3] += st.views
        t[4] += st.clicks
    return [DailyTotal(day, adv, *vals) for (day, adv), vals in sorted(totals.items())]


async def save_cluster_stats(
    session: AsyncSession, account: str, stats: Sequence[ClusterStat], *, fetched_at: datetime
) -> None:
    """Upsert search-cluster statistics by (account, advert_id, nm_id, norm_query, period_from, period_to)."""
    account_id = await require_account_id(session, account)
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for st in stats:
        rows[(st.advert_id, st.nm_id, st.norm_query, st.period_from, st.period_to)] = {
            "account_id": account_id,
            "advert_id": st.advert_id,
            "nm_id": st.nm_id,
            "norm_query": st.norm_query,
            "period_from": st.period_from,
            "period_to": st.period_to,
            "views": st.views,
            "clicks": st.clicks,
            "orders": st.orders,
            "spend": st.spend,
            "avg_pos": st.avg_pos,
            "fetched_at": fetched_at,
        }
    await upsert(
        session,
        ClusterStatRow.__table__,
        ("account_id", "advert_id", "nm_id", "norm_query", "period_from", "period_to"),
        list(rows.values()),
    )


async def load_cluster_stats(
    session: AsyncSession, account: str, advert_ids: Iterable[int] | None = None, *, since: date
) -> list[ClusterStat]:
    """Cluster statistics whose period ends on or after ``since``. Ordered by advert_id, nm_id,
    norm_query, period_from."""
    c = ClusterStatRow
    stmt = (
        select(c)
        .join(AccountRow, AccountRow.id == c.account_id)
        .where(AccountRow.name == account, c.period_to >= since)
        .order_by(c.advert_id, c.nm_id, c.norm_query, c.period_from, c.period_to)
    )
    if advert_ids is not None:
        ids = list(advert_ids)
        if not ids:
            return []
        stmt = stmt.where(c.advert_id.in_(ids))
    return [
        ClusterStat(
            advert_id=r.advert_id,
            nm_id=r.nm_id,
            norm_query=r.norm_query,
            period_from=r.period_from,
            period_to=r.period_to,
            views=r.views,
            clicks=r.clicks,
            orders=r.orders,
            spend=r.spend,
            avg_pos=r.avg_pos,
        )
        for r in await session.scalars(stmt)
    ]
