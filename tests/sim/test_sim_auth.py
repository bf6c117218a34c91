from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bidder.wb.tokens import mint_token

WRITE_PATHS = [
    ("PATCH", "/api/advert/v1/bids", {"json": {"bids": [{"advert_id": 1000001, "nm_bids": [
        {"nm_id": 211000101, "bid_kopecks": 40000, "placement": "combined"}]}]}}),
    ("GET", "/adv/v0/pause?id=1000004", {}),
    ("GET", "/adv/v0/start?id=1000010", {}),
    ("GET", "/adv/v0/stop?id=1000004", {}),
    ("POST", "/api/advert/v1/normquery/bids", {"json": {"bids": [
        {"advertId": 1000006, "nmId": 211000601, "normQuery": "кроссовки мужские", "bidMinorUnits": 40000}]}}),
]


async def test_missing_token_is_401_problem_json(api) -> None:
    r = await api.call("GET", "/adv/v1/promotion/count", token=None)
    assert r.status == 401 and r.content_type == "application/problem+json"
    body = r.json()
    assert body["title"] == "unauthorized" and body["status"] == 401 and body["statusText"] == "Unauthorized"
    for key in ("detail", "code", "requestId", "origin", "timestamp"):
        assert key in body


async def test_garbled_token_is_401(api) -> None:
    r = await api.call("GET", "/adv/v1/promotion/count", token="not-a-jwt")
    assert r.status == 401 and "malformed" in r.json()["detail"]


async def test_bearer_prefix_is_accepted(api) -> None:
    r = await api.call("GET", "/adv/v1/promotion/count", token="Bearer " + api.read)
    assert r.status == 200


async def test_token_without_promotion_bit_is_401(api) -> None:
    sid = api.running.sim.sellers["shop-a"].seller_id
    token = mint_token(sid, categories=(2,))  # Analytics only
    r = await api.call("GET", "/adv/v1/promotion/count", token=token)
    assert r.status == 401


async def test_expired_token_is_401(api) -> None:
    sid = api.running.sim.sellers["shop-a"].seller_id
    token = mint_token(sid, expires_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert (await api.call("GET", "/adv/v1/promotion/count", token=token)).status == 401


async def test_unknown_seller_is_401(api) -> None:
    token = mint_token("00000000-0000-4000-8000-000000000000")
    assert (await api.call("GET", "/adv/v1/promotion/count", token=token)).status == 401


@pytest.mark.parametrize(("method", "path", "kw"), WRITE_PATHS)
async def test_write_with_read_only_token_is_403(api, method, path, kw) -> None:
    r = await api.call(method, path, token="read", **kw)
    assert r.status == 403 and r.content_type == "application/problem+json"
    assert "X-Ratelimit-Remaining" in r.headers
    assert api.running.sim.report()["writes"] == 0


@pytest.mark.parametrize(("method", "path", "kw"), WRITE_PATHS)
async def test_write_with_write_token_passes_auth(api, method, path, kw) -> None:
    r = await api.call(method, path, token="write", **kw)
    assert r.status == 200, r.text


@pytest.mark.parametrize(("method", "path", "kw"), [
    ("GET", "/api/advert/v1/config", {}),
    WRITE_PATHS[-1],
])
async def test_base_token_not_allowed_on_personal_only_methods(api, method, path, kw) -> None:
    r = await api.call(method, path, token="base", **kw)
    assert r.status == 403 and r.json()["detail"] == "base token is not allowed"


async def test_base_token_gets_hourly_quota(api) -> None:
    assert (await api.call("GET", "/api/advert/v2/adverts", token="base")).status == 200
    r = await api.call("GET", "/api/advert/v2/adverts", token="base")
    assert r.status == 429 and int(r.headers["X-Ratelimit-Retry"]) > 60
    # the Personal token's bucket is independent
    assert (await api.call("GET", "/api/advert/v2/adverts", token="read")).status == 200


async def test_revoked_token_is_401(api) -> None:
    async with api.session.post(api.running.url + "/__sim/revoke", json={"seller": "shop-a", "token": "write"}) as r:
        assert r.status == 200
    assert (await api.call("GET", "/adv/v1/promotion/count", token="read")).status == 200
    r = await api.call("GET", "/adv/v1/promotion/count", token="write")
    assert r.status == 401 and "withdrawn" in r.json()["detail"]
    assert api.running.sim.report()["revoked_sellers"] == ["shop-a"]
