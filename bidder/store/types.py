"""Column types that behave the same on SQLite and PostgreSQL.

* :class:`UTCDateTime`: accepts only aware datetimes, stores UTC, always returns aware UTC.
  PostgreSQL: ``timestamp with time zone``. SQLite: ``DATETIME`` text holding naive UTC.
* :class:`Money`: exact ``Decimal`` with 6 fractional digits (WB's statistics floats after
  conversion at the edge). PostgreSQL: ``NUMERIC(18, 6)``. SQLite: ``VARCHAR(32)`` holding the
  fixed-point text, because SQLite's NUMERIC affinity would turn it into a lossy REAL.

Migrations render these as plain SQLAlchemy types (see ``migrations/env.py``) so that a migration
file never depends on this module: ``UTCDateTime`` -> ``sa.DateTime(timezone=True)``, ``Money`` ->
``sa.Numeric(18, 6).with_variant(sa.String(32), "sqlite")``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine

MONEY_PRECISION = 18
MONEY_SCALE = 6
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)  # Decimal("0.000001")
_MONEY_MAX = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime needs a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: store aware UTC datetimes only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def to_money(value: Decimal | int | float | str) -> Decimal:
    """Normalise to a Decimal with exactly 6 fractional digits (half up), as stored."""
    if isinstance(value, bool):
        raise TypeError("a bool is not money")
    if isinstance(value, float):
        value = repr(value)  # the shortest text that round-trips the float: 0.1 -> "0.1"
    try:
        d = Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"not a money amount: {value!r}") from exc
    if not d.is_finite():
        raise ValueError(f"not a finite money amount: {value!r}")
    d = d.quantize(_QUANTUM, rounding=ROUND_HALF_UP)
    if abs(d) >= _MONEY_MAX:
        raise ValueError(f"money amount out of range for NUMERIC({MONEY_PRECISION},{MONEY_SCALE}): {value!r}")
    return d


class Money(TypeDecorator[Decimal]):
    impl = Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        d = to_money(value)
        if dialect.name == "sqlite":
            return format(d, "f")
        return d

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return to_money(value if not isinstance(value, float) else repr(value))

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal
