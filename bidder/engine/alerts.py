"""What the engine tells people: maps engine happenings to notify events in the caller's transaction.

Alerts go out on changes of state (an account starts failing, recovers, a campaign is paused), not on
every failure; the outbox merges similar events and de-duplicates by key.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from bidder.domain import Action, Campaign, Decision
from bidder.errors import EndpointGone, WBError
from bidder.notify import events as ev


def _name(campaign: Campaign | None) -> str:
    return campaign.name if campaign is not None else ""


def _numbers(d: Decision) -> dict:
    keep = ("spend", "revenue", "drr", "roi", "orders", "budget", "limit", "today_spend", "daily_budget",
            "drr_pct", "roi_pct", "max_drr_pct", "min_roi_pct")
    return {k: v for k, v in d.inputs.items() if k in keep and isinstance(v, int | float | Decimal | str)}


async def for_decisions(session, account: str, campaigns: dict[int, Campaign], decisions: Iterable[Decision],
                        now: datetime, *, dry_run: bool, cycle_id: int | None = None, currency: str = "RUB") -> None:
    """One bid-change digest per cycle, plus an event per pause, resume, budget stop and bidding war."""
    changes = []
    for d in decisions:
        camp = campaigns.get(d.advert_id)
        if d.changes_bid:
            changes.append(ev.BidChange(d.advert_id, _name(camp), d.bid_before, d.bid_after, d.nm_id,
                                        d.placement, d.reason, d.norm_query))
        elif d.action == Action.PAUSE:
            by = "operator" if d.strategy == "operator" else "strategy"
            daily_budget = d.inputs.get("daily_budget")
            if daily_budget is not None and d.inputs.get("today_spend") is not None:
                await ev.enqueue(session, ev.budget_reached(account, d.advert_id, _name(camp),
                                                            spent=d.inputs["today_spend"], limit=daily_budget,
                                                            day=now.date()), at=now)
            await ev.enqueue(session, ev.campaign_paused(account, d.advert_id, _name(camp), d.reason,
                                                         numbers=_numbers(d), by=by, at=now), at=now)
        elif d.action == Action.RESUME:
            await ev.enqueue(session, ev.campaign_resumed(account, d.advert_id, _name(camp), d.reason,
                                                          numbers=_numbers(d), at=now), at=now)
        if d.guard and d.guard.startswith("bidding war"):
            await ev.enqueue(session, ev.bidding_war(account, d.advert_id, _name(camp),
                                                     raises=int(d.inputs.get("raises", 0) or 0),
                                                     bid=d.bid_before or 0, nm_id=d.nm_id), at=now)
    if changes:
        await ev.enqueue(session, ev.bid_changes(account, changes, cycle_id=cycle_id, currency=currency,
                                                 dry_run=dry_run), at=now)


async def strategy_failed(session, account: str, advert_id: int, kind: str, exc: BaseException,
                          now: datetime) -> None:
    detail = f"strategy {kind} failed on campaign {advert_id}: {type(exc).__name__}"
    await ev.enqueue(session, ev.account_failing(account, detail, since=now), at=now)


async def writes_blocked(session, account: str, detail: str, now: datetime) -> None:
    await ev.enqueue(session, ev.account_failing(account, f"writes stopped: {detail}", since=now), at=now)


async def api_drift(session, account: str, exc: WBError, now: datetime) -> None:
    await ev.enqueue(session, ev.api_drift(account, exc.method or "?", str(exc), gone=isinstance(exc, EndpointGone)), at=now)


async def account_failing(session, account: str, error: str, now: datetime) -> None:
    await ev.enqueue(session, ev.account_failing(account, error, since=now), at=now)


async def account_recovered(session, account: str, now: datetime, down_seconds: float | None = None) -> None:
    await ev.enqueue(session, ev.account_recovered(account, down_seconds=down_seconds), at=now)


async def token_expiring(session, account: str, which: str, expires_at: datetime, now: datetime) -> None:
    await ev.enqueue(session, ev.token_expiring(account, which, expires_at, now=now), at=now)
