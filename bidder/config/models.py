"""The typed models of the YAML strategy config (pydantic, frozen, ``extra="forbid"``).

Validation messages that name a file and line are made by :mod:`bidder.config.loader`; the models only
declare fields, bounds and defaults. The guardrail model lives in :mod:`bidder.guardrails`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, create_model, field_validator
from pydantic import model_validator as _model_validator
from pydantic_core import PydanticCustomError

from bidder.config.sources import PositionSources
from bidder.config.wording import describe
from bidder.durations import Duration
from bidder.errors import ConfigIssue
from bidder.guardrails import Guardrails
from strategies.base import Strategy, StrategyParams
from strategies.params import ScheduleParams
from strategies.registry import REGISTRY
from strategies.schedule import Schedule

__all__ = [
    "AccountConfig",
    "BidderConfig",
    "CampaignConfig",
    "CampaignDefaults",
    "Guardrails",
    "Intervals",
    "StrategyEntry",
    "TelegramConfig",
]

MIN_STATS_INTERVAL = timedelta(minutes=3)
MIN_EVALUATE_INTERVAL = timedelta(seconds=30)
TOKEN_KEYS = ("read_token", "write_token")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _check_tz(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Moscow)") from None
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------- models


class Intervals(_Model):
    """How often each poll / evaluation runs."""

    campaigns: Duration = timedelta(minutes=5)
    stats: Duration = timedelta(minutes=3)
    clusters: Duration = timedelta(minutes=15)
    recommendations: Duration = timedelta(minutes=30)
    evaluate: Duration = timedelta(minutes=1)

    @field_validator("campaigns", "clusters", "recommendations")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @field_validator("stats")
    @classmethod
    def _stats(cls, value: timedelta) -> timedelta:
        if value < MIN_STATS_INTERVAL:
            raise ValueError("must be at least 3m (WB refreshes advertising statistics no faster)")
        return value

    @field_validator("evaluate")
    @classmethod
    def _evaluate(cls, value: timedelta) -> timedelta:
        if value < MIN_EVALUATE_INTERVAL:
            raise ValueError("must be at least 30s")
        return value


class TelegramConfig(_Model):
    """Telegram behaviour (the bot token and chat ids are settings: BIDDER_TELEGRAM_*)."""

    locale: Literal["ru", "en"] = "ru"
    digest_time: str = "09:00"  # HH:MM in digest_timezone
    digest_timezone: str = "Europe/Moscow"
    merge_window: Duration = timedelta(seconds=60)

    @field_validator("digest_time", mode="before")
    @classmethod
    def _time(cls, value: object) -> object:
        if isinstance(value, time):
            return value.strftime("%H:%M")
        if isinstance(value, int) and not isinstance(value, bool):  # YAML 1.1 style 9:00 -> 540 minutes
            value = f"{value // 60:02d}:{value % 60:02d}" if 0 <= value < 1440 else value
        m = _HHMM.match(str(value).strip()) if isinstance(value, str) else None
        if not m:
            raise ValueError(f"invalid time {value!r}: expected HH:MM, e.g. 09:00")
        return f"{int(m.group(1)):02d}:{m.group(2)}"

    @property
    def digest_at(self) -> time:
        hh, mm = self.digest_time.split(":")
        return time(int(hh), int(mm))

    _tz = field_validator("digest_timezone")(classmethod(lambda cls, v: _check_tz(v)))

    @field_validator("merge_window")
    @classmethod
    def _merge(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value


class _StrategyEntryBase(_Model):
    """One item of a ``strategies:`` list: a one-key mapping ``{kind: {params}}``."""

    @_model_validator(mode="before")
    @classmethod
    def _one_kind(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value in REGISTRY:
                raise PydanticCustomError(
                    "strategy_shape", f"'{value}' needs its parameters: - {value}: {{...}}"
                )
            raise PydanticCustomError("strategy_kind", _unknown_kind(value))
        if not isinstance(value, Mapping):
            raise PydanticCustomError(
                "strategy_shape", f"expected a one-key mapping {{kind: {{params}}}}, got {describe(value)}"
            )
        if len(value) != 1:
            kinds = ", ".join(str(k) for k in value) or "nothing"
            raise PydanticCustomError(
                "strategy_shape",
                f"each list item must hold exactly one strategy kind (got {kinds}); start each with its own '- '",
            )
        ((kind, params),) = value.items()
        if kind not in REGISTRY:
            raise PydanticCustomError("strategy_kind", _unknown_kind(str(kind)))
        return {kind: {} if params is None else params}

    @property
    def kind(self) -> str:
        ((kind, _),) = ((k, v) for k, v in self.__dict__.items() if v is not None)
        return kind

    @property
    def params(self) -> StrategyParams:
        return getattr(self, self.kind)

    def build(self) -> Strategy:
        return REGISTRY[self.kind](self.params)


StrategyEntry: type[_StrategyEntryBase] = create_model(  # type: ignore[call-overload]
    "StrategyEntry",
    __base__=_StrategyEntryBase,
    **{kind: (cls.Params | None, None) for kind, cls in REGISTRY.items()},
)


def _unknown_kind(kind: str) -> str:
    valid = ", ".join(sorted(REGISTRY))
    near = difflib.get_close_matches(kind, list(REGISTRY), n=1)
    hint = f"did you mean '{near[0]}'? " if near else ""
    return f"unknown strategy kind '{kind}'; {hint}valid kinds: {valid}"


class CampaignDefaults(_Model):
    """Strategies for every campaign of the account that is not listed under ``campaigns``."""

    strategies: list[StrategyEntry] = Field(default_factory=list)  # type: ignore[valid-type]
    schedule: ScheduleParams | None = None
    managed: bool = True


class ApprovalConfig(_Model):
    """Decisions that wait for a person's Approve in Telegram before they are applied: ``off`` (none),
    ``raises`` (bid raises and resumes: more spend), ``all`` (every bid change and resume). Pauses and the
    guardrails' corrections are safety actions and never wait. Unanswered after ``timeout``: skipped."""

    mode: Literal["off", "raises", "all"] = "off"
    timeout: Duration = timedelta(minutes=30)

    @field_validator("timeout")
    @classmethod
    def _positive_timeout(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0")
        return value


class CampaignConfig(_Model):
    id: int = Field(gt=0, le=2**63 - 1)  # WB's advert id
    strategies: list[StrategyEntry] | None = None  # type: ignore[valid-type]  # None: the defaults' list
    schedule: ScheduleParams | None = None  # None: the defaults' schedule, if any
    managed: bool = True
    approval: ApprovalConfig | None = None  # None: the account's


class AccountConfig(_Model):
    name: str = Field(min_length=1)
    read_token: SecretStr
    write_token: SecretStr | None = None  # without it the account runs read-only (dry-run)
    timezone: str = "Europe/Moscow"
    guardrails: Guardrails
    defaults: CampaignDefaults = Field(default_factory=CampaignDefaults)
    campaigns: list[CampaignConfig] = Field(default_factory=list)
    positions: PositionSources = Field(default_factory=PositionSources)
    approval: ApprovalConfig = Field(default_factory=ApprovalConfig)

    _tz = field_validator("timezone")(classmethod(lambda cls, v: _check_tz(v)))

    def approval_for(self, advert_id: int) -> ApprovalConfig:
        c = self.campaign(advert_id)
        return c.approval if c is not None and c.approval is not None else self.approval

    @property
    def read_only(self) -> bool:
        return self.write_token is None

    def campaign(self, advert_id: int) -> CampaignConfig | None:
        for c in self.campaigns:
            if c.id == advert_id:
                return c
        return None

    def is_managed(self, advert_id: int) -> bool:
        """Listed campaigns follow their ``managed`` flag; others are managed when the defaults say so
        and give at least one strategy or a schedule."""
        c = self.campaign(advert_id)
        if c is not None:
            return c.managed
        return self.defaults.managed and bool(self.defaults.strategies or self.defaults.schedule)

    def strategies_for(self, advert_id: int) -> list[Strategy]:
        """Fresh strategy instances: the campaign's own list (else the defaults'), then its schedule
        (else the defaults'). An unmanaged campaign gets none. A schedule without its own time zone
        uses the account's."""
        if not self.is_managed(advert_id):
            return []
        c = self.campaign(advert_id)
        entries = c.strategies if c is not None and c.strategies is not None else self.defaults.strategies
        schedule = c.schedule if c is not None and c.schedule is not None else self.defaults.schedule
        out = [e.build() for e in entries]
        if schedule is not None:
            if "timezone" not in schedule.model_fields_set:
                schedule = schedule.model_copy(update={"timezone": self.timezone})
            out.append(Schedule(schedule))
        return out


class BidderConfig(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    accounts: list[AccountConfig] = Field(min_length=1)
    intervals: Intervals = Field(default_factory=Intervals)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    stop_file: Path = Path("./STOP")
    # Filled by the loader, not from YAML keys (they are excluded from the YAML key check).
    source: Path | None = Field(default=None, exclude=True)
    warnings: tuple[ConfigIssue, ...] = Field(default=(), exclude=True)

    LOADER_FIELDS: ClassVar[frozenset[str]] = frozenset({"source", "warnings"})

    def account(self, name: str) -> AccountConfig:
        for a in self.accounts:
            if a.name == name:
                return a
        raise KeyError(name)

    def secrets(self) -> list[str]:
        """Every token string in the config (for log redaction)."""
        out = []
        for a in self.accounts:
            for tok in (a.read_token, a.write_token):
                if tok is not None and tok.get_secret_value():
                    out.append(tok.get_secret_value())
        return out

