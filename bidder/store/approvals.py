"""The approval queue: decisions waiting for a person's Approve / Reject in Telegram.

A row is ``pending`` until a person answers (``approved`` / ``rejected``), its time runs out (``expired``)
or a different decision for the same target replaces it (``superseded``); an approved one becomes
``applied`` (or ``stale`` when the fresh check found it no longer holds) when the engine acts on it. At
most one pending or approved row per target (advert, nm, placement, query) is live at a time. The queue is
in the database, so it survives restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.domain import Action, Decision
from bidder.store.common import find_account_id, require_account_id, to_jsonable
from bidder.store.leases import check_current_fence
from bidder.store.models import AccountRow, ApprovalRow

PENDING, APPROVED, REJECTED, EXPIRED, SUPERSEDED, APPLIED, STALE = (
    "pending", "approved", "rejected", "expired", "superseded", "applied", "stale")
LIVE = (PENDING, APPROVED)


def target_key(d: Decision) -> str:
    return "" if d.nm_id is None else f"{d.nm_id}|{d.placement or ''}|{d.norm_query or ''}"


@dataclass(frozen=True, slots=True)
class Approval:
    id: int
    account: str
    advert_id: int
    target: str
    action: str
    bid_before: int | None
    bid_after: int | None
    decision: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    status: str
    decided_at: datetime | None
    decided_by: str | None
    messages: list[list[int]] | None

    def same_as(self, d: Decision) -> bool:
        return self.action == Action(d.action).value and self.bid_after == d.bid_after


def _approval(r: ApprovalRow, account: str) -> Approval:
    return Approval(r.id, account, r.advert_id, r.target, r.action, r.bid_before, r.bid_after, dict(r.decision),
                    r.created_at, r.expires_at, r.status, r.decided_at, r.decided_by, r.messages)


async def live_approvals(session: AsyncSession, account: str) -> list[Approval]:
    """Pending and approved rows of an account, oldest first."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return []
    stmt = (select(ApprovalRow).where(ApprovalRow.account_id == account_id, ApprovalRow.status.in_(LIVE))
            .order_by(ApprovalRow.id))
    return [_approval(r, account) for r in await session.scalars(stmt)]


async def recently_closed(session: AsyncSession, account: str, since: datetime) -> list[Approval]:
    """Rows rejected or expired at or after ``since`` (the same decision is not asked for again meanwhile)."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return []
    stmt = (select(ApprovalRow).where(ApprovalRow.account_id == account_id,
                                      ApprovalRow.status.in_((REJECTED, EXPIRED)), ApprovalRow.decided_at >= since)
            .order_by(ApprovalRow.id))
    return [_approval(r, account) for r in await session.scalars(stmt)]


async def queue_approval(session: AsyncSession, account: str, d: Decision, *, now: datetime,
                         expires_at: datetime) -> int:
    """Queue a decision (superseding a live row for the same target); returns the new row's id."""
    account_id = await require_account_id(session, account)
    key = target_key(d)
    await session.execute(
        update(ApprovalRow)
        .where(ApprovalRow.account_id == account_id, ApprovalRow.advert_id == d.advert_id,
               ApprovalRow.target == key, ApprovalRow.status.in_(LIVE))
        .values(status=SUPERSEDED, decided_at=now)
    )
    row = ApprovalRow(account_id=account_id, advert_id=d.advert_id, target=key, action=Action(d.action).value,
                      bid_before=d.bid_before, bid_after=d.bid_after, decision=to_jsonable(d), created_at=now,
                      expires_at=expires_at, status=PENDING)
    session.add(row)
    await session.flush()
    return row.id


async def answer(session: AsyncSession, approval_id: int, *, approve: bool, by: str, now: datetime
                 ) -> tuple[Approval | None, bool]:
    """A person's answer; only a pending row that has not expired changes. Returns the row after the
    answer (None for an unknown id) and whether this answer was the one recorded."""
    await check_current_fence(session)  # a worker's write: fenced
    status = APPROVED if approve else REJECTED
    result = await session.execute(
        update(ApprovalRow)
        .where(ApprovalRow.id == approval_id, ApprovalRow.status == PENDING, ApprovalRow.expires_at > now)
        .values(status=status, decided_at=now, decided_by=by[:128])
    )
    return await get_approval(session, approval_id), bool(result.rowcount)  # type: ignore[attr-defined]


async def get_approval(session: AsyncSession, approval_id: int) -> Approval | None:
    row = (await session.execute(select(ApprovalRow, AccountRow.name)
                                 .join(AccountRow, AccountRow.id == ApprovalRow.account_id)
                                 .where(ApprovalRow.id == approval_id))).first()
    return None if row is None else _approval(row[0], row[1])


async def set_status(session: AsyncSession, approval_id: int, status: str, *, now: datetime) -> None:
    await check_current_fence(session)  # a worker's write: fenced
    await session.execute(update(ApprovalRow).where(ApprovalRow.id == approval_id)
                          .values(status=status, decided_at=now))


async def expire(session: AsyncSession, account: str, now: datetime) -> list[Approval]:
    """Pending rows whose time ran out become ``expired``; returns them."""
    await check_current_fence(session, account)  # a worker's write: fenced
    account_id = await find_account_id(session, account)
    if account_id is None:
        return []
    stmt = select(ApprovalRow).where(ApprovalRow.account_id == account_id, ApprovalRow.status == PENDING,
                                     ApprovalRow.expires_at <= now)
    rows = list(await session.scalars(stmt))
    for r in rows:
        r.status = EXPIRED
        r.decided_at = now
    await session.flush()
    return [_approval(r, account) for r in rows]


async def unsent(session: AsyncSession, limit: int = 50) -> list[Approval]:
    """Pending rows whose Telegram messages are not sent yet, oldest first (every account)."""
    stmt = (select(ApprovalRow, AccountRow.name).join(AccountRow, AccountRow.id == ApprovalRow.account_id)
            .where(ApprovalRow.status == PENDING, ApprovalRow.sent_at.is_(None)).order_by(ApprovalRow.id)
            .limit(limit))
    return [_approval(r, name) for r, name in await session.execute(stmt)]


async def set_messages(session: AsyncSession, approval_id: int, messages: list[list[int]], *, now: datetime) -> None:
    await check_current_fence(session)  # a worker's write: fenced
    await session.execute(update(ApprovalRow).where(ApprovalRow.id == approval_id)
                          .values(messages=messages, sent_at=now))
