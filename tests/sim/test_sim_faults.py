"""Fault injection, the public search, the report and HTTP-level determinism."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import aiohttp
import pytest
from pydantic import ValidationError

from bidder.clock import FakeClock
from bidder.sim.schemas import AdvertsResponse
from bidder.sim.testing import start_simulator

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # as the FakeClock in conftest.py


async def set_faults(api, settings: dict, seller: str | None = None) -> dict:
    body = {"settings": settings} if seller is None else {"seller": seller, "settings": settings}
    async with api.session.post(api.running.url + "/__sim/faults", json=body) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_error_rate_gives_5xx_and_is_recorded(api, clock) -> None:
    await set_faults(api, {"error_rate": 1.0})
    r = await api.call("GET", "/adv/v1/promotion/count")
    assert r.status in (500, 502, 503, 504)
    await set_faults(api, {"error_rate": 0.0})
    clock.advance(1)
    assert (await api.call("GET", "/adv/v1/promotion/count")).status == 200
    rep = api.running.sim.report()
    assert sum(v for k, v in rep["injected_faults"].items() if k.isdigit()) == 1


async def test_failed_write_is_not_applied(api, clock) -> None:
    await set_faults(api, {"error_rate": 1.0}, seller="shop-a")
    body = {"bids": [{"advert_id": 1000001, "nm_bids": [
        {"nm_id": 211000101, "bid_kopecks": 40000, "placement": "combined"}]}]}
    r = await api.call("PATCH", "/api/advert/v1/bids", token="write", json=body)
    assert r.status >= 500
    clock.advance(60)
    assert api.running.sim.report()["bid_changes"] == []


async def test_malformed_json(api) -> None:
    await set_faults(api, {"malformed_rate": 1.0})
    r = await api.call("GET", "/api/advert/v2/adverts?ids=1000001")
    assert r.status == 200 and r.content_type == "application/json"
    try:
        json.loads(r.text)
    except ValueError:
        pass
    else:
        raise AssertionError("the body should not parse")


async def test_missing_field(api) -> None:
    await set_faults(api, {"missing_field_rate": 1.0})
    r = await api.call("GET", "/api/advert/v2/adverts?ids=1000001")
    with pytest.raises(ValidationError):
        AdvertsResponse.model_validate(r.json())


async def test_revoke_after_n_calls(api, clock) -> None:
    await set_faults(api, {"revoke_after": 3})
    statuses = []
    for _ in range(5):
        clock.advance(1)
        statuses.append((await api.call("GET", "/adv/v1/promotion/count")).status)
    assert statuses == [200, 200, 200, 401, 401]
    assert api.running.sim.report()["revoked_sellers"] == ["shop-a"]


async def test_fault_settings_are_validated(api) -> None:
    async with api.session.post(api.running.url + "/__sim/faults", json={"settings": {"nope": 1}}) as r:
        assert r.status == 400
    async with api.session.post(api.running.url + "/__sim/faults", json={"settings": {"error_rate": 2}}) as r:
        assert r.status == 400


async def test_faults_scenario_starts_with_faults() -> None:
    async with await start_simulator("faults", clock=FakeClock(START)) as running:
        assert running.sim.faults.default.error_rate > 0
        assert running.sim.faults.default.revoke_after is not None


async def test_public_search_shows_our_promoted_card(api, clock) -> None:
    r = await api.call("GET", "/exactmatch/ru/common/v18/search?appType=1&curr=rub&dest=-1257786&query=платье женское"
                       "&resultset=catalog&sort=popular&spp=30&page=1", token=None)
    assert r.status == 200
    products = r.json()["products"]
    assert len(products) == 100
    ours = [p for p in products if p.get("log", {}).get("advertId") == 1000001]
    assert ours
    position = products.index(ours[0]) + 1
    assert ours[0]["log"]["promoPosition"] == position - 1 and ours[0]["log"]["tp"] == "b"
    assert ours[0]["log"]["cpm"] == 330
    direct = api.running.sim.market.position(1000001, ours[0]["id"], "платье женское", api.running.sim.now())
    assert direct == position
    page2 = (await api.call("GET", "/exactmatch/ru/common/v18/search?query=платье женское&page=2", token=None)).json()
    assert all("log" not in p for p in page2["products"])


async def test_report_shape(api) -> None:
    await api.call("GET", "/adv/v1/promotion/count")
    await api.call("GET", "/adv/v1/promotion/count", token="garbage")
    async with api.session.get(api.running.url + "/__sim/report") as r:
        rep = await r.json()
    for key in ("requests", "total_429", "rejected", "bid_changes", "status_changes", "writes", "campaigns",
                "faults", "revoked_sellers", "total_requests"):
        assert key in rep
    assert rep["requests"]["GET /adv/v1/promotion/count"] == {"count": 2, "by_status": {"200": 1, "401": 1}}
    assert rep["rejected"][0]["status"] == 401 and "malformed" in rep["rejected"][0]["reason"]
    assert rep["campaigns"]["1000001"]["bids"]["211000101"] == {"search": 33000, "recommendations": 33000}


async def test_http_determinism_for_a_seed() -> None:
    async def run(seed: int) -> list:
        clock = FakeClock(START)
        async with await start_simulator("demo", clock=clock, seed=seed) as running, aiohttp.ClientSession() as s:
            token = running.sim.sellers["shop-a"].read_token
            clock.advance(3 * 3600)
            async with s.get(running.url + "/adv/v3/fullstats?ids=1000001,1000002,1000005&beginDate=2026-10-30"
                             "&endDate=2026-11-02", headers={"Authorization": token}) as r:
                return await r.json()

    a, b, c = await run(5), await run(5), await run(6)
    assert a == b
    assert a != c
