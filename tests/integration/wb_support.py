"""Test support for the WB client tests: capture every request a session sends (aiohttp tracing, not a
mock) and validate it against WB's official promotion.yaml with openapi-core."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp

SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "wb-api" / "promotion.yaml"
SPEC_HOST = "https://advert-api.wildberries.ru"
# Endpoints the client uses that are newer than the saved spec snapshot (2026-07-22, SOURCE.md).
NEWER_THAN_SPEC: dict[tuple[str, str], str] = {
    ("GET", "/api/advert/v0/daily-limits"): "added in October 2026 (REFERENCE-2026-10 §3.11); checked by test_daily_limits",
    ("PUT", "/api/advert/v0/daily-limits"): "added in October 2026 (REFERENCE-2026-10 §3.11); checked by test_daily_limits",
}


@dataclass
class Sent:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    at: float | None = None  # clock.monotonic() when sent, if the recorder has a clock


@dataclass
class Recorder:
    sent: list[Sent] = field(default_factory=list)
    clock: Any = None

    def trace_config(self) -> aiohttp.TraceConfig:
        tc = aiohttp.TraceConfig()

        async def start(session, ctx, params):
            u = urlsplit(str(params.url))
            ctx.rec = Sent(params.method.upper(), u.path, dict(parse_qsl(u.query)), dict(params.headers))
            if self.clock is not None:
                ctx.rec.at = self.clock.monotonic()
            self.sent.append(ctx.rec)

        async def chunk(session, ctx, params):
            ctx.rec.body += params.chunk

        tc.on_request_start.append(start)
        tc.on_request_chunk_sent.append(chunk)
        return tc


@lru_cache(maxsize=1)
def openapi():
    from openapi_core import OpenAPI

    return OpenAPI.from_file_path(str(SPEC))


def validate(sent: Sent) -> str | None:
    """None when the request fits promotion.yaml; else the reason. Raises on a violation."""
    from openapi_core.testing import MockRequest

    if not SPEC.exists():
        return f"{SPEC} is absent: the official spec check is skipped (the product never ships it)"
    key = (sent.method, sent.path)
    if key in NEWER_THAN_SPEC:
        return NEWER_THAN_SPEC[key]
    body = sent.body or None
    if body is not None:
        json.loads(body)  # the client only sends JSON bodies
    req = MockRequest(
        SPEC_HOST,
        sent.method.lower(),
        sent.path,
        args=sent.query,
        headers={"Authorization": sent.headers.get("Authorization", "")},
        data=body,
        content_type="application/json" if body is not None else None,
    )
    openapi().validate_request(req)
    return None
