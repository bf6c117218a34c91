"""Dashboard read queries about one campaign (its charts, its timeline, what its strategies proposed) and
the audit log with its filters and CSV export. Re-exported by :mod:`bidder.store.dashboard`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.store.dashboard_records import (
    AuditFilter,
    BidPoint,
    CampaignInfo,
    CampaignItem,
    ClusterBidPoint,
    DayStat,
    DecisionInfo,
    _account,
    _decision,
    _f,
    _paused,
)
from bidder.store.models import (
    AccountRow,
    BidSnapshotRow,
    CampaignItemRow,
    CampaignRow,
    DailyStatRow,
    DecisionRow,
)

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
        select(dr, AccountRow.name, AccountRow.currency).join(AccountRow, AccountRow.id == dr.account_id)
        .where(*_audit_where(f)).order_by(dr.at.desc(), dr.id.desc())
        .offset(max(0, offset)).limit(max(1, limit) + 1)
    )
    rows = [_decision(row, name, cur) for row, name, cur in await session.execute(stmt)]
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
            select(dr, AccountRow.name, AccountRow.currency).join(AccountRow, AccountRow.id == dr.account_id)
            .where(*_audit_where(f)).order_by(dr.id.desc()).limit(min(chunk, max_rows - sent))
        )
        if last_id is not None:
            stmt = stmt.where(dr.id < last_id)
        rows = [_decision(row, name, cur) for row, name, cur in await session.execute(stmt)]
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
        select(dr, AccountRow.name, AccountRow.currency).join(sub, sub.c.id == dr.id).join(AccountRow, AccountRow.id == dr.account_id)
        .where(sub.c.rn == 1).order_by(dr.strategy, dr.nm_id, dr.placement)
    )
    return [_decision(row, name, cur) for row, name, cur in await session.execute(stmt)]
