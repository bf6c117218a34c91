"""The ``alerts`` table: the Telegram outbox. Every statement on it lives here.

Rows are *events* (what happened; ``bidder.notify.events``), pre-rendered *messages* (kind ``digest``),
and per-chat *deliveries* (kind :data:`DELIVERY_KIND`) that :class:`bidder.notify.outbox.OutboxSender`
fans events out to. A row leaves ``pending`` as ``sent``, ``merged`` (folded into a delivery) or
``failed`` (given up).

**De-duplication: the one rule.** A ``dedup_key`` names one alert per period. :func:`enqueue_alert`
drops an alert (returns None) when another alert with the same key

* is still ``pending``, or
* was enqueued within the period and was not given up (any status but ``failed``).

The period is the :data:`DEDUP_PERIOD` (24 hours) before the new alert's ``at``: a key that carries a
date ("drr:<account>:<advert>:<day>", "token:<account>:<which>:<day>") alerts once that day even after
the first one was sent, a key without one (API drift) at most once a day, and a given-up alert does not
silence the next. A caller whose key already names a longer period passes its start as ``since``: the
daily digest (``digest:<day>``) is made once for its day, however long its local day is.
:func:`already_alerted` answers the same question without enqueuing. ``dedup_key=None`` never
de-duplicates. The pending half is also enforced by the database (a partial unique index on
``dedup_key`` where ``status = 'pending'``), so two sessions racing cannot both enqueue one key.

Nothing here commits: an alert is enqueued in the caller's transaction, with the decision that raised it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.store.common import chunks, require_account_id, to_jsonable
from bidder.store.leases import check_current_fence
from bidder.store.models import AccountRow, AlertRow

DEDUP_PERIOD = timedelta(hours=24)
DELIVERY_KIND = "tg_delivery"  # one message to one chat, fanned out from events by the outbox sender


class AlertStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up
    MERGED = "merged"  # folded into another message


@dataclass(frozen=True, slots=True)
class StoredAlert:
    id: int
    created_at: datetime
    account: str | None
    kind: str
    dedup_key: str | None
    severity: str
    payload: Mapping[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None


def _stored_alert(row: AlertRow, account: str | None) -> StoredAlert:
    return StoredAlert(
        id=row.id,
        created_at=row.created_at,
        account=account,
        kind=row.kind,
        dedup_key=row.dedup_key,
        severity=row.severity,
        payload=row.payload,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        last_error=row.last_error,
    )


def _duplicate_of(dedup_key: str, since: datetime) -> Any:
    """The de-duplication rule (see the module docstring) as a WHERE clause."""
    return and_(
        AlertRow.dedup_key == dedup_key,
        or_(
            AlertRow.status == AlertStatus.PENDING.value,
            and_(AlertRow.created_at >= since, AlertRow.status != AlertStatus.FAILED.value),
        ),
    )


async def already_alerted(
    session: AsyncSession, dedup_key: str, *, at: datetime, since: datetime | None = None
) -> bool:
    """Whether :func:`enqueue_alert` would drop an alert with ``dedup_key`` at ``at`` as a duplicate."""
    period_start = at - DEDUP_PERIOD if since is None else since
    found = await session.scalar(select(AlertRow.id).where(_duplicate_of(dedup_key, period_start)).limit(1))
    return found is not None


async def enqueue_alert(
    session: AsyncSession,
    account: str | None,
    kind: str,
    payload: Mapping[str, Any],
    *,
    dedup_key: str | None,
    severity: str = "info",
    at: datetime,
    since: datetime | None = None,
) -> int | None:
    """Put an alert in the outbox; returns its id, or None when it is a duplicate by the module's one
    rule (``since``: the start of the key's period when it is longer than :data:`DEDUP_PERIOD`).
    ``account=None`` is a process-wide alert. ``dedup_key`` is global: include the account in it."""
    account_id = None if account is None else await require_account_id(session, account)
    if dedup_key is not None and await already_alerted(session, dedup_key, at=at, since=since):
        return None
    row = AlertRow(
        created_at=at,
        account_id=account_id,
        kind=kind,
        dedup_key=dedup_key,
        severity=severity,
        payload=to_jsonable(payload),
        status=AlertStatus.PENDING.value,
        attempts=0,
        next_attempt_at=None,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None  # another session enqueued the same dedup_key meanwhile
    return row.id


def _alerts_query() -> Select[tuple[AlertRow, str | None]]:
    return select(AlertRow, AccountRow.name).outerjoin(AccountRow, AccountRow.id == AlertRow.account_id)


async def pending_events(session: AsyncSession, limit: int) -> list[StoredAlert]:
    """Pending rows that are not deliveries (events and pre-rendered messages), in id order, due or not."""
    stmt = (
        _alerts_query()
        .where(AlertRow.status == AlertStatus.PENDING.value, AlertRow.kind != DELIVERY_KIND)
        .order_by(AlertRow.id)
        .limit(limit)
    )
    return [_stored_alert(row, name) for row, name in await session.execute(stmt)]


async def pending_deliveries(session: AsyncSession, limit: int) -> list[StoredAlert]:
    """Pending deliveries in id order, due or not (a chat's first one that is not due holds the others)."""
    stmt = (
        _alerts_query()
        .where(AlertRow.status == AlertStatus.PENDING.value, AlertRow.kind == DELIVERY_KIND)
        .order_by(AlertRow.id)
        .limit(limit)
    )
    return [_stored_alert(row, name) for row, name in await session.execute(stmt)]


async def mark_alert_sent(session: AsyncSession, alert_id: int, *, at: datetime) -> None:
    await check_current_fence(session)  # a worker's write: fenced
    await session.execute(
        update(AlertRow)
        .where(AlertRow.id == alert_id)
        .values(status=AlertStatus.SENT.value, sent_at=at, attempts=AlertRow.attempts + 1, last_error=None)
    )


async def mark_alert_retry(
    session: AsyncSession, alert_id: int, error: str, next_attempt_at: datetime | None
) -> None:
    """Count a failed attempt. ``next_attempt_at=None`` gives up: the alert becomes 'failed'."""
    await check_current_fence(session)  # a worker's write: fenced
    values: dict[str, Any] = {
        "attempts": AlertRow.attempts + 1,
        "last_error": error,
        "next_attempt_at": next_attempt_at,
    }
    if next_attempt_at is None:
        values["status"] = AlertStatus.FAILED.value
    await session.execute(update(AlertRow).where(AlertRow.id == alert_id).values(**values))


async def mark_alerts_merged(session: AsyncSession, alert_ids: Iterable[int]) -> None:
    """Alerts folded into another message: they leave the queue without being sent on their own."""
    await check_current_fence(session)  # a worker's write: fenced
    ids = list(alert_ids)
    for chunk in chunks(ids):
        await session.execute(
            update(AlertRow).where(AlertRow.id.in_(chunk)).values(status=AlertStatus.MERGED.value)
        )


async def purge_alerts(session: AsyncSession, *, before: datetime) -> int:
    """Delete finished rows (sent, merged, failed) created before ``before``; pending rows stay.
    Returns the number deleted."""
    await check_current_fence(session)  # a worker's write: fenced
    finished = (AlertStatus.SENT.value, AlertStatus.MERGED.value, AlertStatus.FAILED.value)
    result = await session.execute(
        delete(AlertRow).where(AlertRow.status.in_(finished), AlertRow.created_at < before)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def last_alert_kind(session: AsyncSession, account: str, kinds: Iterable[str]) -> str | None:
    """The kind of the newest alert of ``account`` among ``kinds`` (any status), None if there is none:
    e.g. whether the account was last alerted failing or recovered, whichever process alerted it."""
    return await session.scalar(
        select(AlertRow.kind).join(AccountRow, AccountRow.id == AlertRow.account_id)
        .where(AccountRow.name == account, AlertRow.kind.in_(list(kinds)))
        .order_by(AlertRow.id.desc()).limit(1))
