"""Fault injection: settings per seller or for all, changed at run time via ``POST /__sim/faults``.

Settings (all optional; shares are probabilities per request, drawn from a seeded RNG):

* ``error_rate``: share of requests answered with a 5xx (500/502/503/504) instead of being handled;
* ``slow_rate`` / ``slow_seconds``: share of replies delayed by ``slow_seconds`` of real time;
* ``lost_reply_rate``: share of requests that are handled (a write IS applied) and whose reply is then
  delayed by ``slow_seconds``: WB's dangerous case for a client that times out and might send twice;
* ``malformed_rate``: share of 200 JSON replies cut in half (invalid JSON);
* ``missing_field_rate``: share of 200 JSON replies with one field removed from the first object;
* ``revoke_after``: after N authenticated calls by a seller its tokens are revoked (401 from then on);
* ``search_429_rate``: share of public-search calls answered 429 (global setting only);
* ``rate_limit_rate`` / ``rate_limit_retry``: share of requests answered 429 (problem+json) with
  ``X-Ratelimit-Retry: rate_limit_retry`` (seconds) and ``X-Ratelimit-Remaining: 0``: a 429 storm;
* ``absurd_rate``: share of 200 JSON replies with absurd values (see :func:`make_absurd`): negative
  spend (``sum``), bids in the millions (``search``/``recommendations``/``bidKopecks``) and dates in
  the future (``date``/``updated``/``created``/``updTime``: year 2099);
* ``extra_field_rate``: share of 200 JSON replies with a field WB does not document (``simNewField``) in
  the top-level object (or the first element of a top-level list): drift a client should notice;
* ``normquery_forbidden_rate``: share of search-cluster (``normquery``) calls answered 403 "norm_query API
  not available", as WB answers a seller without that feature (REFERENCE.md §4).

A bids PATCH that meets a 5xx fault is not applied (the fault happens before the handler).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(slots=True)
class FaultSettings:
    error_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 1.0
    malformed_rate: float = 0.0
    missing_field_rate: float = 0.0
    revoke_after: int | None = None
    search_429_rate: float = 0.0  # public search only (REFERENCE §6: ~80 % from server IPs)
    rate_limit_rate: float = 0.0
    rate_limit_retry: float = 5.0
    absurd_rate: float = 0.0
    lost_reply_rate: float = 0.0
    extra_field_rate: float = 0.0
    normquery_forbidden_rate: float = 0.0

    def update(self, data: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        for key, value in data.items():
            if key not in names:
                raise ValueError(f"unknown fault setting {key!r}; known: {', '.join(sorted(names))}")
            if key == "revoke_after":
                if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                    raise ValueError("revoke_after must be a non-negative integer or null")
            elif not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
            elif key.endswith("_rate") and value > 1:
                raise ValueError(f"{key} must be within 0..1")
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class FaultPlan:
    error_status: int | None = None
    slow: float = 0.0
    malformed: bool = False
    missing_field: bool = False
    rate_limited: bool = False
    absurd: bool = False
    lost_reply: float = 0.0  # seconds to hold the reply back after the request was handled
    extra_field: bool = False
    normquery_forbidden: bool = False


class Faults:
    def __init__(self, seed: int, initial: dict[str, Any] | None = None) -> None:
        self._rng = random.Random(seed * 1_000_003 + 5)
        self.default = FaultSettings()
        if initial:
            self.default.update(initial)
        self.per_seller: dict[str, FaultSettings] = {}

    def settings(self, seller: str | None) -> FaultSettings:
        if seller is not None and seller in self.per_seller:
            return self.per_seller[seller]
        return self.default

    def configure(self, data: dict[str, Any], seller: str | None = None) -> None:
        if seller is None:
            self.default.update(data)
            for s in self.per_seller.values():
                s.update(data)
        else:
            current = self.per_seller.get(seller)
            if current is None:
                current = self.per_seller[seller] = FaultSettings(**self.default.as_dict())
            current.update(data)

    def plan(self, seller: str | None) -> FaultPlan:
        s = self.settings(seller)
        plan = FaultPlan()
        r = self._rng
        if s.rate_limit_rate and r.random() < s.rate_limit_rate:
            plan.rate_limited = True
        if s.absurd_rate and r.random() < s.absurd_rate:
            plan.absurd = True
        if s.error_rate and r.random() < s.error_rate:
            plan.error_status = r.choice((500, 502, 503, 504))
        if s.slow_rate and r.random() < s.slow_rate:
            plan.slow = s.slow_seconds
        if s.lost_reply_rate and r.random() < s.lost_reply_rate:
            plan.lost_reply = s.slow_seconds
        if s.extra_field_rate and r.random() < s.extra_field_rate:
            plan.extra_field = True
        if s.normquery_forbidden_rate and r.random() < s.normquery_forbidden_rate:
            plan.normquery_forbidden = True
        if s.malformed_rate and r.random() < s.malformed_rate:
            plan.malformed = True
        elif s.missing_field_rate and r.random() < s.missing_field_rate:
            plan.missing_field = True
        return plan

    def search_blocked(self) -> bool:
        rate = self.default.search_429_rate
        return bool(rate) and self._rng.random() < rate

    def as_dict(self) -> dict[str, Any]:
        return {"all": self.default.as_dict(), "sellers": {k: v.as_dict() for k, v in self.per_seller.items()}}


EXTRA_FIELD = "simNewField"


def add_one_field(obj: Any) -> bool:
    """Add an undocumented field to the top-level object (or the first object of a top-level list)."""
    if isinstance(obj, list) and obj and isinstance(obj[0], dict):
        obj = obj[0]
    if isinstance(obj, dict):
        obj[EXTRA_FIELD] = 1
        return True
    return False


def drop_one_field(obj: Any) -> bool:
    """Remove one field from the first innermost JSON object (in place). True when something was removed."""
    if isinstance(obj, dict):
        for value in obj.values():
            if isinstance(value, dict | list) and drop_one_field(value):
                return True
        if obj:
            del obj[next(iter(obj))]
            return True
    elif isinstance(obj, list):
        for value in obj:
            if drop_one_field(value):
                return True
    return False


ABSURD_BID = 500_000_000  # kopecks: 5 million rubles
_BID_KEYS = {"search", "recommendations", "bidKopecks", "bid"}
_DATE_KEYS = {"date", "updated", "created", "updTime", "started"}


def make_absurd(obj: Any) -> int:
    """Absurd values in place: spend (``sum``) negative, bids in the millions, dates moved to 2099.
    Returns how many values were changed."""
    n = 0
    if isinstance(obj, dict):
        for key, value in list(obj.items()):
            if isinstance(value, dict | list):
                n += make_absurd(value)
            elif isinstance(value, bool) or value is None:
                continue
            elif key == "sum" and isinstance(value, int | float):
                obj[key] = -abs(value) - 1000
                n += 1
            elif key in _BID_KEYS and isinstance(value, int):
                obj[key] = ABSURD_BID
                n += 1
            elif key in _DATE_KEYS and isinstance(value, str) and len(value) >= 10 and value[:4].isdigit():
                obj[key] = "2099" + value[4:]
                n += 1
    elif isinstance(obj, list):
        for value in obj:
            n += make_absurd(value)
    return n
