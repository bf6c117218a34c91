"""What every handler shares: the request context and strict parameter and body validation (unknown or
repeated parameters, malformed ids and dates, pydantic errors as WB-shaped 400s)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import ValidationError

from bidder.sim import schemas as S
from bidder.sim.market import MSK
from bidder.sim.replies import ApiError, bad_request, error_json, error_text, fullstats_error, pydantic_detail
from bidder.sim.tokens import Claims

if TYPE_CHECKING:
    from bidder.sim.app import SimSeller, Simulator


@dataclass
class Ctx:
    sim: Simulator
    request: web.Request
    seller: SimSeller
    token: Claims
    now: datetime
    body: Any = None


def iso(t: datetime) -> str:
    return t.astimezone(MSK).isoformat()


def query(ctx: Ctx, allowed: set[str], kind: str = "response400") -> dict[str, str]:
    q = ctx.request.query
    out: dict[str, str] = {}
    for key in q:
        if key not in allowed:
            raise param_error(kind, f"unknown parameter {key}")
        values = q.getall(key)
        if len(values) > 1:
            raise param_error(kind, f"parameter {key} is repeated")
        out[key] = values[0]
    return out


def param_error(kind: str, detail: str, field_name: str | None = None) -> ApiError:
    if kind == "error":
        return error_json(detail)
    if kind == "text":
        return error_text(detail)
    if kind == "fullstats":
        return fullstats_error(detail, field_name)
    return bad_request(detail)


def int_list(value: str, name: str, kind: str, max_len: int | None = None) -> list[int]:
    try:
        items = [int(x) for x in value.split(",")] if value != "" else []
    except ValueError:
        raise param_error(kind, f"invalid {name} value") from None
    if any(str(x) != part.strip().lstrip("+") for x, part in zip(items, value.split(","), strict=False)):
        raise param_error(kind, f"invalid {name} value")
    if max_len is not None and len(items) > max_len:
        raise param_error(kind, f"too many {name}: max {max_len}")
    return items


def body(ctx: Ctx, model: type[S.Strict], kind: str = "response400") -> Any:
    if ctx.body is None:
        raise param_error(kind, "empty request body")
    try:
        return model.model_validate(ctx.body)
    except ValidationError as exc:
        if kind == "response400":
            raise bad_request(pydantic_detail(exc), title="invalid request body") from None
        raise param_error(kind, pydantic_detail(exc)) from None


def period(begin_s: str, end_s: str, kind: str, max_days: int, msg: str) -> tuple[date, date]:
    try:
        begin, end = S.parse_date(begin_s), S.parse_date(end_s)
    except ValueError:
        raise param_error(kind, "invalid date format, expected YYYY-MM-DD", "begin and end") from None
    if begin > end:
        raise param_error(kind, "begin date is after end date", "begin and end")
    if (end - begin).days + 1 > max_days:
        raise param_error(kind, msg, "begin and end")
    return begin, end
