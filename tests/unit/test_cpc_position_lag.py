"""CPC campaigns: WB's search-cluster statistics send no views, so the CPM paid cannot tell lagging data
from fresh; the CPC paid (spend / clicks) can, and a stretch with too few clicks for it counts only
``LAG_SEEN`` after a change. Lagging CPC data is never a bidding war (issue 17)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from _bid_builders import NOW, campaign, only, record, snapshot
from hypothesis import given
from hypothesis import strategies as st

from bidder.domain import Action, PositionObservation
from bidder.engine import wars
from strategies.position_readings import LAG_SEEN, MIN_CLICKS, readings
from strategies.target_position import TargetPosition

Q = "платье"


def cpc(pos: float, clicks: int | None, spend: float | None, ago: timedelta, bid: int = 4400) -> PositionObservation:
    at = NOW - ago
    return PositionObservation("clusters_today", 100, 1, Q, pos, at, at, bid=bid, sample=None, spend=spend,
                               clicks=clicks)


def strat() -> TargetPosition:
    return TargetPosition(TargetPosition.Params(position=5, max_bid=100, query=Q))


RAISES = (record(ago=timedelta(minutes=40), before=4200, after=4400, pos=8.0),
          record(ago=timedelta(minutes=80), before=4000, after=4200, pos=8.0))


def snap(*obs: PositionObservation):
    return replace(snapshot(camp=campaign(payment_type="cpc", bids={1: 4400}), history=RAISES), positions=obs)


@given(st.integers(MIN_CLICKS, 5000), st.integers(1000, 90000))
def test_a_cpc_stretch_names_the_cpc_it_paid(clicks: int, bid: int) -> None:
    base = cpc(8.0, 100, 100 * bid / 100, timedelta(minutes=40))
    new = cpc(8.0, 100 + clicks, (100 + clicks) * bid / 100, timedelta(minutes=3))
    r = readings((base, new), 1, Q)["clusters_today"][-1]
    assert r.paid and abs(r.bid - bid) <= max(1, bid * r.tol)
    assert r.start == base.describes_at


def test_too_few_clicks_make_no_new_cpc_stretch() -> None:
    obs = (cpc(8.0, 100, 4000.0, timedelta(minutes=40)), cpc(7.0, 100 + MIN_CLICKS - 1, 4700.0, timedelta(minutes=3)))
    assert len(readings(obs, 1, Q)["clusters_today"]) == 1


def test_lagging_cpc_statistics_hold_and_are_no_war() -> None:
    # bid raised 40 -> 42 -> 44 RUB per click; the newest stretch still paid 40 RUB: old news
    obs = (cpc(8.0, 100, 4000.0, timedelta(minutes=60)), cpc(8.0, 200, 8000.0, timedelta(minutes=3)))
    s = snap(*obs)
    p = only(strat().decide(s, NOW), Action.HOLD)
    assert p.reason.code == "position.stats_lag" and p.inputs["position_bid"] == 4000
    raise_ = replace(p, action=Action.SET_BID, bid=4800)  # even a raise on it: not a war
    assert wars.check(s, raise_, 4400, 2, NOW) is None


def test_a_cpc_reading_without_clicks_counts_only_after_wbs_seen_lag() -> None:
    first = NOW - timedelta(minutes=80)
    s = snap()
    base = {"position_paid": False, "position_source": "clusters_today", "position": 8.0}
    chosen = only(strat().decide(snap(cpc(8.0, None, None, timedelta(minutes=3))), NOW), Action.HOLD)
    for start, war in ((first + timedelta(minutes=30), False), (first + LAG_SEEN + timedelta(minutes=1), True)):
        p = replace(chosen, action=Action.SET_BID, bid=4800,
                    inputs=base | {"position_start": start.isoformat(), "position_bid": 4400})
        assert (wars.check(s, p, 4400, 2, NOW) is not None) is war


def test_fresh_cpc_data_that_paid_the_raised_bid_with_no_gain_is_a_war() -> None:
    obs = (cpc(8.0, 100, 4000.0, timedelta(minutes=30)), cpc(8.0, 160, 4000.0 + 60 * 44.0, timedelta(minutes=3)))
    s = snap(*obs)
    p = only(strat().decide(s, NOW), Action.SET_BID)
    assert p.inputs["position_paid"] and p.inputs["position_bid"] == 4400
    war = wars.check(s, p, 4400, 2, NOW)
    assert war is not None and war.rollback == 4000
