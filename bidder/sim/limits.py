"""WB's Promotion rate limits as token buckets in simulated time (REFERENCE.md §2–3).

One bucket per (seller ``sid``, token type, method); capacity = burst, refill = limit / period.
Personal, Service and "Base with secret" share the same numbers; Base tokens get WB's hourly quotas.
Time is ``clock.monotonic()`` of the injected clock, so a FakeClock or a ScaledClock drives refills.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    period: float  # seconds
    limit: int  # requests per period
    burst: int

    @property
    def interval(self) -> float:
        return self.period / self.limit


MIN = 60.0
HOUR = 3600.0

# method key -> (Personal/Service limit, Base limit)
LIMITS: dict[str, tuple[Limit, Limit]] = {
    "GET /adv/v1/promotion/count": (Limit(1, 5, 5), Limit(HOUR, 4, 1)),
    "GET /api/advert/v2/adverts": (Limit(1, 5, 5), Limit(HOUR, 1, 1)),
    "PATCH /api/advert/v1/bids": (Limit(1, 5, 5), Limit(HOUR, 2, 1)),
    "POST /api/advert/v1/bids/min": (Limit(MIN, 20, 5), Limit(HOUR, 5, 1)),
    "GET /api/advert/v0/bids/recommendations": (Limit(MIN, 5, 5), Limit(HOUR, 20, 1)),
    "GET /api/advert/v1/config": (Limit(MIN, 1, 10), Limit(MIN, 1, 10)),
    "GET /adv/v0/start": (Limit(1, 5, 5), Limit(HOUR, 5, 1)),
    "GET /adv/v0/pause": (Limit(1, 5, 5), Limit(HOUR, 5, 1)),
    "GET /adv/v0/stop": (Limit(1, 5, 5), Limit(HOUR, 5, 1)),
    "GET /adv/v3/fullstats": (Limit(MIN, 3, 1), Limit(HOUR, 1, 1)),
    "POST /adv/v0/normquery/stats": (Limit(MIN, 10, 20), Limit(HOUR, 5, 1)),
    "POST /adv/v1/normquery/stats": (Limit(MIN, 10, 20), Limit(HOUR, 2, 1)),
    "POST /adv/v0/normquery/get-bids": (Limit(1, 5, 10), Limit(HOUR, 5, 1)),
    "POST /api/advert/v1/normquery/bids": (Limit(1, 2, 4), Limit(1, 2, 4)),
    "POST /api/advert/v2/budget": (Limit(MIN, 20, 4), Limit(HOUR, 4, 1)),
    "GET /adv/v1/balance": (Limit(1, 1, 5), Limit(HOUR, 2, 1)),
    "GET /adv/v1/upd": (Limit(1, 1, 5), Limit(HOUR, 1, 1)),
    # REFERENCE-2026-10 §2: 1 min / 5, 12 s, burst 5; no Base rows (Personal/Service only)
    "GET /api/advert/v0/daily-limits": (Limit(MIN, 5, 5), Limit(MIN, 5, 5)),
    "PUT /api/advert/v0/daily-limits": (Limit(MIN, 5, 5), Limit(MIN, 5, 5)),
    # POSITIONS.md §2: Personal/Service 1 min / 3, 20 s, burst 3; Base 1 h / 1
    "POST /api/v2/search-report/product/orders": (Limit(MIN, 3, 3), Limit(HOUR, 1, 1)),
}


def limit_for(method: str, token_type: str) -> Limit | None:
    pair = LIMITS.get(method)
    if pair is None:
        return None
    return pair[1] if token_type == "Base" else pair[0]


@dataclass(slots=True)
class Decision:
    allowed: bool
    limit: int  # burst
    remaining: int
    retry: float  # seconds until one request is allowed (0 when allowed)
    reset: float  # seconds until the bucket is full

    def headers(self) -> dict[str, str]:
        if self.allowed:
            return {"X-Ratelimit-Remaining": str(self.remaining)}
        return {
            "X-Ratelimit-Retry": str(max(1, math.ceil(self.retry))),
            "X-Ratelimit-Limit": str(self.limit),
            "X-Ratelimit-Reset": str(max(1, math.ceil(self.reset))),
        }


class TokenBucket:
    __slots__ = ("limit", "tokens", "updated")

    def __init__(self, limit: Limit, now: float) -> None:
        self.limit = limit
        self.tokens = float(limit.burst)
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            rate = self.limit.limit / self.limit.period
            self.tokens = min(float(self.limit.burst), self.tokens + (now - self.updated) * rate)
            self.updated = now

    def take(self, now: float) -> Decision:
        self._refill(now)
        rate = self.limit.limit / self.limit.period
        if self.tokens >= 1.0 - 1e-9:
            self.tokens -= 1.0
            return Decision(True, self.limit.burst, int(self.tokens + 1e-9), 0.0,
                            (self.limit.burst - self.tokens) / rate)
        return Decision(False, self.limit.burst, 0, (1.0 - self.tokens) / rate,
                        (self.limit.burst - self.tokens) / rate)


class RateLimiter:
    """Buckets keyed by (seller id, token type, method); ``check`` consumes one request."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}

    def check(self, seller_id: str, token_type: str, method: str, now: float) -> Decision | None:
        limit = limit_for(method, token_type)
        if limit is None:
            return None
        key = (seller_id, "Base" if token_type == "Base" else "Personal", method)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(limit, now)
        return bucket.take(now)
