"""The pure market: monotonicity, determinism, laziness."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bidder.sim.market import MSK, Market
from bidder.sim.scenarios import build_scenario, demo_spec

START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # 09:00 MSK
DAY = date(2026, 11, 2)
SPEC = demo_spec()


def run_day(bid: int, *, advert_id: int = 1000001, nm_id: int = 211000101, placement: str = "combined",
            seed: int = 1) -> Market:
    m = Market(SPEC, seed, start=START)
    m.set_bid(advert_id, nm_id, placement, bid, START)
    m.advance_campaign(advert_id, START + timedelta(hours=14))  # until 23:00 MSK
    return m


def cluster_positions(m: Market, advert_id: int, nm_id: int) -> dict[str, float]:
    return {r.norm_query: r.avg_pos for r in m.cluster_stats(advert_id, nm_id, DAY, DAY) if r.avg_pos is not None}


@settings(max_examples=25, deadline=None)
@given(low=st.integers(190, 1500), extra=st.integers(1, 3000))
def test_higher_bid_never_gives_a_worse_average_position(low: int, extra: int) -> None:
    lo_bid, hi_bid = low * 100, (low + extra) * 100
    lo, hi = run_day(lo_bid), run_day(hi_bid)
    lo_pos, hi_pos = cluster_positions(lo, 1000001, 211000101), cluster_positions(hi, 1000001, 211000101)
    assert lo_pos.keys() == hi_pos.keys()
    for q in lo_pos:
        assert hi_pos[q] <= lo_pos[q] + 1e-9, (q, lo_bid, hi_bid)
    lo_day = {r.nm_id: r.avg_position for r in lo.daily_stats(1000001, DAY, DAY)}
    hi_day = {r.nm_id: r.avg_position for r in hi.daily_stats(1000001, DAY, DAY)}
    assert hi_day[211000101] <= lo_day[211000101]


@settings(max_examples=25, deadline=None)
@given(bid=st.integers(5, 200), extra=st.integers(1, 200), hour=st.integers(0, 23 * 7))
def test_instant_position_is_monotone_for_cpc(bid: int, extra: int, hour: int) -> None:
    at = START + timedelta(hours=hour)
    a = Market(SPEC, 3, start=START)
    b = Market(SPEC, 3, start=START)
    a.set_bid(1000005, 211000501, "combined", bid * 100, START)
    b.set_bid(1000005, 211000501, "combined", (bid + extra) * 100, START)
    q = "наушники беспроводные"
    assert b.position(1000005, 211000501, q, at) <= a.position(1000005, 211000501, q, at)


def test_position_target_campaign_is_around_8_and_3_is_affordable() -> None:
    m = Market(SPEC, 1, start=START)
    pos = m.position(1000001, 211000101, "платье женское", START)
    assert 6 <= pos <= 10
    rec = m.recommendation(1000001, 211000101, START)
    band = next(n for n in rec["normQueries"] if n["normQuery"] == "платье женское")
    assert band["reachMax"][1] <= 60000  # position 5 costs under 600 RUB
    m.set_bid(1000001, 211000101, "combined", 60000, START)
    assert m.position(1000001, 211000101, "платье женское", START + timedelta(seconds=30)) <= 3


def test_demo_economics() -> None:
    m = Market(SPEC, 1, start=START)
    m.advance(START)
    hist = (DAY - timedelta(days=3), DAY - timedelta(days=1))

    def drr(advert_id: int) -> float:
        rows = m.daily_stats(advert_id, *hist)
        return sum(r.spend for r in rows) / sum(r.revenue for r in rows)

    assert drr(1000002) > 0.5  # low ROI
    assert 0.25 < drr(1000003) < 0.5  # over-spending, DRR ~35 %
    assert drr(1000015) > 0.4
    for healthy in (1000004, 1000006, 1000009, 1000014):
        assert drr(healthy) < 0.2
    assert m.daily_stats(1000013, *hist) == []  # ready: never ran


def test_deterministic_for_a_seed_and_independent_of_step_pattern() -> None:
    a = Market(SPEC, 7, start=START)
    b = Market(SPEC, 7, start=START)
    c = Market(SPEC, 8, start=START)
    end = START + timedelta(hours=10)
    for m in (a, c):
        m.set_bid(1000006, 211000601, "search", 50000, START + timedelta(minutes=7))
        m.advance(end)
    t = START
    while t < end:  # many small, irregular steps
        t = min(end, t + timedelta(seconds=97))
        if t >= START + timedelta(minutes=7) and not b.campaign(1000006).pending_bids and \
                b.campaign(1000006).bids[211000601]["search"] != 50000:
            b.set_bid(1000006, 211000601, "search", 50000, START + timedelta(minutes=7))
        b.advance(t)
    for advert_id in (1000001, 1000006, 1000015):
        ra = a.daily_stats(advert_id, DAY - timedelta(days=3), DAY)
        rb = b.daily_stats(advert_id, DAY - timedelta(days=3), DAY)
        assert [(r.day, r.nm_id, r.avg_position) for r in ra] == [(r.day, r.nm_id, r.avg_position) for r in rb]
        for x, y in zip(ra, rb, strict=True):
            assert abs(x.views - y.views) <= 1 and abs(x.spend - y.spend) < 0.05
    assert a.daily_stats(1000001, DAY, DAY) != c.daily_stats(1000001, DAY, DAY)


def test_budget_decreases_with_spend() -> None:
    m = Market(SPEC, 1, start=START)
    before = m.campaign(1000001).budget
    m.advance(START + timedelta(hours=2))
    st = m.campaign(1000001)
    assert st.budget < before and abs(before - st.budget - st.spend_total) < 1e-6


def test_scale_is_lazy_and_fast() -> None:
    spec = build_scenario("scale", seed=3)
    m = Market(spec, 3, start=START)
    assert len(spec.sellers) == 50 and sum(len(s.campaigns) for s in spec.sellers) == 10_000
    assert list(m.touched()) == []
    ids = m.advert_ids("seller-007")[:50]
    for a in ids:
        m.advance_campaign(a, START + timedelta(minutes=5))
    assert len(list(m.touched())) == 50
    assert build_scenario("scale", seed=3).sellers[5].campaigns[3] == spec.sellers[5].campaigns[3]
    small = build_scenario("scale:2x3x2", seed=1)
    assert [len(s.campaigns) for s in small.sellers] == [3, 3]
    assert all(len(c.items) == 2 for c in small.sellers[0].campaigns)


def test_yaml_scenario_loads_and_runs(tmp_path) -> None:
    spec = build_scenario("small")
    assert spec.name == "small" and [s.name for s in spec.sellers] == ["shop-b"]
    m = Market(spec, 1, start=START)
    m.advance(START + timedelta(hours=1))
    assert m.daily_stats(3000001, DAY - timedelta(days=2), DAY)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsellers:\n  - name: s\n    campaigns:\n      - {advert_id: 1, nope: 2}\n")
    try:
        build_scenario(str(bad))
    except ValueError as exc:
        assert "nope" in str(exc) and "campaigns[0]" in str(exc)
    else:
        raise AssertionError("unknown keys must be rejected")


def test_daily_budget_pauses_mid_day_and_resumes_at_midnight() -> None:
    m = Market(SPEC, 1, start=START)
    m.advance(START + timedelta(days=2))
    log = [e for e in m.status_log if e["advert_id"] == 1000003]
    assert [(e["new"], e["reason"]) for e in log[:3]] == [
        (11, "budget exhausted"), (9, "daily budget reset"), (11, "budget exhausted")]
    first_pause = datetime.fromisoformat(log[0]["time"]).astimezone(MSK)
    assert first_pause.date() == DAY and 11 <= first_pause.hour <= 20
    assert datetime.fromisoformat(log[1]["time"]).astimezone(MSK).hour == 0
    spend_day2 = sum(r.spend for r in m.daily_stats(1000003, DAY + timedelta(days=1), DAY + timedelta(days=1)))
    assert abs(spend_day2 - 3000) < 1
