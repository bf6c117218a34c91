"""Liveness as the operator sees it: did every account complete a good cycle recently?

The engine reports each account cycle's start and finish; ``GET /healthz`` (and so ``bidder check``, the
Docker ``HEALTHCHECK``) asks :meth:`Health.check`. Time is an input: every method takes the time from the
caller, which gets it from the injected clock.

Rules, per account:

* the last finished cycle failed -> unhealthy (the reason carries the error text);
* the last successful cycle finished more than ``max_age`` ago -> unhealthy (stale);
* no cycle has completed yet -> healthy during the start-up ``grace`` period, unhealthy after it.

``max_age`` defaults to three cycle intervals, at least five minutes (:meth:`Health.for_interval`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bidder.clock import Clock

MIN_MAX_AGE = timedelta(minutes=5)
MAX_AGE_INTERVALS = 3


@dataclass(slots=True)
class AccountHealth:
    name: str
    last_started: datetime | None = None
    last_finished: datetime | None = None
    last_ok: bool | None = None
    last_error: str | None = None
    last_success: datetime | None = None
    token_days_left: dict[str, float] | None = None  # "read" / "write" -> days until the token expires

    def as_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t is not None else None

        return {
            "last_started": iso(self.last_started),
            "last_finished": iso(self.last_finished),
            "last_ok": self.last_ok,
            "last_error": self.last_error,
            "last_success": iso(self.last_success),
            "token_days_left": ({k: round(v, 1) for k, v in self.token_days_left.items()}
                                if self.token_days_left is not None else None),
        }


def max_age_for(interval: timedelta) -> timedelta:
    """Three cycle intervals, but never less than five minutes."""
    return max(interval * MAX_AGE_INTERVALS, MIN_MAX_AGE)


class Health:
    def __init__(
        self,
        started_at: datetime | None = None,
        *,
        max_age: timedelta = MIN_MAX_AGE,
        grace: timedelta | None = None,
        accounts: list[str] | tuple[str, ...] = (),
        clock: Clock | None = None,
    ) -> None:
        """``started_at`` defaults to ``clock.now()``; with a ``clock``, ``check()`` needs no ``now``."""
        if max_age <= timedelta(0):
            raise ValueError("max_age must be positive")
        if started_at is None:
            if clock is None:
                raise ValueError("Health needs started_at or a clock")
            started_at = clock.now()
        self.clock = clock
        self.started_at = started_at
        self.max_age = max_age
        self.grace = grace if grace is not None else max_age
        self.stopping = False
        self._accounts: dict[str, AccountHealth] = {}
        self.set_accounts(accounts)

    @classmethod
    def for_interval(
        cls,
        interval: timedelta,
        started_at: datetime | None = None,
        *,
        accounts: list[str] | tuple[str, ...] = (),
        grace: timedelta | None = None,
        clock: Clock | None = None,
    ) -> Health:
        return cls(started_at, max_age=max_age_for(interval), grace=grace, accounts=accounts, clock=clock)

    # --- what the engine and the runner call ----------------------------------------------------------

    def set_accounts(self, names: list[str] | tuple[str, ...]) -> None:
        """The configured accounts (at start and after a reload); keeps the history of those that stay."""
        self._accounts = {n: self._accounts.get(n) or AccountHealth(n) for n in names}

    def register(self, account: str) -> None:
        """Add one account (kept if already known)."""
        self._account(account)

    def unregister(self, account: str) -> None:
        self._accounts.pop(account, None)

    def record(self, account: str, ok: bool, error: str | None = None, at: datetime | None = None) -> None:
        """Shorthand for :meth:`cycle_finished` (``at`` defaults to the clock's now)."""
        self.cycle_finished(account, at if at is not None else self._now(), ok, error)

    def set_token_days(self, account: str, which: str, days_left: float | None) -> None:
        """Days until the account's ``which`` token expires (shown on /healthz; not a health rule)."""
        a = self._account(account)
        if days_left is None:
            return
        a.token_days_left = {**(a.token_days_left or {}), which: days_left}

    def cycle_started(self, account: str, at: datetime) -> None:
        self._account(account).last_started = at

    def cycle_finished(self, account: str, at: datetime, ok: bool, error: str | None = None) -> None:
        a = self._account(account)
        a.last_finished = at
        a.last_ok = ok
        if ok:
            a.last_success = at
            a.last_error = None
        else:
            a.last_error = error or "cycle failed"

    def mark_stopping(self) -> None:
        """Shutting down: report unhealthy so that nothing routes to or waits on this instance."""
        self.stopping = True

    # --- what /healthz calls ---------------------------------------------------------------------------

    def check(self, now: datetime | None = None) -> tuple[bool, list[str]]:
        now = now if now is not None else self._now()
        reasons: list[str] = []
        if self.stopping:
            reasons.append("shutting down")
        in_grace = now - self.started_at < self.grace
        for name, a in self._accounts.items():
            if a.last_finished is None:
                if not in_grace:
                    since = _ago(now - self.started_at)
                    reasons.append(f"account {name}: no cycle completed since start-up {since} ago")
                continue
            if a.last_ok is False:
                reasons.append(f"account {name}: last cycle failed: {a.last_error}")
            elif a.last_success is not None and now - a.last_success > self.max_age:
                reasons.append(
                    f"account {name}: last successful cycle {_ago(now - a.last_success)} ago "
                    f"(limit {_ago(self.max_age)})"
                )
        return (not reasons, reasons)

    def report(self, now: datetime | None = None) -> dict[str, Any]:
        """The JSON body of ``/healthz``."""
        now = now if now is not None else self._now()
        ok, reasons = self.check(now)
        body: dict[str, Any] = {"status": "ok" if ok else "unhealthy"}
        if reasons:
            body["reasons"] = reasons
        body["checked_at"] = now.isoformat()
        body["max_age_seconds"] = self.max_age.total_seconds()
        body["accounts"] = {name: a.as_dict() for name, a in self._accounts.items()}
        return body

    def _now(self) -> datetime:
        if self.clock is None:
            raise ValueError("no clock: pass now")
        return self.clock.now()

    def _account(self, name: str) -> AccountHealth:
        a = self._accounts.get(name)
        if a is None:
            a = self._accounts[name] = AccountHealth(name)
        return a


def _ago(d: timedelta) -> str:
    s = int(d.total_seconds())
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"
