"""What the bidder tells sellers about: event kinds, constructors, and the outbox write.

An :class:`Event` is a frozen value: ``kind``, ``account``, a JSON-able ``payload`` (numbers as
strings or ints, campaign id and name, reason) and a ``dedup_key``. The engine builds one with a
constructor below and calls :func:`enqueue` with the *same* session (and so the same transaction) as the
decision that caused it: either both are stored or neither is.

Payload money is in base units as decimal strings (``"1234.50"``); bids are integer minor units.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from bidder.reasons import reason_fields


class EventKind(StrEnum):
    BID_CHANGES = "bid_changes"
    CAMPAIGN_PAUSED = "campaign_paused"
    CAMPAIGN_RESUMED = "campaign_resumed"
    DRR_ALERT = "drr_alert"
    ROI_ALERT = "roi_alert"
    BUDGET_REACHED = "budget_reached"
    ACCOUNT_FAILING = "account_failing"
    ACCOUNT_RECOVERED = "account_recovered"
    TOKEN_EXPIRING = "token_expiring"
    API_DRIFT = "api_drift"
    BIDDING_WAR = "bidding_war"
    OPERATOR_ACTION = "operator_action"
    DAILY_LIMIT = "daily_limit"  # WB's daily limit of a CPC campaign is not valid for its bids
    WB_REFUSED = "wb_refused"  # WB refused a write, or an optional feature (turned off for the account)
    RATE_LIMIT_WAIT = "rate_limit_wait"


# Seconds an event waits in the outbox so that similar ones (same kind and account) join it in one
# message. Operator confirmations and state flips of an account go out at once.
MERGE_WINDOW: Mapping[EventKind, float] = MappingProxyType(
    {
        EventKind.BID_CHANGES: 60.0,
        EventKind.CAMPAIGN_PAUSED: 30.0,
        EventKind.CAMPAIGN_RESUMED: 30.0,
        EventKind.DRR_ALERT: 60.0,
        EventKind.ROI_ALERT: 60.0,
        EventKind.BUDGET_REACHED: 60.0,
        EventKind.ACCOUNT_FAILING: 0.0,
        EventKind.ACCOUNT_RECOVERED: 0.0,
        EventKind.TOKEN_EXPIRING: 0.0,
        EventKind.API_DRIFT: 30.0,
        EventKind.BIDDING_WAR: 60.0,
        EventKind.OPERATOR_ACTION: 0.0,
        EventKind.DAILY_LIMIT: 60.0,
        EventKind.WB_REFUSED: 30.0,
        EventKind.RATE_LIMIT_WAIT: 30.0,
    }
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    account: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    dedup_key: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", EventKind(self.kind))
        object.__setattr__(self, "payload", MappingProxyType(_jsonable(dict(self.payload))))

    def __hash__(self) -> int:  # the payload is a read-only mapping: hash its JSON form
        import json

        return hash((self.kind, self.account, self.dedup_key, json.dumps(dict(self.payload), sort_keys=True)))

    @property
    def advert_id(self) -> int | None:
        value = self.payload.get("advert_id")
        return int(value) if value is not None else None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "account": self.account, "payload": dict(self.payload),
                "dedup_key": self.dedup_key}


def _num(value: Decimal | float | int | str | None) -> str | None:
    if value is None:
        return None
    return format(Decimal(str(value)), "f")


def _campaign(advert_id: int, name: str | None) -> dict[str, Any]:
    return {"advert_id": int(advert_id), "name": name or ""}


# ---- constructors -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BidChange:
    """One bid change for the cycle digest (minor units)."""

    advert_id: int
    name: str
    before: int | None
    after: int
    nm_id: int | None = None
    placement: str | None = None
    reason: str = ""
    norm_query: str | None = None


def bid_changes(account: str, changes: Iterable[BidChange], *, cycle_id: int | str | None = None,
                currency: str = "RUB", dry_run: bool = False, confirmed: bool = False) -> Event:
    """A digest of one cycle's bid changes (one event per cycle; the outbox merges several cycles).
    ``confirmed``: a read of WB showed them; else WB accepted the requests ("sent")."""
    rows = [
        {"advert_id": c.advert_id, "name": c.name, "nm_id": c.nm_id, "placement": c.placement,
         "before": c.before, "after": c.after, "reason": str(c.reason), "norm_query": c.norm_query,
         **reason_fields(c.reason)}
        for c in changes
    ]
    key = f"bids:{account}:{cycle_id}" if cycle_id is not None else None
    return Event(EventKind.BID_CHANGES, account, {"changes": rows, "currency": currency, "dry_run": dry_run,
                                                  "confirmed": confirmed}, key)


def campaign_paused(account: str, advert_id: int, name: str, reason: str, *,
                    numbers: Mapping[str, Any] | None = None, by: str = "strategy",
                    at: datetime | None = None, confirmed: bool = False, dry_run: bool = False) -> Event:
    """``numbers``: known keys spend, revenue, drr, roi, orders, budget, limit (base units / percent).
    ``confirmed``: a read of WB showed the campaign paused; else WB accepted the request ("sent")."""
    key = f"paused:{account}:{advert_id}:{at.isoformat()}" if at else None
    return Event(EventKind.CAMPAIGN_PAUSED, account,
                 {**_campaign(advert_id, name), "reason": str(reason), **reason_fields(reason),
                  "numbers": dict(numbers or {}), "by": by, "confirmed": confirmed,
                  "dry_run": dry_run}, key)


def campaign_resumed(account: str, advert_id: int, name: str, reason: str, *,
                     numbers: Mapping[str, Any] | None = None, by: str = "strategy",
                     at: datetime | None = None, confirmed: bool = False, dry_run: bool = False) -> Event:
    key = f"resumed:{account}:{advert_id}:{at.isoformat()}" if at else None
    return Event(EventKind.CAMPAIGN_RESUMED, account,
                 {**_campaign(advert_id, name), "reason": str(reason), **reason_fields(reason),
                  "numbers": dict(numbers or {}), "by": by, "confirmed": confirmed,
                  "dry_run": dry_run}, key)


def drr_alert(account: str, advert_id: int, name: str, *, drr: Decimal | float, limit: Decimal | float,
              spend: Decimal | float | None = None, revenue: Decimal | float | None = None,
              day: date | None = None) -> Event:
    """ДРР (ad spend / revenue, percent) above the limit. One per campaign and day with ``day``."""
    key = f"drr:{account}:{advert_id}:{day.isoformat()}" if day else None
    return Event(EventKind.DRR_ALERT, account,
                 {**_campaign(advert_id, name), "drr": _num(drr), "limit": _num(limit), "spend": _num(spend),
                  "revenue": _num(revenue)}, key)


def roi_alert(account: str, advert_id: int, name: str, *, roi: Decimal | float, floor: Decimal | float,
              spend: Decimal | float | None = None, revenue: Decimal | float | None = None,
              day: date | None = None) -> Event:
    key = f"roi:{account}:{advert_id}:{day.isoformat()}" if day else None
    return Event(EventKind.ROI_ALERT, account,
                 {**_campaign(advert_id, name), "roi": _num(roi), "floor": _num(floor), "spend": _num(spend),
                  "revenue": _num(revenue)}, key)


def budget_reached(account: str, advert_id: int, name: str, *, spent: Decimal | float,
                   limit: Decimal | float, day: date | None = None) -> Event:
    key = f"budget:{account}:{advert_id}:{day.isoformat()}" if day else None
    return Event(EventKind.BUDGET_REACHED, account,
                 {**_campaign(advert_id, name), "spent": _num(spent), "limit": _num(limit)}, key)


def daily_limit_invalid(account: str, advert_id: int, *, limit: Decimal | float, required: Decimal | float,
                        day: date | None = None) -> Event:
    """WB calls the campaign's daily limit too small for its current bids (REFERENCE-2026-10 §3.11)."""
    key = f"daily_limit:{account}:{advert_id}:{day.isoformat()}" if day else None
    return Event(EventKind.DAILY_LIMIT, account,
                 {**_campaign(advert_id, None), "limit": _num(limit), "required": _num(required)}, key)


def account_failing(account: str, error: str, *, since: datetime | None = None) -> Event:
    """``error``: the error class and WB's detail (bidder.errors texts never carry a token; the
    renderer scrubs token-shaped strings anyway)."""
    return Event(EventKind.ACCOUNT_FAILING, account, {"error": error, "since": since}, None)


def account_recovered(account: str, *, down_seconds: float | None = None) -> Event:
    return Event(EventKind.ACCOUNT_RECOVERED, account,
                 {"down_seconds": None if down_seconds is None else int(down_seconds)}, None)


def token_expiring(account: str, which: str, expires_at: datetime, *, now: datetime) -> Event:
    """``which``: "read" or "write". One alert per token and day."""
    days_left = max(0, int((expires_at - now).total_seconds() // 86400))
    return Event(EventKind.TOKEN_EXPIRING, account,
                 {"which": which, "expires_at": expires_at, "days_left": days_left},
                 f"token:{account}:{which}:{now.date().isoformat()}")


def api_drift(account: str, method: str, detail: str, *, gone: bool = False) -> Event:
    """WB changed the API: ``gone`` when the endpoint answers 404, else a reply no longer parses."""
    return Event(EventKind.API_DRIFT, account, {"method": method, "detail": detail, "gone": gone},
                 f"drift:{account}:{method}:{'gone' if gone else 'schema'}")


def rate_limit_wait(account: str, method: str, asked: float, applied: float, *, now: datetime) -> Event:
    """WB asked for a longer wait than we obey (X-Ratelimit-Retry above the cap). One per method and day."""
    return Event(EventKind.RATE_LIMIT_WAIT, account, {"method": method, "asked": asked, "applied": applied},
                 f"ratelimit:{account}:{method}:{now.date().isoformat()}")


def bidding_war(account: str, advert_id: int, name: str, *, raises: int, bid: int,
                nm_id: int | None = None, window: str | None = None) -> Event:
    """We raised ``raises`` times in a row and the position did not hold: a competitor answers."""
    return Event(EventKind.BIDDING_WAR, account,
                 {**_campaign(advert_id, name), "raises": raises, "bid": bid, "nm_id": nm_id,
                  "window": window}, None)


def operator_action(account: str, action: str, target: str, *, by: str, ok: bool = True,
                    detail: str = "") -> Event:
    """Confirmation of an operator command (pause / resume / dry-run), for every allowed chat."""
    return Event(EventKind.OPERATOR_ACTION, account,
                 {"action": action, "target": target, "by": by, "ok": ok, "detail": detail}, None)


def wb_refused(account: str, detail: str, *, feature: str | None = None,
               write: Mapping[str, Any] | None = None) -> Event:
    """WB refused a write (``detail``: what, and WB's reason; the same request is not sent again), or an
    optional ``feature`` is not available to the account (turned off; one alert a day). ``write``: the
    refused write's ``action`` (pause, start, bid), ``advert_id``, ``nm_id`` and WB's ``reason``, rendered
    in the reader's language (``detail`` is the English text)."""
    key = f"feature:{account}:{feature}" if feature else None
    return Event(EventKind.WB_REFUSED, account, {"detail": detail, "feature": feature, **({"write": dict(write)}
                                                                                          if write else {})}, key)


SEVERITY: Mapping[EventKind, str] = MappingProxyType({
    EventKind.WB_REFUSED: "warning",
    EventKind.ACCOUNT_FAILING: "error",
    EventKind.API_DRIFT: "error",
    EventKind.RATE_LIMIT_WAIT: "warning",
    EventKind.TOKEN_EXPIRING: "warning",
    EventKind.DRR_ALERT: "warning",
    EventKind.ROI_ALERT: "warning",
    EventKind.BUDGET_REACHED: "warning",
    EventKind.DAILY_LIMIT: "warning",
    EventKind.BIDDING_WAR: "warning",
    EventKind.CAMPAIGN_PAUSED: "warning",
})


async def enqueue(session: Any, event: Event, *, at: datetime | None = None) -> int | None:
    """Write ``event`` to the outbox in the caller's transaction (no commit here).

    ``at``: the engine's ``clock.now()`` (defaults to the system's UTC time). Returns the new alert id,
    or None when the event is a duplicate by the outbox's one de-duplication rule
    (:mod:`bidder.store.alerts`): an alert with the same ``dedup_key`` is still pending, or was enqueued
    within the last 24 hours and not given up (so "once per day" keys really alert once).
    The account must exist in the store (``accounts.ensure_account``); ``account=""`` is process-wide.
    """
    from bidder.store import alerts  # the store is a sibling; imported late to keep this module light

    return await alerts.enqueue_alert(
        session,
        event.account or None,
        event.kind.value,
        dict(event.payload),
        dedup_key=event.dedup_key,
        severity=SEVERITY.get(event.kind, "info"),
        at=at or datetime.now(UTC),
    )


def from_stored(kind: str, account: str | None, payload: Mapping[str, Any], dedup_key: str | None = None) -> Event:
    """Rebuild an Event from an outbox row."""
    return Event(EventKind(kind), account or "", payload, dedup_key)
