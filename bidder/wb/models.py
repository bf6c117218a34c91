"""Value types of the WB client that are not shared domain types (config, budgets, write requests and
results). Frozen; bids in integer minor units; budgets and balance in integer base units."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class WBConfig:
    """GET /api/advert/v1/config. Steps and limits are minor units."""

    currency: str
    cpm_step: int
    cpc_step: int
    min_top_up: int | None = None
    min_daily_limit: int | None = None
    currency_code: int | None = None


@dataclass(frozen=True, slots=True)
class BidChange:
    """One item bid to set (PATCH /api/advert/v1/bids). ``bid`` in minor units."""

    advert_id: int
    nm_id: int
    placement: str  # search | recommendations (manual) | combined (unified)
    bid: int


@dataclass(frozen=True, slots=True)
class BidResult:
    advert_id: int
    nm_id: int
    placement: str
    bid: int
    applied: bool
    error: str | None = None
    currency: str | None = None
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class ClusterBid:
    """A current search-cluster bid (POST /adv/v0/normquery/get-bids), minor units."""

    advert_id: int
    nm_id: int
    norm_query: str
    bid: int
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterBidChange:
    advert_id: int
    nm_id: int
    norm_query: str
    bid: int  # minor units


@dataclass(frozen=True, slots=True)
class ClusterBidResult:
    advert_id: int
    nm_id: int
    norm_query: str
    bid: int
    applied: bool
    reason: str | None = None
    currency: str | None = None
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class StatusResult:
    """start / pause / stop. ``changed=False``: WB said the campaign was already in that state (422)."""

    advert_id: int
    action: str
    changed: bool
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class Budget:
    advert_id: int
    total: int  # base units
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Cashback:
    sum: int
    percent: int | None
    expiration_date: str | None


@dataclass(frozen=True, slots=True)
class Balance:
    """GET /adv/v1/balance, base units."""

    balance: int
    net: int
    bonus: int
    currency: str | None = None
    cashbacks: tuple[Cashback, ...] = ()


@dataclass(frozen=True, slots=True)
class UpdRow:
    """GET /adv/v1/upd: actual spend history. ``amount`` in base units."""

    upd_num: int | None
    upd_time: datetime | None
    amount: Decimal
    advert_id: int
    campaign_name: str
    advert_type: int | None
    payment_type: str
    advert_status: int | None


@dataclass(frozen=True, slots=True)
class DailyClusterStat:
    """One day of one search cluster (POST /adv/v1/normquery/stats)."""

    advert_id: int
    nm_id: int
    day: date
    norm_query: str
    views: int | None
    clicks: int
    orders: int
    spend: Decimal
    avg_pos: float | None
