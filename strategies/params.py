"""Parameter models of the built-in strategies (the YAML contract; validated by the config loader).

Money is in the account currency's base units (rubles), as sellers think; strategies convert to minor
units with :func:`bidder.domain.base_to_minor`.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from bidder.durations import Duration
from strategies.base import StrategyParams

_HOURS = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def _window(value: timedelta) -> timedelta:
    if value < timedelta(days=1) or value > timedelta(days=31) or value.total_seconds() % 86400:
        raise ValueError("window must be whole days between 1d and 31d (WB keeps 31 days of statistics)")
    return value


class TargetPositionParams(StrategyParams):
    position: int = Field(ge=1, le=1000, description="keep the item at or above this ad position")
    max_bid: Decimal = Field(gt=0, description="never bid above this, base units")
    query: str | None = Field(default=None, min_length=1, description="a search cluster (norm query) to watch")
    margin: int = Field(default=1, ge=0, le=50, description="positions better than the target before stepping down")
    step_down_pct: float = Field(default=5, gt=0, le=50)
    step_up_pct: float = Field(default=10, gt=0, le=100, description="raise when worse than the target")
    settle: Duration = Field(
        default=timedelta(0),
        description="an extra wait after a change on top of the position source's own refresh",
    )
    probe_after: int = Field(default=2, ge=1, le=20,
                             description="fresh readings on target in a row before the economy probe steps down")


def _confidence(value: float) -> float:
    if not 50 <= value < 100:
        raise ValueError("confidence_pct must be at least 50 and below 100 (the probability of a breach, %, "
                         "before acting on it; 90 is a good start)")
    return value


class EvidenceParams(StrategyParams):
    """What the money strategies need before acting on a breach (see strategies/evidence.py)."""

    confidence_pct: float = Field(
        default=90, description="act on a breach only when it is at least this probable, %")
    prior_clicks: int = Field(
        default=200, ge=0, le=100000,
        description="the campaign's earlier days weigh as much as this many clicks in the conversion prior")

    _check_confidence = field_validator("confidence_pct")(_confidence)


class RoiFloorParams(EvidenceParams):
    min_roi_pct: float = Field(ge=-100, le=10000)
    margin_pct: float = Field(gt=0, le=100, description="gross margin of the goods, % of revenue")
    window: Duration = timedelta(days=7)
    step_pct: float = Field(default=10, gt=0, le=50)
    pause_after: int = Field(default=3, ge=1, le=100, description="evaluations below the floor at the minimum bid")
    restore_margin_pct: float = Field(default=20, ge=0, description="ROI above floor + this allows raising back")
    cooldown: Duration = Field(
        default=timedelta(hours=3),
        description="after a bid change, wait this long for its effect before changing again; also the "
        "spacing of the evaluations counted toward pause_after",
    )

    _check_window = field_validator("window")(_window)


class SpendCapParams(EvidenceParams):
    max_drr_pct: float = Field(gt=0, le=100, description="ad spend share of revenue (ДРР), %")
    daily_budget: Decimal | None = Field(default=None, gt=0, description="base units per day, account time zone")
    window: Duration = timedelta(days=3)
    min_spend_without_revenue: Decimal = Field(default=Decimal(500), ge=0)
    step_pct: float = Field(default=10, gt=0, le=50)
    on_breach: Literal["lower", "pause"] = "lower"
    restore_below_pct: float = Field(
        default=20, ge=0, le=100, description="ДРР this % below the cap allows raising back cut bids"
    )
    cooldown: Duration = Field(
        default=timedelta(hours=3), description="after a bid change, wait this long for its effect"
    )
    max_status_changes_per_day: int = Field(
        default=2, ge=1, le=24, description="pauses and resumes by this strategy per campaign and local day; "
        "once reached, no more resumes that day (pauses are never held back)")
    budget_lookahead: Duration = Field(
        default=timedelta(minutes=6), description="pause when the spend projected this far ahead (WB's "
        "3-minute statistics lag plus the next sync) would pass daily_budget")
    overspend_guard_x: float = Field(
        default=3, ge=1.5, le=100, description="hard guard: today's spend at this multiple of the window's "
        "mean daily spend, with today's ДРР over the cap, cuts the bids without waiting for complete days")

    _check_window = field_validator("window")(_window)

    @field_validator("budget_lookahead")
    @classmethod
    def _lookahead(cls, value: timedelta) -> timedelta:
        if value < timedelta(0) or value > timedelta(hours=1):
            raise ValueError("budget_lookahead must be between 0s and 1h (WB publishes spend every 3 minutes)")
        return value


class ScheduleParams(StrategyParams):
    active_hours: str = Field(description="HH:MM-HH:MM, several separated by commas")
    timezone: str = "Europe/Moscow"
    outside: Literal["pause", "lower"] = "pause"
    lower_pct: float = Field(default=50, gt=0, lt=100)

    @field_validator("active_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        for part in value.split(","):
            m = _HOURS.match(part.strip())
            if not m:
                raise ValueError(f"invalid active_hours {part.strip()!r}: expected HH:MM-HH:MM, e.g. 08:00-23:00")
            if m.group(1) == "24" and m.group(2) != "00" or m.group(3) == "24" and m.group(4) != "00":
                raise ValueError(f"invalid time in active_hours {part.strip()!r}")
            if part.strip()[:5] == part.strip()[6:]:
                raise ValueError(f"empty interval in active_hours {part.strip()!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Moscow)") from None
        return value

    def intervals(self) -> list[tuple[time, time]]:
        """Active intervals as (start, end) local times; end 24:00 is returned as time.max."""
        out = []
        for part in self.active_hours.split(","):
            a, b = part.strip().split("-")
            out.append((_t(a), _t(b)))
        return out


def _t(hhmm: str) -> time:
    h, m = int(hhmm[:2]), int(hhmm[3:])
    return time.max if h == 24 else time(h, m)
