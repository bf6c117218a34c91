"""WB's daily limits in the simulator (REFERENCE-2026-10 §3.11): both endpoints over HTTP, and the
market's enforcement (minimums, carry-over, ``valid``/``requiredLimit``)."""

from __future__ import annotations

from datetime import timedelta

from bidder.sim.limits import LIMITS, Limit
from bidder.sim.market import ACTIVE, Market, msk_day
from bidder.sim.scenarios import build_scenario

CPC, CPM = 1000007, 1000001  # shop-a: unified CPC (about 1,500-2,200 RUB a day), CPM
PATH = "/api/advert/v0/daily-limits"


def test_limits_table() -> None:
    for verb in ("GET", "PUT"):
        assert LIMITS[f"{verb} {PATH}"][0] == Limit(60, 5, 5)


async def test_put_then_get_reads_back(api) -> None:
    r = await api.call("PUT", PATH, "write", json={"advertIds": [CPC], "enabled": True, "dailyLimit": 100_000,
                                                   "carryOverEnabled": False})
    assert r.status == 200, r.text
    (row,) = r.json()["adverts"]
    assert row["advertId"] == CPC and row["requiredLimit"] >= 100_000 and row["belowMinLimit"] is False
    r = await api.call("GET", PATH, params={"advertIds": f"{CPC},{CPM}"})
    assert r.status == 200, r.text
    rows = {a["advertId"]: a for a in r.json()["adverts"]}
    assert set(rows[CPC]) == {"advertId", "enabled", "dailyLimit", "spentToday", "currency", "carryOverEnabled",
                              "valid", "requiredLimit"}
    assert rows[CPC]["enabled"] is True and rows[CPC]["dailyLimit"] == 100_000 and rows[CPC]["valid"] is True
    assert isinstance(rows[CPC]["spentToday"], int) and rows[CPC]["currency"] == "RUB"
    assert rows[CPM]["enabled"] is False
    r = await api.call("PUT", PATH, "write", json={"advertIds": [CPC], "enabled": False})
    assert r.status == 200
    r = await api.call("GET", PATH, params={"advertIds": str(CPC)})
    assert r.json()["adverts"][0]["enabled"] is False


async def test_put_validation(api, clock) -> None:
    cases = [
        ({"advertIds": [CPC], "enabled": True, "dailyLimit": 99_900, "carryOverEnabled": False},
         "dailyLimit must be at least 100000"),
        ({"advertIds": [CPC], "enabled": True, "carryOverEnabled": False}, "dailyLimit is required"),
        ({"advertIds": [CPC], "enabled": True, "dailyLimit": 200_000}, "carryOverEnabled is required"),
        ({"advertIds": [], "enabled": False}, "advertIds"),
        ({"advertIds": [CPC], "enabled": "yes"}, "enabled"),
        ({"advertIds": [CPM], "enabled": True, "dailyLimit": 200_000, "carryOverEnabled": False}, "cpc"),
        ({"advertIds": [123], "enabled": False}, "not found"),
    ]
    for payload, words in cases:
        clock.advance(12)  # 5 a minute
        r = await api.call("PUT", PATH, "write", json=payload)
        assert r.status == 400, (payload, r.text)
        assert words in r.json()["detail"], (payload, r.text)


async def test_get_validation_and_tokens(api) -> None:
    assert (await api.call("GET", PATH)).status == 400
    assert (await api.call("GET", PATH, params={"advertIds": ",".join(str(i) for i in range(1, 102))})).status == 400
    assert (await api.call("GET", PATH, "base", params={"advertIds": str(CPC)})).status == 403
    r = await api.call("PUT", PATH, "read", json={"advertIds": [CPC], "enabled": False})
    assert r.status in (401, 403)


def _day_spend(m: Market, advert_id: int, day) -> float:
    return sum(v[4] for v in m.campaign(advert_id).stats.get(day, {}).values())


def test_market_stops_spending_at_the_limit_and_resumes_next_day() -> None:
    spec = build_scenario("demo", 1)
    m = Market(spec, 1)
    t0 = spec.start
    m.set_daily_limit(CPC, t0, enabled=True, limit=100_000, carry_over=False)  # 1,000 RUB, about half a day
    day1 = msk_day(t0) + timedelta(days=1)
    m.advance_campaign(CPC, t0 + timedelta(days=2, hours=12))
    assert _day_spend(m, CPC, day1) <= 100_000 + 1e-6
    assert _day_spend(m, CPC, day1) >= 99_999  # it did reach the limit: the campaign spends ~1,700 a day
    assert m.campaign(CPC).status == ACTIVE  # WB keeps the status; the campaign just stops showing
    assert _day_spend(m, CPC, day1 + timedelta(days=1)) > 0


def test_carry_over_adds_yesterdays_unspent_part() -> None:
    spec = build_scenario("demo", 1)
    m = Market(spec, 1)
    t0 = spec.start
    # day 1 (from 09:00 MSK): a limit above what the campaign spends; day 2: 1,000 RUB + day 1's rest
    m.set_daily_limit(CPC, t0, enabled=True, limit=500_000, carry_over=True)
    day1 = msk_day(t0)
    midnight = t0 + timedelta(hours=15)  # 00:00 MSK of day 2
    m.advance_campaign(CPC, midnight)
    m.set_daily_limit(CPC, midnight, enabled=True, limit=100_000, carry_over=True)
    unspent = max(0.0, 100_000 - _day_spend(m, CPC, day1))
    m.advance_campaign(CPC, midnight + timedelta(days=1))
    assert _day_spend(m, CPC, day1 + timedelta(days=1)) <= 100_000 + unspent + 1e-6


def test_valid_turns_false_when_bids_rise() -> None:
    spec = build_scenario("demo", 1)
    m = Market(spec, 1)
    t = spec.start
    below, required = m.set_daily_limit(CPC, t, enabled=True, limit=100_000, carry_over=False)
    assert not below and m.daily_limit(CPC, t)["valid"]
    nm = spec.sellers[0].campaigns[6].items[0].nm_id
    m.set_bid(CPC, nm, "combined", 5000, t)
    t2 = t + timedelta(minutes=1)
    row = m.daily_limit(CPC, t2)
    assert row["requiredLimit"] == 500_000 and row["valid"] is False
    below, _ = m.set_daily_limit(CPC, t2, enabled=True, limit=row["requiredLimit"], carry_over=False)
    assert not below and m.daily_limit(CPC, t2)["valid"]
