"""Time as an input.

Pure code takes ``now`` as an argument; runtime code asks an injected :class:`Clock` for wall time,
monotonic time and sleeping. Tests use :class:`FakeClock`; the simulator and ``bidder demo`` share one
:class:`ScaledClock` so that a sped-up market and the daemon agree on what time it is.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    speed: float

    def now(self) -> datetime:
        """Current wall time, timezone-aware UTC."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (in this clock's time)."""

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of this clock's time."""


class SystemClock:
    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Simulated time running ``speed`` times faster than real time, starting at ``start``."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("ScaledClock start must be timezone-aware")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._start = start.astimezone(UTC)
        self._t0 = time.monotonic()

    @classmethod
    def anchored(cls, start: datetime, speed: float, t0: float) -> ScaledClock:
        """A clock that agrees with another process's ``ScaledClock``: same ``start`` and ``speed``, and
        that clock's :attr:`t0` (its ``time.monotonic()`` anchor). CLOCK_MONOTONIC is system-wide on
        Linux, so both processes then read the same simulated time (reliability tests run the daemon in
        a child process against a sped-up simulator in the parent)."""
        clock = cls(start, speed)
        clock._t0 = float(t0)
        return clock

    @property
    def start(self) -> datetime:
        return self._start

    @property
    def t0(self) -> float:
        """The ``time.monotonic()`` reading at which this clock showed ``start``."""
        return self._t0

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class FakeClock:
    """A clock that only moves when told to, or when someone sleeps on it.

    ``sleep`` advances the clock by the requested amount and yields to the loop once, so code that
    waits on the clock runs instantly in tests while still observing time pass.
    """

    speed = 1.0

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime(2026, 11, 2, 9, 0, tzinfo=UTC)).astimezone(UTC)
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._now += timedelta(seconds=seconds)
        self._mono += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)
