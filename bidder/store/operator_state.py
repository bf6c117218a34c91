"""Operator switches: pauses (one campaign, or the whole account) and the dry-run toggle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.store.common import find_account_id, require_account_id, to_jsonable
from bidder.store.leases import check_current_fence
from bidder.store.models import AccountRow, OperatorStateRow


@dataclass(frozen=True, slots=True)
class OperatorState:
    account: str
    advert_id: int | None  # None: the whole account
    key: str
    value: Any
    set_at: datetime
    set_by: str


def _state_filter(account_id: int, key: str, advert_id: int | None) -> Any:
    adv = (
        OperatorStateRow.advert_id.is_(None) if advert_id is None else OperatorStateRow.advert_id == advert_id
    )
    return and_(OperatorStateRow.account_id == account_id, OperatorStateRow.key == key, adv)


async def set_operator_state(
    session: AsyncSession,
    account: str,
    key: str,
    value: Any,
    *,
    advert_id: int | None = None,
    at: datetime,
    set_by: str = "",
) -> None:
    """Set (replace) an operator switch, e.g. key='paused' for one campaign or (advert_id=None) all,
    or key='dry_run' for the account."""
    account_id = await require_account_id(session, account)
    await session.execute(delete(OperatorStateRow).where(_state_filter(account_id, key, advert_id)))
    session.add(
        OperatorStateRow(
            account_id=account_id,
            advert_id=advert_id,
            key=key,
            value=to_jsonable(value),
            set_at=at,
            set_by=set_by,
        )
    )
    await session.flush()


async def get_operator_state(
    session: AsyncSession, account: str, key: str, *, advert_id: int | None = None
) -> OperatorState | None:
    """The switch for exactly this (account, advert_id or None, key), or None."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return None
    row = await session.scalar(
        select(OperatorStateRow)
        .where(_state_filter(account_id, key, advert_id))
        .order_by(OperatorStateRow.set_at.desc(), OperatorStateRow.id.desc())
        .limit(1)
    )
    return None if row is None else _operator_state(row, account)


async def operator_states(session: AsyncSession, account: str, key: str | None = None) -> list[OperatorState]:
    """Every switch of an account (optionally one key), account-wide ones first."""
    stmt = (
        select(OperatorStateRow)
        .join(AccountRow, AccountRow.id == OperatorStateRow.account_id)
        .where(AccountRow.name == account)
        .order_by(OperatorStateRow.key, OperatorStateRow.advert_id.is_not(None), OperatorStateRow.advert_id)
    )
    if key is not None:
        stmt = stmt.where(OperatorStateRow.key == key)
    return [_operator_state(r, account) for r in await session.scalars(stmt)]


async def clear_operator_state(
    session: AsyncSession, account: str, key: str, *, advert_id: int | None = None
) -> bool:
    """Remove a switch; returns whether one was set."""
    await check_current_fence(session, account)  # a worker's write: fenced
    account_id = await find_account_id(session, account)
    if account_id is None:
        return False
    result = await session.execute(delete(OperatorStateRow).where(_state_filter(account_id, key, advert_id)))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _operator_state(row: OperatorStateRow, account: str) -> OperatorState:
    return OperatorState(account, row.advert_id, row.key, row.value, row.set_at, row.set_by)
