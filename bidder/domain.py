"""Frozen value types shared by every layer.

Money: bids are integers in minor units (kopecks for RUB: WB's "0.01 of the account currency");
statistics money is ``Decimal`` in base units (WB sends floats; they are converted at the edge).
Time: every datetime is timezone-aware UTC; calendar days are ``date`` in the account's time zone.
Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

MINOR_PER_BASE = 100  # WB: minor units are 0.01 of the seller account currency, whatever the currency


def base_to_minor(amount: Decimal | int | float | str) -> int:
    """Convert base units (rubles) to integer minor units (kopecks), rounding half up."""
    return int((Decimal(str(amount)) * MINOR_PER_BASE).to_integral_value(rounding="ROUND_HALF_UP"))


def minor_to_base(amount: int) -> Decimal:
    return (Decimal(amount) / MINOR_PER_BASE).quantize(Decimal("0.01"))


class Placement(StrEnum):
    SEARCH = "search"
    RECOMMENDATIONS = "recommendations"
    COMBINED = "combined"  # unified-bid campaigns


class Action(StrEnum):
    SET_BID = "set_bid"
    PAUSE = "pause"
    RESUME = "resume"
    HOLD = "hold"


class Status:
    """WB campaign status codes. Kept as plain ints: an unknown code is logged once and kept."""

    DELETED = -1
    READY = 4
    COMPLETED = 7
    DECLINED = 8
    ACTIVE = 9
    PAUSED = 11


BID_EDITABLE_STATUSES = frozenset({Status.READY, Status.ACTIVE, Status.PAUSED})
STATS_STATUSES = frozenset({Status.COMPLETED, Status.ACTIVE, Status.PAUSED})
STARTABLE_STATUSES = frozenset({Status.READY, Status.PAUSED})
PAUSABLE_STATUSES = frozenset({Status.ACTIVE})

EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Item:
    """One product card (nm) in a campaign with its current bids per placement, in minor units."""

    nm_id: int
    bids: Mapping[str, int] = field(default_factory=dict)  # "search" / "recommendations" -> kopecks
    subject: str = ""

    def bid_for(self, placement: str) -> int | None:
        """The current bid for a bid placement. For ``combined`` (unified campaigns) WB fills both
        fields; we read ``search`` first and fall back to ``recommendations``."""
        if placement == Placement.COMBINED:
            return self.bids.get("search") or self.bids.get("recommendations") or None
        value = self.bids.get(placement)
        return value if value else None


@dataclass(frozen=True, slots=True)
class CampaignRef:
    """A row of ``/adv/v1/promotion/count``."""

    advert_id: int
    type: int
    status: int
    changed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Campaign:
    advert_id: int
    name: str
    type: int
    status: int
    bid_type: str  # "manual" | "unified"; unknown values are kept
    payment_type: str  # "cpm" | "cpc"; unknown values are kept
    currency: str
    placements: frozenset[str]  # enabled campaign placements: "search", "recommendations"
    items: tuple[Item, ...] = ()
    changed_at: datetime | None = None
    # Fields that decide a write's shape (bid_type, payment_type, placements, status) that WB left out or
    # sent with a value we do not know. Non-empty: the campaign is NOT writable (no bid, pause or resume
    # request is built for it) until its details read cleanly (issue 14, defect 4).
    unknown_fields: frozenset[str] = frozenset()

    @property
    def writable(self) -> bool:
        return not self.unknown_fields

    @property
    def bid_placements(self) -> tuple[str, ...]:
        """The placements a bid PATCH may name for this campaign; none while its shape is unknown."""
        if self.unknown_fields or self.bid_type not in ("manual", "unified"):
            return ()
        if self.bid_type == "unified":
            return (Placement.COMBINED.value,)
        return tuple(p for p in (Placement.SEARCH.value, Placement.RECOMMENDATIONS.value) if p in self.placements)

    def item(self, nm_id: int) -> Item | None:
        for it in self.items:
            if it.nm_id == nm_id:
                return it
        return None


@dataclass(frozen=True, slots=True)
class DailyStat:
    """Daily statistics of one item in one campaign (fullstats, summed over apps). Money in base units."""

    advert_id: int
    nm_id: int
    day: date
    views: int
    clicks: int
    atbs: int
    orders: int
    spend: Decimal | None  # None: WB left the field out; the row is not evidence (never read as 0)
    revenue: Decimal | None
    avg_position: float | None = None  # boosterStats avg_position (unified campaigns)

    @property
    def complete(self) -> bool:
        """Both money fields were read; otherwise the campaign's statistics are not evidence."""
        return self.spend is not None and self.revenue is not None


@dataclass(frozen=True, slots=True)
class ClusterStat:
    """Search-cluster (normquery) statistics of one item over a period. Money in base units."""

    advert_id: int
    nm_id: int
    norm_query: str
    period_from: date
    period_to: date
    views: int | None
    clicks: int
    orders: int
    spend: Decimal
    avg_pos: float | None


@dataclass(frozen=True, slots=True)
class ReachBand:
    """CPM recommendation for one search cluster: bids for max / medium / min reach, minor units."""

    norm_query: str
    max_bid: int
    medium_bid: int
    min_bid: int


@dataclass(frozen=True, slots=True)
class PositionBand:
    """Official CPC recommendation: the bid that reaches positions ``first``..``last``, minor units."""

    first: int
    last: int
    bid: int


@dataclass(frozen=True, slots=True)
class Recommendation:
    advert_id: int
    nm_id: int
    payment_type: str
    competitive_bid: int | None = None  # CPM: median bid of similar sellers
    leaders_bid: int | None = None  # CPM: average bid that wins leading positions
    top_bid: int | None = None  # CPM: "top2"; None when WB says 0 (not used)
    clusters: tuple[ReachBand, ...] = ()
    bands: tuple[PositionBand, ...] = ()  # CPC: (1,2), (3,10), (11,34)
    fetched_at: datetime | None = None


class PositionSource(StrEnum):
    """Where an observed ad position came from, freshest first (see README "Where positions come from")."""

    PUBLIC_SEARCH = "public_search"  # the buyer-facing search, read now (unofficial, optional)
    CLUSTERS_TODAY = "clusters_today"  # /adv/v0/normquery/stats with from = to = today (3-minute sync)
    SEARCH_REPORT = "search_report"  # Analytics search report avgPosition (2-hour refresh)


@dataclass(frozen=True, slots=True)
class PositionObservation:
    """One observed position of an item for a query. ``observed_at``: when the answer arrived;
    ``describes_at``: the moment the value describes (the data's own "as of"). ``bid``: the bid in force
    when it was read (minor units), when known. ``region``: the public search's raw ``dest``, else None."""

    source: str
    advert_id: int
    nm_id: int
    query: str
    position: float
    observed_at: datetime
    describes_at: datetime
    region: str | None = None
    bid: int | None = None
    sample: int | None = None  # views (clusters) or None
    spend: float | None = None  # spend behind ``sample`` (clusters), base units: spend / views = the CPM paid
    clicks: int | None = None  # clicks behind ``spend`` (clusters): CPC sends no views; spend / clicks = the CPC paid


@dataclass(frozen=True, slots=True)
class BidRules:
    """What WB allows for a campaign's bids: step and per-item minimum, minor units."""

    step: int
    min_bids: Mapping[tuple[int, str], int] = field(default_factory=dict)  # (nm_id, placement) -> min
    max_bid: int | None = None  # WB's upper cap when known

    def min_for(self, nm_id: int, placement: str) -> int | None:
        return self.min_bids.get((nm_id, placement))


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A past decision as strategies and guards see it (from the audit trail)."""

    at: datetime
    strategy: str
    action: Action
    nm_id: int | None
    placement: str | None
    bid_before: int | None
    bid_after: int | None
    applied: bool
    evidence_at: datetime | None = None  # stats_as_of of the snapshot that caused it
    avg_position: float | None = None  # observed position when the decision was taken
    norm_query: str | None = None  # the search cluster of a cluster bid
    position_at: datetime | None = None  # the moment the position it acted on describes
    war: bool = False  # a roll-back after a bidding war (raises pause for a while after it)


@dataclass(frozen=True, slots=True)
class CampaignSnapshot:
    """Everything a strategy may look at for one campaign, built once per cycle by the engine."""

    account: str
    campaign: Campaign
    rules: BidRules
    timezone: str = "Europe/Moscow"
    daily_stats: tuple[DailyStat, ...] = ()
    cluster_stats: tuple[ClusterStat, ...] = ()
    recommendations: Mapping[int, Recommendation] = field(default_factory=dict)  # by nm_id
    stats_as_of: datetime | None = None  # when the statistics were read from WB
    history: tuple[DecisionRecord, ...] = ()  # recent decisions for this campaign, oldest first
    operator_paused: bool = False
    positions: tuple[PositionObservation, ...] = ()  # observed positions, oldest first
    cluster_bids: Mapping[tuple[int, str], int] = field(default_factory=dict)  # (nm_id, norm_query) -> bid


class Reason(str):
    """A decision reason: a catalogue code with the numbers it was made from (``args``, JSON-able; money
    as integer minor units), whose ``str`` value is its English text (what logs, tests and old readers
    see). Built by :func:`bidder.reasons.because` (and its composites); rendered per locale by
    :func:`bidder.reasons.render`. A plain ``str`` reason is one with no code yet: it renders as its text.
    """

    code: str
    args: Mapping[str, Any]

    def __new__(cls, text: str, code: str, args: Mapping[str, Any] | None = None) -> Reason:
        self = super().__new__(cls, text)
        self.code = code
        self.args = MappingProxyType(dict(args or {}))
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Reason, (str(self), self.code, dict(self.args)))


def reason_record(reason: str | None) -> dict[str, Any]:
    """The stored form of a reason: ``{"code", "args"}`` for a coded one (nested reasons in its args
    stored the same way), ``{"text"}`` for a plain string."""
    if isinstance(reason, Reason):
        return {"code": reason.code, "args": {k: _arg_record(v) for k, v in reason.args.items()}}
    return {"text": str(reason or "")}


def _arg_record(value: Any) -> Any:
    if isinstance(value, Reason):
        return reason_record(value)
    if isinstance(value, list | tuple):
        return [_arg_record(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _arg_record(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass(frozen=True, slots=True)
class Proposal:
    """What one strategy wants for one campaign / item / placement (or search cluster)."""

    strategy: str
    action: Action
    advert_id: int
    nm_id: int | None = None
    placement: str | None = None
    bid: int | None = None  # minor units, for SET_BID
    norm_query: str | None = None
    reason: str = ""
    inputs: Mapping[str, Any] = field(default_factory=dict)  # the numbers the reason rests on


@dataclass(frozen=True, slots=True)
class Decision:
    """The final word on one target after combining proposals and applying the guardrails."""

    action: Action
    advert_id: int
    strategy: str
    reason: str
    nm_id: int | None = None
    placement: str | None = None
    norm_query: str | None = None
    bid_before: int | None = None
    bid_after: int | None = None
    proposed_bid: int | None = None
    guard: str | None = None  # what the guardrails changed, in plain words; None when untouched
    inputs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def changes_bid(self) -> bool:
        return self.action == Action.SET_BID and self.bid_after is not None and self.bid_after != self.bid_before
