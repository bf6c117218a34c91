"""What the engine tells people: maps engine happenings to notify events in the caller's transaction.

Alerts go out on changes of state (an account starts failing, recovers, a campaign is paused), not on
every failure; the outbox merges similar events and de-duplicates by key. :class:`OutboxAlerts` is the
engine's ``AlertSink`` (``bidder.engine.ports``): the engine calls it, never imports this package.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from bidder.domain import Action, Campaign, Decision
from bidder.errors import EndpointGone, WBError
from bidder.notify import events as ev


def _name(campaign: Campaign | None) -> str:
    return campaign.name if campaign is not None else ""


def _numbers(d: Decision) -> dict:
    keep = ("spend", "revenue", "drr", "roi", "orders", "budget", "limit", "spent_today", "daily_budget",
            "drr_pct", "roi_pct", "max_drr_pct", "min_roi_pct")
    return {k: v for k, v in d.inputs.items() if k in keep and isinstance(v, int | float | Decimal | str)}


def _f(value) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


async def for_decisions(session, account: str, campaigns: Mapping[int, Campaign], decisions: Iterable[Decision],
                        now: datetime, *, dry_run: bool, cycle_id: int | None = None, currency: str = "RUB",
                        confirmed: bool = False) -> None:
    """One bid-change digest per cycle, an event per pause and resume, a daily-budget stop, ДРР and ROI
    alerts (one per campaign and day) when a strategy acts on them, and bidding wars. ``confirmed``: a read
    of WB showed the changes; otherwise WB only accepted the requests and they are announced as sent
    (bids apply on WB's 30-second tick, statuses on its minute tick)."""
    changes = []
    for d in decisions:
        camp = campaigns.get(d.advert_id)
        name = _name(camp)
        acted = d.changes_bid or d.action in (Action.PAUSE, Action.RESUME)
        if d.changes_bid:
            changes.append(ev.BidChange(d.advert_id, name, d.bid_before, d.bid_after, d.nm_id,
                                        d.placement, d.reason, d.norm_query))
        elif d.action == Action.PAUSE:
            by = "operator" if d.strategy == "operator" else "strategy"
            if d.inputs.get("pause_kind") == "daily_budget" and d.inputs.get("daily_budget") is not None:
                await ev.enqueue(session, ev.budget_reached(account, d.advert_id, name,
                                                            spent=d.inputs.get("spent_today") or 0,
                                                            limit=d.inputs["daily_budget"], day=now.date()), at=now)
            await ev.enqueue(session, ev.campaign_paused(account, d.advert_id, name, d.reason, numbers=_numbers(d),
                                                         by=by, at=now, confirmed=confirmed,
                                                         dry_run=dry_run), at=now)
        elif d.action == Action.RESUME:
            await ev.enqueue(session, ev.campaign_resumed(account, d.advert_id, name, d.reason, numbers=_numbers(d),
                                                          at=now, confirmed=confirmed, dry_run=dry_run), at=now)
        drr, cap = _f(d.inputs.get("drr_pct")), _f(d.inputs.get("max_drr_pct"))
        if acted and drr is not None and cap is not None and drr > cap:
            await ev.enqueue(session, ev.drr_alert(account, d.advert_id, name, drr=drr, limit=cap,
                                                   spend=d.inputs.get("spend"), revenue=d.inputs.get("revenue"),
                                                   day=now.date()), at=now)
        roi, floor = _f(d.inputs.get("roi_pct")), _f(d.inputs.get("min_roi_pct"))
        if acted and roi is not None and floor is not None and roi < floor:
            await ev.enqueue(session, ev.roi_alert(account, d.advert_id, name, roi=roi, floor=floor,
                                                   spend=d.inputs.get("spend"), revenue=d.inputs.get("revenue"),
                                                   day=now.date()), at=now)
        if d.guard and d.guard.startswith("bidding war"):
            await ev.enqueue(session, ev.bidding_war(account, d.advert_id, name,
                                                     raises=int(d.inputs.get("raises", 0) or 0),
                                                     bid=d.bid_before or 0, nm_id=d.nm_id), at=now)
    if changes:
        await ev.enqueue(session, ev.bid_changes(account, changes, cycle_id=cycle_id, currency=currency,
                                                 dry_run=dry_run, confirmed=confirmed), at=now)


async def strategy_failed(session, account: str, advert_id: int, kind: str, exc: BaseException,
                          now: datetime) -> None:
    detail = f"strategy {kind} failed on campaign {advert_id}: {type(exc).__name__}"
    await ev.enqueue(session, ev.account_failing(account, detail, since=now), at=now)


async def writes_blocked(session, account: str, detail: str, now: datetime) -> None:
    await ev.enqueue(session, ev.account_failing(account, f"writes stopped: {detail}", since=now), at=now)


async def write_rejected(session, account: str, d: Decision, reason: str, now: datetime) -> None:
    """WB refused a write (a 4xx): said with WB's reason; the same request is not sent again."""
    what = {Action.PAUSE: "pause", Action.RESUME: "start"}.get(d.action, "bid change")
    target = f"campaign {d.advert_id}" + (f" nm {d.nm_id}" if d.nm_id is not None else "")
    write = {"action": {"start": "start", "pause": "pause"}.get(what, "bid"), "advert_id": d.advert_id,
             "nm_id": d.nm_id, "reason": reason}
    await ev.enqueue(session, ev.wb_refused(account, f"{what} of {target}: {reason}", write=write), at=now)


async def feature_unavailable(session, account: str, feature: str, detail: str, now: datetime) -> None:
    await ev.enqueue(session, ev.wb_refused(account, f"{feature}: not available ({detail}); turned off for the "
                                                     "account", feature=feature), at=now)


async def api_drift(session, account: str, exc: WBError, now: datetime) -> None:
    await ev.enqueue(session, ev.api_drift(account, exc.method or "?", str(exc), gone=isinstance(exc, EndpointGone)), at=now)


async def account_failing(session, account: str, error: str, now: datetime) -> None:
    await ev.enqueue(session, ev.account_failing(account, error, since=now), at=now)


async def account_recovered(session, account: str, now: datetime, down_seconds: float | None = None) -> None:
    await ev.enqueue(session, ev.account_recovered(account, down_seconds=down_seconds), at=now)


async def token_expiring(session, account: str, which: str, expires_at: datetime, now: datetime) -> None:
    await ev.enqueue(session, ev.token_expiring(account, which, expires_at, now=now), at=now)


async def daily_limit_invalid(session, account: str, advert_id: int, limit_minor: int, required_minor: int,
                              now: datetime) -> None:
    await ev.enqueue(session, ev.daily_limit_invalid(account, advert_id, limit=limit_minor / 100,
                                                     required=required_minor / 100, day=now.date()), at=now)
async def rate_limit_wait(session, account: str, method: str, asked: float, applied: float, now: datetime) -> None:
    await ev.enqueue(session, ev.rate_limit_wait(account, method, asked, applied, now=now), at=now)


class OutboxAlerts:
    """The engine's ``AlertSink``: every alert goes into the outbox, in the caller's transaction."""

    async def for_decisions(self, session, account: str, campaigns, decisions: Iterable[Decision], now: datetime,
                            *, dry_run: bool, currency: str = "RUB", confirmed: bool = False) -> None:
        await for_decisions(session, account, campaigns, decisions, now, dry_run=dry_run, currency=currency,
                            confirmed=confirmed)

    async def strategy_failed(self, session, account: str, advert_id: int, kind: str, exc: BaseException,
                              now: datetime) -> None:
        await strategy_failed(session, account, advert_id, kind, exc, now)

    async def writes_blocked(self, session, account: str, detail: str, now: datetime) -> None:
        await writes_blocked(session, account, detail, now)

    async def write_rejected(self, session, account: str, d: Decision, reason: str, now: datetime) -> None:
        await write_rejected(session, account, d, reason, now)

    async def feature_unavailable(self, session, account: str, feature: str, detail: str, now: datetime) -> None:
        await feature_unavailable(session, account, feature, detail, now)

    async def api_drift(self, session, account: str, exc: Exception, now: datetime) -> None:
        await api_drift(session, account, exc, now)  # type: ignore[arg-type]

    async def account_failing(self, session, account: str, error: str, now: datetime) -> None:
        await account_failing(session, account, error, now)

    async def daily_limit_invalid(self, session, account: str, advert_id: int, limit_minor: int,
                                  required_minor: int, now: datetime) -> None:
        await daily_limit_invalid(session, account, advert_id, limit_minor, required_minor, now)

    async def account_recovered(self, session, account: str, now: datetime) -> None:
        await account_recovered(session, account, now)

    async def rate_limit_wait(self, session, account: str, method: str, asked: float, applied: float,
                              now: datetime) -> None:
        await rate_limit_wait(session, account, method, asked, applied, now)
