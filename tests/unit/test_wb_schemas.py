"""Defensive parsing of WB replies and the redaction helper (pure; no HTTP)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bidder.redact import RedactingFilter, redact, register_secret
from bidder.wb import schemas
from bidder.wb.client import error_detail
from bidder.wb.tokens import mint_token


def test_null_lists_are_empty():
    assert schemas.CountResponse.model_validate({"adverts": None, "all": 0}).to_domain() == []
    a = schemas.AdvertsResponse.model_validate(
        {"adverts": [{"id": 1, "status": 9, "bid_type": "manual", "currency": "RUB", "nm_settings": None,
                      "settings": {"name": "x", "payment_type": "cpm", "placements": {"search": True}}}]}
    )
    camp = a.adverts[0].to_domain()
    assert camp.items == () and camp.placements == frozenset({"search"})
    assert schemas.FullStatsResponse.parse(None).items == []
    assert schemas.NQGetBidsResponse.model_validate({"bids": None}).to_domain() == []


def test_unknown_enum_values_are_kept_and_logged_once(caplog):
    schemas._seen_unknown.clear()  # other tests may have met the same values
    caplog.set_level(logging.WARNING)
    raw = {"id": 7, "status": 42, "bid_type": "auto", "currency": "UZS",
           "settings": {"name": "n", "payment_type": "cpa", "placements": None}}
    for _ in range(3):
        camp = schemas.AdvertV2.model_validate(raw).to_domain()
    assert (camp.bid_type, camp.payment_type, camp.status, camp.currency) == ("auto", "cpa", 42, "UZS")
    assert sum("'auto'" in r.getMessage() for r in caplog.records) == 1


def test_fullstats_sums_apps_per_day_and_merges_positions():
    data = [{
        "advertId": 5, "currency": "RUB",
        "days": [{"date": "2026-11-01T00:00:00Z", "apps": [
            {"appType": 1, "nms": [{"nmId": 1, "views": 100, "clicks": 5, "atbs": 1, "orders": 1, "sum": 10.1, "sum_price": 999.9}]},
            {"appType": 32, "nms": [{"nmId": 1, "views": 50, "clicks": 2, "atbs": 0, "orders": 0, "sum": 0.2, "sum_price": 0}]},
            {"appType": 64, "nms": None},
        ]}],
        "boosterStats": [{"date": "2026-11-01", "nm": 1, "avg_position": 7}],
    }]
    (row,) = schemas.FullStatsResponse.parse(data).items[0].to_domain()
    assert row.day == date(2026, 11, 1) and row.nm_id == 1
    assert (row.views, row.clicks, row.atbs, row.orders) == (150, 7, 1, 1)
    assert row.spend == Decimal("10.3") and row.revenue == Decimal("999.9")
    assert row.avg_position == 7


def test_min_bids_singular_placement_maps_to_plural():
    r = schemas.MinBidsResponse.model_validate(
        {"bids": [{"nm_id": 1, "bids": [{"type": "recommendation", "value": 15000}, {"type": "search", "value": 20000}]}]}
    )
    assert r.to_domain() == {(1, "recommendations"): 15000, (1, "search"): 20000}


def test_recommendations_cpm_and_cpc_shapes():
    cpm = schemas.RecommendationsResponse.model_validate({
        "advertId": 1, "nmId": 2, "base": {"competitiveBid": {"bidKopecks": 39500}, "leadersBid": {"bidKopecks": 66900},
                                           "top2": {"bidKopecks": 0}},
        "normQueries": [{"normQuery": "q", "reachMax": {"bidKopecks": 50500, "bidKopecksMin": 49500},
                         "reachMedium": {"bidKopecks": 32000}, "reachMin": {"bidKopecks": 30000}}],
    }).to_domain(1, 2, None)
    assert cpm.payment_type == "cpm" and cpm.top_bid is None and cpm.clusters[0].max_bid == 50500
    cpc = schemas.RecommendationsResponse.model_validate({
        "advertId": 1, "nmId": 2, "paymentType": "cpc",
        "levels": [{"range1To2": {"bidKopecks": 3000}, "range3To10": {"bidKopecks": 2000}, "range11To34": {"bidKopecks": 900}}],
    }).to_domain(1, 2, None)
    assert [(b.first, b.last, b.bid) for b in cpc.bands] == [(1, 2, 3000), (3, 10, 2000), (11, 34, 900)]


def test_error_bodies_json_and_text():
    assert error_detail(b'{"detail":"wrong bid value: 3; min: 150","title":"invalid payload"}') == (
        "wrong bid value: 3; min: 150", None)
    assert error_detail(b'{"errors":[{"detail":"max date range 31 days","field":"begin and end"}],"title":"x"}') == (
        "max date range 31 days", "begin and end")
    assert error_detail(b'{"error":"Invalid Advert: invalid advert"}')[0] == "Invalid Advert: invalid advert"
    assert error_detail("Статус кампании не изменен".encode()) == ("Статус кампании не изменен", None)


def test_redact_removes_registered_secrets_and_jwts(caplog):
    token = mint_token("seller-x")
    other = mint_token("seller-y")
    register_secret(token)
    text = f"Authorization: {token} and {other} and plain"
    cleaned = redact(text)
    assert token not in cleaned and other not in cleaned and "plain" in cleaned
    rec = logging.LogRecord("t", logging.INFO, "f", 1, "tok=%s", (token,), None)
    RedactingFilter().filter(rec)
    assert token not in rec.getMessage()


def test_base_url_for_token_and_settings():
    from pydantic import SecretStr

    from bidder.settings import PROD_ADVERT_URL, SANDBOX_ADVERT_URL, Settings
    from bidder.wb.tokens import read_token

    def base_url_for(token: SecretStr, settings: Settings) -> str:  # what the composition root does
        return settings.advert_url(read_token(token, now=datetime(2026, 11, 2, tzinfo=UTC)).sandbox)

    prod, test = SecretStr(mint_token("s")), SecretStr(mint_token("s", sandbox=True, acc=2))
    assert base_url_for(prod, Settings(wb_advert_url=None)) == PROD_ADVERT_URL
    assert base_url_for(test, Settings(wb_advert_url=None)) == SANDBOX_ADVERT_URL
    assert base_url_for(test, Settings(wb_advert_url="http://127.0.0.1:9/")) == "http://127.0.0.1:9"


async def test_client_token_checks(caplog):
    from datetime import timedelta

    import pytest
    from pydantic import SecretStr

    from bidder.clock import FakeClock
    from bidder.errors import TokenError
    from bidder.wb.client import WBClient
    from bidder.wb.pacing import Pacer
    from bidder.wb.tokens import read_token

    clock = FakeClock(datetime(2026, 11, 2, tzinfo=UTC))
    pacer = Pacer(clock)

    def client(raw: str) -> WBClient:  # the token is checked where the app builds it, then handed over
        return WBClient(None, "http://x", read_token(SecretStr(raw), now=clock.now()), pacer, clock)  # type: ignore[arg-type]

    soon = mint_token("s", read_only=True, expires_at=clock.now() + timedelta(days=5))
    with caplog.at_level(logging.WARNING):
        c = client(soon)
    assert c.seller_id == "s" and not c.can_write
    assert any("expires in 5 days" in r.getMessage() for r in caplog.records)
    assert soon not in repr(c) and soon not in caplog.text
    with pytest.raises(TokenError, match="expired"):
        client(mint_token("s", expires_at=clock.now() - timedelta(days=1)))
    with pytest.raises(TokenError, match="Base"):
        client(mint_token("s", acc=1))
    with pytest.raises(TokenError, match="not a valid JWT") as exc:
        client("not-a-token-at-all")
    assert "not-a-token-at-all" not in str(exc.value)


def test_fullstats_from_bytes_matches_the_decoded_path():
    import json

    from pydantic import ValidationError

    data = [{
        "advertId": 5, "currency": "RUB",
        "days": [{"date": "2026-11-01T00:00:00Z", "apps": [
            {"appType": 1, "nms": [{"nmId": 1, "views": 100, "clicks": 5, "atbs": None, "orders": 1, "sum": 10.1,
                                    "sum_price": 999.9}, {"nmId": 2, "sum": None}]},
            {"appType": 32, "nms": [{"nmId": 1, "views": 50, "clicks": 2, "sum": 0.2, "sum_price": 0}]},
            {"appType": 64, "nms": None},
        ]}, {"date": "2026-11-02", "apps": None}],
        "boosterStats": None,
    }]
    body = json.dumps(data).encode()
    fast = schemas.FullStatsResponse.parse_json(body).items[0].to_domain()
    assert fast == schemas.FullStatsResponse.parse(data).items[0].to_domain()
    assert fast[0].spend == Decimal("10.3") and fast[0].views == 150
    # a null or absent money field is missing, not zero (issue 14, defect 4): that row is no evidence
    assert fast[1].spend is None and fast[1].revenue is None and not fast[1].complete
    assert schemas.FullStatsResponse.parse_json(b"null").items == []
    assert schemas.FullStatsResponse.parse_json(b"  ").items == []
    data[0]["days"][0]["apps"][0]["nms"][0]["sum"] = -3
    with pytest.raises(ValidationError, match=r"sum\s+Input should be greater than or equal to 0"):
        schemas.FullStatsResponse.parse_json(json.dumps(data).encode())
    with pytest.raises(ValidationError, match="Invalid JSON"):
        schemas.FullStatsResponse.parse_json(b'[{"advertId": 5,')
