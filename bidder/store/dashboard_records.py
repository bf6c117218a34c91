"""The records the dashboard's read queries return (:mod:`bidder.store.dashboard`), and the helpers
that build them from rows. Money in them is for display (see :mod:`bidder.store.dashboard`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.store.models import (
    AccountRow,
    DecisionRow,
    OperatorStateRow,
)

PAUSED_KEY = "paused"  # the operator_state keys written by bidder.notify.control
DRY_RUN_KEY = "dry_run"

# ----------------------------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class AccountRef:
    id: int
    name: str
    seller_id: str
    currency: str
    timezone: str


@dataclass(frozen=True, slots=True)
class CycleInfo:
    started_at: datetime
    finished_at: datetime | None
    ok: bool | None
    error: str | None
    summary: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class Totals:
    spend: float = 0.0
    revenue: float = 0.0
    orders: int = 0
    clicks: int = 0
    views: int = 0

    @property
    def drr(self) -> float | None:
        """ДРР, % = spend / revenue × 100 (None without revenue)."""
        return self.spend / self.revenue * 100 if self.revenue else None

    def roi(self, margin_pct: float) -> float | None:
        """ROI, % = (revenue × margin − spend) / spend × 100."""
        return (self.revenue * margin_pct / 100 - self.spend) / self.spend * 100 if self.spend else None


@dataclass(frozen=True, slots=True)
class AccountFigures:
    account: AccountRef
    campaigns: int
    by_status: Mapping[int, int]
    today: Totals
    week: Totals
    decisions_today: Mapping[str, int]
    bid_changes_today: int
    last_cycle: CycleInfo | None
    paused_all: bool
    paused_campaigns: int
    dry_run: bool | None  # the operator's toggle; None: never set
    saved_today: float | None  # what the max bid would have cost today, minus what was spent


@dataclass(frozen=True, slots=True)
class AlertInfo:
    id: int
    created_at: datetime
    account: str | None
    kind: str
    severity: str
    status: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DecisionInfo:
    id: int
    at: datetime
    account: str
    advert_id: int
    nm_id: int | None
    placement: str | None
    norm_query: str | None
    strategy: str
    action: str
    reason: str
    bid_before: int | None
    bid_after: int | None
    proposed_bid: int | None
    guard: str | None
    dry_run: bool
    apply_status: str
    api_error: str | None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    reason_code: str | None = None  # the reason as a catalogue code (bidder.reasons); None: render ``reason``
    reason_args: Mapping[str, Any] | None = None
    currency: str = "RUB"  # the account's: money in the reason is rendered in it


@dataclass(frozen=True, slots=True)
class CampaignLine:
    """One row of the campaigns table."""

    account: str
    advert_id: int
    name: str
    status: int
    bid_type: str
    payment_type: str
    currency: str
    items: int
    bid_search_min: int | None
    bid_search_max: int | None
    bid_reco_min: int | None
    bid_reco_max: int | None
    position_today: float | None
    today: Totals
    week: Totals
    paused: bool = False  # by the operator (the campaign itself or its whole account)
    last_decision: DecisionInfo | None = None


@dataclass(frozen=True, slots=True)
class CampaignPage:
    total: int
    lines: list[CampaignLine]


@dataclass(frozen=True, slots=True)
class CampaignItem:
    nm_id: int
    subject: str
    bid_search: int | None
    bid_recommendations: int | None


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    account: AccountRef
    advert_id: int
    name: str
    type: int
    status: int
    bid_type: str
    payment_type: str
    currency: str
    placements: tuple[str, ...]
    changed_at: datetime | None
    updated_at: datetime
    items: tuple[CampaignItem, ...]
    paused: bool
    paused_all: bool


@dataclass(frozen=True, slots=True)
class DayStat:
    day: date
    nm_id: int
    spend: float
    revenue: float
    orders: int
    clicks: int
    views: int
    avg_position: float | None


@dataclass(frozen=True, slots=True)
class BidPoint:
    at: datetime
    nm_id: int
    placement: str
    bid: int


@dataclass(frozen=True, slots=True)
class ClusterBidPoint:
    at: datetime
    nm_id: int | None
    norm_query: str
    bid: int


@dataclass(frozen=True, slots=True)
class AuditFilter:
    account: str | None = None
    advert_id: int | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    hide_holds: bool = False


# ----------------------------------------------------------------------------------------------- helpers


def _f(col: Any) -> Any:
    """A money column as a float for summing (display only, see the module docstring)."""
    return cast(col, Float)


def _totals(spend: Any, revenue: Any, orders: Any = 0, clicks: Any = 0, views: Any = 0) -> Totals:
    return Totals(float(spend or 0), float(revenue or 0), int(orders or 0), int(clicks or 0), int(views or 0))


def _decision(row: DecisionRow, account: str, currency: str | None = None) -> DecisionInfo:
    return DecisionInfo(
        id=row.id, at=row.at, account=account, advert_id=row.advert_id, nm_id=row.nm_id,
        placement=row.placement, norm_query=row.norm_query, strategy=row.strategy, action=row.action,
        reason=row.reason or "", bid_before=row.bid_before, bid_after=row.bid_after,
        proposed_bid=row.proposed_bid, guard=row.guard, dry_run=bool(row.dry_run),
        apply_status=row.apply_status, api_error=row.api_error, inputs=row.inputs or {},
        reason_code=row.reason_code, reason_args=row.reason_args, currency=currency or "RUB",
    )


def _account(row: AccountRow) -> AccountRef:
    return AccountRef(row.id, row.name, row.seller_id, row.currency, row.timezone)


async def _paused(session: AsyncSession, account_ids: set[int]) -> dict[int, tuple[bool, set[int]]]:
    if not account_ids:
        return {}
    out: dict[int, tuple[bool, set[int]]] = {}
    o = OperatorStateRow
    for st in await session.scalars(select(o).where(o.account_id.in_(account_ids), o.key == PAUSED_KEY)):
        if not st.value:
            continue
        whole, ids = out.get(st.account_id, (False, set()))
        if st.advert_id is None:
            whole = True
        else:
            ids.add(int(st.advert_id))
        out[st.account_id] = (whole, ids)
    return out
