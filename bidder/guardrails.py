"""The guardrails of one account: the one model of them, with every bound and default written here once.

:class:`Guardrails` is what the YAML ``guardrails:`` section of an account is validated into (money in base
units, as sellers write it). The engine applies it as :class:`bidder.engine.guards.GuardConfig`, built from
it by ``GuardConfig.from_guardrails`` (bids in minor units), and ``guards.decide`` is the only code that
applies it. Pure: no I/O.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bidder.domain import base_to_minor
from bidder.durations import Duration

__all__ = ["DEFAULTS", "Guardrails"]


class Guardrails(BaseModel):
    """Rails above every strategy. Money in base units (rubles) as written; *_minor in kopecks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bid: Decimal = Field(gt=0, description="never bid above this, base units")
    max_step_pct: float = Field(default=25, gt=0, le=100, description="no single change larger than this")
    min_change_interval: Duration = timedelta(minutes=10)
    dead_band_pct: float = Field(default=3, ge=0, lt=100, description="ignore changes smaller than this")
    max_stats_age: Duration = timedelta(hours=6)
    min_evidence_spend: Decimal = Field(default=Decimal(300), ge=0)
    min_evidence_clicks: int = Field(default=30, ge=0)
    war_raises: int = Field(default=3, ge=1, description="consecutive raises before a bid war is declared")

    @field_validator("min_change_interval", "max_stats_age")
    @classmethod
    def _non_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    @property
    def max_bid_minor(self) -> int:
        return base_to_minor(self.max_bid)

    @property
    def min_evidence_spend_minor(self) -> int:
        return base_to_minor(self.min_evidence_spend)


# Every field that has a default, with it (max_bid has none: the YAML must give it).
DEFAULTS: dict[str, Any] = {
    name: info.default for name, info in Guardrails.model_fields.items() if not info.is_required()
}
