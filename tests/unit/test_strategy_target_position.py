from __future__ import annotations

from datetime import timedelta

import pytest
from _bid_builders import NOW, campaign, cluster, day, only, rec_cpc, rec_cpm, record, snapshot

from bidder.domain import Action
from strategies.target_position import TargetPosition, entry_estimate, observed_position


def strat(**kw) -> TargetPosition:
    params = {"position": 5, "max_bid": 500} | kw
    return TargetPosition(TargetPosition.Params(**params))


@pytest.mark.parametrize(
    ("pos", "action", "bid"),
    [
        (9.0, Action.SET_BID, 22000),  # worse: +10 %
        (5.0, Action.HOLD, None),  # on target
        (4.5, Action.HOLD, None),  # inside the hysteresis band (margin 1)
        (4.0, Action.SET_BID, 19000),  # better by the margin: -5 %
        (1.0, Action.SET_BID, 19000),
    ],
)
def test_closed_loop_table(pos, action, bid):
    p = only(strat().decide(snapshot(stats=(day(pos=pos),)), NOW), action)
    assert p.bid == bid
    assert p.inputs["position"] == pos
    assert p.reason


def test_raise_goes_to_the_entry_estimate_when_it_is_higher():
    snap = snapshot(camp=campaign(payment_type="cpc"), stats=(day(pos=12.0),), recs={1: rec_cpc(b310=40000)})
    p = only(strat().decide(snap, NOW), Action.SET_BID)
    assert p.bid == 40000
    assert "positions 3-10" in p.reason


def test_never_above_max_bid():
    snap = snapshot(stats=(day(pos=30.0),), recs={1: rec_cpm(leaders=90000)})
    p = only(strat(max_bid=300).decide(snap, NOW), Action.SET_BID)
    assert p.bid == 30000


def test_at_max_bid_holds():
    snap = snapshot(camp=campaign(bids={1: 30000}), stats=(day(pos=30.0),))
    p = only(strat(max_bid=300).decide(snap, NOW), Action.HOLD)
    assert "max_bid" in p.reason


def test_above_max_bid_is_lowered_to_it():
    snap = snapshot(camp=campaign(bids={1: 90000}), stats=(day(pos=30.0),))
    assert only(strat(max_bid=300).decide(snap, NOW), Action.SET_BID).bid == 30000


def test_step_down_stops_at_wb_minimum():
    snap = snapshot(camp=campaign(bids={1: 10000}), stats=(day(pos=1.0),))
    p = only(strat().decide(snap, NOW), Action.HOLD)
    assert "minimum" in p.reason


def test_does_not_react_twice_to_the_same_evidence():
    # applied 20 min ago, statistics read 5 min ago: not settled (settle 1h)
    h = (record(ago=timedelta(minutes=20)),)
    p = only(strat().decide(snapshot(stats=(day(pos=9.0),), history=h), NOW), Action.HOLD)
    assert "waiting for statistics" in p.reason
    # statistics older than the change
    h = (record(ago=timedelta(minutes=2)),)
    p = only(strat(settle="0s").decide(snapshot(stats=(day(pos=9.0),), history=h), NOW), Action.HOLD)
    # same evidence as the last decision
    h = (record(ago=timedelta(hours=3), evidence_ago=timedelta(minutes=5)),)
    p = only(strat().decide(snapshot(stats=(day(pos=9.0),), history=h), NOW), Action.HOLD)
    # settled: reacts
    h = (record(ago=timedelta(hours=3), evidence_ago=timedelta(hours=3, minutes=5)),)
    assert only(strat().decide(snapshot(stats=(day(pos=9.0),), history=h), NOW)).action == Action.SET_BID


def test_unapplied_change_does_not_block():
    h = (record(ago=timedelta(minutes=2), applied=False),)
    assert only(strat().decide(snapshot(stats=(day(pos=9.0),), history=h), NOW)).action == Action.SET_BID


def test_no_data_holds():
    p = only(strat().decide(snapshot(), NOW), Action.HOLD)
    assert "not enough data" in p.reason


def test_no_position_but_recommendation_raises_to_it():
    snap = snapshot(camp=campaign(payment_type="cpc"), recs={1: rec_cpc(b310=30000)})
    assert only(strat().decide(snap, NOW), Action.SET_BID).bid == 30000
    snap = snapshot(camp=campaign(payment_type="cpc"), recs={1: rec_cpc(b310=15000)})
    only(strat().decide(snap, NOW), Action.HOLD)  # never cuts without an observation


def test_query_uses_cluster_avg_pos():
    snap = snapshot(stats=(day(pos=1.0),), clusters=(cluster(query="Платье", pos=12.0), cluster(query="юбка", pos=1.0)))
    p = only(strat(query="платье").decide(snap, NOW), Action.SET_BID)
    assert p.inputs["position"] == 12.0
    p = only(strat(query="шорты").decide(snap, NOW), Action.HOLD)
    assert "шорты" in p.reason


def test_newest_booster_day_is_used():
    pos, src = observed_position(snapshot(stats=(day(pos=3.0, days_ago=1), day(pos=8.0))), 1, None)
    assert pos == 8.0 and "boosterStats" in src


def test_cluster_fallback_weighted():
    snap = snapshot(clusters=(cluster(query="a", pos=2.0, views=300), cluster(query="b", pos=10.0, views=100)))
    pos, _ = observed_position(snap, 1, None)
    assert pos == pytest.approx(4.0)


def test_entry_estimate_sources():
    assert entry_estimate(rec_cpc(), 2)[0] == 60000
    assert entry_estimate(rec_cpc(), 7)[0] == 40000
    assert entry_estimate(rec_cpc(), 50)[0] is None
    assert entry_estimate(rec_cpm(), 1)[0] == 50000
    assert entry_estimate(rec_cpm(top=None), 1)[0] == 35000
    assert entry_estimate(rec_cpm(), 20)[0] == 20000
    assert entry_estimate(None, 3)[0] is None


def test_recent_lost_bid_is_not_cut_to_again():
    # 3h ago this strategy had to raise from 19000 (position was lost): do not step down to 19000 again
    h = (record(ago=timedelta(hours=3), before=19000, after=20000, pos=7.0),)
    snap = snapshot(stats=(day(pos=2.0),), history=h)
    p = only(strat().decide(snap, NOW), Action.SET_BID)
    assert p.bid == 19100
    snap = snapshot(camp=campaign(bids={1: 19100}), stats=(day(pos=2.0),), history=h)
    only(strat().decide(snap, NOW), Action.HOLD)


def test_manual_campaign_only_search_placement():
    snap = snapshot(camp=campaign(bid_type="manual"), stats=(day(pos=9.0),))
    ps = strat().decide(snap, NOW)
    assert [(p.placement, p.action) for p in ps] == [("search", Action.SET_BID)]


def test_several_items():
    snap = snapshot(camp=campaign(bids={1: 20000, 2: 30000}), stats=(day(1, pos=9.0), day(2, pos=1.0)))
    ps = strat().decide(snap, NOW)
    assert [(p.nm_id, p.bid) for p in ps] == [(1, 22000), (2, 28500)]


def test_near_miss_steps_far_miss_jumps_to_entry():
    recs = {1: rec_cpm(leaders=40000)}
    p = only(strat().decide(snapshot(stats=(day(pos=7.0),), recs=recs), NOW), Action.SET_BID)
    assert p.bid == 22000  # 7 < 2 x 5: a step
    p = only(strat().decide(snapshot(stats=(day(pos=10.0),), recs=recs), NOW), Action.SET_BID)
    assert p.bid == 40000 and "entry bid" in p.reason


def test_no_position_after_own_changes_holds():
    h = (record(ago=timedelta(hours=3), evidence_ago=timedelta(hours=3, minutes=5)),)
    snap = snapshot(camp=campaign(payment_type="cpc"), recs={1: rec_cpc(b310=30000)}, history=h)
    only(strat().decide(snap, NOW), Action.HOLD)
