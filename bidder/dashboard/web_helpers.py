"""Request and response helpers of the dashboard: security headers, safe JSON and CSV, query parsing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

_STATIC = {"uplot.iife.min.js", "uplot.min.css", "dashboard.js", "dashboard.css"}


def _status_keys() -> set[str]:
    return {f"status.{s}" for s in (9, 11, 4, 7, 8, -1)}


def _security_headers(resp: web.StreamResponse) -> None:
    resp.headers.setdefault("Cache-Control", "no-store")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


def _json_script(value: Any) -> str:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' that could end the element."""
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _csv_safe(text: str | None) -> str:
    """No spreadsheet formula injection from a reason text."""
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _int(value: Any, default: Any, lo: int | None = None) -> Any:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    if lo is not None and n < lo:
        return lo
    return n


def _parse_day(value: str | None, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        d = date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None
    if end:
        d += timedelta(days=1)
    return datetime.combine(d, time(0), UTC)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "Europe/Moscow")
    except Exception:
        return ZoneInfo("UTC")
