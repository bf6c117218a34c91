"""Pacer: token buckets on an injected clock (FakeClock here; ScaledClock in the integration tests)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import pytest

from bidder.clock import FakeClock, ScaledClock
from bidder.wb.pacing import ENDPOINT_GROUPS, LIMITS, ClockThrottler, Limit, Pacer, group_for


def test_every_endpoint_has_a_declared_limit():
    for group in ENDPOINT_GROUPS.values():
        assert group in LIMITS
    assert LIMITS["fullstats"] == Limit(60, 3, 1)
    assert LIMITS["config"].burst == 10
    assert group_for("patch", "/api/advert/v1/bids") == "bids"
    with pytest.raises(KeyError):
        group_for("GET", "/adv/v1/budget")  # switched off: no group, cannot be called


async def _times(pacer: Pacer, clock: FakeClock, group: str, n: int, seller: str = "s") -> list[float]:
    out = []
    for _ in range(n):
        ticket = await pacer.acquire(seller, group)
        pacer.observe(ticket)  # the reply came back at once
        out.append(clock.monotonic())
    return out


async def test_burst_then_documented_interval():
    clock = FakeClock()
    pacer = Pacer(clock, safety=0.0)
    t = await _times(pacer, clock, "count", 15)
    assert t[:5] == [0.0] * 5  # burst of 5
    # then one per 200 ms on average (the window keeps it inside 5 per second)
    assert t[-1] == pytest.approx(2.0, abs=0.05)
    for i in range(len(t)):
        assert sum(1 for x in t if t[i] <= x < t[i] + 1.0) <= 5 + 5  # never above bucket + refill


async def test_fullstats_is_three_a_minute_burst_one():
    clock = FakeClock()
    pacer = Pacer(clock, safety=0.0)
    t = await _times(pacer, clock, "fullstats", 4)
    assert t == pytest.approx([0.0, 20.0, 40.0, 60.0])


async def test_throughput_under_backlog_within_ten_percent():
    clock = FakeClock()
    pacer = Pacer(clock)  # default 2 % safety margin
    for group in ("bids", "bids_min", "normquery_bids", "recommendations", "upd"):
        lim = LIMITS[group]
        start = clock.monotonic()
        n = lim.burst + 100
        await _times(pacer, clock, group, n, seller=group)
        elapsed = clock.monotonic() - start
        steady = (n - lim.burst) / elapsed
        assert lim.rate * 0.9 <= steady <= lim.rate * 1.0001, group


async def test_buckets_are_per_seller_and_group():
    clock = FakeClock()
    pacer = Pacer(clock, safety=0.0)
    await _times(pacer, clock, "fullstats", 1, seller="a")
    await _times(pacer, clock, "fullstats", 1, seller="b")
    await _times(pacer, clock, "adverts", 1, seller="a")
    assert clock.monotonic() == 0.0
    assert pacer.bucket("a", "fullstats") is pacer.bucket("a", "fullstats")


async def test_429_blocks_bucket_until_retry_time():
    clock = FakeClock()
    pacer = Pacer(clock, safety=0.0)
    pacer.observe(await pacer.acquire("s", "bids"))
    wait = pacer.on_429("s", "bids", 7.5)
    assert wait == 7.5
    pacer.observe(await pacer.acquire("s", "bids"))
    assert clock.monotonic() == pytest.approx(7.5)
    pacer.observe(await pacer.acquire("s", "bids"))  # one allowed at the retry time, then the steady interval
    assert clock.monotonic() == pytest.approx(7.7)
    assert pacer.rate_limited[("s", "bids")] == 1


async def test_429_without_hint_backs_off_with_jitter():
    clock = FakeClock()
    pacer = Pacer(clock, rng=random.Random(3))
    waits = [pacer.on_429("s", "count", None, attempt) for attempt in range(3)]
    assert 1.0 <= waits[0] <= 1.5 and 2.0 <= waits[1] <= 3.0 and 4.0 <= waits[2] <= 6.0


async def test_remaining_header_slows_down_when_server_counts_fewer():
    clock = FakeClock()
    pacer = Pacer(clock, safety=0.0)
    ticket = await pacer.acquire("s", "bids")  # we think 4 remain
    pacer.observe(ticket, 1)  # another process spent 3
    pacer.observe(await pacer.acquire("s", "bids"))
    assert clock.monotonic() == 0.0
    pacer.observe(await pacer.acquire("s", "bids"))
    assert clock.monotonic() == pytest.approx(0.2)


async def test_remaining_header_agreeing_changes_nothing():
    clock = FakeClock()
    pacer = Pacer(clock, safety=0.0)
    tickets = [await pacer.acquire("s", "bids") for _ in range(3)]
    for t, rem in zip(tickets, (4, 3, 2), strict=True):
        pacer.observe(t, rem)
    pacer.observe(await pacer.acquire("s", "bids"))
    pacer.observe(await pacer.acquire("s", "bids"))
    assert clock.monotonic() == 0.0
    assert pacer.bucket("s", "bids").corrections == 0


async def test_concurrent_acquirers_share_one_bucket():
    clock = FakeClock()
    pacer = Pacer(clock, safety=0.0)
    stamps: list[float] = []

    async def one():
        pacer.observe(await pacer.acquire("s", "normquery_bids"))
        stamps.append(clock.monotonic())

    await asyncio.gather(*(one() for _ in range(24)))
    # burst 4, then 2 per second
    assert max(stamps) == pytest.approx(10.0, abs=0.6)


async def test_clock_throttler_uses_the_clock():
    clock = FakeClock()
    thr = ClockThrottler(2, 10.0, clock)
    for _ in range(5):
        async with thr:
            pass
    assert clock.monotonic() == pytest.approx(20.0)


async def test_scaled_clock_paces_in_simulated_time():
    clock = ScaledClock(datetime(2026, 11, 2, tzinfo=UTC), speed=60)
    pacer = Pacer(clock, safety=0.0)
    t0 = clock.monotonic()
    for _ in range(3):
        pacer.observe(await pacer.acquire("s", "fullstats"))
    elapsed = clock.monotonic() - t0  # ~40 simulated seconds, ~0.67 s real
    assert elapsed >= 39.9  # never faster than WB allows; slower only by the loop's scheduling


async def test_in_flight_requests_hold_back_the_refill():
    """While requests are unanswered WB may not have taken their tokens yet; its bucket is then fuller
    than ours and stops growing at the cap, so ours must too."""
    clock = FakeClock()
    pacer = Pacer(clock, safety=0.0)
    burst = [await pacer.acquire("s", "bids") for _ in range(5)]  # all in flight
    clock.advance(1.0)  # a stall: no replies for a second
    bucket = pacer.bucket("s", "bids")
    assert bucket.wait_time() > 0  # nothing refilled while 5 are in flight
    for t in burst:
        pacer.observe(t)
    clock.advance(0.2)
    assert bucket.wait_time() == pytest.approx(0.0, abs=1e-9)


def test_retry_hint_capped_and_recorded_once_per_take() -> None:
    from bidder.clock import FakeClock
    from bidder.wb.pacing import MAX_RETRY_HINT, Pacer

    clock = FakeClock()
    pacer = Pacer(clock)
    assert pacer.on_429("s", "count", 86400.0) == MAX_RETRY_HINT
    assert pacer.bucket("s", "count").wait_time() == pytest.approx(MAX_RETRY_HINT)
    assert pacer.bucket("s", "adverts").wait_time() == 0.0  # the other buckets keep going
    assert pacer.on_429("s", "count", float("inf")) < 10  # malformed: documented fallback back-off
    assert pacer.on_429("s", "count", float("nan")) < 10
    assert pacer.on_429("s", "count", 60.0) == 60.0  # a sane hint is obeyed as is
    assert [w.asked for w in pacer.take_long_waits("s")] == [86400.0]
    assert pacer.take_long_waits("s") == []
