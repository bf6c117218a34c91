from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from _bid_builders import NOW, campaign, day, only, pause_record, record, snapshot

from bidder.domain import Action, Status
from bidder.reasons import localised
from strategies.spend_cap import SpendCap


def d(nm: int = 1, days_ago: int = 1, *, spend: float = 100, revenue: float = 1000, clicks: int = 400,
      orders: int | None = None):
    """A complete day (yesterday by default) with enough clicks to judge; order value 25 by default."""
    orders = int(revenue // 25) if orders is None else orders
    return day(nm, days_ago, spend=spend, revenue=revenue, clicks=clicks, orders=orders)


def strat(**kw) -> SpendCap:
    params = {"max_drr_pct": 10, "window": "3d"} | kw
    return SpendCap(SpendCap.Params(**params))


@pytest.mark.parametrize(
    ("spend", "revenue", "action", "bid", "drr"),
    [
        (150, 1000, Action.SET_BID, 13400, 15.0),  # above the cap: in proportion, 20000 x 10/15
        (105, 1000, Action.HOLD, None, 10.5),  # slightly above, 61 % probable: not a breach to act on
        (100, 1000, Action.HOLD, None, 10.0),  # at the cap
        (50, 1000, Action.HOLD, None, 5.0),  # under, nothing cut before
        (600, 0, Action.SET_BID, 18000, "inf"),  # no revenue, spend over 500
        (400, 0, Action.HOLD, None, None),  # no revenue, spend under 500: not enough data
        (0, 0, Action.HOLD, None, None),
    ],
)
def test_item_table(spend, revenue, action, bid, drr):
    snap = snapshot(stats=(d(spend=spend, revenue=revenue),))
    p = only(strat().decide(snap, NOW), action)
    assert p.bid == bid
    assert p.inputs["drr_pct"] == drr
    assert p.reason


def test_window_sums_days():
    stats = (d(spend=50, revenue=1000), d(spend=250, revenue=1000, days_ago=3), d(spend=900, revenue=0, days_ago=4))
    p = only(strat().decide(snapshot(stats=stats), NOW), Action.SET_BID)
    assert p.inputs["drr_pct"] == 15.0 and p.bid == 13400


def test_at_minimum_holds_and_vetoes_raises():
    snap = snapshot(camp=campaign(bids={1: 10000}), stats=(d(spend=300, revenue=1000),))
    ps = strat().decide(snap, NOW)
    p = ps[-1]
    assert p.action == Action.HOLD and p.inputs["no_raise"] and "minimum" in p.reason


def test_on_breach_pause():
    snap = snapshot(stats=(d(spend=300, revenue=1000),))
    ps = strat(on_breach="pause").decide(snap, NOW)
    assert ps[0].action == Action.PAUSE and ps[0].nm_id is None
    assert "ДРР 30.0%" in ps[0].reason and not ps[0].inputs.get("time_based")


def test_resume_after_drr_pause_when_back_under():
    camp = campaign(status=Status.PAUSED)
    snap = snapshot(camp=camp, stats=(d(spend=50, revenue=1000),), history=(pause_record("spend_cap"),))
    ps = strat(on_breach="pause").decide(snap, NOW)
    assert ps[0].action == Action.RESUME
    snap = snapshot(camp=camp, stats=(d(spend=50, revenue=1000),), history=(pause_record("schedule"),))
    assert Action.RESUME not in [p.action for p in strat(on_breach="pause").decide(snap, NOW)]


def test_daily_budget_pause_today_local_time():
    # NOW is 15:00 Moscow; today's spend 1200 >= budget 1000
    stats = (d(spend=1200, revenue=100000, days_ago=0),)
    ps = strat(daily_budget=1000).decide(snapshot(stats=stats), NOW)
    assert ps[0].action == Action.PAUSE and ps[0].inputs["time_based"]
    assert "daily budget 1,000\xa0₽" in ps[0].reason and "until the next day" in ps[0].reason
    assert "дневной бюджет 1\u202f000\xa0₽ исчерпан" in localised(ps[0].reason, "ru")
    # yesterday's spend does not count
    stats = (d(spend=1200, revenue=100000, days_ago=1),)
    assert Action.PAUSE not in [p.action for p in strat(daily_budget=1000).decide(snapshot(stats=stats), NOW)]


def test_daily_budget_local_day_boundary():
    # 22:30 UTC on the 23rd is 01:30 on the 24th in Moscow: "today" is the 24th
    late = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)
    ps = strat(daily_budget=1000).decide(snapshot(stats=(d(spend=1200, revenue=100000, days_ago=0),)), late)
    assert ps[0].action == Action.PAUSE


def test_daily_budget_resume_next_day():
    camp = campaign(status=Status.PAUSED)
    hist = (pause_record("spend_cap", ago=timedelta(hours=17)),)  # 22:00 Moscow yesterday
    stats = (d(spend=1200, revenue=100000, days_ago=1),)
    ps = strat(daily_budget=1000).decide(snapshot(camp=camp, stats=stats, history=hist), NOW)
    assert ps[0].action == Action.RESUME and "new day" in ps[0].reason
    # paused today and still over: no resume
    stats = (d(spend=1200, revenue=100000, days_ago=0),)
    hist = (pause_record("spend_cap", ago=timedelta(hours=1)),)
    ps = strat(daily_budget=1000).decide(snapshot(camp=camp, stats=stats, history=hist), NOW)
    assert [p.action for p in ps if p.nm_id is None] == [Action.PAUSE]  # stays paused
    assert "staying paused" in ps[0].reason


def test_restore_when_well_under_the_cap():
    camp = campaign(bids={1: 18000})
    h = (record(strategy="spend_cap", before=20000, after=18000),)
    snap = snapshot(camp=camp, stats=(d(spend=50, revenue=1000),), history=h)
    p = only(strat().decide(snap, NOW), Action.SET_BID)
    assert p.bid == 19800 and "raising back" in p.reason
    # 9 % is under the cap but not 20 % under: hold
    snap = snapshot(camp=camp, stats=(d(spend=90, revenue=1000),), history=h)
    only(strat().decide(snap, NOW), Action.HOLD)


def test_cooldown_after_a_change():
    h = (record(strategy="target_position", ago=timedelta(hours=1), before=22000, after=20000),)
    p = only(strat().decide(snapshot(stats=(d(spend=300, revenue=1000),), history=h), NOW), Action.HOLD)
    assert "waiting" in p.reason and p.inputs["no_raise"]
    h = (record(strategy="spend_cap", ago=timedelta(hours=1), before=22000, after=20000),)
    p = only(strat(cooldown="30m").decide(snapshot(stats=(d(spend=300, revenue=1000),), history=h), NOW))
    assert p.action == Action.SET_BID


def test_missing_revenue_is_no_evidence_not_zero():
    """Issue 14, defect 4: a row whose ``sum_price`` WB left out (revenue None) made ДРР infinite and cut
    a healthy campaign's bid; now the window is no evidence and the strategy holds. The daily budget still
    counts the spend that is known."""
    import dataclasses

    healthy = day(spend=600, revenue=10000, days_ago=1)
    # a complete day of the window (issue 15: windows end yesterday) without its revenue
    broken = dataclasses.replace(day(spend=600, revenue=0, days_ago=2), revenue=None)
    p = only(strat().decide(snapshot(stats=(healthy, broken)), NOW), Action.HOLD)
    assert "incomplete" in p.reason and p.inputs["drr_pct"] is None
    today = dataclasses.replace(day(spend=600, revenue=0), revenue=None)  # today's spend is known
    budget = strat(daily_budget=500).decide(snapshot(stats=(healthy, broken, today)), NOW)
    assert budget[0].action == Action.PAUSE and budget[0].inputs["pause_kind"] == "daily_budget"
