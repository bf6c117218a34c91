"""target_position: the controller on hand-built position observations (pure; the sources themselves are
tested against the simulator in tests/integration/test_positions.py)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest
from _bid_builders import NOW, campaign, only, rec_cpc, record, snapshot
from hypothesis import given
from hypothesis import strategies as st

from bidder.domain import Action, PositionObservation, ReachBand, Recommendation
from strategies.position_readings import MAX_ERROR, MIN_SHARE, MIN_VIEWS, freshest, readings
from strategies.target_position import TargetPosition

Q = "платье"


def strat(**kw) -> TargetPosition:
    params = {"position": 5, "max_bid": 500, "query": Q} | kw
    return TargetPosition(TargetPosition.Params(**params))


def pub(pos: float, ago: timedelta, bid: int = 20000, nm: int = 1) -> PositionObservation:
    at = NOW - ago
    return PositionObservation("public_search", 100, nm, Q, pos, at, at, region="-1257786", bid=bid)


def clu(pos: float, views: int, ago: timedelta, bid: int = 20000) -> PositionObservation:
    at = NOW - ago
    return PositionObservation("clusters_today", 100, 1, Q, pos, at, at, bid=bid, sample=views)


def snap(*obs: PositionObservation, **kw):
    return replace(snapshot(**kw), positions=tuple(obs))


def test_worse_than_target_raises_by_a_step_and_names_the_source():
    p = only(strat().decide(snap(pub(9.0, timedelta(minutes=2))), NOW), Action.SET_BID)
    assert p.bid == 24000 and "public_search" in p.reason and p.inputs["position_source"] == "public_search"
    # the step follows the shortfall: twice step_up_pct two places or more off, half of it for a fraction
    p = only(strat().decide(snap(pub(5.4, timedelta(minutes=2))), NOW), Action.SET_BID)
    assert p.bid == 21000 and "raising up 5%" in p.reason
    p = only(strat().decide(snap(pub(6.0, timedelta(minutes=2))), NOW), Action.SET_BID)
    assert p.bid == 22000 and "raising up 10%" in p.reason


def test_on_target_probes_down_after_enough_readings():
    one = snap(pub(5.0, timedelta(minutes=2)))
    assert only(strat().decide(one, NOW), Action.HOLD).reason.endswith("readings before probing)")
    two = snap(pub(5.0, timedelta(minutes=7)), pub(5.0, timedelta(minutes=2)))
    p = only(strat().decide(two, NOW), Action.SET_BID)
    assert p.bid == 19000 and "economy probe" in p.reason


def test_the_probe_pauses_above_a_bid_that_lost():
    lost_below = (pub(7.0, timedelta(minutes=40), bid=18000), pub(4.0, timedelta(minutes=7)), pub(4.0, timedelta(minutes=2)))
    p = only(strat().decide(snap(*lost_below), NOW), Action.SET_BID)
    assert p.bid == 19000  # the probe may go down to just above a bid that lost
    lost_at_step = (pub(7.0, timedelta(hours=3), bid=19000), *lost_below[1:])
    p = only(strat().decide(snap(*lost_at_step), NOW), Action.HOLD)  # half way (195 RUB) is under 3 %
    assert "economy probe paused: 190\xa0₽ lost" in p.reason
    big_steps = strat(step_down_pct=20)  # 200 -> 160 RUB would pass 180 RUB, which lost: half way, 190 RUB
    lost_further = (pub(7.0, timedelta(hours=3), bid=18000), *lost_below[1:])
    p = only(big_steps.decide(snap(*lost_further), NOW), Action.SET_BID)
    assert p.bid == 19000 and "half way down to 180\xa0₽" in p.reason
    long_ago = (pub(7.0, timedelta(hours=5), bid=19000), *lost_below[1:])
    assert only(strat().decide(snap(*long_ago), NOW), Action.SET_BID).bid == 19000  # beyond FLOOR_MEMORY (4 h)


def test_a_loss_goes_back_to_the_cheapest_bid_that_held():
    history = (record(ago=timedelta(minutes=20), before=20000, after=18000),)
    obs = (pub(4.0, timedelta(minutes=30), bid=20000), pub(8.0, timedelta(minutes=2), bid=18000))
    p = only(strat().decide(snap(*obs, camp=campaign(bids={1: 18000}), history=history), NOW), Action.SET_BID)
    assert p.bid == 20000 and "cheapest bid that held" in p.reason


def test_waits_for_a_reading_after_the_change_and_never_reacts_twice():
    history = (record(ago=timedelta(minutes=5), before=18000, after=20000),)
    stale = snap(pub(9.0, timedelta(minutes=6)), history=history)
    assert "waiting for a public_search reading" in only(strat().decide(stale, NOW), Action.HOLD).reason
    acted = replace(history[0], position_at=NOW - timedelta(minutes=2))
    same = snap(pub(9.0, timedelta(minutes=2)), history=(replace(acted, at=NOW - timedelta(minutes=30)),))
    assert "already acted" in only(strat().decide(same, NOW), Action.HOLD).reason


def test_clusters_today_running_averages_become_stretches():
    # 1000 views at 6.0 on average, then 1500 views at 5.0 -> the last 500 views stood at 3.0
    obs = (clu(6.0, 1000, timedelta(minutes=60)), clu(5.0, 1500, timedelta(minutes=3)))
    rs = readings(obs, 1, Q)["clusters_today"]
    assert rs[-1].position == pytest.approx(3.0) and rs[-1].start == NOW - timedelta(minutes=60)
    # too few new views to rise above WB's rounding: no new stretch
    tiny = (*obs, clu(5.0, 1501, timedelta(minutes=1)))
    assert len(readings(tiny, 1, Q)["clusters_today"]) == len(rs)


@given(st.floats(1, 50), st.integers(100, 10_000), st.floats(1, 50), st.floats(MIN_SHARE * 1.01, 0.9))
def test_a_stretch_recovers_the_position_it_describes(p1, v1, p_new, share):
    gained = max(MIN_VIEWS, math.ceil(v1 * share / (1 - share)))  # at least ``share`` of the day's views are new
    v2 = v1 + gained
    p2 = (p1 * v1 + p_new * gained) / v2
    obs = (clu(p1, v1, timedelta(minutes=90)), clu(p2, v2, timedelta(minutes=3)))
    assert readings(obs, 1, Q)["clusters_today"][-1].position == pytest.approx(max(1.0, p_new), rel=1e-6)


@given(st.floats(1, 50), st.integers(100, 100_000), st.floats(1, 50), st.integers(1, 100_000))
def test_a_stretch_is_used_only_when_wbs_rounding_moves_it_by_at_most_max_error(p1, v1, p_new, gained):
    v2 = v1 + gained
    exact = (p1 * v1 + p_new * gained) / v2
    obs = (clu(round(p1, 1), v1, timedelta(minutes=90)), clu(round(exact, 1), v2, timedelta(minutes=3)))
    rs = readings(obs, 1, Q)["clusters_today"]
    if len(rs) == 2 and rs[-1].position > 1.0:
        assert abs(rs[-1].position - p_new) <= MAX_ERROR + 1e-9


def test_the_public_search_is_preferred_while_it_is_recent():
    obs = (clu(6.0, 1000, timedelta(minutes=60)), clu(5.0, 1500, timedelta(minutes=3)), pub(2.0, timedelta(minutes=10)))
    assert freshest(readings(obs, 1, Q), NOW).source == "public_search"
    old = (obs[0], obs[1], pub(2.0, timedelta(hours=1)))
    assert freshest(readings(old, 1, Q), NOW).source == "clusters_today"


def test_manual_cpm_with_a_query_moves_the_cluster_bid():
    camp = campaign(bid_type="manual", bids={1: 15000})
    s = replace(snap(pub(9.0, timedelta(minutes=2), bid=30000), camp=camp), cluster_bids={(1, Q): 30000})
    p = only(strat().decide(s, NOW), Action.SET_BID)
    assert p.norm_query == Q and p.placement == "search" and p.bid == 36000
    unread = snap(pub(9.0, timedelta(minutes=2)), camp=camp)
    assert "not read yet" in only(strat().decide(unread, NOW), Action.HOLD).reason
    # a unified campaign keeps one bid per item
    p = only(strat().decide(snap(pub(9.0, timedelta(minutes=2))), NOW), Action.SET_BID)
    assert p.norm_query is None and p.placement == "combined"


def test_max_bid_is_never_exceeded():
    assert only(strat(max_bid=210).decide(snap(pub(9.0, timedelta(minutes=2))), NOW), Action.SET_BID).bid == 21000
    at_max = snap(pub(9.0, timedelta(minutes=2)), camp=campaign(bids={1: 30000}))
    assert "max_bid" in only(strat(max_bid=300).decide(at_max, NOW), Action.HOLD).reason
    above = snap(pub(9.0, timedelta(minutes=2)), camp=campaign(bids={1: 90000}))
    assert only(strat(max_bid=300).decide(above, NOW), Action.SET_BID).bid == 30000


def test_cold_start_uses_wbs_corridor_and_otherwise_holds():
    rec = Recommendation(100, 1, "cpm", clusters=(ReachBand(Q, 42000, 30000, 25000),))
    p = only(strat().decide(snapshot(recs={1: rec}), NOW), Action.SET_BID)
    assert p.bid == 42000 and "max-reach" in p.reason
    cpc = snapshot(camp=campaign(payment_type="cpc"), recs={1: rec_cpc(b310=40000)})
    assert only(strat().decide(cpc, NOW), Action.SET_BID).bid == 40000
    assert "no fresh position" in only(strat().decide(snapshot(), NOW), Action.HOLD).reason


def test_far_off_heads_for_the_corridor():
    rec = Recommendation(100, 1, "cpm", clusters=(ReachBand(Q, 42000, 30000, 25000),))
    p = only(strat().decide(snap(pub(20.0, timedelta(minutes=2)), recs={1: rec}), NOW), Action.SET_BID)
    assert p.bid == 42000 and "corridor" in p.reason


def cpm(pos: float, views: int, spend: float, ago: timedelta, bid: int = 20000) -> PositionObservation:
    at = NOW - ago
    return PositionObservation("clusters_today", 100, 1, Q, pos, at, at, bid=bid, sample=views, spend=spend)


def test_lagging_statistics_are_recognised_by_the_cpm_they_paid():
    # bid raised 180 -> 200 an hour ago; the newest stretch still paid 180 RUB per 1000 views
    history = (record(ago=timedelta(hours=1), before=18000, after=20000),)
    obs = (cpm(8.0, 1000, 180.0, timedelta(minutes=50)), cpm(8.0, 2000, 360.0, timedelta(minutes=3)))
    r = readings(obs, 1, Q)["clusters_today"][-1]
    assert r.paid and r.bid == 18000
    p = only(strat().decide(snap(*obs, history=history), NOW), Action.HOLD)
    assert "still describe the bid 180\xa0₽, not 200\xa0₽" in p.reason
    # once a stretch paid the new bid, the strategy acts on it (and says which source)
    paid_new = (*obs, cpm(8.0, 3000, 560.0, timedelta(minutes=1)))
    p = only(strat().decide(snap(*paid_new, history=history), NOW), Action.SET_BID)
    assert p.bid == 24000 and "clusters_today" in p.reason and p.inputs["position_bid"] == 20000


def test_on_wbs_statistics_the_probe_waits_until_the_bid_held_for_an_hour_of_data():
    """A competitor answers a cut after minutes to tens of minutes: one short stretch on target after a
    change proves little when a loss shows only an hour later."""
    def on_target(minutes: int):  # the bid went 210 -> 200 RUB just after the first answer
        history = (record(ago=timedelta(minutes=minutes + 2), before=21000, after=20000),)
        base = cpm(3.0, 10_000, 2000.0, timedelta(minutes=minutes + 3))
        return snap(base, cpm(3.0, 20_000, 4000.0, timedelta(minutes=3)), history=history)

    short = only(strat(position=3).decide(on_target(30), NOW), Action.HOLD)
    assert short.reason.code == "position.on_target_wait"
    p = only(strat(position=3).decide(on_target(70), NOW), Action.SET_BID)
    assert p.bid == 19000 and "economy probe" in p.reason


def test_a_loss_within_wbs_rounding_does_not_block_the_probe():
    """A differenced stretch at 3.4 whose rounding error is 0.8 may well have been position 3 (typically it is
    off by half the bound): it is no proof that the bid loses; at +-0.2 it is."""
    from strategies.position_control import evidence
    from strategies.position_readings import Reading

    def ev(err: float):
        r = Reading("clusters_today", 3.4, NOW - timedelta(minutes=40), NOW - timedelta(minutes=5), 19000,
                    paid=True, err=err)
        return evidence([r], [], [19000, 20000], 3, NOW)

    assert ev(0.8).losses == () and ev(0.8).lost_lately is None
    assert ev(0.2).losses == (19000,) and ev(0.2).lost_lately == 19000
