"""Repository functions: each takes an ``AsyncSession`` and returns domain types (``bidder.domain``) or
the small frozen records defined here.

Nothing here commits: every write lands in the caller's transaction, so a decision and the alert it
raises are committed together (``async with sessions.begin() as s: ...``). ``account`` is always the
account *name* from the config; writes raise :class:`UnknownAccount` for a name that
:func:`ensure_account` has not created, reads return nothing.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload

from bidder.domain import (
    Action,
    Campaign,
    ClusterStat,
    DailyStat,
    Decision,
    DecisionRecord,
    Item,
    Placement,
)
from bidder.store.models import (
    AccountRow,
    AlertRow,
    BidSnapshotRow,
    CampaignItemRow,
    CampaignRow,
    ClusterStatRow,
    CycleRow,
    DailyStatRow,
    DecisionRow,
    OperatorStateRow,
)

_CHUNK = 500  # rows / bound ids per statement; far below SQLite's and asyncpg's parameter limits
_BID_PLACEMENTS = (Placement.SEARCH.value, Placement.RECOMMENDATIONS.value)


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


class AlertStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up
    MERGED = "merged"  # folded into another message


class UnknownAccount(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown account {name!r}: call ensure_account first")
        self.name = name


# --------------------------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class AccountInfo:
    id: int
    name: str
    seller_id: str
    currency: str
    timezone: str


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


@dataclass(frozen=True, slots=True)
class OperatorState:
    account: str
    advert_id: int | None  # None: the whole account
    key: str
    value: Any
    set_at: datetime
    set_by: str


@dataclass(frozen=True, slots=True)
class CycleRecord:
    id: int
    account: str
    started_at: datetime
    finished_at: datetime | None
    ok: bool | None
    error: str | None
    summary: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class DailyTotal:
    day: date
    advert_id: int
    spend: Decimal
    revenue: Decimal
    orders: int
    views: int
    clicks: int


# --------------------------------------------------------------------------------------------- helpers


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


def _chunks(seq: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


async def _account_id(session: AsyncSession, name: str) -> int | None:
    return await session.scalar(select(AccountRow.id).where(AccountRow.name == name))


async def _require_account(session: AsyncSession, name: str) -> int:
    account_id = await _account_id(session, name)
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


async def _upsert(session: AsyncSession, table: Any, keys: Sequence[str], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    stmt = _insert_for(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys and c.name != "id"},
    )
    conn = await session.connection()
    for chunk in _chunks(rows):
        await conn.execute(stmt, list(chunk))


# --------------------------------------------------------------------------------------------- accounts


async def ensure_account(
    session: AsyncSession,
    name: str,
    seller_id: str = "",
    currency: str = "RUB",
    timezone: str = "Europe/Moscow",
) -> int:
    """Create the account or update its facts; returns its id. Tokens are never stored."""
    row = await session.scalar(select(AccountRow).where(AccountRow.name == name))
    if row is None:
        row = AccountRow(name=name, seller_id=str(seller_id), currency=currency, timezone=timezone)
        session.add(row)
    else:
        row.seller_id, row.currency, row.timezone = str(seller_id), currency, timezone
    await session.flush()
    return row.id


async def get_account(session: AsyncSession, name: str) -> AccountInfo | None:
    row = await session.scalar(select(AccountRow).where(AccountRow.name == name))
    return None if row is None else _account_info(row)


async def list_accounts(session: AsyncSession) -> list[AccountInfo]:
    rows = await session.scalars(select(AccountRow).order_by(AccountRow.name))
    return [_account_info(r) for r in rows]


def _account_info(row: AccountRow) -> AccountInfo:
    return AccountInfo(row.id, row.name, row.seller_id, row.currency, row.timezone)


# --------------------------------------------------------------------------------------------- campaigns


_ItemState = tuple[str, int | None, int | None]  # subject, bid_search, bid_recommendations


async def _stored_campaign_items(
    conn: AsyncConnection, account_id: int, advert_ids: Sequence[int]
) -> tuple[dict[int, int], dict[int, dict[int, _ItemState]], dict[tuple[int, int], int]]:
    """For the stored ones of ``advert_ids``: advert_id -> campaigns.id, advert_id -> nm_id -> item
    state, and (advert_id, nm_id) -> campaign_items.id. One outer-joined SELECT per chunk."""
    c, i = CampaignRow.__table__.c, CampaignItemRow.__table__.c
    campaign_ids: dict[int, int] = {}
    items: dict[int, dict[int, _ItemState]] = {}
    item_ids: dict[tuple[int, int], int] = {}
    for chunk in _chunks(advert_ids):
        result = await conn.execute(
            select(c.advert_id, c.id, i.id, i.nm_id, i.subject, i.bid_search, i.bid_recommendations)
            .select_from(CampaignRow.__table__.outerjoin(CampaignItemRow.__table__, i.campaign_id == c.id))
            .where(c.account_id == account_id, c.advert_id.in_(chunk))
        )
        for advert_id, campaign_id, item_id, nm_id, *state in result:
            campaign_ids[advert_id] = campaign_id
            stored = items.setdefault(advert_id, {})
            if item_id is not None:
                stored[nm_id] = tuple(state)
                item_ids[advert_id, nm_id] = item_id
    return campaign_ids, items, item_ids


def _expire_campaign_rows(session: AsyncSession, campaign_ids: set[int], item_ids: set[int]) -> None:
    """Core writes bypass the identity map: expire the ORM instances of the rows just rewritten, so the
    next load of them (with or without ``populate_existing``) reads the stored values."""
    identity_map = session.identity_map
    if not len(identity_map):
        return
    for key, obj in list(identity_map.items()):
        cls, pk = key[0], key[1]
        if (cls is CampaignRow and pk[0] in campaign_ids) or (cls is CampaignItemRow and pk[0] in item_ids):
            session.expire(obj)


async def save_campaigns(
    session: AsyncSession, account: str, campaigns: Sequence[Campaign], at: datetime
) -> int:
    """Upsert campaigns and their items (a campaign's ``items`` replace the stored ones) and append a
    bid snapshot for every bid that differs from the stored current bid (or is new). Campaigns not in
    ``campaigns`` are left alone. Returns the number of snapshots appended.

    Core statements only (no ORM instances): one SELECT of the stored campaigns and items, then per
    chunk an UPDATE (executemany) of the known campaigns, an INSERT of the new ones (returning their
    ids), a DELETE of items no longer listed, an UPDATE of changed items, an INSERT of new items and an
    INSERT of the snapshots. Unchanged items are not written; campaign and item ids are kept."""
    account_id = await _require_account(session, account)
    if not campaigns:
        return 0
    conn = await session.connection()
    stored_ids, stored, item_ids = await _stored_campaign_items(
        conn, account_id, sorted({c.advert_id for c in campaigns})
    )

    # Apply the campaigns in order, as the ORM version did: a campaign listed twice is compared against
    # (and replaced by) its previous occurrence, an nm listed twice against its previous occurrence.
    rows: dict[int, dict[str, Any]] = {}
    current: dict[int, dict[int, _ItemState]] = {}
    snapshots: list[dict[str, Any]] = []
    for c in campaigns:
        rows[c.advert_id] = {
            "account_id": account_id,
            "advert_id": c.advert_id,
            "name": c.name,
            "type": c.type,
            "status": c.status,
            "bid_type": c.bid_type,
            "payment_type": c.payment_type,
            "currency": c.currency,
            "placements": sorted(c.placements),
            "changed_at": c.changed_at,
            "updated_at": at,
        }
        old = current[c.advert_id] if c.advert_id in current else stored.get(c.advert_id, {})
        new: dict[int, _ItemState] = {}
        for item in c.items:
            before = new.get(item.nm_id) or old.get(item.nm_id)
            state = (item.subject, item.bids.get("search"), item.bids.get("recommendations"))
            new[item.nm_id] = state
            was = before[1:] if before is not None else (None, None)
            for placement, bid, prev in zip(_BID_PLACEMENTS, state[1:], was, strict=True):
                if bid is not None and prev != bid:
                    snapshots.append(
                        {
                            "at": at,
                            "account_id": account_id,
                            "advert_id": c.advert_id,
                            "nm_id": item.nm_id,
                            "placement": placement,
                            "bid": int(bid),
                        }
                    )
        current[c.advert_id] = new

    campaigns_t, items_t = CampaignRow.__table__, CampaignItemRow.__table__
    updates = [{"b_id": stored_ids[a], **r} for a, r in rows.items() if a in stored_ids]
    inserts = [r for a, r in rows.items() if a not in stored_ids]
    if updates:
        stmt = update(campaigns_t).where(campaigns_t.c.id == bindparam("b_id"))
        for chunk in _chunks(updates):
            await conn.execute(stmt, list(chunk))
    campaign_ids = dict(stored_ids)
    if inserts:
        stmt = insert(campaigns_t).returning(campaigns_t.c.advert_id, campaigns_t.c.id)
        for chunk in _chunks(inserts):
            campaign_ids.update((await conn.execute(stmt, list(chunk))).all())

    gone: list[int] = []
    changed: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    for advert_id, new in current.items():
        old = stored.get(advert_id, {})
        gone.extend(item_ids[advert_id, nm_id] for nm_id in old if nm_id not in new)
        for nm_id, state in sorted(new.items()):  # new items get ids in nm_id order, as before
            if nm_id in old and old[nm_id] == state:
                continue
            values = {"subject": state[0], "bid_search": state[1], "bid_recommendations": state[2]}
            if nm_id in old:
                changed.append({"b_id": item_ids[advert_id, nm_id], **values})
            else:
                added.append({"campaign_id": campaign_ids[advert_id], "nm_id": nm_id, **values})
    for chunk in _chunks(gone):
        await conn.execute(delete(items_t).where(items_t.c.id.in_(chunk)))
    if changed:
        stmt = update(items_t).where(items_t.c.id == bindparam("b_id"))
        for chunk in _chunks(changed):
            await conn.execute(stmt, list(chunk))
    for chunk in _chunks(added):
        await conn.execute(insert(items_t), list(chunk))
    for chunk in _chunks(snapshots):
        await conn.execute(insert(BidSnapshotRow.__table__), list(chunk))

    _expire_campaign_rows(session, set(stored_ids.values()), set(item_ids.values()))
    return len(snapshots)


def _campaign(row: CampaignRow) -> Campaign:
    items = tuple(
        Item(
            nm_id=it.nm_id,
            bids={
                p: b
                for p, b in (("search", it.bid_search), ("recommendations", it.bid_recommendations))
                if b is not None
            },
            subject=it.subject,
        )
        for it in sorted(row.items, key=lambda i: i.nm_id)
    )
    return Campaign(
        advert_id=row.advert_id,
        name=row.name,
        type=row.type,
        status=row.status,
        bid_type=row.bid_type,
        payment_type=row.payment_type,
        currency=row.currency,
        placements=frozenset(row.placements or ()),
        items=items,
        changed_at=row.changed_at,
    )


async def load_campaigns(
    session: AsyncSession, account: str, advert_ids: Iterable[int] | None = None
) -> list[Campaign]:
    """The stored campaigns of an account (ordered by advert_id), with items and current bids."""
    stmt = (
        select(CampaignRow)
        .join(AccountRow, AccountRow.id == CampaignRow.account_id)
        .where(AccountRow.name == account)
        .options(selectinload(CampaignRow.items))
        .order_by(CampaignRow.advert_id)
        .execution_options(populate_existing=True)
    )
    if advert_ids is not None:
        stmt = stmt.where(CampaignRow.advert_id.in_(list(advert_ids)))
    return [_campaign(row) for row in await session.scalars(stmt)]


async def bids_at(
    session: AsyncSession, account: str, when: datetime, advert_id: int | None = None
) -> dict[tuple[int, int, str], int]:
    """The bids in force at ``when``: for each (advert_id, nm_id, placement) the latest snapshot at or
    before ``when``. Keys never observed before ``when`` are absent."""
    s = BidSnapshotRow
    rn = (
        func.row_number()
        .over(partition_by=(s.advert_id, s.nm_id, s.placement), order_by=(s.at.desc(), s.id.desc()))
        .label("rn")
    )
    inner = (
        select(s.advert_id, s.nm_id, s.placement, s.bid, rn)
        .join(AccountRow, AccountRow.id == s.account_id)
        .where(AccountRow.name == account, s.at <= when)
    )
    if advert_id is not None:
        inner = inner.where(s.advert_id == advert_id)
    sub = inner.subquery()
    rows = await session.execute(
        select(sub.c.advert_id, sub.c.nm_id, sub.c.placement, sub.c.bid).where(sub.c.rn == 1)
    )
    return {(r.advert_id, r.nm_id, r.placement): r.bid for r in rows}


# --------------------------------------------------------------------------------------------- statistics


async def save_daily_stats(session: AsyncSession, account: str, stats: Sequence[DailyStat]) -> None:
    """Upsert daily statistics by (account, advert_id, nm_id, day): saving the same rows twice is a no-op."""
    account_id = await _require_account(session, account)
    rows: dict[tuple[int, int, date], dict[str, Any]] = {}
    for st in stats:
        rows[(st.advert_id, st.nm_id, st.day)] = {
            "account_id": account_id,
            "advert_id": st.advert_id,
            "nm_id": st.nm_id,
            "day": st.day,
            "views": st.views,
            "clicks": st.clicks,
            "atbs": st.atbs,
            "orders": st.orders,
            "spend": st.spend,
            "revenue": st.revenue,
            "avg_position": st.avg_position,
        }
    await _upsert(
        session, DailyStatRow.__table__, ("account_id", "advert_id", "nm_id", "day"), list(rows.values())
    )


async def load_daily_stats(
    session: AsyncSession,
    account: str,
    advert_ids: Iterable[int] | None,
    since: date,
    until: date | None = None,
) -> list[DailyStat]:
    """Daily statistics with ``since <= day [<= until]``; ``advert_ids=None`` means every campaign.
    Ordered by advert_id, nm_id, day."""
    d = DailyStatRow
    # columns, not ORM instances: this runs every cycle for the campaigns being evaluated
    stmt = (
        select(d.advert_id, d.nm_id, d.day, d.views, d.clicks, d.atbs, d.orders, d.spend, d.revenue,
               d.avg_position)
        .join(AccountRow, AccountRow.id == d.account_id)
        .where(AccountRow.name == account, d.day >= since)
        .order_by(d.advert_id, d.nm_id, d.day)
    )
    if until is not None:
        stmt = stmt.where(d.day <= until)
    if advert_ids is None:
        return [DailyStat(*row) for row in await session.execute(stmt)]
    ids = sorted(set(advert_ids))
    out: list[DailyStat] = []
    for chunk in _chunks(ids):
        out.extend(DailyStat(*row) for row in await session.execute(stmt.where(d.advert_id.in_(chunk))))
    return out


async def daily_totals(
    session: AsyncSession, account: str, since: date, until: date | None = None
) -> list[DailyTotal]:
    """Per day and campaign sums over items, for reports. Money is summed exactly (in Python, since
    SQLite would sum it as floats). Ordered by day, advert_id."""
    totals: dict[tuple[date, int], list[Any]] = {}
    for st in await load_daily_stats(session, account, None, since, until):
        t = totals.setdefault((st.day, st.advert_id), [Decimal(0), Decimal(0), 0, 0, 0])
        t[0] += st.spend
        t[1] += st.revenue
        t[2] += st.orders
        t[3] += st.views
        t[4] += st.clicks
    return [DailyTotal(day, adv, *vals) for (day, adv), vals in sorted(totals.items())]


async def save_cluster_stats(
    session: AsyncSession, account: str, stats: Sequence[ClusterStat], *, fetched_at: datetime
) -> None:
    """Upsert search-cluster statistics by (account, advert_id, nm_id, norm_query, period_from, period_to)."""
    account_id = await _require_account(session, account)
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for st in stats:
        rows[(st.advert_id, st.nm_id, st.norm_query, st.period_from, st.period_to)] = {
            "account_id": account_id,
            "advert_id": st.advert_id,
            "nm_id": st.nm_id,
            "norm_query": st.norm_query,
            "period_from": st.period_from,
            "period_to": st.period_to,
            "views": st.views,
            "clicks": st.clicks,
            "orders": st.orders,
            "spend": st.spend,
            "avg_pos": st.avg_pos,
            "fetched_at": fetched_at,
        }
    await _upsert(
        session,
        ClusterStatRow.__table__,
        ("account_id", "advert_id", "nm_id", "norm_query", "period_from", "period_to"),
        list(rows.values()),
    )


async def load_cluster_stats(
    session: AsyncSession, account: str, advert_ids: Iterable[int] | None = None, *, since: date
) -> list[ClusterStat]:
    """Cluster statistics whose period ends on or after ``since``. Ordered by advert_id, nm_id,
    norm_query, period_from."""
    c = ClusterStatRow
    stmt = (
        select(c)
        .join(AccountRow, AccountRow.id == c.account_id)
        .where(AccountRow.name == account, c.period_to >= since)
        .order_by(c.advert_id, c.nm_id, c.norm_query, c.period_from, c.period_to)
    )
    if advert_ids is not None:
        ids = list(advert_ids)
        if not ids:
            return []
        stmt = stmt.where(c.advert_id.in_(ids))
    return [
        ClusterStat(
            advert_id=r.advert_id,
            nm_id=r.nm_id,
            norm_query=r.norm_query,
            period_from=r.period_from,
            period_to=r.period_to,
            views=r.views,
            clicks=r.clicks,
            orders=r.orders,
            spend=r.spend,
            avg_pos=r.avg_pos,
        )
        for r in await session.scalars(stmt)
    ]


# --------------------------------------------------------------------------------------------- decisions


def _default_proposal(decision: Decision) -> dict[str, Any]:
    return {
        "strategy": decision.strategy,
        "action": decision.action.value if isinstance(decision.action, enum.Enum) else decision.action,
        "advert_id": decision.advert_id,
        "nm_id": decision.nm_id,
        "placement": decision.placement,
        "norm_query": decision.norm_query,
        "bid": decision.proposed_bid,
        "reason": decision.reason,
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
    account_id = await _require_account(session, account)
    row = DecisionRow(
        at=at,
        account_id=account_id,
        advert_id=decision.advert_id,
        nm_id=decision.nm_id,
        placement=decision.placement,
        norm_query=decision.norm_query,
        strategy=decision.strategy,
        reason=decision.reason,
        inputs=to_jsonable(decision.inputs),
        proposal=to_jsonable(proposal if proposal is not None else _default_proposal(decision)),
        action=str(Action(decision.action).value),
        bid_before=decision.bid_before,
        bid_after=decision.bid_after,
        proposed_bid=decision.proposed_bid,
        guard=decision.guard,
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
    account_id = await _require_account(session, account)
    evidence = evidence_at or {}
    rows = [
        {
            "at": at, "account_id": account_id, "advert_id": d.advert_id, "nm_id": d.nm_id,
            "placement": d.placement, "norm_query": d.norm_query, "strategy": d.strategy, "reason": d.reason,
            "inputs": to_jsonable(d.inputs), "proposal": to_jsonable(_default_proposal(d)),
            "action": str(Action(d.action).value), "bid_before": d.bid_before, "bid_after": d.bid_after,
            "proposed_bid": d.proposed_bid, "guard": d.guard, "dry_run": dry_run, "apply_status": status,
            "applied_at": None, "evidence_at": evidence.get(d.advert_id), "api_error": error,
        }
        for d in decisions
    ]
    ids: list[int] = []
    for chunk in _chunks(rows):
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
        for chunk in _chunks(ids):
            found += await session.scalar(select(func.count()).select_from(DecisionRow).where(DecisionRow.id.in_(chunk)))
    if found != len(params):
        raise LookupError(f"{len(params) - found} of {len(params)} decisions not found")


def _decision(row: DecisionRow) -> Decision:
    return Decision(
        action=Action(row.action),
        advert_id=row.advert_id,
        strategy=row.strategy,
        reason=row.reason,
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


async def get_decision(session: AsyncSession, decision_id: int) -> StoredDecision | None:
    found = (await session.execute(_decisions_query().where(DecisionRow.id == decision_id))).first()
    return None if found is None else _stored_decision(found[0], found[1])


def _avg_position(inputs: Mapping[str, Any] | None) -> float | None:
    value = (inputs or {}).get("avg_position")
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


async def recent_decisions(
    session: AsyncSession, account: str, advert_id: int, since: datetime
) -> tuple[DecisionRecord, ...]:
    """A campaign's decisions at or after ``since``, oldest first, as strategies see them.
    ``avg_position`` comes from the decision's inputs (key ``avg_position``) when present."""
    stmt = (
        select(DecisionRow)
        .join(AccountRow, AccountRow.id == DecisionRow.account_id)
        .where(AccountRow.name == account, DecisionRow.advert_id == advert_id, DecisionRow.at >= since)
        .order_by(DecisionRow.at, DecisionRow.id)
    )
    return tuple(_record(r) for r in await session.scalars(stmt))


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
    )


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
    account_id = await _account_id(session, account)
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
    for chunk in _chunks(sorted(set(ids))):
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


# --------------------------------------------------------------------------------------------- alerts


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


async def enqueue_alert(
    session: AsyncSession,
    account: str | None,
    kind: str,
    payload: Mapping[str, Any],
    *,
    dedup_key: str | None,
    severity: str = "info",
    at: datetime,
) -> int | None:
    """Put an alert in the outbox; returns its id, or None when a *pending* alert with the same
    ``dedup_key`` already exists (a unique partial index backs this up across sessions).
    ``account=None`` is a process-wide alert. ``dedup_key`` is global: include the account in it."""
    account_id = None if account is None else await _require_account(session, account)
    if dedup_key is not None:
        exists = await session.scalar(
            select(AlertRow.id).where(
                AlertRow.dedup_key == dedup_key, AlertRow.status == AlertStatus.PENDING.value
            )
        )
        if exists is not None:
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


async def due_alerts(session: AsyncSession, now: datetime, limit: int = 20) -> list[StoredAlert]:
    """Pending alerts whose next attempt is due, oldest first."""
    stmt = (
        _alerts_query()
        .where(
            AlertRow.status == AlertStatus.PENDING.value,
            or_(AlertRow.next_attempt_at.is_(None), AlertRow.next_attempt_at <= now),
        )
        .order_by(AlertRow.created_at, AlertRow.id)
        .limit(limit)
    )
    return [_stored_alert(row, name) for row, name in await session.execute(stmt)]


async def get_alert(session: AsyncSession, alert_id: int) -> StoredAlert | None:
    found = (await session.execute(_alerts_query().where(AlertRow.id == alert_id))).first()
    return None if found is None else _stored_alert(found[0], found[1])


async def mark_alert_sent(session: AsyncSession, alert_id: int, *, at: datetime) -> None:
    await session.execute(
        update(AlertRow)
        .where(AlertRow.id == alert_id)
        .values(status=AlertStatus.SENT.value, sent_at=at, attempts=AlertRow.attempts + 1, last_error=None)
    )


async def mark_alert_retry(
    session: AsyncSession, alert_id: int, error: str, next_attempt_at: datetime | None
) -> None:
    """Count a failed attempt. ``next_attempt_at=None`` gives up: the alert becomes 'failed'."""
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
    ids = list(alert_ids)
    for chunk in _chunks(ids):
        await session.execute(
            update(AlertRow).where(AlertRow.id.in_(chunk)).values(status=AlertStatus.MERGED.value)
        )


# --------------------------------------------------------------------------------------------- operator state


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
    account_id = await _require_account(session, account)
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
    account_id = await _account_id(session, account)
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
    account_id = await _account_id(session, account)
    if account_id is None:
        return False
    result = await session.execute(delete(OperatorStateRow).where(_state_filter(account_id, key, advert_id)))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _operator_state(row: OperatorStateRow, account: str) -> OperatorState:
    return OperatorState(account, row.advert_id, row.key, row.value, row.set_at, row.set_by)


# --------------------------------------------------------------------------------------------- cycles


async def start_cycle(session: AsyncSession, account: str, at: datetime) -> int:
    account_id = await _require_account(session, account)
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
    await session.execute(
        update(CycleRow)
        .where(CycleRow.id == cycle_id)
        .values(finished_at=at, ok=ok, error=error, summary=None if summary is None else to_jsonable(summary))
    )


async def last_cycles(session: AsyncSession) -> dict[str, CycleRecord]:
    """The latest cycle (by started_at) of every account that has one, keyed by account name."""
    c = CycleRow
    rn = (
        func.row_number()
        .over(partition_by=c.account_id, order_by=(c.started_at.desc(), c.id.desc()))
        .label("rn")
    )
    sub = select(c.id, rn).subquery()
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
