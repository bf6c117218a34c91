"""The audit trail: every decision, and the write intents (``apply_status='pending'``) with their outcomes."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.domain import Action, Decision, DecisionRecord, Reason, reason_record
from bidder.store.common import chunks, find_account_id, require_account_id, to_jsonable
from bidder.store.leases import check_current_fence
from bidder.store.models import AccountRow, DecisionRow


class ApplyStatus(enum.StrEnum):
    PENDING = "pending"  # a write intent the writer has not sent yet
    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"
    DRY_RUN = "dry_run"
    RECONCILED_APPLIED = "reconciled_applied"  # found applied on WB after a crash / unknown outcome
    RECONCILED_NOT_APPLIED = "reconciled_not_applied"
    HELD = "held"  # a hold decision: nothing to send


APPLIED_STATUSES = frozenset({ApplyStatus.APPLIED, ApplyStatus.RECONCILED_APPLIED})


@dataclass(frozen=True, slots=True)
class StoredDecision:
    id: int
    at: datetime
    account: str
    decision: Decision
    dry_run: bool
    apply_status: str
    api_error: str | None = None
    applied_at: datetime | None = None
    evidence_at: datetime | None = None
    proposal: Any = None

    @property
    def applied(self) -> bool:
        return self.apply_status in APPLIED_STATUSES

    # Flat read access to the decision's fields (the CLI's history table reads these).
    @property
    def advert_id(self) -> int:
        return self.decision.advert_id

    @property
    def nm_id(self) -> int | None:
        return self.decision.nm_id

    @property
    def placement(self) -> str | None:
        return self.decision.placement

    @property
    def norm_query(self) -> str | None:
        return self.decision.norm_query

    @property
    def strategy(self) -> str:
        return self.decision.strategy

    @property
    def action(self) -> Action:
        return self.decision.action

    @property
    def reason(self) -> str:
        return self.decision.reason

    @property
    def bid_before(self) -> int | None:
        return self.decision.bid_before

    @property
    def bid_after(self) -> int | None:
        return self.decision.bid_after

    @property
    def proposed_bid(self) -> int | None:
        return self.decision.proposed_bid

    @property
    def guard(self) -> str | None:
        return self.decision.guard

    @property
    def inputs(self) -> Mapping[str, Any]:
        return self.decision.inputs


def _reason_columns(reason: str) -> dict[str, Any]:
    """``reason_code`` / ``reason_args`` of a decision's reason (NULL both for a reason with no code)."""
    if isinstance(reason, Reason):
        record = reason_record(reason)
        return {"reason_code": record["code"], "reason_args": to_jsonable(record["args"])}
    return {"reason_code": None, "reason_args": None}


def _stored_reason(text: str | None, code: str | None, args: Mapping[str, Any] | None) -> str:
    """A stored reason back as a :class:`Reason` (its code and args) or, without a code, its text."""
    return Reason(text or "", code, args or {}) if code else (text or "")


def _text(value: str | None) -> str | None:
    return None if value is None else str(value)


def _default_proposal(decision: Decision) -> dict[str, Any]:
    return {
        "strategy": decision.strategy,
        "action": decision.action.value if isinstance(decision.action, enum.Enum) else decision.action,
        "advert_id": decision.advert_id,
        "nm_id": decision.nm_id,
        "placement": decision.placement,
        "norm_query": decision.norm_query,
        "bid": decision.proposed_bid,
        "reason": str(decision.reason),
    }


async def record_decision(
    session: AsyncSession,
    account: str,
    decision: Decision,
    *,
    at: datetime,
    dry_run: bool,
    apply_status: str,
    evidence_at: datetime | None = None,
    proposal: Any = None,
) -> int:
    """Append a decision to the audit trail; ``apply_status='pending'`` makes it a write intent.
    ``proposal`` (JSON-able) defaults to the decision's own proposal fields."""
    status = ApplyStatus(apply_status)
    await check_current_fence(session, account)
    account_id = await require_account_id(session, account)
    row = DecisionRow(
        at=at,
        account_id=account_id,
        advert_id=decision.advert_id,
        nm_id=decision.nm_id,
        placement=decision.placement,
        norm_query=decision.norm_query,
        strategy=decision.strategy,
        reason=str(decision.reason),
        **_reason_columns(decision.reason),
        inputs=to_jsonable(decision.inputs),
        proposal=to_jsonable(proposal if proposal is not None else _default_proposal(decision)),
        action=str(Action(decision.action).value),
        bid_before=decision.bid_before,
        bid_after=decision.bid_after,
        proposed_bid=decision.proposed_bid,
        guard=_text(decision.guard),
        dry_run=dry_run,
        apply_status=status.value,
        applied_at=None,
        evidence_at=evidence_at,
    )
    session.add(row)
    await session.flush()
    return row.id


async def record_decisions(
    session: AsyncSession,
    account: str,
    decisions: Sequence[Decision],
    *,
    at: datetime,
    dry_run: bool,
    apply_status: str,
    evidence_at: Mapping[int, datetime] | None = None,
    error: str | None = None,
    returning_ids: bool = False,
) -> list[int]:
    """Append many decisions in one multi-row INSERT per chunk; with ``returning_ids`` return their ids
    in order (write intents need them; it costs about three times the CPU, so holds do without).
    ``evidence_at`` maps advert_id to the statistics time of its snapshot, ``error`` is recorded as the
    API error (for intents skipped because writes are stopped)."""
    if not decisions:
        return []
    status = ApplyStatus(apply_status).value
    await check_current_fence(session, account)  # a worker whose lease was taken over records nothing
    account_id = await require_account_id(session, account)
    evidence = evidence_at or {}
    rows = [
        {
            "at": at, "account_id": account_id, "advert_id": d.advert_id, "nm_id": d.nm_id,
            "placement": d.placement, "norm_query": d.norm_query, "strategy": d.strategy, "reason": str(d.reason),
            **_reason_columns(d.reason),
            "inputs": to_jsonable(d.inputs), "proposal": to_jsonable(_default_proposal(d)),
            "action": str(Action(d.action).value), "bid_before": d.bid_before, "bid_after": d.bid_after,
            "proposed_bid": d.proposed_bid, "guard": _text(d.guard), "dry_run": dry_run, "apply_status": status,
            "applied_at": None, "evidence_at": evidence.get(d.advert_id), "api_error": error,
        }
        for d in decisions
    ]
    ids: list[int] = []
    for chunk in chunks(rows):
        if returning_ids:
            stmt = insert(DecisionRow).returning(DecisionRow.id, sort_by_parameter_order=True)
            ids.extend(await session.scalars(stmt, list(chunk)))
        else:
            await session.execute(insert(DecisionRow), list(chunk))
    return ids


async def set_decision_status(
    session: AsyncSession,
    decision_id: int,
    status: str,
    *,
    error: str | None = None,
    applied_at: datetime | None = None,
) -> None:
    """Record the outcome of a write intent. Raises LookupError for an unknown id."""
    await check_current_fence(session)  # a worker's write: fenced
    values: dict[str, Any] = {"apply_status": ApplyStatus(status).value, "api_error": error}
    if applied_at is not None:
        values["applied_at"] = applied_at
    result = await session.execute(update(DecisionRow).where(DecisionRow.id == decision_id).values(**values))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise LookupError(f"no decision {decision_id}")


async def set_decision_statuses(
    session: AsyncSession, outcomes: Sequence[tuple[int, str, str | None, datetime | None]]
) -> None:
    """Record many outcomes of write intents, (id, status, error, applied_at) each, in one batched
    UPDATE. Raises LookupError when an id is unknown."""
    await check_current_fence(session)  # a worker's write: fenced
    if not outcomes:
        return
    params = [
        {"b_id": i, "b_status": ApplyStatus(status).value, "b_error": error, "b_applied_at": applied_at}
        for i, status, error, applied_at in outcomes
    ]
    stmt = (
        update(DecisionRow.__table__)
        .where(DecisionRow.__table__.c.id == bindparam("b_id"))
        .values(apply_status=bindparam("b_status"), api_error=bindparam("b_error"),
                applied_at=func.coalesce(bindparam("b_applied_at", type_=DecisionRow.__table__.c.applied_at.type),
                                         DecisionRow.__table__.c.applied_at))
    )
    conn = await session.connection()
    result = await conn.execute(stmt, params)
    found = result.rowcount
    if found is None or found < 0:  # a driver that does not count rows of an executemany (asyncpg)
        ids = sorted({p["b_id"] for p in params})
        found = 0
        for chunk in chunks(ids):
            found += await session.scalar(select(func.count()).select_from(DecisionRow).where(DecisionRow.id.in_(chunk)))
    if found != len(params):
        raise LookupError(f"{len(params) - found} of {len(params)} decisions not found")


def _decision(row: DecisionRow) -> Decision:
    return Decision(
        action=Action(row.action),
        advert_id=row.advert_id,
        strategy=row.strategy,
        reason=_stored_reason(row.reason, row.reason_code, row.reason_args),
        nm_id=row.nm_id,
        placement=row.placement,
        norm_query=row.norm_query,
        bid_before=row.bid_before,
        bid_after=row.bid_after,
        proposed_bid=row.proposed_bid,
        guard=row.guard,
        inputs=dict(row.inputs or {}),
    )


def _stored_decision(row: DecisionRow, account: str) -> StoredDecision:
    return StoredDecision(
        id=row.id,
        at=row.at,
        account=account,
        decision=_decision(row),
        dry_run=row.dry_run,
        apply_status=row.apply_status,
        api_error=row.api_error,
        applied_at=row.applied_at,
        evidence_at=row.evidence_at,
        proposal=row.proposal,
    )


def _decisions_query() -> Select[tuple[DecisionRow, str]]:
    return select(DecisionRow, AccountRow.name).join(AccountRow, AccountRow.id == DecisionRow.account_id)


async def pending_intents(session: AsyncSession, account: str) -> list[StoredDecision]:
    """Write intents not yet sent (apply_status='pending'), oldest first."""
    stmt = (
        _decisions_query()
        .where(AccountRow.name == account, DecisionRow.apply_status == ApplyStatus.PENDING.value)
        .order_by(DecisionRow.at, DecisionRow.id)
    )
    return [_stored_decision(row, name) for row, name in await session.execute(stmt)]


def _avg_position(inputs: Mapping[str, Any] | None) -> float | None:
    value = (inputs or {}).get("avg_position")
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _record(r: DecisionRow) -> DecisionRecord:
    return DecisionRecord(
        at=r.at,
        strategy=r.strategy,
        action=Action(r.action),
        nm_id=r.nm_id,
        placement=r.placement,
        bid_before=r.bid_before,
        bid_after=r.bid_after,
        applied=r.apply_status in APPLIED_STATUSES,
        evidence_at=r.evidence_at,
        avg_position=_avg_position(r.inputs),
        norm_query=r.norm_query,
        position_at=_position_at(r.inputs),
        war=bool((r.inputs or {}).get("bidding_war")),
    )


async def campaign_records(
    session: AsyncSession, account: str, advert_id: int, since: datetime
) -> list[DecisionRecord]:
    """One campaign's decisions since ``since`` as strategies see them, oldest first (by time, then id):
    the history of a snapshot built outside the engine's cycle (the dashboard's preview)."""
    stmt = (
        select(DecisionRow)
        .join(AccountRow, AccountRow.id == DecisionRow.account_id)
        .where(AccountRow.name == account, DecisionRow.advert_id == advert_id, DecisionRow.at >= since)
        .order_by(DecisionRow.at, DecisionRow.id)
    )
    return [_record(r) for r in await session.scalars(stmt)]
def _position_at(inputs: Mapping[str, Any] | None) -> datetime | None:
    """``inputs["position_at"]`` (ISO text written by target_position) as an aware datetime."""
    value = (inputs or {}).get("position_at")
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit-trail row as the engine's in-memory history keeps it (see :func:`decision_rows`)."""

    id: int
    advert_id: int
    pending: bool  # a write intent whose outcome is not recorded yet: read it again later
    record: DecisionRecord


async def decision_rows(
    session: AsyncSession,
    account: str,
    *,
    since: datetime | None = None,
    after_id: int | None = None,
    ids: Iterable[int] = (),
) -> list[AuditRow]:
    """An account's decisions as strategies see them, for keeping a history in memory: those at or after
    ``since`` (the initial load), or those with an id above ``after_id`` (rows written since the last
    read, by this process or another), plus the rows ``ids`` (to re-read intents that were pending).
    Ordered by id."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return []
    out: list[AuditRow] = []
    base = select(DecisionRow).where(DecisionRow.account_id == account_id).order_by(DecisionRow.id)
    stmts = []
    if since is not None or after_id is not None:
        stmt = base
        if since is not None:
            stmt = stmt.where(DecisionRow.at >= since)
        if after_id is not None:
            stmt = stmt.where(DecisionRow.id > after_id)
        stmts.append(stmt)
    for chunk in chunks(sorted(set(ids))):
        stmts.append(base.where(DecisionRow.id.in_(chunk)))
    for stmt in stmts:
        for r in await session.scalars(stmt):
            out.append(AuditRow(r.id, r.advert_id, r.apply_status == ApplyStatus.PENDING, _record(r)))
    return out


async def history(
    session: AsyncSession,
    *,
    account: str | None = None,
    advert_id: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[StoredDecision]:
    """The audit trail, newest first, for the CLI and Telegram."""
    stmt = _decisions_query().order_by(DecisionRow.at.desc(), DecisionRow.id.desc()).limit(limit)
    if account is not None:
        stmt = stmt.where(AccountRow.name == account)
    if advert_id is not None:
        stmt = stmt.where(DecisionRow.advert_id == advert_id)
    if since is not None:
        stmt = stmt.where(DecisionRow.at >= since)
    return [_stored_decision(row, name) for row, name in await session.execute(stmt)]
