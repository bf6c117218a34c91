from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from _bid_builders import ADVERT, NOW, campaign, day, record, snapshot

from bidder.domain import Action, DecisionRecord, Proposal, Status
from bidder.engine.guards import WAR_PREFIX, GuardConfig, decide

G = GuardConfig.from_numbers(max_bid=500)
EVIDENCE = (day(spend=400, clicks=50),)


def sb(bid: int, strategy: str = "spend_cap", nm: int = 1, placement: str = "combined", **inputs) -> Proposal:
    return Proposal(strategy, Action.SET_BID, ADVERT, nm, placement, bid=bid, reason=f"{strategy} wants {bid}",
                    inputs=inputs)


def hold(strategy: str = "roi_floor", nm: int = 1, placement: str = "combined", **inputs) -> Proposal:
    return Proposal(strategy, Action.HOLD, ADVERT, nm, placement, reason=f"{strategy} holds", inputs=inputs)


def pause(strategy: str = "roi_floor", **inputs) -> Proposal:
    return Proposal(strategy, Action.PAUSE, ADVERT, reason=f"{strategy} pauses", inputs=inputs)


def resume(strategy: str = "schedule") -> Proposal:
    return Proposal(strategy, Action.RESUME, ADVERT, reason=f"{strategy} resumes")


def one(snap, proposals, guard=G, **kw):
    ds = decide(snap, proposals, guard, NOW, **kw)
    assert len(ds) == 1, ds
    return ds[0]


def test_config_from_numbers_and_guardrails():
    g = GuardConfig.from_numbers(max_bid="123.45", min_change_interval=60, min_evidence_spend=10)
    assert g.max_bid == 12345 and g.min_change_interval == timedelta(minutes=1)
    assert g.min_evidence_spend == Decimal(10)

    class Rails:
        max_bid = Decimal(200)
        max_step_pct = 10
        min_change_interval = timedelta(minutes=5)

    g = GuardConfig.from_guardrails(Rails())
    assert (g.max_bid, g.max_step_pct, g.min_change_interval, g.war_raises) == (20000, 10.0, timedelta(minutes=5), 3)
    assert GuardConfig().max_bid is None


def test_lowest_bid_wins_and_bid_before():
    d = one(snapshot(), [sb(18000, "a"), sb(17000, "b"), hold("c")])
    assert d.action == Action.SET_BID and d.bid_after == 17000 and d.bid_before == 20000
    assert d.strategy == "b" and d.guard is None and d.proposed_bid == 17000
    assert d.inputs["proposals"] == {"a": 18000, "b": 17000, "c": "hold"}


def test_all_hold_names_every_strategy():
    d = one(snapshot(), [hold("a"), hold("b")])
    assert d.action == Action.HOLD and d.strategy == "a+b" and d.bid_after == d.bid_before == 20000
    assert "a: a holds" in d.reason and "b: b holds" in d.reason


def test_pause_wins_over_resume_and_items_hold():
    ds = decide(snapshot(stats=EVIDENCE), [resume(), pause(), sb(18000)], G, NOW)
    assert [d.action for d in ds] == [Action.PAUSE, Action.HOLD]
    assert ds[0].nm_id is None and ds[0].strategy == "roi_floor"
    assert "being paused" in ds[1].guard


def test_time_based_pause_preferred_and_needs_no_evidence():
    d = one(snapshot(), [pause("roi_floor"), pause("schedule", time_based=True)])
    assert d.action == Action.PAUSE and d.strategy == "schedule"


def test_min_evidence_before_pause():
    d = one(snapshot(stats=(day(spend=100, clicks=5),)), [pause()])
    assert d.action == Action.HOLD and "not enough evidence" in d.guard and "not enough evidence" in d.reason
    assert one(snapshot(stats=(day(spend=100, clicks=30),)), [pause()]).action == Action.PAUSE
    assert one(snapshot(stats=(day(spend=300, clicks=0),)), [pause()]).action == Action.PAUSE


def test_pause_only_active_resume_only_startable():
    d = one(snapshot(camp=campaign(status=Status.PAUSED), stats=EVIDENCE), [pause()])
    assert d.action == Action.HOLD and "already paused" in d.guard
    d = one(snapshot(camp=campaign(status=Status.READY), stats=EVIDENCE), [pause()])
    assert d.action == Action.HOLD and "cannot be paused" in d.guard
    # a pause proposal for a paused campaign blocks another strategy's resume
    d = one(snapshot(camp=campaign(status=Status.PAUSED)), [resume("spend_cap"), pause("schedule", time_based=True)])
    assert d.action == Action.HOLD and d.strategy == "schedule"
    assert one(snapshot(camp=campaign(status=Status.PAUSED)), [resume()]).action == Action.RESUME
    assert one(snapshot(camp=campaign(status=Status.READY)), [resume()]).action == Action.RESUME
    assert one(snapshot(), [resume()]).action == Action.HOLD
    d = one(snapshot(camp=campaign(status=Status.PAUSED), operator_paused=True), [resume()])
    assert d.action == Action.HOLD and "operator" in d.guard


def test_stop_holds_everything():
    ds = decide(snapshot(stats=EVIDENCE), [pause(), sb(15000)], G, NOW, stop=True)
    assert [d.action for d in ds] == [Action.HOLD, Action.HOLD]
    assert all("stopped" in d.guard for d in ds)


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.DECLINED, Status.DELETED])
def test_status_without_bid_changes(status):
    d = one(snapshot(camp=campaign(status=status)), [sb(18000)])
    assert d.action == Action.HOLD and "does not allow" in d.guard


@pytest.mark.parametrize("status", [Status.READY, Status.ACTIVE, Status.PAUSED])
def test_status_with_bid_changes(status):
    assert one(snapshot(camp=campaign(status=status)), [sb(18000)]).action == Action.SET_BID


def test_max_bid_caps_and_says_so():
    d = one(snapshot(camp=campaign(bids={1: 45000})), [sb(90000, "target_position")])
    assert d.bid_after == 50000 and "capped at max_bid" in d.guard and "capped" in d.reason


def test_wb_max_bid_caps_too():
    d = one(snapshot(camp=campaign(bids={1: 30000}), max_bid=32000), [sb(36000)])
    assert d.bid_after == 32000


def test_current_above_max_bid_is_brought_down_even_without_a_cut():
    d = one(snapshot(camp=campaign(bids={1: 90000})), [hold()])
    assert d.action == Action.SET_BID and d.bid_after == 50000 and "above max_bid" in d.guard


def test_max_step_clamps_toward_target():
    d = one(snapshot(), [sb(10000)])
    assert d.bid_after == 15000 and "clamped to 25%" in d.guard
    d = one(snapshot(), [sb(40000, "target_position")])
    assert d.bid_after == 25000


def test_min_change_interval():
    h = (record(strategy="spend_cap", ago=timedelta(minutes=5), placement="search"),)
    d = one(snapshot(history=h), [sb(18000)])
    assert d.action == Action.HOLD and "min_change_interval" in d.guard
    h = (record(strategy="spend_cap", ago=timedelta(minutes=11)),)
    assert one(snapshot(history=h), [sb(18000)]).action == Action.SET_BID
    h = (record(strategy="spend_cap", ago=timedelta(minutes=5), applied=False),)
    assert one(snapshot(history=h), [sb(18000)]).action == Action.SET_BID


def test_wb_minimum_holds_at_min():
    d = one(snapshot(camp=campaign(bids={1: 11000})), [sb(5000)])
    assert d.bid_after == 10000 and "WB's minimum" in d.guard
    d = one(snapshot(camp=campaign(bids={1: 10000})), [sb(5000)])
    assert d.action == Action.HOLD and d.bid_after == 10000


def test_current_below_minimum_is_raised_to_it():
    d = one(snapshot(camp=campaign(bids={1: 8000})), [hold()])
    assert d.action == Action.SET_BID and d.bid_after == 10000


def test_rounding_to_step():
    d = one(snapshot(step=500), [sb(18123)])
    assert d.bid_after == 18500 and "rounded" in d.guard
    d = one(snapshot(step=500), [sb(21999, "target_position")])
    assert d.bid_after == 21500


def test_dead_band():
    d = one(snapshot(), [sb(19600)])  # 2 % < 3 %
    assert d.action == Action.HOLD and "dead band" in d.guard
    d = one(snapshot(step=1000), [sb(21000 - 1, "target_position")])  # rounds to 20000: no change
    assert d.action == Action.HOLD
    assert one(snapshot(), [sb(19400)]).action == Action.SET_BID


@pytest.mark.parametrize(("age", "raise_ok"), [(timedelta(hours=1), True), (timedelta(hours=7), False), (None, False)])
def test_no_raise_on_stale_statistics(age, raise_ok):
    d = one(snapshot(stats_age=age), [sb(22000, "target_position")])
    assert (d.action == Action.SET_BID) is raise_ok
    if not raise_ok:
        assert "stale" in d.guard
    assert one(snapshot(stats_age=age), [sb(18000)]).action == Action.SET_BID  # cuts still allowed


def test_no_raise_veto():
    d = one(snapshot(), [sb(22000, "target_position"), hold("roi_floor", no_raise=True)])
    assert d.action == Action.HOLD and d.strategy == "roi_floor"
    d = one(snapshot(), [sb(18000, "target_position"), hold("roi_floor", no_raise=True)])
    assert d.action == Action.SET_BID


def _raises(n: int, pos: float, every: timedelta = timedelta(minutes=30)) -> tuple:
    bids = [14000 + 1500 * i for i in range(n + 1)]
    return tuple(record(strategy="target_position", ago=every * (n - i), before=bids[i], after=bids[i + 1],
                        pos=pos) for i in range(n))


def _fresh(minutes_ago: int = 5) -> dict:
    at = NOW - timedelta(minutes=minutes_ago)
    return {"position_start": at.isoformat(), "position_at": NOW.isoformat()}


def test_bidding_war_rolls_back_to_the_cheapest_bid_that_held():
    h = _raises(2, 8.0)  # 14000 -> 15500 -> 17000, 60 and 30 min ago
    snap = snapshot(history=h, camp=campaign(bids={1: 17000}))
    d = one(snap, [sb(18700, "target_position", position=8.0, cheapest_held=15000, **_fresh())])
    assert d.action == Action.SET_BID and d.bid_after == 15000 and d.guard.startswith(WAR_PREFIX)
    assert d.inputs["bidding_war"] is True and d.guard in d.reason
    # no cheapest holding bid known: back to the bid before the raises
    d = one(snap, [sb(18700, "target_position", position=8.0, **_fresh())])
    assert d.action == Action.SET_BID and d.bid_after == 14000


def test_bidding_war_needs_fresh_data_a_run_and_no_gain():
    snap = snapshot(history=_raises(2, 8.0), camp=campaign(bids={1: 17000}))
    # lagging data (the stretch began before the first raise took effect): not a war, the raise goes on
    lagging = one(snap, [sb(18700, "target_position", position=8.0, **_fresh(70))])
    assert lagging.action == Action.SET_BID and lagging.bid_after == 18700 and lagging.guard is None
    # the position improved: not a war
    assert one(snap, [sb(18700, "target_position", position=6.0, **_fresh())]).bid_after == 18700
    # one raise in the window only (the other is 2 h old)
    spread = snapshot(history=_raises(2, 8.0, timedelta(minutes=100)), camp=campaign(bids={1: 17000}))
    assert one(spread, [sb(18700, "target_position", position=8.0, **_fresh())]).bid_after == 18700
    # other strategies' raises are not a war, and cuts are never blocked
    assert one(snap, [sb(18700, "roi_floor", position=8.0, **_fresh())]).bid_after == 18700
    assert one(snap, [sb(16000, "target_position", position=8.0, **_fresh())]).bid_after == 16000


def test_raises_pause_after_a_bidding_war_without_a_second_alert():
    war = DecisionRecord(at=NOW - timedelta(minutes=40), strategy="target_position", action=Action.SET_BID, nm_id=1,
                         placement="combined", bid_before=17000, bid_after=15000, applied=True, war=True)
    d = one(snapshot(history=(war,), camp=campaign(bids={1: 15000})),
            [sb(16500, "target_position", position=8.0, **_fresh())])
    assert d.action == Action.HOLD and "raises paused" in d.guard and not d.guard.startswith(WAR_PREFIX)
    later = replace(war, at=NOW - timedelta(hours=3))
    assert one(snapshot(history=(later,), camp=campaign(bids={1: 15000})),
               [sb(16500, "target_position", position=8.0, **_fresh())]).action == Action.SET_BID


def test_cluster_decision_starts_from_the_cluster_bid():
    camp = campaign(bid_type="manual", bids={1: 20000})
    snap = replace(snapshot(camp=camp), cluster_bids={(1, "платье"): 30000})
    p = Proposal("target_position", Action.SET_BID, ADVERT, 1, "search", bid=31000, norm_query="платье", reason="up")
    d = one(snap, [p])
    assert d.bid_before == 30000 and d.bid_after == 31000 and d.norm_query == "платье"
    # unknown cluster bid: nothing is changed
    d = one(snapshot(camp=camp), [p])
    assert d.action == Action.HOLD and "current bid unknown" in d.guard


def test_several_targets_and_order():
    camp = campaign(bid_type="manual", bids={1: 20000, 2: 30000})
    ps = [sb(18000, nm=2, placement="search"), sb(18000, nm=1, placement="recommendations"), pause("schedule",
                                                                                                   time_based=True)]
    ds = decide(snapshot(camp=camp), ps, G, NOW)
    assert [(d.nm_id, d.placement) for d in ds] == [(None, None), (2, "search"), (1, "recommendations")]


def test_unknown_current_bid_holds():
    camp = campaign(bid_type="manual", placements=frozenset({"search"}))
    d = one(snapshot(camp=camp), [sb(18000, placement="recommendations")])
    assert d.action == Action.HOLD and d.bid_before is None


def test_max_bid_below_minimum():
    d = one(snapshot(), [sb(18000)], guard=GuardConfig.from_numbers(max_bid=50))
    assert d.action == Action.HOLD and "below WB's minimum" in d.guard


def test_deterministic():
    ps = [sb(18000, "a"), sb(18000, "b"), hold("c")]
    assert decide(snapshot(), ps, G, NOW) == decide(snapshot(), ps, G, NOW)


def test_blocked_raise_below_minimum_still_goes_to_the_minimum():
    d = one(snapshot(camp=campaign(bids={1: 8000}), stats_age=None), [sb(15000, "target_position")])
    assert d.action == Action.SET_BID and d.bid_after == 10000 and "stale" in d.guard and "minimum" in d.guard


def test_lagging_statistics_are_no_bidding_war():
    snap = snapshot(history=_raises(2, 8.0), camp=campaign(bids={1: 17000}))
    paid_old = {"position_paid": True, "position_bid": 14000, **_fresh()}
    d = one(snap, [sb(18700, "target_position", position=8.0, **paid_old)])
    assert d.bid_after == 18700 and d.guard is None  # the data still describe 140.00: lagging
    paid_raised = {"position_paid": True, "position_bid": 17000, **_fresh()}
    d = one(snap, [sb(18700, "target_position", position=8.0, **paid_raised)])
    assert d.guard.startswith(WAR_PREFIX) and d.bid_after == 14000


def test_raises_that_bought_nothing_roll_back_even_at_max_bid():
    snap = snapshot(history=_raises(2, 8.0), camp=campaign(bids={1: 17000}))
    at_max = hold("target_position", position=8.0, wants_raise=True, **_fresh())
    d = one(snap, [at_max])
    assert d.action == Action.SET_BID and d.bid_after == 14000 and d.guard.startswith(WAR_PREFIX)
    # an ordinary hold is left alone
    assert one(snap, [hold("target_position", position=8.0, **_fresh())]).action == Action.HOLD
