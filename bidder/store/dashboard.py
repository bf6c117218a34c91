"""Read queries for the web dashboard (:mod:`bidder.dashboard`). Every SQL construct it needs lives here.

The pages must stay fast for 10,000 campaigns with weeks of history, so everything a page shows about
many campaigns is aggregated and paginated in SQL: the campaigns table sorts, filters and pages in one
statement, and only the rows of the page are looked at further (their last decision, their pauses).

Money in these results is for display: sums are taken in SQL as floating point (SQLite stores money as
text and would sum it as REAL anyway) and the pages round them to whole base units. The engine never
reads these numbers; it reads :mod:`bidder.store.repo`, which sums exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.store.dashboard_campaign import (
    bid_history,
    campaign,
    cluster_bid_history,
    daily_stats,
    decisions,
    iter_decisions,
    latest_proposals,
    spend_on,
)
from bidder.store.dashboard_records import (
    DRY_RUN_KEY,
    PAUSED_KEY,
    AccountFigures,
    AccountRef,
    AlertInfo,
    AuditFilter,
    BidPoint,
    CampaignInfo,
    CampaignItem,
    CampaignLine,
    CampaignPage,
    ClusterBidPoint,
    CycleInfo,
    DayStat,
    DecisionInfo,
    Totals,
    _account,
    _decision,
    _f,
    _paused,
    _totals,
)
from bidder.store.models import (
    AccountRow,
    AlertRow,
    CampaignItemRow,
    CampaignRow,
    CycleRow,
    DailyStatRow,
    DecisionRow,
    OperatorStateRow,
)

__all__ = [
    "AccountFigures",
    "AccountRef",
    "AlertInfo",
    "AuditFilter",
    "BidPoint",
    "CampaignInfo",
    "CampaignItem",
    "CampaignLine",
    "CampaignPage",
    "ClusterBidPoint",
    "CycleInfo",
    "DRY_RUN_KEY",
    "DayStat",
    "DecisionInfo",
    "PAUSED_KEY",
    "SORTS",
    "Totals",
    "account_figures",
    "accounts",
    "bid_history",
    "campaign",
    "campaign_page",
    "cluster_bid_history",
    "daily_stats",
    "decisions",
    "iter_decisions",
    "latest_proposals",
    "recent_alerts",
    "spend_on",
]

# ----------------------------------------------------------------------------------------------- accounts


async def accounts(session: AsyncSession) -> list[AccountRef]:
    return [_account(r) for r in await session.scalars(select(AccountRow).order_by(AccountRow.name))]


async def account_figures(
    session: AsyncSession, account: AccountRef, *, today: date, week_start: date, day_start: datetime,
    max_bid_minor: int | None = None,
) -> AccountFigures:
    """The overview's numbers for one account; ``today`` / ``week_start`` are dates in the account's
    time zone, ``day_start`` the UTC instant its day began. ``max_bid_minor``: the guardrail, for the
    money-saved estimate."""
    aid = account.id
    by_status = {int(s): int(n) for s, n in await session.execute(
        select(CampaignRow.status, func.count()).where(CampaignRow.account_id == aid).group_by(CampaignRow.status))}
    d = DailyStatRow
    stats = (await session.execute(
        select(
            func.sum(case((d.day == today, _f(d.spend)), else_=0.0)),
            func.sum(case((d.day == today, _f(d.revenue)), else_=0.0)),
            func.sum(case((d.day == today, d.orders), else_=0)),
            func.sum(case((d.day == today, d.clicks), else_=0)),
            func.sum(case((d.day == today, d.views), else_=0)),
            func.sum(_f(d.spend)), func.sum(_f(d.revenue)), func.sum(d.orders), func.sum(d.clicks),
            func.sum(d.views),
        ).where(d.account_id == aid, d.day >= week_start, d.day <= today)
    )).one()
    dr = DecisionRow
    changed = case((and_(dr.action == "set_bid", dr.bid_after != dr.bid_before), 1), else_=0)
    decisions: dict[str, int] = {}
    changes = 0
    # "account_id + 0": read today's rows through the index on ``at``; SQLite would otherwise pick the
    # (account_id, apply_status) index and walk the account's whole audit trail.
    for a, n, ch in await session.execute(
            select(dr.action, func.count(), func.sum(changed))
            .where(dr.account_id + 0 == aid, dr.at >= day_start).group_by(dr.action)):
        decisions[str(a)] = int(n)
        changes += int(ch or 0)
    cyc = (await session.scalars(
        select(CycleRow).where(CycleRow.account_id == aid)
        .order_by(CycleRow.started_at.desc(), CycleRow.id.desc()).limit(1))).first()
    paused_all, paused_n, dry = False, 0, None
    for st in await session.scalars(select(OperatorStateRow).where(OperatorStateRow.account_id == aid)):
        if st.key == PAUSED_KEY and st.value:
            if st.advert_id is None:
                paused_all = True
            else:
                paused_n += 1
        elif st.key == DRY_RUN_KEY and st.advert_id is None:
            dry = bool(st.value)
    saved = None
    if max_bid_minor:
        saved = await _saved_today(session, aid, today, max_bid_minor)
    return AccountFigures(
        account=account, campaigns=sum(by_status.values()), by_status=by_status,
        today=_totals(*stats[0:5]), week=_totals(*stats[5:10]), decisions_today=decisions,
        bid_changes_today=int(changes or 0),
        last_cycle=None if cyc is None else CycleInfo(cyc.started_at, cyc.finished_at, cyc.ok, cyc.error, cyc.summary),
        paused_all=paused_all, paused_campaigns=paused_n, dry_run=dry, saved_today=saved,
    )


async def _saved_today(session: AsyncSession, account_id: int, today: date, max_bid_minor: int) -> float:
    """An estimate of the money the bids kept below the guardrail's max bid saved today: per campaign,
    today's spend × (max bid / its average current bid − 1), as if every view or click had cost the max."""
    i = CampaignItemRow
    bid = func.coalesce(i.bid_search, i.bid_recommendations)
    avg_bid = (
        select(i.campaign_id.label("cid"), func.avg(cast(bid, Float)).label("bid"))
        .where(bid.is_not(None), bid > 0)
        .group_by(i.campaign_id).subquery()
    )
    spend = (
        select(DailyStatRow.advert_id.label("advert_id"), func.sum(_f(DailyStatRow.spend)).label("spend"))
        .where(DailyStatRow.account_id == account_id, DailyStatRow.day == today)
        .group_by(DailyStatRow.advert_id).subquery()
    )
    stmt = (
        select(func.sum(spend.c.spend * (literal(float(max_bid_minor)) / avg_bid.c.bid - 1.0)))
        .select_from(CampaignRow)
        .join(avg_bid, avg_bid.c.cid == CampaignRow.id)
        .join(spend, spend.c.advert_id == CampaignRow.advert_id)
        .where(CampaignRow.account_id == account_id, avg_bid.c.bid < max_bid_minor)
    )
    return float(await session.scalar(stmt) or 0.0)


async def recent_alerts(session: AsyncSession, since: datetime, limit: int = 20) -> list[AlertInfo]:
    """Warnings and errors since ``since`` (the Telegram outbox), newest first."""
    stmt = (
        select(AlertRow, AccountRow.name)
        .outerjoin(AccountRow, AccountRow.id == AlertRow.account_id)
        .where(AlertRow.created_at >= since, AlertRow.severity != "info")
        .order_by(AlertRow.created_at.desc(), AlertRow.id.desc()).limit(limit)
    )
    return [AlertInfo(r.id, r.created_at, name, r.kind, r.severity, r.status, r.payload or {})
            for r, name in await session.execute(stmt)]


# ----------------------------------------------------------------------------------------------- campaigns

SORTS = ("advert_id", "name", "status", "items", "bid", "position", "spend_today", "spend_week", "drr_week")


async def campaign_page(
    session: AsyncSession, *, today: date, week_start: date, account: str | None = None,
    status: int | None = None, query: str | None = None, paused_only: bool = False,
    sort: str = "advert_id", descending: bool = False, offset: int = 0, limit: int = 50,
) -> CampaignPage:
    """One page of the campaigns table: filtered, sorted and paginated in SQL."""
    c, a, d, i = CampaignRow, AccountRow, DailyStatRow, CampaignItemRow
    filters: list[Any] = []
    if account:
        filters.append(a.name == account)
    if status is not None:
        filters.append(c.status == status)
    if query:
        q = query.strip()
        if q.isdigit():
            filters.append(or_(c.advert_id == int(q), c.name.ilike(f"%{q}%")))
        else:
            filters.append(c.name.ilike(f"%{q}%"))
    if paused_only:
        o = OperatorStateRow
        filters.append(
            select(o.id).where(
                o.account_id == c.account_id, o.key == PAUSED_KEY,
                or_(o.advert_id == c.advert_id, o.advert_id.is_(None)),
            ).exists()
        )
    total = await session.scalar(
        select(func.count()).select_from(c).join(a, a.id == c.account_id).where(*filters))
    plain = {"advert_id": c.advert_id, "name": c.name, "status": c.status}
    stat_where: list[Any] = []
    item_where: list[Any] = []
    page_where: list[Any] = []
    if sort in plain or sort not in SORTS:
        # Sorting by a campaign column: page the campaigns first, then aggregate only that page's rows.
        key = plain.get(sort, c.advert_id)
        first = (key.desc() if descending else key.asc()).nulls_last()
        page = (await session.execute(
            select(c.id, c.advert_id).join(a, a.id == c.account_id).where(*filters)
            .order_by(first, c.advert_id, c.id).offset(max(0, offset)).limit(max(1, limit)))).all()
        if not page:
            return CampaignPage(int(total or 0), [])
        page_where = [c.id.in_([r[0] for r in page])]
        stat_where = [d.advert_id.in_({r[1] for r in page})]
        item_where = [i.campaign_id.in_([r[0] for r in page])]
        offset = 0

    stats = (
        select(
            d.account_id.label("account_id"), d.advert_id.label("advert_id"),
            func.sum(case((d.day == today, _f(d.spend)), else_=0.0)).label("spend_today"),
            func.sum(case((d.day == today, _f(d.revenue)), else_=0.0)).label("revenue_today"),
            func.sum(case((d.day == today, d.orders), else_=0)).label("orders_today"),
            func.avg(case((d.day == today, d.avg_position), else_=None)).label("position"),
            func.sum(_f(d.spend)).label("spend_week"),
            func.sum(_f(d.revenue)).label("revenue_week"),
            func.sum(d.orders).label("orders_week"),
        )
        .where(d.day >= week_start, d.day <= today, *stat_where)
        .group_by(d.account_id, d.advert_id).subquery()
    )
    items = (
        select(
            i.campaign_id.label("cid"), func.count().label("n"),
            func.min(i.bid_search).label("bs_min"), func.max(i.bid_search).label("bs_max"),
            func.min(i.bid_recommendations).label("br_min"), func.max(i.bid_recommendations).label("br_max"),
        ).where(*item_where).group_by(i.campaign_id).subquery()
    )
    drr_week = case((stats.c.revenue_week > 0, stats.c.spend_week / stats.c.revenue_week), else_=None)
    keys = {
        "advert_id": c.advert_id, "name": c.name, "status": c.status, "items": items.c.n,
        "bid": func.coalesce(items.c.bs_max, items.c.br_max), "position": stats.c.position,
        "spend_today": func.coalesce(stats.c.spend_today, 0.0),
        "spend_week": func.coalesce(stats.c.spend_week, 0.0), "drr_week": drr_week,
    }
    key = keys.get(sort, c.advert_id)
    order = [key.desc().nulls_last() if descending else key.asc().nulls_last(), c.advert_id, c.id]
    stmt = (
        select(
            a.name, c.advert_id, c.name, c.status, c.bid_type, c.payment_type, c.currency,
            items.c.n, items.c.bs_min, items.c.bs_max, items.c.br_min, items.c.br_max, stats.c.position,
            stats.c.spend_today, stats.c.revenue_today, stats.c.orders_today,
            stats.c.spend_week, stats.c.revenue_week, stats.c.orders_week, c.account_id,
        )
        .select_from(c)
        .join(a, a.id == c.account_id)
        .outerjoin(items, items.c.cid == c.id)
        .outerjoin(stats, and_(stats.c.account_id == c.account_id, stats.c.advert_id == c.advert_id))
        .where(*filters, *page_where)
        .order_by(*order)
        .offset(max(0, offset)).limit(max(1, limit))
    )
    rows = (await session.execute(stmt)).all()
    keys_on_page = [(r[19], r[1]) for r in rows]
    last = await _last_decisions(session, keys_on_page)
    paused = await _paused(session, {r[19] for r in rows})
    lines = []
    for r in rows:
        acc_paused = paused.get(r[19], (False, set()))
        lines.append(CampaignLine(
            account=r[0], advert_id=r[1], name=r[2], status=r[3], bid_type=r[4], payment_type=r[5],
            currency=r[6], items=int(r[7] or 0), bid_search_min=r[8], bid_search_max=r[9],
            bid_reco_min=r[10], bid_reco_max=r[11], position_today=r[12],
            today=_totals(r[13], r[14], r[15]), week=_totals(r[16], r[17], r[18]),
            paused=acc_paused[0] or r[1] in acc_paused[1], last_decision=last.get((r[19], r[1])),
        ))
    return CampaignPage(int(total or 0), lines)


async def _last_decisions(
    session: AsyncSession, keys: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], DecisionInfo]:
    """The newest decision of each (account id, advert id), for a page's worth of campaigns."""
    if not keys:
        return {}
    dr = DecisionRow
    wanted = set(keys)
    newest = (
        select(func.max(dr.id))
        .where(dr.account_id.in_({k[0] for k in keys}), dr.advert_id.in_({k[1] for k in keys}))
        .group_by(dr.account_id, dr.advert_id)
    )
    stmt = select(dr, AccountRow.name, AccountRow.currency).join(AccountRow, AccountRow.id == dr.account_id).where(dr.id.in_(newest))
    return {(row.account_id, row.advert_id): _decision(row, name, cur) for row, name, cur in await session.execute(stmt)
            if (row.account_id, row.advert_id) in wanted}

