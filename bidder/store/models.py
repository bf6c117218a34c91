"""SQLAlchemy 2.0 declarative models. Bids are integer minor units; statistics money is :class:`Money`;
every timestamp is :class:`UTCDateTime`. No token is ever stored.

Rows are named ``*Row`` so they never clash with the domain types in :mod:`bidder.domain`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bidder.store.types import Money, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        Decimal: Money(),
        date: Date(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
        Any: JSON(),
    }


def _account_fk(nullable: bool = False) -> Mapped[Any]:
    return mapped_column(Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=nullable)


class AccountRow(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    seller_id: Mapped[str] = mapped_column(String(64), default="")
    currency: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))


class CampaignRow(Base):
    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("account_id", "advert_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = _account_fk()
    advert_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(256), default="")
    type: Mapped[int] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer)
    bid_type: Mapped[str] = mapped_column(String(32))
    payment_type: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(8))
    placements: Mapped[list[Any]] = mapped_column(JSON)  # sorted list of enabled placements
    changed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    items: Mapped[list[CampaignItemRow]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="CampaignItemRow.nm_id"
    )


class CampaignItemRow(Base):
    """Current bids of one nm in one campaign (minor units; NULL = no bid for that placement)."""

    __tablename__ = "campaign_items"
    __table_args__ = (UniqueConstraint("campaign_id", "nm_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Integer, ForeignKey("campaigns.id", ondelete="CASCADE"))
    nm_id: Mapped[int] = mapped_column(BigInteger)
    subject: Mapped[str] = mapped_column(String(256), default="")
    bid_search: Mapped[int | None] = mapped_column(Integer)
    bid_recommendations: Mapped[int | None] = mapped_column(Integer)

    campaign: Mapped[CampaignRow] = relationship(back_populates="items")


class BidSnapshotRow(Base):
    """Bid history: one row each time an observed bid differs from the previous observation."""

    __tablename__ = "bid_snapshots"
    __table_args__ = (Index(None, "account_id", "advert_id", "nm_id", "placement", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    account_id: Mapped[int] = _account_fk()
    advert_id: Mapped[int] = mapped_column(BigInteger)
    nm_id: Mapped[int] = mapped_column(BigInteger)
    placement: Mapped[str] = mapped_column(String(32))
    bid: Mapped[int] = mapped_column(Integer)


class DailyStatRow(Base):
    __tablename__ = "daily_stats"
    __table_args__ = (
        UniqueConstraint("account_id", "advert_id", "nm_id", "day"),
        Index(None, "account_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = _account_fk()
    advert_id: Mapped[int] = mapped_column(BigInteger)
    nm_id: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[date]
    views: Mapped[int] = mapped_column(BigInteger)
    clicks: Mapped[int] = mapped_column(BigInteger)
    atbs: Mapped[int] = mapped_column(BigInteger)
    orders: Mapped[int] = mapped_column(BigInteger)
    spend: Mapped[Decimal | None]  # None: WB left the field out (not evidence), never read as 0
    revenue: Mapped[Decimal | None]
    avg_position: Mapped[float | None] = mapped_column(Float)


class ClusterStatRow(Base):
    __tablename__ = "cluster_stats"
    __table_args__ = (
        UniqueConstraint(
            "account_id",
            "advert_id",
            "nm_id",
            "norm_query",
            "period_from",
            "period_to",
            name="uq_cluster_stats_key",
        ),
        Index(None, "account_id", "advert_id", "period_to"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = _account_fk()
    advert_id: Mapped[int] = mapped_column(BigInteger)
    nm_id: Mapped[int] = mapped_column(BigInteger)
    norm_query: Mapped[str] = mapped_column(String(512))
    period_from: Mapped[date]
    period_to: Mapped[date]
    views: Mapped[int | None] = mapped_column(BigInteger)
    clicks: Mapped[int] = mapped_column(BigInteger)
    orders: Mapped[int] = mapped_column(BigInteger)
    spend: Mapped[Decimal]
    avg_pos: Mapped[float | None] = mapped_column(Float)
    fetched_at: Mapped[datetime]


class PositionRow(Base):
    """One observed ad position (bidder.domain.PositionObservation), as it arrived: never updated."""

    __tablename__ = "positions"
    __table_args__ = (Index(None, "account_id", "advert_id", "observed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = _account_fk()
    source: Mapped[str] = mapped_column(String(32))
    advert_id: Mapped[int] = mapped_column(BigInteger)
    nm_id: Mapped[int] = mapped_column(BigInteger)
    query: Mapped[str] = mapped_column(String(512))
    region: Mapped[str | None] = mapped_column(String(64))
    position: Mapped[float] = mapped_column(Float)
    bid: Mapped[int | None] = mapped_column(BigInteger)
    sample: Mapped[int | None] = mapped_column(BigInteger)
    spend: Mapped[float | None] = mapped_column(Float)
    clicks: Mapped[int | None] = mapped_column(BigInteger)
    observed_at: Mapped[datetime]
    describes_at: Mapped[datetime]


class DecisionRow(Base):
    """The audit trail, and the write intents (apply_status='pending') the writer works through."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index(None, "account_id", "advert_id", "at"),
        Index(None, "account_id", "apply_status"),
        Index(None, "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    account_id: Mapped[int] = _account_fk()
    advert_id: Mapped[int] = mapped_column(BigInteger)
    nm_id: Mapped[int | None] = mapped_column(BigInteger)
    placement: Mapped[str | None] = mapped_column(String(32))
    norm_query: Mapped[str | None] = mapped_column(String(512))
    strategy: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    # the reason as a catalogue code with its numbers (bidder.reasons); NULL: a reason with no code
    # (rows from before the codes, or a strategy not converted yet): rendered as ``reason``
    reason_code: Mapped[str | None] = mapped_column(String(64))
    reason_args: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    proposal: Mapped[Any | None] = mapped_column(JSON)
    action: Mapped[str] = mapped_column(String(16))
    bid_before: Mapped[int | None] = mapped_column(Integer)
    bid_after: Mapped[int | None] = mapped_column(Integer)
    proposed_bid: Mapped[int | None] = mapped_column(Integer)
    guard: Mapped[str | None] = mapped_column(Text)
    dry_run: Mapped[bool] = mapped_column(Boolean)
    apply_status: Mapped[str] = mapped_column(String(32))
    api_error: Mapped[str | None] = mapped_column(Text)
    applied_at: Mapped[datetime | None]
    evidence_at: Mapped[datetime | None]


class AlertRow(Base):
    """Telegram outbox. At most one *pending* alert per dedup_key (partial unique index)."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_pending_dedup_key",
            "dedup_key",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index(None, "status", "next_attempt_at"),
        # the de-duplication lookup (bidder.store.alerts._duplicate_of: a key sent within its period);
        # without it every lookup read the whole outbox (measured: ~11,700 rows per account cycle)
        Index(None, "dedup_key", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime]
    account_id: Mapped[int | None] = _account_fk(nullable=True)
    kind: Mapped[str] = mapped_column(String(64))
    dedup_key: Mapped[str | None] = mapped_column(String(256))
    severity: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class OperatorStateRow(Base):
    """Operator switches: pauses (per campaign, or advert_id NULL = the whole account), dry-run toggle."""

    __tablename__ = "operator_state"
    __table_args__ = (Index(None, "account_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = _account_fk()
    advert_id: Mapped[int | None] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON)
    set_at: Mapped[datetime]
    set_by: Mapped[str] = mapped_column(String(128), default="")


class CycleRow(Base):
    __tablename__ = "cycles"
    __table_args__ = (Index(None, "account_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = _account_fk()
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    ok: Mapped[bool | None] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class LeaseRow(Base):
    """A lease on one seller account (``name`` = the account's name) or on a one-of-a-kind job
    (``name`` = ``job:<what>``) held by one worker process until ``expires_at`` (the database's clock).
    ``epoch`` is the fencing token: it grows on every claim, so a worker that lost its lease is refused."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(128))
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime | None]
    weight: Mapped[int] = mapped_column(Integer, default=0)  # campaigns of the account: the balance unit


class WorkerRow(Base):
    """A live worker process (its heartbeat): the balance counts the workers whose heartbeat is current."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    http_port: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class FinishedReadRow(Base):
    """A finished campaign (WB status 7) whose final read (details, and its last days' statistics when they
    fall inside the statistics window) is done: it is never polled again, across restarts. ``days_read_at``:
    when a report read its last days on demand (one that finished before the window had none read), once."""

    __tablename__ = "finished_reads"
    __table_args__ = (UniqueConstraint("account_id", "advert_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = _account_fk()
    advert_id: Mapped[int] = mapped_column(BigInteger)
    read_at: Mapped[datetime]
    days_read_at: Mapped[datetime | None]


class ObservationRow(Base):
    """What an evaluation read, stored with when it was observed (replay: :mod:`bidder.store.observations`).

    One row each time a part of a campaign's inputs changed: ``kind`` names the part (campaign details and
    bids, WB's bid rules, a day of an item's statistics, a search cluster's statistics, a recommendation),
    ``key`` the row within it; ``observed_at`` is when WB was read, ``known_at`` the first evaluation that
    used it (the inputs "as known at t" are the newest row per part with ``known_at <= t``)."""

    __tablename__ = "observations"
    __table_args__ = (Index(None, "account_id", "known_at"), Index(None, "account_id", "advert_id", "kind", "known_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = _account_fk()
    advert_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(600), default="")
    observed_at: Mapped[datetime | None]
    known_at: Mapped[datetime]
    digest: Mapped[str] = mapped_column(String(40))
    payload: Mapped[Any] = mapped_column(JSON)


class EvaluationRow(Base):
    """One campaign's evaluation: what it read besides the observations (statistics time, operator pause,
    stop file, whether WB's minimum bids were known) and what it decided (compact), for replay."""

    __tablename__ = "evaluations"
    __table_args__ = (Index(None, "account_id", "at"), Index(None, "account_id", "advert_id", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = _account_fk()
    advert_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime]
    stats_as_of: Mapped[datetime | None]
    stats_since: Mapped[date]
    operator_paused: Mapped[bool] = mapped_column(Boolean)
    stopped: Mapped[bool] = mapped_column(Boolean)
    rules_known: Mapped[bool] = mapped_column(Boolean)
    failed: Mapped[bool] = mapped_column(Boolean, default=False)  # a strategy raised: nothing decided
    decisions: Mapped[Any] = mapped_column(JSON)  # [[action, nm_id, placement, norm_query, before, after, strategy]]


class ApprovalRow(Base):
    """A decision waiting for a person's Approve / Reject in Telegram (:mod:`bidder.store.approvals`)."""

    __tablename__ = "approvals"
    __table_args__ = (Index(None, "account_id", "status"), Index(None, "status", "expires_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = _account_fk()
    advert_id: Mapped[int] = mapped_column(BigInteger)
    target: Mapped[str] = mapped_column(String(600))  # nm|placement|query of the decision (campaign: "")
    action: Mapped[str] = mapped_column(String(16))
    bid_before: Mapped[int | None] = mapped_column(Integer)
    bid_after: Mapped[int | None] = mapped_column(Integer)
    decision: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # pending, approved, rejected, expired, superseded, applied
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(128))
    sent_at: Mapped[datetime | None]  # when its Telegram messages went out
    messages: Mapped[Any | None] = mapped_column(JSON)  # [[chat_id, message_id]] once sent


class RejectedRequestRow(Base):
    """A write request WB rejected (a 4xx): never sent again unchanged, across restarts
    (:mod:`bidder.store.rejected`). ``fingerprint`` names the request as it goes on the wire and the
    campaign shape it was built for; ``shape`` fingerprints the campaign's request-shaping details when it
    was rejected: a campaign that reads differently clears its rejections."""

    __tablename__ = "rejected_requests"
    __table_args__ = (UniqueConstraint("account_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = _account_fk()
    advert_id: Mapped[int] = mapped_column(BigInteger)
    fingerprint: Mapped[str] = mapped_column(String(64))
    shape: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    rejected_at: Mapped[datetime]
