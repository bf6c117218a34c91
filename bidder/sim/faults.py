"""Fault injection: settings per seller or for all, changed at run time via ``POST /__sim/faults``.

Settings (all optional; shares are probabilities per request, drawn from a seeded RNG):

* ``error_rate``: share of requests answered with a 5xx (500/502/503/504) instead of being handled;
* ``slow_rate`` / ``slow_seconds``: share of replies delayed by ``slow_seconds`` of real time;
* ``lost_reply_rate``: share of requests that are handled (a write IS applied) and whose reply is then
  delayed by ``slow_seconds``: WB's dangerous case for a client that times out and might send twice;
* ``malformed_rate``: share of 200 JSON replies cut in half (invalid JSON);
* ``missing_field_rate``: share of 200 JSON replies with one field removed from the first object;
* ``revoke_after``: after N authenticated calls by a seller its tokens are revoked (401 from then on);
* ``search_429_rate``: share of public-search calls answered 429 (global setting only);
* ``search_shape``: 0 = the public search answers in today's shape; 1 = a changed shape (products under
  ``data.items``, the ad marker renamed ``adLog``), as when WB ships a new storefront version;
* ``rate_limit_rate`` / ``rate_limit_retry``: share of requests answered 429 (problem+json) with
  ``X-Ratelimit-Retry: rate_limit_retry`` (seconds) and ``X-Ratelimit-Remaining: 0``: a 429 storm;
* ``absurd_rate``: share of 200 JSON replies with absurd values (see :func:`make_absurd`): negative
  spend (``sum``), bids in the millions (``search``/``recommendations``/``bidKopecks``) and dates in
  the future (``date``/``updated``/``created``/``updTime``: year 2099);
* ``extra_field_rate``: share of 200 JSON replies with a field WB does not document (``simNewField``) in
  the top-level object (or the first element of a top-level list): drift a client should notice;
* ``normquery_forbidden_rate``: share of search-cluster (``normquery``) calls answered 403 "norm_query API
  not available", as WB answers a seller without that feature (REFERENCE.md §4).

A bids PATCH that meets a 5xx fault is not applied (the fault happens before the handler).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(slots=True)
class FaultSettings:
    error_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 1.0
    malformed_rate: float = 0.0
    missing_field_rate: float = 0.0
    revoke_after: int | None = None
    search_429_rate: float = 0.0  # public search only (REFERENCE §6: ~80 % from server IPs)
    rate_limit_rate: float = 0.0
    rate_limit_retry: float = 5.0
    absurd_rate: float = 0.0
    lost_reply_rate: float = 0.0
    search_shape: int = 0  # public search: 0 today's shape, 1 a changed one (drift)
    extra_field_rate: float = 0.0
    normquery_forbidden_rate: float = 0.0

    def update(self, data: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        for key, value in data.items():
            if key not in names:
                raise ValueError(f"unknown fault setting {key!r}; known: {', '.join(sorted(names))}")
            if key == "revoke_after":
                if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                    raise ValueError("revoke_after must be a non-negative integer or null")
            elif not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
            elif key.endswith("_rate") and value > 1:
                raise ValueError(f"{key} must be within 0..1")
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class FaultPlan:
    error_status: int | None = None
    slow: float = 0.0
    malformed: bool = False
    missing_field: bool = False
    rate_limited: bool = False
    absurd: bool = False
    lost_reply: float = 0.0  # seconds to hold the reply back after the request was handled
    rules: list[FaultRule] = field(default_factory=list)  # targeted faults applied to the reply
    extra_field: bool = False
    normquery_forbidden: bool = False


class Faults:
    def __init__(self, seed: int, initial: dict[str, Any] | None = None) -> None:
        self._rng = random.Random(seed * 1_000_003 + 5)
        self.default = FaultSettings()
        if initial:
            self.default.update(initial)
        self.per_seller: dict[str, FaultSettings] = {}

    def settings(self, seller: str | None) -> FaultSettings:
        if seller is not None and seller in self.per_seller:
            return self.per_seller[seller]
        return self.default

    def configure(self, data: dict[str, Any], seller: str | None = None) -> None:
        if seller is None:
            self.default.update(data)
            for s in self.per_seller.values():
                s.update(data)
        else:
            current = self.per_seller.get(seller)
            if current is None:
                current = self.per_seller[seller] = FaultSettings(**self.default.as_dict())
            current.update(data)

    def plan(self, seller: str | None) -> FaultPlan:
        s = self.settings(seller)
        plan = FaultPlan()
        r = self._rng
        if s.rate_limit_rate and r.random() < s.rate_limit_rate:
            plan.rate_limited = True
        if s.absurd_rate and r.random() < s.absurd_rate:
            plan.absurd = True
        if s.error_rate and r.random() < s.error_rate:
            plan.error_status = r.choice((500, 502, 503, 504))
        if s.slow_rate and r.random() < s.slow_rate:
            plan.slow = s.slow_seconds
        if s.lost_reply_rate and r.random() < s.lost_reply_rate:
            plan.lost_reply = s.slow_seconds
        if s.extra_field_rate and r.random() < s.extra_field_rate:
            plan.extra_field = True
        if s.normquery_forbidden_rate and r.random() < s.normquery_forbidden_rate:
            plan.normquery_forbidden = True
        if s.malformed_rate and r.random() < s.malformed_rate:
            plan.malformed = True
        elif s.missing_field_rate and r.random() < s.missing_field_rate:
            plan.missing_field = True
        return plan

    def search_blocked(self) -> bool:
        rate = self.default.search_429_rate
        return bool(rate) and self._rng.random() < rate

    def as_dict(self) -> dict[str, Any]:
        return {"all": self.default.as_dict(), "sellers": {k: v.as_dict() for k, v in self.per_seller.items()}}


EXTRA_FIELD = "simNewField"


def add_one_field(obj: Any) -> bool:
    """Add an undocumented field to the top-level object (or the first object of a top-level list)."""
    if isinstance(obj, list) and obj and isinstance(obj[0], dict):
        obj = obj[0]
    if isinstance(obj, dict):
        obj[EXTRA_FIELD] = 1
        return True
    return False


def drop_one_field(obj: Any) -> bool:
    """Remove one field from the first innermost JSON object (in place). True when something was removed."""
    if isinstance(obj, dict):
        for value in obj.values():
            if isinstance(value, dict | list) and drop_one_field(value):
                return True
        if obj:
            del obj[next(iter(obj))]
            return True
    elif isinstance(obj, list):
        for value in obj:
            if drop_one_field(value):
                return True
    return False


ABSURD_BID = 500_000_000  # kopecks: 5 million rubles
_BID_KEYS = {"search", "recommendations", "bidKopecks", "bid"}
_DATE_KEYS = {"date", "updated", "created", "updTime", "started"}


def make_absurd(obj: Any) -> int:
    """Absurd values in place: spend (``sum``) negative, bids in the millions, dates moved to 2099.
    Returns how many values were changed."""
    n = 0
    if isinstance(obj, dict):
        for key, value in list(obj.items()):
            if isinstance(value, dict | list):
                n += make_absurd(value)
            elif isinstance(value, bool) or value is None:
                continue
            elif key == "sum" and isinstance(value, int | float):
                obj[key] = -abs(value) - 1000
                n += 1
            elif key in _BID_KEYS and isinstance(value, int):
                obj[key] = ABSURD_BID
                n += 1
            elif key in _DATE_KEYS and isinstance(value, str) and len(value) >= 10 and value[:4].isdigit():
                obj[key] = "2099" + value[4:]
                n += 1
    elif isinstance(obj, list):
        for value in obj:
            n += make_absurd(value)
    return n


# ------------------------------------------------------------------------------ targeted, persistent faults
# Rules (issue 14): a fault on one endpoint and/or one seller and/or one campaign, that lasts until removed
# (``times=None``) or for ``times`` matching requests. Kinds:
#   status     answer ``status`` (5xx, 400, 403, 409, 422...) with a WB-like body, before the handler;
#   html       answer 200 with an HTML page (a proxy / gateway page), before the handler;
#   truncated  handle the request, then cut the JSON reply in half;
#   drop_field handle, then remove ``field`` from every object of the reply concerning the campaign;
#   set_field  handle, then set ``field`` to ``value`` there (unknown enum values, nulls);
#   rate_limit answer 429 with ``X-Ratelimit-Retry: header`` (any text: "86400", "inf", "nan", "-1");
#   slow       delay the reply by ``seconds`` of real time before handling (a timeout for the client).
RULE_KINDS = frozenset({"status", "html", "truncated", "drop_field", "set_field", "rate_limit", "slow"})
PRE_HANDLER = frozenset({"status", "html", "rate_limit", "slow"})
_ADVERT_KEYS = ("advert_id", "advertId", "id")

HTML_PAGE = ("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
             "Gateway</h1></center><hr><center>nginx</center></body></html>")


@dataclass(slots=True)
class FaultRule:
    kind: str
    endpoint: str | None = None  # "GET /adv/v3/fullstats"; None: every endpoint
    seller: str | None = None  # None: every seller
    advert_id: int | None = None  # None: every campaign
    status: int = 502
    field: str | None = None
    value: Any = None
    header: str = "5"
    seconds: float = 0.0
    times: int | None = None  # None: until removed
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(sorted(RULE_KINDS))}")
        if self.kind in ("drop_field", "set_field") and not self.field:
            raise ValueError(f"a {self.kind} fault needs a field")

    def matches(self, seller: str | None, endpoint: str, request_adverts: frozenset[int]) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.seller is not None and seller != self.seller:
            return False
        if self.endpoint is not None and endpoint != self.endpoint:
            return False
        if self.advert_id is not None and self.kind in PRE_HANDLER and self.advert_id not in request_adverts:
            return False
        return True


def request_adverts(query: Any, body: Any) -> frozenset[int]:
    """The campaign ids a request names (query ``id``/``advertId``/``ids``, JSON ``advert_id`` anywhere)."""
    found: set[int] = set()
    for key in ("id", "advertId", "ids"):
        for part in str(query.get(key, "")).split(","):
            if part.strip().isdigit():
                found.add(int(part))

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k in _ADVERT_KEYS and isinstance(v, int) and not isinstance(v, bool):
                    found.add(v)
                else:
                    walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    walk(body)
    return frozenset(found)


def edit_fields(obj: Any, rule: FaultRule, inside: bool | None = None) -> int:
    """Drop or set ``rule.field`` in every object of a reply that concerns ``rule.advert_id`` (all when
    None). Returns how many fields were changed."""
    n = 0
    if isinstance(obj, dict):
        here = inside
        if rule.advert_id is not None:
            ids = [obj[k] for k in _ADVERT_KEYS if isinstance(obj.get(k), int)]
            if ids:
                here = rule.advert_id in ids
        elif here is None:
            here = True
        current = obj.get(rule.field)
        # set_field never swaps a flag for a number or back (a bid, not the placement flag of the same name)
        same_kind = rule.value is None or isinstance(current, bool) == isinstance(rule.value, bool)
        if here and rule.field in obj and (rule.kind == "drop_field" or same_kind):
            if rule.kind == "drop_field":
                del obj[rule.field]
            else:
                obj[rule.field] = rule.value
            n += 1
        for value in list(obj.values()):
            if isinstance(value, dict | list):
                n += edit_fields(value, rule, here)
    elif isinstance(obj, list):
        for value in obj:
            n += edit_fields(value, rule, inside)
    return n


class FaultRules:
    """The simulator's list of targeted faults."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule | dict[str, Any]) -> FaultRule:
        if isinstance(rule, dict):
            names = {f.name for f in fields(FaultRule)} - {"hits"}
            unknown = set(rule) - names
            if unknown:
                raise ValueError(f"unknown fault rule field(s) {', '.join(sorted(unknown))}")
            rule = FaultRule(**rule)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def pick(self, seller: str | None, endpoint: str, adverts: frozenset[int], *, pre: bool) -> list[FaultRule]:
        out = []
        for rule in self.rules:
            if (rule.kind in PRE_HANDLER) == pre and rule.matches(seller, endpoint, adverts):
                out.append(rule)
        return out

    def as_list(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.rules]
