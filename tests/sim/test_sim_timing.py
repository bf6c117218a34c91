"""WB's timing facts: bids apply on a 30 s tick (last write wins), statistics sync every 3 minutes,
campaign statuses change on the minute."""

from __future__ import annotations


def bid_body(bid: int) -> dict:
    return {"bids": [{"advert_id": 1000001, "nm_bids": [
        {"nm_id": 211000101, "bid_kopecks": bid, "placement": "combined"}]}]}


async def current_bid(api) -> int:
    r = await api.call("GET", "/api/advert/v2/adverts?ids=1000001")
    nm = next(n for n in r.json()["adverts"][0]["nm_settings"] if n["nm_id"] == 211000101)
    assert nm["bids_kopecks"]["search"] == nm["bids_kopecks"]["recommendations"]  # unified fills both
    return nm["bids_kopecks"]["search"]


async def test_bids_apply_on_the_30_second_tick_last_write_wins(api, clock) -> None:
    clock.advance(5)  # 09:00:05
    assert (await api.call("PATCH", "/api/advert/v1/bids", token="write", json=bid_body(40000))).status == 200
    clock.advance(10)  # 09:00:15
    assert (await api.call("PATCH", "/api/advert/v1/bids", token="write", json=bid_body(45000))).status == 200
    assert await current_bid(api) == 33000
    clock.advance(14)  # 09:00:29
    assert await current_bid(api) == 33000
    clock.advance(1)  # 09:00:30
    assert await current_bid(api) == 45000
    changes = api.running.sim.report()["bid_changes"]
    assert changes == [{"time": "2026-11-02T09:00:30+00:00", "seller": "shop-a", "advert_id": 1000001,
                        "nm_id": 211000101, "placement": "combined", "old": 33000, "new": 45000}]
    assert api.running.sim.report()["writes"] == 2


async def test_statistics_sync_every_3_minutes(api, clock) -> None:
    path = "/adv/v3/fullstats?ids=1000001&beginDate=2026-11-02&endDate=2026-11-02"
    views = []
    for step in (0, 60, 60, 40, 20, 120, 60):  # 09:00, 09:01, 09:02, 09:02:40, 09:03, 09:05, 09:06
        clock.advance(step)
        r = await api.call("GET", path)
        assert r.status == 200, r.text
        views.append(r.json()[0]["views"])
    assert views[0] == views[1] == views[2] == views[3]
    assert views[4] > views[3]
    assert views[5] == views[4]
    assert views[6] > views[5]


async def test_status_changes_on_the_minute(api, clock) -> None:
    clock.advance(10)
    r = await api.call("GET", "/adv/v0/pause?id=1000004", token="write")
    assert r.status == 200 and r.text == ""

    async def status() -> int:
        r = await api.call("GET", "/api/advert/v2/adverts?ids=1000004")
        return r.json()["adverts"][0]["status"]

    assert await status() == 9
    # a second pause before the minute is already "no change"
    r = await api.call("GET", "/adv/v0/pause?id=1000004", token="write")
    assert r.status == 422 and r.content_type == "text/plain" and r.text == "Campaign status not changed"
    clock.advance(49)
    assert await status() == 9
    clock.advance(1)
    assert await status() == 11
    rep = api.running.sim.report()
    assert rep["status_changes"][-1] == {"time": "2026-11-02T09:01:00+00:00", "seller": "shop-a",
                                         "advert_id": 1000004, "old": 9, "new": 11, "reason": "pause"}
    assert rep["requests"]["GET /adv/v0/pause"]["by_status"] == {"200": 1, "422": 1}


async def test_start_pause_stop_rules(api, clock) -> None:
    async def go(action: str, advert_id: int):
        return await api.call("GET", f"/adv/v0/{action}?id={advert_id}", token="write")

    assert (await go("start", 1000013)).status == 200  # ready -> active
    assert (await go("start", 1000001)).status == 422  # already active
    r = await go("pause", 1000012)  # completed cannot be paused
    assert r.status == 400 and "error" in r.json()
    r = await go("stop", 1000013)  # pending start: stop allowed only from 9/11 once applied
    assert r.status in (200, 400)
    r = await go("start", 999)
    assert r.status == 400 and r.json() == {"error": "AdvertChangeStatus: Not Found: advert not found"}
    r = await go("start", 0)
    assert r.status == 400 and r.json() == {"error": "Invalid Advert: invalid advert"}
    r = await api.call("GET", "/adv/v0/start", token="write")
    assert r.status == 400 and r.json() == {"error": "Invalid Advert: invalid advert"}


async def test_paused_campaign_gets_no_impressions(api, clock) -> None:
    clock.advance(181)
    path = "/adv/v3/fullstats?ids=1000010&beginDate=2026-11-02&endDate=2026-11-02"
    before = (await api.call("GET", path)).json()[0]["views"]
    clock.advance(3600)
    after = (await api.call("GET", path)).json()[0]["views"]
    assert before == after


async def test_budget_runs_out_and_pauses(api, clock) -> None:
    r = await api.call("POST", "/api/advert/v2/budget", json={"advertIds": [1000003]})
    assert r.json()["adverts"][0]["total"] == 3000
    clock.advance(10 * 3600)  # 22:00 MSK: spent, not yet reset at midnight
    r = await api.call("POST", "/api/advert/v2/budget", json={"advertIds": [1000003]})
    assert r.json()["adverts"][0]["total"] == 0
    changes = [c for c in api.running.sim.report()["status_changes"] if c["advert_id"] == 1000003]
    assert changes and changes[0]["new"] == 11 and changes[0]["reason"] == "budget exhausted"
    r = await api.call("GET", "/adv/v0/start?id=1000003", token="write")
    assert r.status == 400 and "Low Budget" in r.json()["error"]
