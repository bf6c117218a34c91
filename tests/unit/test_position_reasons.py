"""target_position reasons are coded (issue 18 item 5): every reason it emits over generated campaigns,
recommendations, position observations and histories carries a catalogue code with its numbers, renders
in Russian with no English word left, bids in rubles (never kopecks), and names the position source in
both languages."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from _bid_builders import NOW, campaign, rec_cpc, rec_cpm, record, snapshot
from hypothesis import given, settings
from hypothesis import strategies as st
from test_money_reasons import _coded

from bidder.domain import Action, PositionObservation, ReachBand, Recommendation, reason_record
from bidder.reasons import localised
from strategies.target_position import TargetPosition

Q = "платье"
# English words of the old texts: none may survive in a Russian rendering
ENGLISH = re.compile(r"\b(the|position|target|bid|bids|raising|holding|waiting|probe|economy|reading|readings|"
                     r"statistics|cluster|search|public_search|clusters_today|search_report|lost|worse|above|"
                     r"already|max_bid|corridor|step|down|up|back|cheapest|held|minimum|recommendation|reach|"
                     r"top|leaders|competitive|band|CPC|not|no|on|at|of|to|yet|unknown|lag|change)\b", re.I)
SOURCE_RU = {"clusters_today": "статистика кластеров за сегодня", "public_search": "поиск WB"}
MONEY_INPUTS = ("current_bid", "max_bid", "min_bid", "entry_bid", "position_bid", "cheapest_held", "lost_bid")


def _russian(reason: str) -> str:
    ru = localised(reason, "ru")
    assert ru and ru != str(reason), reason
    assert not ENGLISH.search(ru), ru
    assert re.search("[а-я]", ru), ru
    return ru


def obs(source: str, pos: float, ago: int, bid: int, views: int, spend: float | None) -> PositionObservation:
    at = NOW - timedelta(minutes=ago)
    if source == "public_search":
        return PositionObservation(source, 100, 1, Q, pos, at, at, region="-1257786", bid=bid)
    return PositionObservation(source, 100, 1, Q, pos, at, at, bid=bid, sample=views, spend=spend)


bids = st.sampled_from([15000, 18000, 20000, 30000, 42000, 90000])


@st.composite
def position_cases(draw):
    kind = draw(st.sampled_from(["unified", "manual", "cpc"]))
    bid = draw(bids)
    camp = (campaign(bid_type="manual", bids={1: bid}) if kind == "manual"
            else campaign(payment_type="cpc", bids={1: bid}) if kind == "cpc" else campaign(bids={1: bid}))
    recs = draw(st.sampled_from([
        None, {1: rec_cpc()}, {1: rec_cpm()}, {1: rec_cpm(top=None, leaders=0)},
        {1: Recommendation(100, 1, "cpm", clusters=(ReachBand(Q, 42000, 30000, 25000),))}]))
    history = []
    if draw(st.booleans()):
        history.append(record(ago=timedelta(minutes=draw(st.sampled_from([3, 20, 90, 300]))),
                              before=draw(bids), after=bid))
        if draw(st.booleans()):
            history[0] = replace(history[0], position_at=NOW - timedelta(minutes=draw(st.sampled_from([1, 2, 30]))))
    observations = []
    views = 0
    for ago in sorted(draw(st.lists(st.integers(1, 400), max_size=5, unique=True)), reverse=True):
        source = draw(st.sampled_from(["public_search", "clusters_today"]))
        views += draw(st.sampled_from([50, 500, 2000]))
        spend = draw(st.sampled_from([None, views * 0.18, views * 0.2]))
        observations.append(obs(source, draw(st.sampled_from([1.0, 3.0, 4.0, 5.0, 6.0, 9.0, 20.0])), ago,
                                draw(bids), views, spend))
    snap = replace(snapshot(camp=camp, recs=recs, history=tuple(history)), positions=tuple(observations))
    if kind == "manual" and draw(st.booleans()):
        snap = replace(snap, cluster_bids={(1, Q): bid})
    params = {"position": draw(st.sampled_from([2, 5, 9])), "max_bid": draw(st.sampled_from([210, 500, 1000])),
              "query": draw(st.sampled_from([Q, None]))}
    return snap, params


@settings(max_examples=400, deadline=None)
@given(position_cases())
def test_every_target_position_reason_is_coded_russian_in_rubles_and_names_its_source(case) -> None:
    snap, params = case
    for p in TargetPosition(TargetPosition.Params(**params)).decide(snap, NOW):
        _coded(p.reason)
        ru = _russian(p.reason)
        en = str(p.reason)
        for name in MONEY_INPUTS:
            value = p.inputs.get(name)
            if isinstance(value, int) and value >= 1000:
                assert str(value) not in ru and str(value) not in en, (name, value, ru)
        source = p.inputs.get("position_source")
        if source is not None:  # a reason built on a reading names its source in both languages
            assert str(source) in en and SOURCE_RU[str(source)] in ru, (en, ru)
        elif p.reason.code in ("position.no_reading", "position.start_from_corridor"):
            assert all(s in en for s in SOURCE_RU) and all(s in ru for s in SOURCE_RU.values()), (en, ru)


def test_a_raise_in_russian_and_english() -> None:
    at = NOW - timedelta(minutes=2)
    o = PositionObservation("public_search", 100, 1, Q, 9.0, at, at, region="-1257786", bid=20000)
    s = replace(snapshot(), positions=(o,))
    (p,) = TargetPosition(TargetPosition.Params(position=5, max_bid=500, query=Q)).decide(s, NOW)
    assert p.action == Action.SET_BID and p.bid == 24000
    assert p.reason.code == "position.raise"
    assert str(p.reason) == "position 9.0 (public_search, at 11:58 UTC), target 5: worse than the target; raising up 20%"
    assert localised(p.reason, "ru") == ("позиция 9,0 (поиск WB, в 11:58 UTC), целевая позиция 5: хуже целевой; "
                                         "повышаем ставку на 20\xa0%")
    rec = reason_record(p.reason)
    assert rec["args"]["where"]["args"]["source"] == {"code": "position.src.public_search", "args": {}}
    assert rec["args"]["move"] == {"code": "position.move.up_pct", "args": {"pct": 20.0}}
