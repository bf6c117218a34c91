from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from _bid_builders import campaign, only, pause_record, record, snapshot

from bidder.domain import Action, Status
from strategies.schedule import Schedule


def strat(**kw) -> Schedule:
    params = {"active_hours": "08:00-23:00", "timezone": "Europe/Moscow"} | kw
    return Schedule(Schedule.Params(**params))


def utc(h: int, m: int = 0) -> datetime:
    return datetime(2026, 11, 24, h, m, tzinfo=UTC)


@pytest.mark.parametrize(
    ("hours", "when", "active"),
    [
        ("08:00-23:00", utc(4, 59), False),  # 07:59 Moscow
        ("08:00-23:00", utc(5, 0), True),  # 08:00
        ("08:00-23:00", utc(19, 59), True),  # 22:59
        ("08:00-23:00", utc(20, 0), False),  # 23:00
        ("22:00-02:00", utc(20, 0), True),  # 23:00, over midnight
        ("22:00-02:00", utc(23, 30), False),  # 02:30
        ("00:00-24:00", utc(20, 59), True),  # 23:59
        ("08:00-12:00,14:00-18:00", utc(10, 0), False),  # 13:00
        ("08:00-12:00,14:00-18:00", utc(11, 0), True),  # 14:00
    ],
)
def test_active_hours(hours, when, active):
    assert strat(active_hours=hours).active(when) is active


def test_own_time_zone():
    s = strat(active_hours="08:00-09:00", timezone="Asia/Tashkent")  # UTC+5
    assert s.active(utc(3, 30)) and not s.active(utc(5, 30))


def test_pause_outside_only_when_active():
    p = only(strat().decide(snapshot(), utc(21)), Action.PAUSE)
    assert p.inputs["time_based"] and "outside the active hours" in p.reason and "paused, not lowered" in p.reason
    p = only(strat().decide(snapshot(camp=campaign(status=Status.PAUSED)), utc(21)), Action.PAUSE)
    assert "stays paused" in p.reason  # keeps it paused (blocks another strategy's resume)
    only(strat().decide(snapshot(camp=campaign(status=Status.READY)), utc(21)), Action.HOLD)


def test_resume_only_what_it_paused():
    camp = campaign(status=Status.PAUSED)
    p = only(strat().decide(snapshot(camp=camp, history=(pause_record("schedule"),)), utc(6)), Action.RESUME)
    assert "resuming" in p.reason
    only(strat().decide(snapshot(camp=camp, history=(pause_record("spend_cap"),)), utc(6)), Action.HOLD)
    only(strat().decide(snapshot(camp=camp), utc(6)), Action.HOLD)
    # a later resume by someone else, then the operator paused: not ours
    hist = (pause_record("schedule", ago=timedelta(hours=5)),
            record(Action.RESUME, strategy="operator", ago=timedelta(hours=4), nm=None, placement=None),
            pause_record("operator", ago=timedelta(hours=3)))
    only(strat().decide(snapshot(camp=camp, history=hist), utc(6)), Action.HOLD)


def test_inside_active_holds():
    only(strat().decide(snapshot(), utc(12)), Action.HOLD)


def test_lower_outside_and_restore():
    s = strat(outside="lower", lower_pct=50)
    p = only(s.decide(snapshot(), utc(21)), Action.SET_BID)
    assert p.bid == 10000 and "lowering the bid by 50%" in p.reason
    # clamped by the guards to 15000 first: continue to 10000 from the same base
    h = (record(strategy="schedule", before=20000, after=15000, ago=timedelta(minutes=30)),)
    p = only(s.decide(snapshot(camp=campaign(bids={1: 15000}), history=h), utc(21)), Action.SET_BID)
    assert p.bid == 10000 and p.inputs["base_bid"] == 20000
    h = (*h, record(strategy="schedule", before=15000, after=10000, ago=timedelta(minutes=10)))
    only(s.decide(snapshot(camp=campaign(bids={1: 10000}), history=h), utc(21)), Action.HOLD)
    # inside: restore to 20000
    p = only(s.decide(snapshot(camp=campaign(bids={1: 10000}), history=h), utc(6)), Action.SET_BID)
    assert p.bid == 20000
    # restore done: hold, and the next night starts from the current bid
    h2 = (*h, record(strategy="schedule", before=10000, after=20000, ago=timedelta(minutes=5)))
    only(s.decide(snapshot(camp=campaign(bids={1: 20000}), history=h2), utc(6)), Action.HOLD)
    # someone else cut during the day after the restore: not undone
    h3 = (*h2, record(strategy="spend_cap", before=20000, after=18000, ago=timedelta(minutes=1)))
    only(s.decide(snapshot(camp=campaign(bids={1: 18000}), history=h3), utc(6)), Action.HOLD)
    assert only(s.decide(snapshot(camp=campaign(bids={1: 18000}), history=h3), utc(21))).bid == 9000
