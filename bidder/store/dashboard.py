"""Read queries for the web dashboard (:mod:`bidder.dashboard`). Every SQL construct it needs lives here.

The pages must stay fast for 10,000 campaigns with weeks of history, so everything a page shows about
many campaigns is aggregated and paginated in SQL: the campaigns table sorts, filters and pages in one
statement, and only the rows of the page are looked at further (their last decision, their pauses).

Money in these results is for display: sums are taken in SQL as floating point (SQLite stores money as
text and would sum it as REAL anyway) and the pages round them to whole base units. The engine never
reads these numbers; it reads :mod:`bidder.store.repo`, which sums exactly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.store.models import (
    AccountRow,
    AlertRow,
    BidSnapshotRow,
    CampaignItemRow,
    CampaignRow,
    CycleRow,
    DailyStatRow,
    DecisionRow,
    OperatorStateRow,
)

PAUSED_KEY = "paused"  # the operator_state keys written by bidder.notify.control
DRY_RUN_KEY = "dry_run"

# ----------------------------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class AccountRef:
    id: int
    name: str
    seller_id: str
    currency: str
    timezone: str


@dataclass(frozen=True, slots=True)
class CycleInfo:
    started_at: datetime
    finished_at: datetime | None
    ok: bool | None
    error: str | None
    summary: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class Totals:
    spend: float = 0.0
    revenue: float = 0.0
    orders: int = 0
    clicks: int = 0
    views: int = 0

    @property
    def drr(self) -> float | None:
        """ДРР, % = spend / revenue × 100 (None without revenue)."""
        return self.spend / self.revenue * 100 if self.revenue else None

    def roi(self, margin_pct: float) -> float | None:
        """ROI, % = (revenue × margin − spend) / spend × 100."""
        return (self.revenue * margin_pct / 100 - self.spend) / self.spend * 100 if self.spend else None


@dataclass(frozen=True, slots=True)
class AccountFigures:
    account: AccountRef
    campaigns: int
    by_status: Mapping[int, int]
    today: Totals
    week: Totals
    decisions_today: Mapping[str, int]
    bid_changes_today: int
    last_cycle: CycleInfo | None
    paused_all: bool
    paused_campaigns: int
    dry_run: bool | None  # the operator's toggle; None: never set
    saved_today: float | None  # what the max bid would have cost today, minus what was spent


@dataclass(frozen=True, slots=True)
class AlertInfo:
    id: int
    created_at: datetime
    account: str | None
    kind: str
    severity: str
    status: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DecisionInfo:
    id: int
    at: datetime
    account: str
    advert_id: int
    nm_id: int | None
    placement: str | None
    norm_query: str | None
    strategy: str
    action: str
    reason: str
    bid_before: int | None
    bid_after: int | None
    proposed_bid: int | None
    guard: str | None
    dry_run: bool
    apply_status: str
    api_error: str | None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    reason_code: str | None = None  # the reason as a catalogue code (bidder.reasons); None: render ``reason``
    reason_args: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class CampaignLine:
    """One row of the campaigns table."""

    account: str
    advert_id: int
    name: str
    status: int
    bid_type: str
    payment_type: str
    currency: str
    items: int
    bid_search_min: int | None
    bid_search_max: int | None
    bid_reco_min: int | None
    bid_reco_max: int | None
    position_today: float | None
    today: Totals
    week: Totals
    paused: bool = False  # by the operator (the campaign itself or its whole account)
    last_decision: DecisionInfo | None = None


@dataclass(frozen=True, slots=True)
class CampaignPage:
    total: int
    lines: list[CampaignLine]


@dataclass(frozen=True, slots=True)
class CampaignItem:
    nm_id: int
    subject: str
    bid_search: int | None
    bid_recommendations: int | None


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    account: AccountRef
    advert_id: int
    name: str
    type: int
    status: int
    bid_type: str
    payment_type: str
    currency: str
    placements: tuple[str, ...]
    changed_at: datetime | None
    updated_at: datetime
    items: tuple[CampaignItem, ...]
    paused: bool
    paused_all: bool


@dataclass(frozen=True, slots=True)
class DayStat:
    day: date
    nm_id: int
    spend: float
    revenue: float
    orders: int
    clicks: int
    views: int
    avg_position: float | None


@dataclass(frozen=True, slots=True)
class BidPoint:
    at: datetime
    nm_id: int
    placement: str
    bid: int


@dataclass(frozen=True, slots=True)
class ClusterBidPoint:
    at: datetime
    nm_id: int | None
    norm_query: str
    bid: int


@dataclass(frozen=True, slots=True)
class AuditFilter:
    account: str | None = None
    advert_id: int | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    hide_holds: bool = False


# ----------------------------------------------------------------------------------------------- helpers


def _f(col: Any) -> Any:
    """A money column as a float for summing (display only, see the module docstring)."""
    return cast(col, Float)


def _totals(spend: Any, revenue: Any, orders: Any = 0, clicks: Any = 0, views: Any = 0) -> Totals:
    return Totals(float(spend or 0), float(revenue or 0), int(orders or 0), int(clicks or 0), int(views or 0))


def _decision(row: DecisionRow, account: str) -> DecisionInfo:
    return DecisionInfo(
        id=row.id, at=row.at, account=account, advert_id=row.advert_id, nm_id=row.nm_id,
        placement=row.placement, norm_query=row.norm_query, strategy=row.strategy, action=row.action,
        reason=row.reason or "", bid_before=row.bid_before, bid_after=row.bid_after,
        proposed_bid=row.proposed_bid, guard=row.guard, dry_run=bool(row.dry_run),
        apply_status=row.apply_status, api_error=row.api_error, inputs=row.inputs or {},
        reason_code=row.reason_code, reason_args=row.reason_args,
    )


def _account(row: AccountRow) -> AccountRef:
    return AccountRef(row.id, row.name, row.seller_id, row.currency, row.timezone)


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
    stmt = select(dr, AccountRow.name).join(AccountRow, AccountRow.id == dr.account_id).where(dr.id.in_(newest))
    return {(row.account_id, row.advert_id): _decision(row, name) for row, name in await session.execute(stmt)
            if (row.account_id, row.advert_id) in wanted}


async def _paused(session: AsyncSession, account_ids: set[int]) -> dict[int, tuple[bool, set[int]]]:
    if not account_ids:
        return {}
    out: dict[int, tuple[bool, set[int]]] = {}
    o = OperatorStateRow
    for st in await session.scalars(select(o).where(o.account_id.in_(account_ids), o.key == PAUSED_KEY)):
        if not st.value:
            continue
        whole, ids = out.get(st.account_id, (False, set()))
        if st.advert_id is None:
            whole = True
        else:
            ids.add(int(st.advert_id))
        out[st.account_id] = (whole, ids)
    return out


# ----------------------------------------------------------------------------------------------- one campaign


async def campaign(session: AsyncSession, advert_id: int) -> CampaignInfo | None:
    row_acc = (await session.execute(
        select(CampaignRow, AccountRow).join(AccountRow, AccountRow.id == CampaignRow.account_id)
        .where(CampaignRow.advert_id == advert_id).order_by(CampaignRow.id).limit(1))).first()
    if row_acc is None:
        return None
    row, acc = row_acc
    items = tuple(
        CampaignItem(it.nm_id, it.subject, it.bid_search, it.bid_recommendations)
        for it in await session.scalars(
            select(CampaignItemRow).where(CampaignItemRow.campaign_id == row.id).order_by(CampaignItemRow.nm_id))
    )
    paused = await _paused(session, {acc.id})
    whole, ids = paused.get(acc.id, (False, set()))
    return CampaignInfo(
        account=_account(acc), advert_id=row.advert_id, name=row.name, type=row.type, status=row.status,
        bid_type=row.bid_type, payment_type=row.payment_type, currency=row.currency,
        placements=tuple(row.placements or ()), changed_at=row.changed_at, updated_at=row.updated_at,
        items=items, paused=row.advert_id in ids, paused_all=whole,
    )


async def daily_stats(session: AsyncSession, account_id: int, advert_id: int, since: date) -> list[DayStat]:
    d = DailyStatRow
    stmt = (
        select(d.day, d.nm_id, _f(d.spend), _f(d.revenue), d.orders, d.clicks, d.views, d.avg_position)
        .where(d.account_id == account_id, d.advert_id == advert_id, d.day >= since)
        .order_by(d.day, d.nm_id)
    )
    return [DayStat(r[0], r[1], float(r[2] or 0), float(r[3] or 0), int(r[4] or 0), int(r[5] or 0),
                    int(r[6] or 0), r[7]) for r in await session.execute(stmt)]


async def bid_history(session: AsyncSession, account_id: int, advert_id: int, since: datetime) -> list[BidPoint]:
    """Bid observations since ``since``, with the last one before it per item and placement (where each
    line starts), oldest first."""
    b = BidSnapshotRow
    base = (b.account_id == account_id, b.advert_id == advert_id)
    before = (
        select(func.max(b.id)).where(*base, b.at < since).group_by(b.nm_id, b.placement)
    )
    stmt = select(b).where(*base, or_(b.at >= since, b.id.in_(before))).order_by(b.at, b.id)
    return [BidPoint(r.at, r.nm_id, r.placement, r.bid) for r in await session.scalars(stmt)]


async def cluster_bid_history(
    session: AsyncSession, account_id: int, advert_id: int, since: datetime
) -> list[ClusterBidPoint]:
    """Search-cluster bids the engine set (applied or recorded in dry-run) since ``since``."""
    dr = DecisionRow
    stmt = (
        select(dr.at, dr.nm_id, dr.norm_query, dr.bid_after)
        .where(dr.account_id == account_id, dr.advert_id == advert_id, dr.at >= since,
               dr.norm_query.is_not(None), dr.action == "set_bid", dr.bid_after.is_not(None),
               dr.apply_status.in_(("applied", "reconciled_applied", "dry_run")))
        .order_by(dr.at, dr.id)
    )
    return [ClusterBidPoint(r[0], r[1], r[2], int(r[3])) for r in await session.execute(stmt)]


# ----------------------------------------------------------------------------------------------- audit


def _audit_where(f: AuditFilter) -> list[Any]:
    dr = DecisionRow
    out: list[Any] = []
    if f.account:
        out.append(AccountRow.name == f.account)
    if f.advert_id is not None:
        out.append(dr.advert_id == f.advert_id)
    if f.action:
        out.append(dr.action == f.action)
    elif f.hide_holds:
        out.append(dr.action != "hold")
    if f.since is not None:
        out.append(dr.at >= f.since)
    if f.until is not None:
        out.append(dr.at < f.until)
    return out


async def decisions(
    session: AsyncSession, f: AuditFilter, *, offset: int = 0, limit: int = 50
) -> tuple[list[DecisionInfo], bool]:
    """A page of the audit trail, newest first, and whether there is a next page."""
    dr = DecisionRow
    stmt = (
        select(dr, AccountRow.name).join(AccountRow, AccountRow.id == dr.account_id)
        .where(*_audit_where(f)).order_by(dr.at.desc(), dr.id.desc())
        .offset(max(0, offset)).limit(max(1, limit) + 1)
    )
    rows = [_decision(row, name) for row, name in await session.execute(stmt)]
    return rows[:limit], len(rows) > limit


async def iter_decisions(
    session: AsyncSession, f: AuditFilter, *, chunk: int = 2000, max_rows: int = 1_000_000
) -> AsyncIterator[list[DecisionInfo]]:
    """The whole filtered audit trail, newest first, in chunks (keyset pagination by id): CSV export."""
    dr = DecisionRow
    last_id: int | None = None
    sent = 0
    while sent < max_rows:
        stmt = (
            select(dr, AccountRow.name).join(AccountRow, AccountRow.id == dr.account_id)
            .where(*_audit_where(f)).order_by(dr.id.desc()).limit(min(chunk, max_rows - sent))
        )
        if last_id is not None:
            stmt = stmt.where(dr.id < last_id)
        rows = [_decision(row, name) for row, name in await session.execute(stmt)]
        if not rows:
            return
        yield rows
        sent += len(rows)
        last_id = rows[-1].id


async def spend_on(session: AsyncSession, account_id: int, advert_ids: Sequence[int], day: date) -> dict[int, float]:
    """Spend of each of ``advert_ids`` on ``day`` (for daily budgets on the overview)."""
    if not advert_ids:
        return {}
    d = DailyStatRow
    stmt = (
        select(d.advert_id, func.sum(_f(d.spend)))
        .where(d.account_id == account_id, d.day == day, d.advert_id.in_(list(advert_ids)))
        .group_by(d.advert_id)
    )
    return {int(a): float(v or 0) for a, v in await session.execute(stmt)}


async def latest_proposals(
    session: AsyncSession, account_id: int, advert_id: int, since: datetime
) -> list[DecisionInfo]:
    """The newest decision of each strategy for each target (item and placement, or search cluster) of a
    campaign since ``since``: what the strategies proposed at the engine's last evaluation, with the
    proposed bid before the guardrails (``proposed_bid``) and after (``bid_after``)."""
    dr = DecisionRow
    rn = func.row_number().over(
        partition_by=(dr.strategy, dr.nm_id, dr.placement, dr.norm_query), order_by=(dr.at.desc(), dr.id.desc())
    ).label("rn")
    sub = (
        select(dr.id, rn).where(dr.account_id == account_id, dr.advert_id == advert_id, dr.at >= since).subquery()
    )
    stmt = (
        select(dr, AccountRow.name).join(sub, sub.c.id == dr.id).join(AccountRow, AccountRow.id == dr.account_id)
        .where(sub.c.rn == 1).order_by(dr.strategy, dr.nm_id, dr.placement)
    )
    return [_decision(row, name) for row, name in await session.execute(stmt)]
