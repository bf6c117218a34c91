"""The simulator's error replies, shaped like WB's (REFERENCE.md §5): ``response400`` JSON, the
fullstats error, ``{"error": ...}``, text/plain, and ``application/problem+json`` for 401/403/404/429.
Raise an :class:`ApiError`; the pipeline (:meth:`bidder.sim.app.Simulator.handle`) turns it into the reply."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

ORIGIN = "camp-api-public-cache"
AUTH_ORIGIN = "s2s-api-auth-catalog"


class ApiError(Exception):
    def __init__(self, status: int, body: Any, content_type: str = "application/json", reason: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.body = body
        self.content_type = content_type
        self.reason = reason or (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False))


def _rid() -> str:
    return uuid.uuid4().hex


def bad_request(detail: str, title: str = "invalid payload", status: int = 400) -> ApiError:
    body = {"detail": detail, "origin": ORIGIN, "request_id": _rid(), "status": status, "title": title}
    return ApiError(status, body, reason=detail)


def error_json(message: str, status: int = 400) -> ApiError:
    return ApiError(status, {"error": message}, reason=message)


def error_text(message: str, status: int = 400) -> ApiError:
    return ApiError(status, message, "text/plain", reason=message)


def fullstats_error(detail: str, field_name: str | None = None) -> ApiError:
    body: dict[str, Any] = {"origin": ORIGIN, "request_id": _rid(), "status": 400, "title": "invalid payload",
                            "type": "Bad Request"}
    if field_name:
        body["errors"] = [{"detail": detail, "field": field_name}]
    else:
        body["detail"] = detail
    return ApiError(400, body, reason=detail)


def problem(status: int, title: str, detail: str, now: datetime) -> ApiError:
    texts = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests"}
    body = {
        "title": title, "detail": detail, "code": f"sim-{uuid.uuid4().hex[:12]}", "requestId": _rid(),
        "origin": AUTH_ORIGIN, "status": status, "statusText": texts.get(status, ""),
        "timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return ApiError(status, body, "application/problem+json", reason=detail)


def pydantic_detail(exc: ValidationError) -> str:
    err = exc.errors()[0]
    path = ""
    for part in err["loc"]:
        path += f"[{part}]" if isinstance(part, int) else f".{'from' if part == 'from_' else part}"
    return f"{path or '.'}: {err['msg']}"
