"""Finished campaigns (WB status 7) whose final read is done: the poller never reads them again."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.store.common import find_account_id, require_account_id, upsert
from bidder.store.models import FinishedReadRow


async def finished_reads(session: AsyncSession, account: str) -> set[int]:
    """The advert ids of the account's finished campaigns whose final read is done."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return set()
    rows = await session.scalars(select(FinishedReadRow.advert_id).where(FinishedReadRow.account_id == account_id))
    return set(rows)


async def mark_finished_read(session: AsyncSession, account: str, advert_ids: Iterable[int], at: datetime) -> None:
    """Remember that these finished campaigns' final read is done (idempotent)."""
    ids = sorted(set(advert_ids))
    if not ids:
        return
    account_id = await require_account_id(session, account)
    await upsert(session, FinishedReadRow.__table__, ("account_id", "advert_id"),
                 [{"account_id": account_id, "advert_id": i, "read_at": at} for i in ids])
