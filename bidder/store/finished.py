"""Finished campaigns (WB status 7) whose final read is done: the poller never reads them again."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.store.common import find_account_id, insert_missing, require_account_id, upsert
from bidder.store.models import FinishedReadRow


async def finished_reads(session: AsyncSession, account: str) -> set[int]:
    """The advert ids of the account's finished campaigns whose final read is done."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return set()
    rows = await session.scalars(select(FinishedReadRow.advert_id).where(FinishedReadRow.account_id == account_id))
    return set(rows)


async def mark_finished_read(session: AsyncSession, account: str, advert_ids: Iterable[int], at: datetime) -> None:
    """Remember that these finished campaigns' final read is done (idempotent; a row already there, e.g. a
    report's on-demand read, is kept as it is)."""
    ids = sorted(set(advert_ids))
    if not ids:
        return
    account_id = await require_account_id(session, account)
    await insert_missing(session, FinishedReadRow.__table__, ("account_id", "advert_id"),
                         [{"account_id": account_id, "advert_id": i, "read_at": at} for i in ids])


async def days_read_at(session: AsyncSession, account: str, advert_id: int) -> datetime | None:
    """When a report read this finished campaign's last days on demand (None: never)."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return None
    return await session.scalar(select(FinishedReadRow.days_read_at).where(
        FinishedReadRow.account_id == account_id, FinishedReadRow.advert_id == int(advert_id)))


async def mark_days_read(session: AsyncSession, account: str, advert_id: int, at: datetime) -> None:
    """A report read this finished campaign's last days (its final read is then done too)."""
    account_id = await require_account_id(session, account)
    await upsert(session, FinishedReadRow.__table__, ("account_id", "advert_id"),
                 [{"account_id": account_id, "advert_id": int(advert_id), "read_at": at, "days_read_at": at}])
