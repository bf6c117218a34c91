"""Helpers every store module shares: the account lookups, chunking, the dialect-aware upsert and the
JSON conversion of audit columns. Nothing here commits."""

from __future__ import annotations

import dataclasses
import enum
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.store.leases import check_current_fence
from bidder.store.models import AccountRow

CHUNK = 500  # rows / bound ids per statement; far below SQLite's and asyncpg's parameter limits


class UnknownAccount(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown account {name!r}: call ensure_account first")
        self.name = name


def to_jsonable(value: Any) -> Any:
    """Plain JSON for audit columns: Decimal -> str (exact), datetime/date -> ISO text, sets -> sorted lists."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        items = [to_jsonable(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return str(value)


def chunks(seq: Sequence[Any], n: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


# Account ids by name, per database (engine): every store function looks its account up, a cycle calls
# dozens of them, and an account's row is never deleted or renamed. ensure_account overwrites the entry it
# returns (so a creation that was rolled back is corrected by the next ensure_account); names not found
# are not kept.
_ACCOUNT_IDS: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()


def _account_ids(session: AsyncSession) -> dict[str, int]:
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    ids = _ACCOUNT_IDS.get(engine)
    if ids is None:
        ids = _ACCOUNT_IDS[engine] = {}
    return ids


def remember_account_id(session: AsyncSession, name: str, account_id: int) -> None:
    _account_ids(session)[name] = account_id


async def find_account_id(session: AsyncSession, name: str) -> int | None:
    ids = _account_ids(session)
    account_id = ids.get(name)
    if account_id is None:
        account_id = await session.scalar(select(AccountRow.id).where(AccountRow.name == name))
        if account_id is not None:
            ids[name] = account_id
    return account_id


async def require_account_id(session: AsyncSession, name: str) -> int:
    """The account's id for a write of its data (raises :class:`UnknownAccount`). A worker's write is
    fenced here: refused with ``LeaseLost`` unless its lease on the account still holds
    (:func:`bidder.store.leases.check_current_fence`), in the write's own transaction."""
    await check_current_fence(session, name)
    account_id = await find_account_id(session, name)
    if account_id is None:
        raise UnknownAccount(name)
    return account_id


def _insert_for(session: AsyncSession, table: Any) -> Any:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return pg_dialect.insert(table)
    if name == "sqlite":
        return sqlite_dialect.insert(table)
    raise NotImplementedError(f"upsert is not implemented for {name}")


async def upsert(session: AsyncSession, table: Any, keys: Sequence[str], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    stmt = _insert_for(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys and c.name != "id"},
    )
    conn = await session.connection()
    for chunk in chunks(rows):
        await conn.execute(stmt, list(chunk))


async def insert_missing(session: AsyncSession, table: Any, keys: Sequence[str], rows: list[dict[str, Any]]) -> None:
    """Insert the rows whose ``keys`` are not there yet; existing rows are left as they are."""
    if not rows:
        return
    stmt = _insert_for(session, table).on_conflict_do_nothing(index_elements=list(keys))
    conn = await session.connection()
    for chunk in chunks(rows):
        await conn.execute(stmt, list(chunk))
