"""Durations written the way sellers write them: ``30s``, ``10m``, ``1h``, ``3d``, ``1w``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 10m, 1h, 3d")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    m = _RE.match(str(value))
    if not m:
        raise ValueError(f"invalid duration {value!r}: expected a number and a unit (s, m, h, d, w), e.g. 10m or 3d")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
