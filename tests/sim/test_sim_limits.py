from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bidder.sim.limits import LIMITS, Limit, RateLimiter, TokenBucket


def test_bucket_burst_then_refill() -> None:
    b = TokenBucket(Limit(60, 3, 1), now=0.0)
    assert b.take(0.0).allowed
    d = b.take(1.0)
    assert not d.allowed and 18 < d.retry <= 19.0
    assert not b.take(19.5).allowed
    assert b.take(20.0).allowed


def test_limits_table_matches_reference() -> None:
    personal = {k: v[0] for k, v in LIMITS.items()}
    assert personal["GET /adv/v3/fullstats"] == Limit(60, 3, 1)
    assert personal["GET /api/advert/v2/adverts"] == Limit(1, 5, 5)
    assert personal["PATCH /api/advert/v1/bids"] == Limit(1, 5, 5)
    assert personal["POST /api/advert/v1/bids/min"] == Limit(60, 20, 5)
    assert personal["GET /api/advert/v0/bids/recommendations"] == Limit(60, 5, 5)
    assert personal["GET /api/advert/v1/config"] == Limit(60, 1, 10)
    assert personal["POST /adv/v0/normquery/stats"] == Limit(60, 10, 20)
    assert personal["POST /api/advert/v1/normquery/bids"] == Limit(1, 2, 4)
    assert personal["POST /api/advert/v2/budget"] == Limit(60, 20, 4)


def test_buckets_are_per_seller_and_method() -> None:
    rl = RateLimiter()
    for _ in range(1):
        assert rl.check("a", "Personal", "GET /adv/v3/fullstats", 0.0).allowed
    assert not rl.check("a", "Personal", "GET /adv/v3/fullstats", 0.0).allowed
    assert rl.check("b", "Personal", "GET /adv/v3/fullstats", 0.0).allowed
    assert rl.check("a", "Personal", "GET /api/advert/v2/adverts", 0.0).allowed
    # Personal and Base budgets are independent
    assert rl.check("a", "Base", "GET /adv/v3/fullstats", 0.0).allowed


async def test_burst_then_429_with_headers_and_refill(api, clock) -> None:
    path = "/api/advert/v2/adverts?ids=1000001"
    remaining = []
    for _ in range(5):
        r = await api.call("GET", path)
        assert r.status == 200
        remaining.append(int(r.headers["X-Ratelimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    r = await api.call("GET", path)
    assert r.status == 429
    assert r.content_type == "application/problem+json"
    body = r.json()
    assert body["title"] == "too many requests" and body["status"] == 429
    assert r.headers["X-Ratelimit-Retry"] == "1"
    assert r.headers["X-Ratelimit-Limit"] == "5"
    assert r.headers["X-Ratelimit-Reset"] == "1"
    assert "X-Ratelimit-Remaining" not in r.headers
    clock.advance(0.2)
    assert (await api.call("GET", path)).status == 200
    assert (await api.call("GET", path)).status == 429
    clock.advance(1.0)
    r = await api.call("GET", path)
    assert r.status == 200 and r.headers["X-Ratelimit-Remaining"] == "4"
    assert api.running.sim.report()["total_429"] == 2


async def test_fullstats_is_one_per_20_seconds(api, clock) -> None:
    path = "/adv/v3/fullstats?ids=1000001&beginDate=2026-11-01&endDate=2026-11-02"
    assert (await api.call("GET", path)).status == 200
    r = await api.call("GET", path)
    assert r.status == 429 and r.headers["X-Ratelimit-Retry"] == "20" and r.headers["X-Ratelimit-Limit"] == "1"
    clock.advance(19)
    assert (await api.call("GET", path)).status == 429
    clock.advance(1)
    assert (await api.call("GET", path)).status == 200


async def test_remaining_header_on_4xx(api) -> None:
    r = await api.call("GET", "/api/advert/v2/adverts?payment_type=xxx")
    assert r.status == 400 and r.headers["X-Ratelimit-Remaining"] == "4"


@settings(max_examples=50, deadline=None)
@given(gaps=st.lists(st.floats(0, 5, allow_nan=False), min_size=1, max_size=200),
       which=st.sampled_from(sorted(LIMITS)))
def test_bucket_never_allows_more_than_burst_plus_rate(gaps: list[float], which: str) -> None:
    limit = LIMITS[which][0]
    b = TokenBucket(limit, now=0.0)
    now, allowed = 0.0, 0
    for gap in gaps:
        now += gap
        d = b.take(now)
        allowed += d.allowed
        if not d.allowed:
            assert d.retry > 0 and d.headers()["X-Ratelimit-Limit"] == str(limit.burst)
        assert allowed <= limit.burst + now * limit.limit / limit.period + 1e-6
