from __future__ import annotations

from datetime import timedelta

import pytest
from _bid_builders import NOW, campaign, day, only, record, snapshot

from bidder.domain import Action, Status
from strategies.roi_floor import RoiFloor, roi_pct


def d(nm: int = 1, days_ago: int = 1, *, spend: float = 100, revenue: float = 1000, clicks: int = 400,
      orders: int | None = None):
    """A complete day (yesterday by default) with enough clicks to judge; order value 25 by default."""
    orders = int(revenue // 25) if orders is None else orders
    return day(nm, days_ago, spend=spend, revenue=revenue, clicks=clicks, orders=orders)


def strat(**kw) -> RoiFloor:
    params = {"min_roi_pct": 50, "margin_pct": 30, "window": "7d", "pause_after": 3} | kw
    return RoiFloor(RoiFloor.Params(**params))


def test_roi_formula():
    assert roi_pct(1000, 100, 30) == pytest.approx(200.0)
    assert roi_pct(0, 100, 30) == pytest.approx(-100.0)
    assert roi_pct(100, 0, 30) is None


@pytest.mark.parametrize(
    ("revenue", "action", "bid"),
    [
        (300, Action.SET_BID, 18000),  # ROI -10 % < 50 %: -10 %
        (600, Action.HOLD, None),  # ROI 80 %: above the floor, nothing cut before
        (450, Action.HOLD, None),  # ROI 35 % < 50 %, but only 66 % probable: hold
        (500, Action.HOLD, None),  # ROI exactly 50 %: at the floor
    ],
)
def test_table(revenue, action, bid):
    snap = snapshot(stats=(d(spend=100, revenue=revenue),))
    p = only(strat().decide(snap, NOW), action)
    assert p.bid == bid
    assert "ROI" in p.reason and p.inputs["roi_pct"] is not None


def test_window_excludes_old_days():
    stats = (d(spend=100, revenue=1000), d(spend=10000, revenue=0, days_ago=8))
    p = only(strat().decide(snapshot(stats=stats), NOW), Action.HOLD)
    assert p.inputs["spend"] == "100"
    p = only(strat(window="8d").decide(snapshot(stats=stats), NOW), Action.SET_BID)


def test_no_spend_holds():
    p = only(strat().decide(snapshot(), NOW), Action.HOLD)
    assert "no ad spend" in p.reason


def test_cut_never_below_minimum():
    snap = snapshot(camp=campaign(bids={1: 10500}), stats=(d(spend=100, revenue=100),))
    assert only(strat().decide(snap, NOW), Action.SET_BID).bid == 10000


def _at_min_hold(ago: timedelta):
    return record(Action.HOLD, strategy="roi_floor", ago=ago, before=10000, after=10000)


def test_at_minimum_counts_then_pauses():
    camp = campaign(bids={1: 10000})
    stats = (d(spend=400, revenue=100),)
    s = strat(cooldown="0s")
    p = only(s.decide(snapshot(camp=camp, stats=stats), NOW), Action.HOLD)
    assert p.inputs["evaluations"] == 1 and p.inputs["no_raise"]
    h = (_at_min_hold(timedelta(minutes=2)),)
    only(s.decide(snapshot(camp=camp, stats=stats, history=h), NOW), Action.HOLD)
    h = (_at_min_hold(timedelta(minutes=3)), _at_min_hold(timedelta(minutes=2)))
    ps = s.decide(snapshot(camp=camp, stats=stats, history=h), NOW)
    assert [p.action for p in ps] == [Action.HOLD, Action.PAUSE]
    pause = ps[1]
    assert pause.nm_id is None and "ROI" in pause.reason and pause.inputs["evaluations"] == 3
    assert "spend 400" in pause.reason


def test_evaluations_are_spaced_by_the_cooldown():
    camp = campaign(bids={1: 10000})
    stats = (d(spend=400, revenue=100),)
    # two holds a minute apart are one evaluation, and now (1 min later) is still the same one
    h = (_at_min_hold(timedelta(minutes=2)), _at_min_hold(timedelta(minutes=1)))
    assert only(strat().decide(snapshot(camp=camp, stats=stats, history=h), NOW)).inputs["evaluations"] == 1
    # 7 h and 4 h ago, and now: three evaluations 3 h apart -> pause
    h = (_at_min_hold(timedelta(hours=7)), _at_min_hold(timedelta(hours=6)), _at_min_hold(timedelta(hours=4)))
    ps = strat().decide(snapshot(camp=camp, stats=stats, history=h), NOW)
    assert [p.action for p in ps] == [Action.HOLD, Action.PAUSE]


def test_cooldown_after_a_change():
    h = (record(strategy="roi_floor", ago=timedelta(hours=1), before=22000, after=20000),)
    p = only(strat().decide(snapshot(stats=(d(spend=100, revenue=300),), history=h), NOW), Action.HOLD)
    assert "waiting" in p.reason and p.inputs["no_raise"]
    h = (record(strategy="roi_floor", ago=timedelta(hours=4), before=22000, after=20000),)
    only(strat().decide(snapshot(stats=(d(spend=100, revenue=300),), history=h), NOW), Action.SET_BID)


def test_count_is_broken_by_another_decision():
    camp = campaign(bids={1: 10000})
    stats = (d(spend=400, revenue=100),)
    h = (_at_min_hold(timedelta(minutes=4)), _at_min_hold(timedelta(minutes=3)),
         record(ago=timedelta(minutes=2), strategy="target_position", before=10000, after=10000, action=Action.HOLD))
    ps = strat(cooldown="0s").decide(snapshot(camp=camp, stats=stats, history=h), NOW)
    assert [p.action for p in ps] == [Action.HOLD]


def test_no_pause_when_another_item_is_fine():
    camp = campaign(bids={1: 10000, 2: 20000})
    stats = (d(1, spend=400, revenue=100), d(2, spend=100, revenue=2000))
    h = tuple(_at_min_hold(timedelta(minutes=m)) for m in (3, 2))
    ps = strat(cooldown="0s").decide(snapshot(camp=camp, stats=stats, history=h), NOW)
    assert Action.PAUSE not in [p.action for p in ps]


def test_no_pause_when_not_active():
    camp = campaign(bids={1: 10000}, status=Status.PAUSED)
    h = tuple(_at_min_hold(timedelta(minutes=m)) for m in (3, 2))
    ps = strat(cooldown="0s").decide(snapshot(camp=camp, stats=(d(spend=400, revenue=100),), history=h), NOW)
    assert Action.PAUSE not in [p.action for p in ps]


def test_restores_toward_previous_bid():
    camp = campaign(bids={1: 16200})
    h = (record(strategy="roi_floor", ago=timedelta(hours=5), before=20000, after=18000),
         record(strategy="roi_floor", ago=timedelta(hours=4), before=18000, after=16200))
    snap = snapshot(camp=camp, stats=(d(spend=100, revenue=1000),), history=h)  # ROI 200 %
    p = only(strat().decide(snap, NOW), Action.SET_BID)
    assert p.bid == 17800 and p.inputs["restore_to"] == 20000
    # ROI 60 %: above the floor but not comfortably (floor + 20): hold
    snap = snapshot(camp=camp, stats=(d(spend=100, revenue=534),), history=h)
    only(strat().decide(snap, NOW), Action.HOLD)


def test_no_restore_after_someone_else_changed_the_bid():
    camp = campaign(bids={1: 16200})
    h = (record(strategy="roi_floor", ago=timedelta(hours=5), before=20000, after=18000),
         record(strategy="spend_cap", ago=timedelta(hours=4), before=18000, after=16200))
    snap = snapshot(camp=camp, stats=(d(spend=100, revenue=1000),), history=h)
    only(strat().decide(snap, NOW), Action.HOLD)
