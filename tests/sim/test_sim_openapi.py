"""The simulator against WB's official OpenAPI file (../shared/wb-api/promotion.yaml, July 2026).

Sample valid requests must validate against the spec, and the simulator's responses to them must
validate against the spec's response schemas. Endpoints newer than the file (``POST /api/advert/v2/budget``,
CPC recommendations) are skipped with a reason. Skipped as a whole when the file is absent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "wb-api" / "promotion.yaml"
HOST = "https://advert-api.wildberries.ru"

pytestmark = pytest.mark.skipif(
    not SPEC_PATH.exists(), reason=f"WB's promotion.yaml is not available at {SPEC_PATH} (shared reference files)")


@pytest.fixture(scope="module")
def openapi():
    from openapi_core import Config, OpenAPI

    config = Config(spec_validator_cls=None, extra_media_type_deserializers={"application/problem+json": json.loads})
    return OpenAPI.from_file_path(str(SPEC_PATH), config=config)


@dataclass
class WireRequest:
    """An HTTP request as openapi-core's Request protocol sees it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    body: bytes | None
    token: str
    host_url: str = HOST
    content_type: str = "application/json"
    parameters: Any = field(init=False)

    def __post_init__(self) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self.parameters = RequestParameters(query=ImmutableMultiDict(self.query),
                                            header=Headers({"Authorization": self.token}))
        self.method = self.method.lower()

    @property
    def full_url_pattern(self) -> str:
        return self.host_url + self.path


@dataclass
class WireResponse:
    status_code: int
    content_type: str
    headers: Any
    data: bytes


# (method, url, json body, token kind, expected status, skip reason for the response check)
SAMPLES: list[tuple[str, str, Any, str, int, str | None]] = [
    ("GET", "/adv/v1/promotion/count", None, "read", 200, None),
    ("GET", "/api/advert/v2/adverts?ids=1000001,1000005,1000006", None, "read", 200, None),
    ("GET", "/api/advert/v2/adverts?statuses=9,11&payment_type=cpc", None, "read", 200, None),
    ("GET", "/adv/v3/fullstats?ids=1000001,1000006,1000008&beginDate=2026-10-31&endDate=2026-11-02", None, "read",
     200, None),
    ("GET", "/adv/v3/fullstats?ids=1000001&beginDate=2026-09-01&endDate=2026-11-02", None, "read", 400, None),
    ("GET", "/api/advert/v2/adverts?payment_type=cpa", None, "read", 400, None),
    ("POST", "/api/advert/v1/bids/min", {"advert_id": 1000006, "nm_ids": [5], "payment_type": "cpm",
                                         "placement_types": ["search"]}, "read", 400, None),
    ("PATCH", "/api/advert/v1/bids", {"bids": [
        {"advert_id": 1000001, "nm_bids": [{"nm_id": 211000101, "bid_kopecks": 42000, "placement": "combined"}]},
        {"advert_id": 1000006, "nm_bids": [{"nm_id": 211000601, "bid_kopecks": 40000, "placement": "search"}]},
    ]}, "write", 200, None),
    ("PATCH", "/api/advert/v1/bids", {"bids": [
        {"advert_id": 1000001, "nm_bids": [{"nm_id": 211000101, "bid_kopecks": 3, "placement": "combined"}]},
    ]}, "write", 400, None),
    ("POST", "/api/advert/v1/bids/min", {"advert_id": 1000006, "nm_ids": [211000601, 211000602],
                                         "payment_type": "cpm",
                                         "placement_types": ["combined", "search", "recommendation"]},
     "read", 200, None),
    ("GET", "/api/advert/v0/bids/recommendations?nmId=211000101&advertId=1000001", None, "read", 200, None),
    ("GET", "/api/advert/v0/bids/recommendations?nmId=211000501&advertId=1000005", None, "read", 200,
     "CPC recommendations (2026-08-12) are newer than the July 2026 spec"),
    ("GET", "/api/advert/v1/config", None, "read", 200, None),
    ("GET", "/adv/v0/pause?id=1000004", None, "write", 200, None),
    ("GET", "/adv/v0/pause?id=1000010", None, "write", 422, None),
    ("GET", "/adv/v0/start?id=1000010", None, "write", 200, None),
    ("GET", "/adv/v0/start?id=424242", None, "write", 400, None),
    ("POST", "/adv/v0/normquery/stats", {"from": "2026-10-31", "to": "2026-11-02", "items": [
        {"advert_id": 1000006, "nm_id": 211000601}, {"advert_id": 1000008, "nm_id": 211000801}]}, "read", 200, None),
    ("POST", "/adv/v1/normquery/stats", {"from": "2026-10-31", "to": "2026-11-02", "items": [
        {"advertId": 1000006, "nmId": 211000601}, {"advertId": 1000008, "nmId": 211000801}]}, "read", 200, None),
    ("POST", "/adv/v0/normquery/get-bids", {"items": [{"advert_id": 1000006, "nm_id": 211000601}]}, "read", 200, None),
    ("POST", "/api/advert/v1/normquery/bids", {"bids": [
        {"advertId": 1000006, "nmId": 211000601, "normQuery": "кроссовки мужские", "bidMinorUnits": 45000},
        {"advertId": 1000006, "nmId": 211000601, "normQuery": "кроссовки беговые", "bidMinorUnits": 5},
    ]}, "write", 200, None),
    ("GET", "/adv/v1/balance", None, "read", 200, None),
    ("GET", "/adv/v1/upd?from=2026-10-30&to=2026-11-02", None, "read", 200, None),
    ("GET", "/adv/v1/promotion/count", None, "garbled", 401, None),
    ("POST", "/api/advert/v2/budget", {"advertIds": [1000001, 1000003]}, "read", 200,
     "POST /api/advert/v2/budget (2026-09-16) is newer than the July 2026 spec"),
]


def _wire(method: str, url: str, body: Any, token: str) -> WireRequest:
    parts = urlsplit(url)
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    return WireRequest(method, parts.path, parse_qsl(parts.query), data, token)


@pytest.mark.parametrize(("method", "url", "body", "token", "status", "skip"), SAMPLES,
                         ids=[f"{s[0]} {s[1].split('?')[0]} {s[4]}" for s in SAMPLES])
async def test_against_spec(openapi, api, clock, method, url, body, token, status, skip) -> None:
    from openapi_core.exceptions import OpenAPIError

    tok = {"read": api.read, "write": api.write, "garbled": "garbled"}[token]
    clock.advance(200)  # past a stats sync and away from the previous sample's buckets
    wire = _wire(method, url, body, tok)
    spec_path = wire.path
    if skip is None or "CPC" in skip:
        try:
            openapi.validate_request(wire)
        except OpenAPIError:
            # a request the spec itself rejects must be one the simulator rejects too
            assert status == 400, f"sample {method} {url} is not valid per WB's spec"
    r = await api.call(method, url, token=tok, json=body) if body is not None else await api.call(method, url, token=tok)
    assert r.status == status, r.text
    if skip:
        pytest.skip(skip)
    resp = WireResponse(r.status, r.content_type, r.headers, r.text.encode())
    try:
        openapi.validate_response(wire, resp)
    except OpenAPIError as exc:  # pragma: no cover - the message is what matters
        raise AssertionError(f"{method} {spec_path} {r.status}: {exc!r} {getattr(exc, '__cause__', '')}\n{r.text[:500]}") from exc


def test_the_harness_catches_a_broken_response(openapi) -> None:
    """A response missing a required field must fail, or the checks above prove nothing."""
    from openapi_core.exceptions import OpenAPIError

    wire = _wire("GET", "/api/advert/v2/adverts?ids=1", None, "token")
    broken = {"adverts": [{"id": 1, "bid_type": "manual", "status": 9, "nm_settings": None,
                           "settings": {"name": "x", "payment_type": "cpm",
                                        "placements": {"search": True, "recommendations": False}},
                           "timestamps": {"created": "2026-01-01T00:00:00Z", "updated": "2026-01-01T00:00:00Z",
                                          "started": None, "deleted": "2100-01-01T00:00:00Z"}}]}
    resp = WireResponse(200, "application/json", {}, json.dumps(broken).encode())
    with pytest.raises(OpenAPIError):
        openapi.validate_response(wire, resp)
    broken["adverts"][0]["restrictions"] = {"can_change_nms": True}
    openapi.validate_response(wire, WireResponse(200, "application/json", {}, json.dumps(broken).encode()))
