"""Write requests WB rejected (a 4xx), kept so that an identical request is never sent again, across
restarts (issue 14, defect 4; the engine's :class:`bidder.engine.safety.RejectedWrites`).

A row is one request's fingerprint (what goes on the wire and the campaign shape it was built for), the
campaign's shape fingerprint when WB rejected it, WB's reason and when. The engine forgets a campaign's
rows when the campaign reads differently (``forget_rejected``) and rows older than its expiry
(``purge_rejected``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.store.common import chunks, find_account_id, require_account_id, upsert
from bidder.store.models import RejectedRequestRow


@dataclass(frozen=True, slots=True)
class RejectedRequest:
    advert_id: int
    fingerprint: str
    shape: str
    reason: str
    rejected_at: datetime


async def save_rejected(session: AsyncSession, account: str, rejected: Iterable[RejectedRequest]) -> None:
    """Remember these rejections (the same fingerprint again: the newest reason and time)."""
    rows = [{"advert_id": r.advert_id, "fingerprint": r.fingerprint, "shape": r.shape, "reason": r.reason[:2000],
             "rejected_at": r.rejected_at} for r in rejected]
    if not rows:
        return
    account_id = await require_account_id(session, account)
    await upsert(session, RejectedRequestRow.__table__, ("account_id", "fingerprint"),
                 [{"account_id": account_id, **r} for r in rows])


async def load_rejected(session: AsyncSession, account: str, since: datetime) -> list[RejectedRequest]:
    """The account's rejections since ``since``, oldest first."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return []
    rows = await session.scalars(
        select(RejectedRequestRow)
        .where(RejectedRequestRow.account_id == account_id, RejectedRequestRow.rejected_at >= since)
        .order_by(RejectedRequestRow.rejected_at, RejectedRequestRow.id))
    return [RejectedRequest(r.advert_id, r.fingerprint, r.shape, r.reason, r.rejected_at) for r in rows]


async def forget_rejected(session: AsyncSession, account: str, advert_ids: Iterable[int]) -> None:
    """Drop these campaigns' rejections (they read differently now: a request may be sent again)."""
    ids = sorted(set(advert_ids))
    account_id = await find_account_id(session, account)
    if account_id is None or not ids:
        return
    for part in chunks(ids):
        await session.execute(delete(RejectedRequestRow).where(RejectedRequestRow.account_id == account_id,
                                                               RejectedRequestRow.advert_id.in_(part)))


async def purge_rejected(session: AsyncSession, account: str, before: datetime) -> None:
    """Drop the account's rejections older than ``before`` (expired)."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return
    await session.execute(delete(RejectedRequestRow).where(RejectedRequestRow.account_id == account_id,
                                                           RejectedRequestRow.rejected_at < before))
