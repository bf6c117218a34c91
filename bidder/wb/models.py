"""Value types of the WB client that are not shared domain types (config, cluster bids, write requests
and results). Frozen; bids in integer minor units."""

from __future__ import annotations

from dataclasses import dataclass


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
    confirmed: bool = False  # a re-read showed the bid (after an answer that did not parse), not just a 200


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
class DailyLimit:
    """WB's per-campaign daily limit (CPC campaigns; REFERENCE-2026-10 §3.11). Money in minor units."""

    advert_id: int
    enabled: bool
    daily_limit: int
    spent_today: int
    currency: str
    carry_over: bool
    valid: bool  # False: the limit is under what WB recommends at the current bids
    required_limit: int


@dataclass(frozen=True, slots=True)
class DailyLimitSet:
    """The reply to a PUT: ``below_min`` when the limit just set is under ``required_limit``."""

    advert_id: int
    below_min: bool
    required_limit: int
