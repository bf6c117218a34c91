"""spend_cap and roi_floor reasons are coded (issue 18 item 5): every reason they emit over generated
statistics, histories and statuses carries a catalogue code with its numbers, renders in Russian with no
English word left and money in rubles (never kopecks), and keeps its English text."""

from __future__ import annotations

import re
from datetime import timedelta

from _bid_builders import NOW, campaign, day, pause_record, record, snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from bidder.domain import Action, Reason, Status, reason_record
from bidder.reasons import localised
from strategies.roi_floor import RoiFloor
from strategies.spend_cap import SpendCap

# English words of the old texts: none may survive in a Russian rendering
ENGLISH = re.compile(r"\b(the|spend|spent|revenue|clicks?|orders?|cap|floor|bid|margin|confidence|expected|days?|"
                     r"pausing|resuming|raising|lowering|unknown|minimum|today|with|above|below|under|not)\b")


def _coded(reason: str) -> None:
    assert isinstance(reason, Reason), f"uncoded reason: {reason!r}"

    def leaves(rec):
        if isinstance(rec, dict):
            if "text" in rec and "code" not in rec:
                return [rec["text"]]
            return [x for v in (rec.get("args") or {}).values() for x in leaves(v)]
        if isinstance(rec, list):
            return [x for v in rec for x in leaves(v)]
        return []

    assert leaves(reason_record(reason)) == [], reason


def _russian(reason: str) -> str:
    ru = localised(reason, "ru")
    assert ru and ru != str(reason), reason
    assert not ENGLISH.search(ru), ru
    assert re.search("[а-я]", ru), ru
    return ru


spends = st.sampled_from([0, 1, 3, 60, 150, 410, 600, 1200, 5000])
revenues = st.sampled_from([0, 500, 1000, 1250, 10000, 100000])
clicks = st.sampled_from([0, 1, 41, 300])
orders = st.sampled_from([0, 1, 10])


@st.composite
def money_cases(draw):
    stats = tuple(day(days_ago=draw(st.integers(0, 12)), spend=draw(spends), revenue=draw(revenues),
                      clicks=draw(clicks), orders=draw(orders)) for _ in range(draw(st.integers(0, 5))))
    status = draw(st.sampled_from([Status.ACTIVE, Status.PAUSED]))
    bid = draw(st.sampled_from([10000, 18000, 50000]))
    history = []
    if draw(st.booleans()):
        history.append(record(strategy=draw(st.sampled_from(["spend_cap", "roi_floor", "target_position"])),
                              ago=timedelta(hours=draw(st.sampled_from([1, 30]))), before=20000, after=bid))
    if status == Status.PAUSED and draw(st.booleans()):
        history.append(pause_record(draw(st.sampled_from(["spend_cap", "operator"])),
                                    ago=timedelta(hours=draw(st.sampled_from([1, 20, 50])))))
    if draw(st.booleans()):
        history.append(record(Action.HOLD, strategy="roi_floor", ago=timedelta(hours=7), before=10000, after=None))
    bids = {1: bid} if draw(st.booleans()) else {1: bid, 2: 0}
    snap = snapshot(camp=campaign(status=status, bids=bids), stats=stats, history=tuple(history),
                    stats_age=timedelta(0))
    return snap, draw(st.sampled_from(["lower", "pause"])), draw(st.sampled_from([None, 300, 1000]))


@settings(max_examples=300, deadline=None)
@given(money_cases())
def test_every_spend_cap_and_roi_floor_reason_is_coded_and_russian(case) -> None:
    snap, on_breach, budget = case
    strategies = [
        SpendCap(SpendCap.Params(max_drr_pct=20, window="3d", on_breach=on_breach, daily_budget=budget,
                                 min_spend_without_revenue=500)),
        RoiFloor(RoiFloor.Params(min_roi_pct=0, margin_pct=50, window="7d", cooldown="2h", pause_after=1)),
    ]
    for strat in strategies:
        for p in strat.decide(snap, NOW):
            _coded(p.reason)
            _russian(p.reason)
            # money: bids shown in rubles, never the kopeck integer of a bid
            for value in (p.inputs.get("min_bid"), p.inputs.get("restore_to")):
                if value:
                    assert str(value) not in localised(p.reason, "ru"), p.reason


def _cap(**kw) -> SpendCap:
    return SpendCap(SpendCap.Params(**({"max_drr_pct": 20, "window": "3d"} | kw)))


def test_the_issues_example_in_russian_and_english() -> None:
    stats = (day(days_ago=1, spend=410, revenue=0, clicks=41, orders=0),
             day(days_ago=9, spend=0, revenue=1250, clicks=0, orders=1))
    (p,) = [p for p in _cap(on_breach="pause").decide(snapshot(stats=stats), NOW) if p.nm_id is None]
    assert p.reason.code == "spend_cap.drr_pause"
    assert str(p.reason) == ("ДРР unknown over 3 complete days (spend 410\xa0₽, revenue 0\xa0₽) is above "
                             "the cap 20% with 93% confidence: 41 clicks, 0 orders, expected 1.6: pausing the campaign")
    assert localised(p.reason, "ru") == (
        "ДРР неизвестно за 3 полн. дн. (расход 410\xa0₽, выручка 0\xa0₽) выше предела 20\xa0% "
        "с уверенностью 93\xa0%: клики: 41, заказы: 0, ожидалось 1,6: ставим кампанию на паузу")
    rec = reason_record(p.reason)
    assert rec["args"]["conf"]["args"] == {"confidence": 93, "verdict": {
        "code": "evidence.verdict", "args": {"clicks": 41, "orders": 0, "expected": 1.64}}}


def test_at_the_minimum_bid_the_reasons_show_rubles() -> None:
    # ДРР 60 % against 20 %, bid at WB's minimum 100 ₽: spend_cap holds (then pauses), roi_floor holds
    snap = snapshot(camp=campaign(bids={1: 10000}),
                    stats=(day(days_ago=1, spend=600, revenue=1000, clicks=300, orders=10),))
    item = [p for p in _cap().decide(snap, NOW) if p.nm_id is not None][0]
    assert item.reason.code == "spend_cap.at_min"
    assert "and the bid is at WB's minimum 100\xa0₽" in item.reason
    ru = localised(item.reason, "ru")
    assert ru.startswith("ДРР 60,0\xa0% за 3 полн. дн. (расход 600\xa0₽, выручка 1\u202f000\xa0₽) выше предела 20\xa0%")
    assert ru.endswith("а ставка уже равна минимальной ставке WB 100\xa0₽")
    roi = RoiFloor(RoiFloor.Params(min_roi_pct=50, margin_pct=30, window="7d", cooldown="0s"))
    (hold,) = roi.decide(snap, NOW)
    assert hold.reason.code == "roi_floor.at_min"
    ru = localised(hold.reason, "ru")
    assert ru.startswith("ROI -50,0\xa0% (расход 600\xa0₽, выручка 1\u202f000\xa0₽, маржа 30\xa0%) с уверенностью 99\xa0%")
    assert "ставка уже равна минимальной ставке WB 100\xa0₽" in ru and "проверка 1 из 3 перед паузой" in ru


def test_cooling_keeps_both_parts_coded() -> None:
    h = (record(strategy="target_position", ago=timedelta(hours=1), before=22000, after=20000),)
    snap = snapshot(stats=(day(days_ago=1, spend=300, revenue=1000),), history=h)
    item = [p for p in _cap().decide(snap, NOW) if p.nm_id is not None][0]
    assert item.reason.code == "notes" and "waiting" in item.reason
    assert "ставка изменена 220\xa0₽ → 200\xa0₽" in localised(item.reason, "ru")
