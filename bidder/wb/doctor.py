"""``bidder doctor``: a read-only check of what WB answers each account's read token.

For every account: the read token's claims and days left; then one paced call to each read endpoint the
daemon uses (through the same client, so the same request shapes and rate limits), never a write:

* which features answer (search-cluster methods may be 403 "feature not available" for a seller);
* the currency and bid steps from WB's promotion config;
* fields in WB's replies the client does not know (drift): every key of a reply is checked against the
  client's wire models (:mod:`bidder.wb.schemas`) and :data:`KNOWN_IGNORED`, the fields the client knows
  of and deliberately does not read;
* deprecated or switched-off paths (:data:`DEPRECATED`) among those the daemon uses.

:func:`run_doctor` returns :class:`AccountReport` values; :func:`exit_code` maps them to 0 (fine), 1
(problems found). The command (``bidder.cli.doctor``) prints a table or ``--json`` and returns 2 when it
cannot run at all.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, timedelta
from typing import Any

import aiohttp
from pydantic import BaseModel, SecretStr

from bidder.clock import Clock
from bidder.errors import AuthFailed, BadRequest, EndpointGone, SchemaDrift, TokenError, WBError
from bidder.wb import schemas
from bidder.wb.client import WBClient
from bidder.wb.pacing import Pacer
from bidder.wb.tokens import decode_token, read_token

COUNT = "GET /adv/v1/promotion/count"
ADVERTS = "GET /api/advert/v2/adverts"
CONFIG = "GET /api/advert/v1/config"
FULLSTATS = "GET /adv/v3/fullstats"
MIN_BIDS = "POST /api/advert/v1/bids/min"
RECOMMENDATIONS = "GET /api/advert/v0/bids/recommendations"
CLUSTER_STATS = "POST /adv/v0/normquery/stats"
CLUSTER_BIDS = "POST /adv/v0/normquery/get-bids"
# the daemon's writes (never called here; listed for the deprecation check)
WRITES = ("PATCH /api/advert/v1/bids", "POST /api/advert/v1/normquery/bids", "GET /adv/v0/start",
          "GET /adv/v0/pause", "GET /adv/v0/stop")
READS = (COUNT, ADVERTS, CONFIG, FULLSTATS, MIN_BIDS, RECOMMENDATIONS, CLUSTER_STATS, CLUSTER_BIDS)

# path -> (switched off on, replacement), REFERENCE.md §1 and WB's release notes
DEPRECATED: dict[str, tuple[date, str]] = {
    "GET /adv/v1/budget": (date(2026, 11, 16), "POST /api/advert/v2/budget"),
    "POST /adv/v1/promotion/adverts": (date(2026, 2, 2), "GET /api/advert/v2/adverts"),
    "GET /adv/v0/config": (date(2026, 2, 2), "GET /api/advert/v1/config"),
    "POST /adv/v0/bids/min": (date(2026, 2, 2), "POST /api/advert/v1/bids/min"),
    "PATCH /adv/v0/bids": (date(2026, 2, 2), "PATCH /api/advert/v1/bids"),
    "POST /adv/v2/fullstats": (date(2026, 2, 2), "GET /adv/v3/fullstats"),
}

# reply fields the client knows of and does not read (WB's documented replies): not drift
_TOTALS = ("views", "clicks", "ctr", "cpc", "cr", "atbs", "orders", "shks", "canceled", "sum", "sum_price")
KNOWN_IGNORED: dict[str, frozenset[str]] = {
    ADVERTS: frozenset({"adverts[].restrictions"}),
    FULLSTATS: frozenset(
        [f"{level}.{name}" for level in ("[]", "[].days[]", "[].days[].apps[]") for name in _TOTALS]
        + [f"[].days[].apps[].nms[].{name}" for name in ("canceled", "cpc", "cr", "ctr", "name", "shks")]
    ),
}

RESPONSE_MODELS: dict[str, Any] = {
    COUNT: schemas.CountResponse,
    ADVERTS: schemas.AdvertsResponse,
    CONFIG: schemas.ConfigResponse,
    FULLSTATS: list[schemas.FullStatsItem],
    MIN_BIDS: schemas.MinBidsResponse,
    RECOMMENDATIONS: schemas.RecommendationsResponse,
    CLUSTER_STATS: schemas.NQStatsResponse,
    CLUSTER_BIDS: schemas.NQGetBidsResponse,
}

OK = "ok"
FEATURE_OFF = "feature not available"
SKIPPED = "skipped"


@dataclass
class EndpointCheck:
    endpoint: str
    status: str  # ok | feature not available | unauthorized | forbidden | gone | drift | error | skipped
    detail: str = ""
    unknown_fields: list[str] = field(default_factory=list)

    @property
    def problem(self) -> bool:
        return self.status not in (OK, SKIPPED, FEATURE_OFF) or bool(self.unknown_fields)


@dataclass
class AccountReport:
    account: str
    token: dict[str, Any] = field(default_factory=dict)
    currency: str | None = None
    steps: dict[str, int] = field(default_factory=dict)
    endpoints: list[EndpointCheck] = field(default_factory=list)
    deprecated: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = not self.problems
        return out


def exit_code(reports: Sequence[AccountReport]) -> int:
    return 1 if any(r.problems for r in reports) else 0


def as_json(reports: Sequence[AccountReport]) -> str:
    return json.dumps({"ok": exit_code(reports) == 0, "accounts": [r.as_dict() for r in reports]},
                      ensure_ascii=False, default=str)


# ---------------------------------------------------------------------------------------------- drift


def unknown_fields(model: Any, data: Any, path: str = "") -> list[str]:
    """Keys of ``data`` that ``model`` (a pydantic model, or a list/optional/union of them) does not
    declare, as dotted paths (``[]`` for list elements)."""
    model = _unwrap(model)
    origin = typing.get_origin(model)
    if origin in (list, tuple, Sequence):
        args = typing.get_args(model)
        if not args or not isinstance(data, list):
            return []
        out: list[str] = []
        for item in data:
            for f in unknown_fields(args[0], item, path + "[]"):
                if f not in out:
                    out.append(f)
        return out
    if origin in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(model) if m is not type(None)]
        found = [set(unknown_fields(m, data, path)) for m in members]
        return sorted(set.intersection(*found)) if found else []
    if isinstance(model, type) and issubclass(model, BaseModel) and isinstance(data, dict):
        fields_by_key = {}
        for name, info in model.model_fields.items():
            fields_by_key[info.alias or name] = info.annotation
            fields_by_key[name] = info.annotation
        out = []
        for key, value in data.items():
            where = f"{path}.{key}" if path else key
            if key not in fields_by_key:
                out.append(where)
            elif isinstance(value, dict | list):
                out.extend(unknown_fields(fields_by_key[key], value, where))
        return out
    return []


def _unwrap(model: Any) -> Any:
    while typing.get_origin(model) is typing.Annotated:
        model = typing.get_args(model)[0]
    return model


# ---------------------------------------------------------------------------------------------- checks


class _Recording:
    """Keeps the raw body of the client's last reply (the client's own request, shapes and pacing)."""

    def __init__(self, client: WBClient) -> None:
        self.last: bytes | None = None
        original = client._request

        async def request(*args: Any, **kwargs: Any):
            accept = kwargs.get("accept")
            if accept is None:  # the raw reply comes back
                resp = await original(*args, **kwargs)
                self.last = resp.body
                return resp

            def recording(resp: Any) -> Any:  # reads parse the 2xx reply inside the client's retry loop
                self.last = resp.body
                return accept(resp)

            return await original(*args, **{**kwargs, "accept": recording})

        client._request = request  # type: ignore[method-assign]


async def _probe(key: str, rec: _Recording, call: Callable[[], Awaitable[Any]]) -> tuple[EndpointCheck, Any]:
    rec.last = None
    try:
        result = await call()
    except AuthFailed as exc:
        detail = str(exc)
        if exc.status == 403 and "not available" in detail:
            return EndpointCheck(key, FEATURE_OFF, _short(detail)), None
        return EndpointCheck(key, "unauthorized" if exc.status == 401 else "forbidden", _short(detail)), None
    except EndpointGone as exc:
        return EndpointCheck(key, "gone", _short(str(exc))), None
    except SchemaDrift as exc:
        return EndpointCheck(key, "drift", _short(str(exc))), None
    except BadRequest as exc:
        return EndpointCheck(key, "error", _short(str(exc))), None
    except WBError as exc:
        return EndpointCheck(key, "error", _short(str(exc))), None
    check = EndpointCheck(key, OK)
    if rec.last:
        try:
            data = json.loads(rec.last)
        except ValueError:
            data = None
        ignored = KNOWN_IGNORED.get(key, frozenset())
        check.unknown_fields = [f for f in unknown_fields(RESPONSE_MODELS[key], data) if f not in ignored]
    return check, result


def _short(text: str) -> str:
    return text[:200]


async def check_account(name: str, token: SecretStr, *, http: aiohttp.ClientSession, base_url: str,
                        pacer: Pacer, clock: Clock, needs_clusters: Callable[[int], bool] | None = None
                        ) -> AccountReport:
    """One account: token claims, then one paced call per read endpoint (never a write)."""
    now = clock.now()
    report = AccountReport(account=name)
    used = set(READS) | set(WRITES)
    report.deprecated = sorted(k for k in used if k in DEPRECATED)
    for k in report.deprecated:
        off, instead = DEPRECATED[k]
        report.problems.append(f"{k} is deprecated (switched off {off:%Y-%m-%d}); use {instead}")
    try:
        info = decode_token(token.get_secret_value())
    except TokenError as exc:
        report.problems.append(f"read token: {exc}")
        return report
    left = info.days_left(now)
    report.token = {"type": info.type, "categories": list(info.categories), "read_only": info.read_only,
                    "sandbox": info.sandbox, "seller_id": info.seller_id,
                    "expires_at": info.expires_at.isoformat() if info.expires_at else None,
                    "days_left": None if left is None else round(left, 1)}
    try:
        wb_token = read_token(token, now=now)
    except TokenError as exc:
        report.problems.append(f"read token: {exc}")
        report.endpoints = [EndpointCheck(k, SKIPPED, "the read token cannot be used") for k in READS]
        return report
    if left is not None and left < 14:
        report.warnings.append(f"the read token expires in {left:.0f} days")
    client = WBClient(http, base_url, wb_token, pacer, clock, attempts=1)
    rec = _Recording(client)
    checks: dict[str, EndpointCheck] = {}

    def skip(key: str, why: str) -> None:
        checks[key] = EndpointCheck(key, SKIPPED, why)

    checks[COUNT], refs = await _probe(COUNT, rec, client.count)
    refs = refs or []
    live = [r.advert_id for r in refs if r.status in (4, 9, 11)]
    campaigns = []
    if live:
        checks[ADVERTS], campaigns = await _probe(ADVERTS, rec, lambda: client.campaigns(live[:50]))
        campaigns = campaigns or []
    else:
        skip(ADVERTS, "no live campaign to read")
    checks[CONFIG], cfg = await _probe(CONFIG, rec, client.config)
    if cfg is not None:
        report.currency = cfg.currency
        report.steps = {"cpm": cfg.cpm_step, "cpc": cfg.cpc_step}
    today = now.astimezone(UTC).date()
    with_stats = [r.advert_id for r in refs if r.status in (9, 11)]
    if with_stats:
        checks[FULLSTATS], _ = await _probe(
            FULLSTATS, rec, lambda: client.fullstats(with_stats[:1], today - timedelta(days=1), today))
    else:
        skip(FULLSTATS, "no active or paused campaign")
    item_of = next(((c, c.items[0]) for c in campaigns if c.items and c.bid_placements), None)
    if item_of is None:
        for key in (MIN_BIDS, RECOMMENDATIONS, CLUSTER_STATS, CLUSTER_BIDS):
            skip(key, "no campaign with items")
    else:
        camp, item = item_of
        checks[MIN_BIDS], _ = await _probe(MIN_BIDS, rec, lambda: client.min_bids(
            camp.advert_id, [item.nm_id], camp.payment_type, list(camp.bid_placements)))
        checks[RECOMMENDATIONS], _ = await _probe(
            RECOMMENDATIONS, rec, lambda: client.recommendations(camp.advert_id, item.nm_id))
        pair = [(camp.advert_id, item.nm_id)]
        checks[CLUSTER_STATS], _ = await _probe(
            CLUSTER_STATS, rec, lambda: client.cluster_stats(pair, today - timedelta(days=6), today))
        checks[CLUSTER_BIDS], _ = await _probe(CLUSTER_BIDS, rec, lambda: client.cluster_bids(pair))
    report.endpoints = [checks[k] for k in READS if k in checks]
    for check in report.endpoints:
        if check.unknown_fields:
            report.problems.append(f"{check.endpoint}: fields the client does not know: "
                                   f"{', '.join(check.unknown_fields[:10])}")
        elif check.status == FEATURE_OFF:
            needed = needs_clusters is not None and any(needs_clusters(i) for i in live)
            msg = f"{check.endpoint}: {FEATURE_OFF} for this seller"
            if needed:
                report.problems.append(msg + " (a configured strategy reads search clusters)")
            else:
                report.warnings.append(msg)
        elif check.problem:
            report.problems.append(f"{check.endpoint}: {check.status}: {check.detail}")
    return report


def table_rows(reports: Sequence[AccountReport]) -> list[list[str]]:
    """Rows (account, what, state, detail) for people."""
    rows: list[list[str]] = []
    for r in reports:
        t = r.token
        if t:
            left = "never expires" if t["days_left"] is None else f"{t['days_left']:.0f} days left"
            rows.append([r.account, "read token", t["type"], f"{left}; categories {', '.join(t['categories'])}"
                         f"{'; read-only' if t['read_only'] else ''}{'; sandbox' if t['sandbox'] else ''}"])
        if r.currency or r.steps:
            rows.append([r.account, "currency, steps", r.currency or "?",
                         ", ".join(f"{k} step {v}" for k, v in r.steps.items())])
        for c in r.endpoints:
            detail = c.detail
            if c.unknown_fields:
                detail = "unknown fields: " + ", ".join(c.unknown_fields[:6])
            rows.append([r.account, c.endpoint, "DRIFT" if c.unknown_fields else c.status, detail])
        rows.append([r.account, "deprecated paths in use", ", ".join(r.deprecated) or "none", ""])
        for p in r.problems:
            rows.append([r.account, "PROBLEM", "", p])
        for w in r.warnings:
            rows.append([r.account, "warning", "", w])
    return rows
