"""Accounts: one row per configured seller account (name, seller id, currency, time zone; never a token)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.store.common import remember_account_id
from bidder.store.leases import check_current_fence
from bidder.store.models import AccountRow


@dataclass(frozen=True, slots=True)
class AccountInfo:
    id: int
    name: str
    seller_id: str
    currency: str
    timezone: str


async def ensure_account(
    session: AsyncSession,
    name: str,
    seller_id: str = "",
    currency: str = "RUB",
    timezone: str = "Europe/Moscow",
) -> int:
    """Create the account or update its facts; returns its id. Tokens are never stored."""
    await check_current_fence(session, name)  # a worker's write: fenced
    row = await session.scalar(select(AccountRow).where(AccountRow.name == name))
    if row is None:
        row = AccountRow(name=name, seller_id=str(seller_id), currency=currency, timezone=timezone)
        session.add(row)
    else:
        row.seller_id, row.currency, row.timezone = str(seller_id), currency, timezone
    await session.flush()
    remember_account_id(session, name, row.id)
    return row.id


async def get_account(session: AsyncSession, name: str) -> AccountInfo | None:
    row = await session.scalar(select(AccountRow).where(AccountRow.name == name))
    return None if row is None else _account_info(row)


def _account_info(row: AccountRow) -> AccountInfo:
    return AccountInfo(row.id, row.name, row.seller_id, row.currency, row.timezone)
