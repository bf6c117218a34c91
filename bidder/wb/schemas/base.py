"""What every wire model shares: the lenient base model, null-tolerant field types, money as Decimal,
unknown enum values logged once and kept, and WB's error bodies."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bidder.domain import (
    Status,
)

log = logging.getLogger(__name__)

KNOWN_BID_TYPES = frozenset({"manual", "unified"})
KNOWN_PAYMENT_TYPES = frozenset({"cpm", "cpc"})
KNOWN_STATUSES = frozenset(
    {Status.DELETED, Status.READY, Status.COMPLETED, Status.DECLINED, Status.ACTIVE, Status.PAUSED}
)
KNOWN_TYPES = frozenset({4, 5, 6, 7, 8, 9})
_seen_unknown: set[tuple[str, str]] = set()


def note_unknown(field: str, value: object, known: frozenset) -> None:
    """Log an unknown enum value once per (field, value) and let the caller keep it."""
    if value in known:
        return
    key = (field, repr(value))
    if key not in _seen_unknown:
        _seen_unknown.add(key)
        log.warning("WB sent an unknown %s value %r; keeping it", field, value)


def _none_list(v: Any) -> Any:
    return [] if v is None else v


def _none_zero(v: Any) -> Any:
    return 0 if v is None else v


def _decimal(v: Any) -> Decimal:
    if v is None or v == "":
        return Decimal(0)
    if isinstance(v, Decimal):
        return v
    return Decimal(str(v))


def _day(v: Any) -> Any:
    if isinstance(v, str):
        return v[:10]
    return v


def _str(v: Any) -> Any:
    return "" if v is None else v


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


Int0 = Annotated[int, BeforeValidator(_none_zero)]
Money = Annotated[Decimal, BeforeValidator(_decimal)]
Spend = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0)]
# The RUB ceiling (100,000 ₽). Not enforced by the wire model: the client judges plausibility in the
# account's currency from WB's own bid steps (bidder.wb.plausible, issue 14 defect 11).
MAX_PLAUSIBLE_BID = 10_000_000
Bid = Annotated[int, BeforeValidator(_none_zero), Field(ge=0)]
Day = Annotated[date, BeforeValidator(_day)]
Str = Annotated[str, BeforeValidator(_str)]


def NullList(t: Any) -> Any:
    return Annotated[list[t], BeforeValidator(_none_list)]


# ---------------------------------------------------------------- error bodies
class ErrorBody(Wire):
    """Any of WB's error shapes: response400 / FullStatsError / problem+json / {"error": ...}."""

    detail: str | None = None
    title: str | None = None
    error: str | None = None
    message: str | None = None
    errors: list[dict[str, Any]] | None = None

    def text(self) -> tuple[str, str | None]:
        """(detail, field) for BadRequest."""
        field = None
        parts = []
        for e in self.errors or []:
            if isinstance(e, dict):
                if e.get("detail"):
                    parts.append(str(e["detail"]))
                if field is None and e.get("field"):
                    field = str(e["field"])
        detail = self.detail or self.error or self.message or ("; ".join(parts) if parts else None) or self.title
        if detail and parts and self.detail:
            detail = f"{detail}: {'; '.join(parts)}"
        return (detail or ""), field
