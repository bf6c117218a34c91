from __future__ import annotations

import pytest


def patch_body(advert_id=1000001, nm_id=211000101, bid=40000, placement="combined", **extra):
    nb = {"nm_id": nm_id, "bid_kopecks": bid, "placement": placement, **extra}
    return {"bids": [{"advert_id": advert_id, "nm_bids": [nb]}]}


def assert_response400(r, detail_part: str) -> None:
    assert r.status == 400, r.text
    assert r.content_type == "application/json"
    body = r.json()
    assert set(body) == {"detail", "origin", "request_id", "status", "title"}
    assert body["status"] == 400 and body["origin"] == "camp-api-public-cache"
    assert detail_part in body["detail"], body["detail"]


@pytest.mark.parametrize(("body", "detail"), [
    (patch_body(bid=5), "wrong bid value: 5; min: "),
    (patch_body(bid=2_000_000), "max:"),
    (patch_body(bid=40050), "step: 100"),
    (patch_body(placement="search"), "wrong placement search"),
    (patch_body(advert_id=1000006, nm_id=211000601, placement="combined"), "wrong placement combined"),
    (patch_body(advert_id=1000008, nm_id=211000801, bid=2000, placement="recommendations"), "disabled"),
    (patch_body(nm_id=999), "nm 999 not found"),
    (patch_body(advert_id=42), "advert 42 not found"),
    (patch_body(advert_id=1000012, nm_id=211001201), "wrong advert status: 7"),
    (patch_body(bid="40000"), ".bids[0].nm_bids[0].bid_kopecks"),
    (patch_body(bid=400.0), ".bids[0].nm_bids[0].bid_kopecks"),
    (patch_body(extra_field=1), "extra_field"),
    (patch_body(placement="recommendation"), "placement"),
    ({"bids": []}, ".bids"),
    ({"bids": [{"advert_id": 1000001, "nm_bids": [{"nm_id": 211000101, "bid_kopecks": 40000}]}]}, "placement"),
    ({"bids": [{"advert_id": 1000001 + i, "nm_bids": [{"nm_id": 1, "bid_kopecks": 1, "placement": "combined"}]}
               for i in range(51)]}, ".bids"),
    ({"bids": [{"advert_id": 1000001, "nm_bids": [
        {"nm_id": i, "bid_kopecks": 40000, "placement": "combined"} for i in range(51)]}]}, "nm_bids"),
    ({"bids": [patch_body()["bids"][0], patch_body()["bids"][0]]}, "is not unique"),
])
async def test_bids_patch_rejections(api, clock, body, detail) -> None:
    r = await api.call("PATCH", "/api/advert/v1/bids", token="write", json=body)
    assert_response400(r, detail)
    clock.advance(60)
    rep = api.running.sim.report()
    assert rep["bid_changes"] == []
    assert rep["rejected"][-1]["method"] == "PATCH /api/advert/v1/bids"


async def test_bids_patch_cpc_and_manual_accepted(api) -> None:
    body = {"bids": [
        {"advert_id": 1000005, "nm_bids": [{"nm_id": 211000501, "bid_kopecks": 2000, "placement": "combined"}]},
        {"advert_id": 1000006, "nm_bids": [{"nm_id": 211000601, "bid_kopecks": 40000, "placement": "search"},
                                          {"nm_id": 211000601, "bid_kopecks": 30000, "placement": "recommendations"}]},
        {"advert_id": 1000011, "nm_bids": [{"nm_id": 211001101, "bid_kopecks": 20000, "placement": "search"}]},
    ]}
    r = await api.call("PATCH", "/api/advert/v1/bids", token="write", json=body)
    assert r.status == 200, r.text
    assert r.json() == {**body, "currency": "RUB"}


async def test_invalid_json_body(api) -> None:
    r = await api.call("PATCH", "/api/advert/v1/bids", token="write", data=b"{not json",
                       headers={"Content-Type": "application/json"})
    assert_response400(r, "deserialize")


@pytest.mark.parametrize(("body", "detail"), [
    ({"advert_id": 1000001, "nm_ids": [211000101], "payment_type": "cpm", "placement_types": ["recommendations"]},
     "placement_types"),
    ({"advert_id": 1000001, "nm_ids": [], "payment_type": "cpm", "placement_types": ["combined"]}, "nm_ids"),
    ({"advert_id": 1000001, "nm_ids": list(range(101)), "payment_type": "cpm", "placement_types": ["combined"]},
     "nm_ids"),
    ({"advert_id": 1000001, "nm_ids": [211000101], "payment_type": "cpx", "placement_types": ["combined"]},
     "payment_type"),
    ({"advert_id": 1000001, "nm_ids": [211000101], "payment_type": "cpm"}, "placement_types"),
    ({"advert_id": 1000001, "nm_ids": [5], "payment_type": "cpm", "placement_types": ["combined"]},
     "some nms are not belong to advert"),
    ({"advert_id": 1000001, "nm_ids": [211000101], "payment_type": "cpc", "placement_types": ["combined"]},
     "payment type"),
])
async def test_bids_min_rejections(api, body, detail) -> None:
    r = await api.call("POST", "/api/advert/v1/bids/min", json=body)
    assert_response400(r, detail)


async def test_bids_min_singular_recommendation(api) -> None:
    body = {"advert_id": 1000006, "nm_ids": [211000601, 211000602], "payment_type": "cpm",
            "placement_types": ["search", "recommendation"]}
    r = await api.call("POST", "/api/advert/v1/bids/min", json=body)
    assert r.status == 200
    bids = r.json()["bids"]
    assert [b["nm_id"] for b in bids] == [211000601, 211000602]
    assert {x["type"] for x in bids[0]["bids"]} == {"search", "recommendation"}
    assert all(x["currency"] == "RUB" and x["value"] >= 10000 for x in bids[0]["bids"])


@pytest.mark.parametrize(("query", "detail"), [
    ("ids=" + ",".join(str(1000001 + i) for i in range(51)), "too many ids"),
    ("ids=abc", "invalid ids"),
    ("statuses=5", "invalid statuses"),
    ("payment_type=cpa", "invalid payment_type"),
    ("foo=1", "unknown parameter foo"),
])
async def test_adverts_rejections(api, query, detail) -> None:
    assert_response400(await api.call("GET", "/api/advert/v2/adverts?" + query), detail)


async def test_adverts_filters(api) -> None:
    r = await api.call("GET", "/api/advert/v2/adverts?statuses=11&payment_type=cpm")
    assert sorted(a["id"] for a in r.json()["adverts"]) == [1000010, 1000011]
    r = await api.call("GET", "/api/advert/v2/adverts?ids=1000005,99")
    assert [a["id"] for a in r.json()["adverts"]] == [1000005]


@pytest.mark.parametrize(("query", "detail"), [
    ("ids=1000001&beginDate=2026-10-01&endDate=2026-11-02", "max date range 31 days"),
    ("ids=1000001&beginDate=2026-11-02&endDate=2026-11-01", "after end"),
    ("ids=1000001&beginDate=02.11.2026&endDate=2026-11-02", "YYYY-MM-DD"),
    ("beginDate=2026-11-01&endDate=2026-11-02", "ids"),
    ("ids=" + ",".join(str(1000001 + i) for i in range(51)) + "&beginDate=2026-11-01&endDate=2026-11-02", "ids"),
    ("ids=1000013&beginDate=2026-11-01&endDate=2026-11-02", "invalid ids"),
])
async def test_fullstats_rejections(api, clock, query, detail) -> None:
    r = await api.call("GET", "/adv/v3/fullstats?" + query)
    assert r.status == 400
    body = r.json()
    texts = [body.get("detail", "")] + [e["detail"] for e in body.get("errors", [])]
    assert any(detail in t for t in texts), body
    assert {"title", "request_id", "status", "origin"} <= set(body)


async def test_fullstats_only_for_7_9_11(api) -> None:
    r = await api.call("GET", "/adv/v3/fullstats?ids=1000012,1000013,1000001&beginDate=2026-11-01&endDate=2026-11-02")
    assert r.status == 200
    assert [x["advertId"] for x in r.json()] == [1000012, 1000001]


async def test_normquery_range_and_batch(api, clock) -> None:
    body = {"from": "2026-10-01", "to": "2026-11-01", "items": [{"advert_id": 1000006, "nm_id": 211000601}]}
    assert_response400(await api.call("POST", "/adv/v0/normquery/stats", json=body), "30 days")
    body = {"from": "2026-10-31", "to": "2026-11-01", "items": [{"advert_id": 1, "nm_id": i} for i in range(101)]}
    assert_response400(await api.call("POST", "/adv/v0/normquery/stats", json=body), ".items")
    body = {"from": "2026-10-31", "to": "2026-11-01", "items": [{"advert_id": 1000006, "nm_id": 211000601}]}
    assert_response400(await api.call("POST", "/adv/v1/normquery/stats", json=body), "advertId")


async def test_cluster_bids_partial_success(api) -> None:
    body = {"bids": [
        {"advertId": 1000006, "nmId": 211000601, "normQuery": "кроссовки мужские", "bidMinorUnits": 45000},
        {"advertId": 1000006, "nmId": 211000601, "normQuery": "кроссовки беговые", "bidMinorUnits": 5},
        {"advertId": 1000006, "nmId": 211000601, "normQuery": "кроссовки беговые", "bidMinorUnits": 45050},
        {"advertId": 1000006, "nmId": 211000601, "normQuery": "нет такого", "bidMinorUnits": 45000},
        {"advertId": 1000001, "nmId": 211000101, "normQuery": "платье женское", "bidMinorUnits": 45000},
        {"advertId": 77, "nmId": 1, "normQuery": "x", "bidMinorUnits": 45000},
    ]}
    r = await api.call("POST", "/api/advert/v1/normquery/bids", token="write", json=body)
    assert r.status == 200
    out = r.json()
    assert [s["normQuery"] for s in out["success"]] == ["кроссовки мужские"]
    reasons = [f["reason"] for f in out["failed"]]
    assert len(reasons) == 5
    assert reasons[0].startswith("wrong bid value: 5; min:") and "step" in reasons[1]


async def test_budget_v2(api) -> None:
    r = await api.call("POST", "/api/advert/v2/budget", json={"advertIds": [1000001, 1000012]})
    assert r.status == 200
    assert r.json() == {"adverts": [{"advertId": 1000001, "currency": "RUB", "total": 50000}]}
    r = await api.call("POST", "/api/advert/v2/budget", json={"advertIds": [1000001, 5]})
    assert r.status == 400 and r.content_type == "text/plain"
    assert r.text == "campaign does not belong to the seller"
    r = await api.call("POST", "/api/advert/v2/budget", json={"advertIds": list(range(51))})
    assert r.status == 400


async def test_recommendations_text_errors(api) -> None:
    r = await api.call("GET", "/api/advert/v0/bids/recommendations?advertId=1000001")
    assert r.status == 400 and r.content_type == "text/plain"
    r = await api.call("GET", "/api/advert/v0/bids/recommendations?advertId=1000001&nmId=abc")
    assert r.status == 400 and r.content_type == "text/plain"


async def test_upd_range(api) -> None:
    r = await api.call("GET", "/adv/v1/upd?from=2026-09-01&to=2026-11-01")
    assert r.status == 400 and r.content_type == "text/plain"
    r = await api.call("GET", "/adv/v1/upd?from=2026-10-30&to=2026-11-01")
    assert r.status == 200 and r.json() and all(isinstance(x["updSum"], int) for x in r.json())


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/adv/v0/auction/adverts"), ("POST", "/adv/v1/promotion/adverts"), ("GET", "/adv/v0/config"),
    ("POST", "/adv/v0/bids/min"), ("PATCH", "/adv/v0/bids"), ("PATCH", "/adv/v0/auction/bids"),
    ("POST", "/adv/v2/fullstats"), ("GET", "/adv/v1/stat/words"), ("GET", "/adv/v2/adverts"),
])
async def test_removed_paths_are_404(api, method, path) -> None:
    r = await api.call(method, path)
    assert r.status == 404 and r.json()["title"] == "path not found"


async def test_wrong_method_is_405(api) -> None:
    assert (await api.call("GET", "/api/advert/v1/bids")).status == 405
