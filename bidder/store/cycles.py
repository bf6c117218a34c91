"""Cycles: one row per account pass (started, finished, ok, error, summary) for status and health."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.store.common import require_account_id, to_jsonable
from bidder.store.leases import check_current_fence
from bidder.store.models import AccountRow, CycleRow


@dataclass(frozen=True, slots=True)
class CycleRecord:
    id: int
    account: str
    started_at: datetime
    finished_at: datetime | None
    ok: bool | None
    error: str | None
    summary: Mapping[str, Any] | None


async def start_cycle(session: AsyncSession, account: str, at: datetime) -> int:
    account_id = await require_account_id(session, account)
    row = CycleRow(account_id=account_id, started_at=at)
    session.add(row)
    await session.flush()
    return row.id


async def finish_cycle(
    session: AsyncSession,
    cycle_id: int,
    *,
    at: datetime,
    ok: bool,
    error: str | None = None,
    summary: Mapping[str, Any] | None = None,
) -> None:
    await check_current_fence(session)  # a worker's write: fenced
    await session.execute(
        update(CycleRow)
        .where(CycleRow.id == cycle_id)
        .values(finished_at=at, ok=ok, error=error, summary=None if summary is None else to_jsonable(summary))
    )


async def last_cycles(session: AsyncSession, *, finished: bool = False) -> dict[str, CycleRecord]:
    """The latest cycle (by started_at) of every account that has one, keyed by account name;
    ``finished``: the latest that finished (a cycle cut by a crash or by a lease hand-over never does)."""
    c = CycleRow
    rn = (
        func.row_number()
        .over(partition_by=c.account_id, order_by=(c.started_at.desc(), c.id.desc()))
        .label("rn")
    )
    sub = select(c.id, rn)
    if finished:
        sub = sub.where(c.finished_at.is_not(None))
    sub = sub.subquery()
    stmt = (
        select(c, AccountRow.name)
        .join(sub, sub.c.id == c.id)
        .join(AccountRow, AccountRow.id == c.account_id)
        .where(sub.c.rn == 1)
    )
    return {
        name: CycleRecord(row.id, name, row.started_at, row.finished_at, row.ok, row.error, row.summary)
        for row, name in await session.execute(stmt)
    }


async def stats_read_since(session: AsyncSession, account: str, since: datetime) -> bool:
    """Whether a cycle of ``account`` that started at or after ``since`` finished having read statistics
    from WB (or had no campaign to read them for). The daily digest waits for it: statistics of a day
    are complete only when read after the day ended, and a daemon just started has read none."""
    c = CycleRow
    stmt = (
        select(c.summary)
        .join(AccountRow, AccountRow.id == c.account_id)
        .where(AccountRow.name == account, c.started_at >= since, c.finished_at.is_not(None))
        .order_by(c.started_at)
        .limit(1000)
    )
    for summary in await session.scalars(stmt):
        if summary and ((summary.get("stats_refreshed") or 0) > 0 or summary.get("campaigns") == 0):
            return True
    return False
