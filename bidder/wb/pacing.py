"""Request pacing: one token bucket per (seller account, method group), timed on the injected Clock.

WB documents each Promotion method's limit as a token bucket (REFERENCE.md §2): ``Period`` / ``Limit``
give the steady interval, ``Burst`` the bucket size. The limits are per seller account, so every task of
the process (reader and writer of a seller alike) shares the same :class:`Pacer` and its buckets.

Two mechanisms gate a request, both on the Clock (never the loop's own clock):

* a token bucket (``burst`` tokens, refilled at one per ``interval * (1 + safety)``) that also carries
  a *next allowed* time set by a 429's ``X-Ratelimit-Retry`` and a correction from
  ``X-Ratelimit-Remaining`` when the server counts fewer tokens than we do;
* asyncio-throttle's sliding-window :class:`Throttler`, subclassed as :class:`ClockThrottler` so that it
  reads and sleeps on the Clock, as a hard cap: at most ``limit + burst`` requests in any ``period``,
  the most WB's bucket can ever accept. It never binds while the bucket works; it stops a runaway
  (a bad Remaining correction, a wrong table entry) from hammering WB.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections import Counter
from dataclasses import dataclass

from asyncio_throttle import Throttler

from bidder.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limit:
    """WB's documented limit for Personal (and Service) tokens."""

    period: float  # seconds
    limit: int  # requests per period
    burst: int  # bucket size

    @property
    def interval(self) -> float:
        return self.period / self.limit

    @property
    def rate(self) -> float:
        """Steady requests per second."""
        return self.limit / self.period


# Method group -> WB's Personal/Service limit (promotion.yaml tables; REFERENCE.md §3). Declared once.
LIMITS: dict[str, Limit] = {
    "count": Limit(1, 5, 5),  # GET /adv/v1/promotion/count
    "adverts": Limit(1, 5, 5),  # GET /api/advert/v2/adverts
    "fullstats": Limit(60, 3, 1),  # GET /adv/v3/fullstats
    "bids": Limit(1, 5, 5),  # PATCH /api/advert/v1/bids
    "bids_min": Limit(60, 20, 5),  # POST /api/advert/v1/bids/min
    "recommendations": Limit(60, 5, 5),  # GET /api/advert/v0/bids/recommendations
    "config": Limit(60, 1, 10),  # GET /api/advert/v1/config
    "start": Limit(1, 5, 5),  # GET /adv/v0/start
    "pause": Limit(1, 5, 5),  # GET /adv/v0/pause
    "stop": Limit(1, 5, 5),  # GET /adv/v0/stop
    "normquery_stats": Limit(60, 10, 20),  # POST /adv/v0/normquery/stats
    "search_report": Limit(60, 3, 3),  # POST /api/v2/search-report/product/orders (Analytics host)
    "normquery_stats_daily": Limit(60, 10, 20),  # POST /adv/v1/normquery/stats
    "normquery_get_bids": Limit(1, 5, 10),  # POST /adv/v0/normquery/get-bids
    "normquery_bids": Limit(1, 2, 4),  # POST /api/advert/v1/normquery/bids
    "budget": Limit(60, 20, 4),  # POST /api/advert/v2/budget
    "balance": Limit(1, 1, 5),  # GET /adv/v1/balance
    "upd": Limit(1, 1, 5),  # GET /adv/v1/upd
    "daily_limits": Limit(60, 5, 5),  # GET /api/advert/v0/daily-limits (REFERENCE-2026-10 §2)
    "daily_limits_put": Limit(60, 5, 5),  # PUT /api/advert/v0/daily-limits
}

# (HTTP method, path) -> method group.
ENDPOINT_GROUPS: dict[tuple[str, str], str] = {
    ("GET", "/adv/v1/promotion/count"): "count",
    ("GET", "/api/advert/v2/adverts"): "adverts",
    ("GET", "/adv/v3/fullstats"): "fullstats",
    ("PATCH", "/api/advert/v1/bids"): "bids",
    ("POST", "/api/advert/v1/bids/min"): "bids_min",
    ("GET", "/api/advert/v0/bids/recommendations"): "recommendations",
    ("GET", "/api/advert/v1/config"): "config",
    ("GET", "/adv/v0/start"): "start",
    ("GET", "/adv/v0/pause"): "pause",
    ("GET", "/adv/v0/stop"): "stop",
    ("POST", "/adv/v0/normquery/stats"): "normquery_stats",
    ("POST", "/api/v2/search-report/product/orders"): "search_report",
    ("POST", "/adv/v1/normquery/stats"): "normquery_stats_daily",
    ("POST", "/adv/v0/normquery/get-bids"): "normquery_get_bids",
    ("POST", "/api/advert/v1/normquery/bids"): "normquery_bids",
    ("POST", "/api/advert/v2/budget"): "budget",
    ("GET", "/adv/v1/balance"): "balance",
    ("GET", "/adv/v1/upd"): "upd",
    ("GET", "/api/advert/v0/daily-limits"): "daily_limits",
    ("PUT", "/api/advert/v0/daily-limits"): "daily_limits_put",
}

FALLBACK_BACKOFF = (1.0, 2.0, 4.0)  # seconds, when a 429 carries no X-Ratelimit-Retry
# The longest X-Ratelimit-Retry we obey (issue 14, defect 8): WB once asked for 86400 s, which froze an
# account for a day. A longer hint is capped here and recorded as a LongWait for the cycle to alert on.
MAX_RETRY_HINT = 300.0


@dataclass(frozen=True, slots=True)
class LongWait:
    """WB asked a (seller, method group) to wait longer than MAX_RETRY_HINT; we waited ``applied``."""

    seller_id: str
    group: str
    asked: float
    applied: float


def group_for(method: str, path: str) -> str:
    try:
        return ENDPOINT_GROUPS[(method.upper(), path)]
    except KeyError:
        raise KeyError(f"no rate-limit group declared for {method.upper()} {path}") from None


class ClockThrottler(Throttler):
    """asyncio-throttle's sliding-window throttler with time read from, and sleeping done on, a Clock.

    The upstream class calls ``time.monotonic()`` and polls with ``asyncio.sleep``; both are replaced so
    it paces correctly on a ScaledClock (sim speed) and runs instantly on a FakeClock.
    """

    def __init__(self, rate_limit: int, period: float, clock: Clock) -> None:
        super().__init__(rate_limit=rate_limit, period=period)
        self.clock = clock

    def flush(self) -> None:
        now = self.clock.monotonic()
        while self._task_logs and now - self._task_logs[0] >= self.period:
            self._task_logs.popleft()

    def wait_time(self) -> float:
        """Seconds until a slot frees up; 0 when one is free now."""
        self.flush()
        if len(self._task_logs) < self.rate_limit:
            return 0.0
        return max(0.0, self._task_logs[0] + self.period - self.clock.monotonic())

    def record(self) -> None:
        self._task_logs.append(self.clock.monotonic())

    async def acquire(self) -> None:
        while (wait := self.wait_time()) > 0:
            await self.clock.sleep(wait)
        self.record()


@dataclass(slots=True)
class Ticket:
    """Handed out by :meth:`Bucket.acquire`; passed back with the response headers."""

    bucket: Bucket
    seq: int
    estimate: float  # our token count right after this request took its token
    sent_at: float = 0.0  # clock.monotonic() when it left
    settled: bool = False


class Bucket:
    """One (seller, method group) token bucket on the Clock. Acquirers are served first come, first served."""

    def __init__(self, key: tuple[str, str], limit: Limit, clock: Clock, *, safety: float = 0.02) -> None:
        self.key = key
        self.limit = limit
        self.clock = clock
        self.interval = limit.interval * (1.0 + safety)  # slightly under the documented rate
        self.tokens = float(limit.burst)
        self.updated_at = clock.monotonic()
        self.next_allowed = float("-inf")
        self.window = ClockThrottler(limit.limit + limit.burst, limit.period, clock)
        self._lock = asyncio.Lock()
        self._seq = 0
        self.inflight = 0
        self._correction_seq = 0  # responses to requests sent before this seq do not correct again
        self.sent = 0
        self.rate_limited = 0
        self.corrections = 0

    def _refill(self, now: float) -> None:
        """Refill up to ``burst - in flight``: WB takes a request's token when it processes it, somewhere
        between our send and its reply. Until the reply, assume it has not (the conservative side for
        the cap): WB's bucket then holds our tokens plus the unprocessed requests, and a full bucket
        does not grow. Without this, latency or a stall while WB's bucket is full lets us run ahead."""
        if now > self.updated_at:
            cap = float(self.limit.burst - self.inflight)
            gained = self.tokens + (now - self.updated_at) / self.interval
            self.tokens = max(self.tokens, min(cap, gained)) if self.tokens < cap else self.tokens
            self.updated_at = now

    def wait_time(self) -> float:
        """Seconds until a request may go (without taking a token)."""
        now = self.clock.monotonic()
        self._refill(now)
        wait = max(0.0, self.next_allowed - now)
        if self.tokens < 1.0:
            wait = max(wait, (1.0 - self.tokens) * self.interval)
        return max(wait, self.window.wait_time())

    async def acquire(self) -> Ticket:
        async with self._lock:
            while True:
                wait = self.wait_time()
                if wait <= 1e-9:
                    break
                await self.clock.sleep(wait)
            self.tokens -= 1.0
            self.inflight += 1
            self.window.record()
            self._seq += 1
            self.sent += 1
            return Ticket(self, self._seq, self.tokens, sent_at=self.clock.monotonic())

    def settle(self, ticket: Ticket) -> None:
        """The reply to ``ticket`` arrived (or the attempt ended): it is no longer in flight."""
        if ticket.settled:
            return
        ticket.settled = True
        self._refill(self.clock.monotonic())
        self.inflight = max(0, self.inflight - 1)

    def observe_remaining(self, ticket: Ticket, remaining: int) -> None:
        """X-Ratelimit-Remaining of a response: if the server holds fewer tokens than we estimated when
        that request left, another client of this account spent them; take the difference off ours."""
        if ticket.seq <= self._correction_seq:
            return
        deficit = int(ticket.estimate + 1e-9) - remaining
        if deficit > 0:
            self._refill(self.clock.monotonic())
            self.tokens -= deficit
            self._correction_seq = self._seq
            self.corrections += 1
            log.debug("pacer %s: server reports %d fewer requests left; slowing down", self.key[1], deficit)

    def block_for(self, seconds: float) -> None:
        """A 429: nothing goes to this bucket for ``seconds``; then one request, then the steady interval."""
        now = self.clock.monotonic()
        until = now + max(0.0, seconds)
        self.rate_limited += 1
        if until > self.next_allowed:
            self.next_allowed = until
        self.tokens = 1.0
        self.updated_at = max(self.updated_at, self.next_allowed)
        self._correction_seq = self._seq


class Pacer:
    """Buckets keyed by (seller_id, method group); one Pacer per process, shared by all clients."""

    def __init__(
        self,
        clock: Clock,
        limits: dict[str, Limit] | None = None,
        *,
        safety: float = 0.02,
        rng: random.Random | None = None,
    ) -> None:
        self.clock = clock
        self.limits = dict(LIMITS if limits is None else limits)
        self.safety = safety
        self._rng = rng or random.Random()
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self.rate_limited: Counter[tuple[str, str]] = Counter()  # (seller_id, group) -> 429s seen
        self.max_retry_hint = MAX_RETRY_HINT
        self.long_waits: list[LongWait] = []  # capped hints not yet taken by the cycle's alerting
        self.long_waits_total: Counter[tuple[str, str]] = Counter()  # metric: capped hints per bucket

    def bucket(self, seller_id: str, group: str) -> Bucket:
        key = (seller_id, group)
        b = self._buckets.get(key)
        if b is None:
            if group not in self.limits:
                raise KeyError(f"no rate limit declared for method group {group!r}")
            b = self._buckets[key] = Bucket(key, self.limits[group], self.clock, safety=self.safety)
        return b

    async def acquire(self, seller_id: str, group: str) -> Ticket:
        return await self.bucket(seller_id, group).acquire()

    def observe(self, ticket: Ticket, remaining: int | None = None) -> None:
        """A reply (or a failure after sending) for ``ticket``: settle latency, then X-Ratelimit-Remaining."""
        ticket.bucket.settle(ticket)
        if remaining is not None:
            ticket.bucket.observe_remaining(ticket, remaining)

    def on_429(self, seller_id: str, group: str, retry_after: float | None, attempt: int = 0) -> float:
        """Record a 429 and block this bucket only (the seller's other buckets keep going). Returns the wait
        applied: the server's hint capped at ``max_retry_hint`` (a longer one is recorded in
        ``long_waits``), else, for a missing or malformed hint (nan, inf, negative), back-off with jitter."""
        if retry_after is None or not math.isfinite(retry_after) or retry_after < 0:
            base = FALLBACK_BACKOFF[min(attempt, len(FALLBACK_BACKOFF) - 1)]
            retry_after = base * (1.0 + self._rng.uniform(0.0, 0.5))
        elif retry_after > self.max_retry_hint:
            capped = LongWait(seller_id, group, retry_after, self.max_retry_hint)
            log.warning("WB asked %s to wait %.0fs before %s; waiting %.0fs", seller_id, retry_after, group,
                        self.max_retry_hint)
            self.long_waits.append(capped)
            del self.long_waits[:-100]  # bounded if nobody takes them
            self.long_waits_total[(seller_id, group)] += 1
            retry_after = self.max_retry_hint
        self.bucket(seller_id, group).block_for(retry_after)
        self.rate_limited[(seller_id, group)] += 1
        return retry_after

    def take_long_waits(self, seller_id: str) -> list[LongWait]:
        """The capped hints of one seller since the last call (for one alert per cycle)."""
        mine = [w for w in self.long_waits if w.seller_id == seller_id]
        self.long_waits = [w for w in self.long_waits if w.seller_id != seller_id]
        return mine

    def jitter(self, base: float) -> float:
        """Exponential back-off helper for transient errors: ``base`` plus up to 50 % jitter."""
        return base * (1.0 + self._rng.uniform(0.0, 0.5))

    def stats(self) -> dict[tuple[str, str], dict[str, int]]:
        return {
            k: {"sent": b.sent, "rate_limited": b.rate_limited, "corrections": b.corrections}
            for k, b in self._buckets.items()
        }
