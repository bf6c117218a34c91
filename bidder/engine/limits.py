"""WB's own daily limits as a backstop for ``spend_cap``'s ``daily_budget`` (REFERENCE-2026-10 §3.11).

For a CPC campaign whose strategies carry a ``daily_budget``, WB's per-campaign daily limit is set to
that budget (carry-over off: it would let a day spend more than the budget), so that WB stops the
spend even while the daemon is down. Each pass reads the limits back: a limit that is off or differs
from the budget is written again, and one WB calls not ``valid`` (too small for the current bids; WB
then warns of uneven spend) raises an alert with WB's ``requiredLimit``. The limit is never raised
above the budget to make it valid: the budget is the seller's word.

A budget under WB's ``minDailyLimit`` cannot be a WB limit: the limit is set to that minimum and the
daemon's own pause keeps the budget. CPM campaigns have no native limit: ``spend_cap`` pauses them on
the spend projected to the next statistics sync.

:func:`plan` is pure (the bench uses it); :class:`DailyLimitStep` does the I/O once per ``interval``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from bidder.domain import Campaign, base_to_minor
from bidder.errors import WBError
from bidder.wb.models import DailyLimit, DailyLimitSet

log = logging.getLogger("bidder.engine.limits")

INTERVAL = timedelta(minutes=5)  # WB allows 5 calls a minute per verb; one pass reads 100 campaigns a call


class LimitReader(Protocol):
    async def daily_limits(self, ids: Iterable[int]) -> list[DailyLimit]: ...


class LimitWriter(Protocol):
    async def set_daily_limits(self, ids: Sequence[int], *, enabled: bool, daily_limit: int | None = None,
                               carry_over: bool = False) -> list[DailyLimitSet]: ...


@dataclass(frozen=True, slots=True)
class LimitPlan:
    advert_id: int
    want: int  # minor units
    budget: int  # minor units
    write: bool  # the current limit differs (or is off): PUT it
    note: str  # plain words for the log and the alert


@dataclass(frozen=True, slots=True)
class LimitOutcome:
    advert_id: int
    want: int
    read_back: DailyLimit | None
    ok: bool  # WB reads back the wanted limit, enabled
    valid: bool | None
    note: str


def budget_of(strategies: Iterable[Any]) -> Decimal | None:
    """The smallest ``daily_budget`` (base units) among a campaign's strategies; None when there is none."""
    budgets = [b for s in strategies if (b := getattr(getattr(s, "params", None), "daily_budget", None)) is not None]
    return min(budgets) if budgets else None


def plan(campaign: Campaign, budget: Decimal, current: DailyLimit | None, min_daily_limit: int | None) -> LimitPlan | None:
    """What WB's limit of ``campaign`` should be; None for campaigns without a native limit (CPM)."""
    if campaign.payment_type != "cpc":
        return None
    minor = base_to_minor(budget)
    want = max(minor, min_daily_limit or 0)
    note = f"daily limit {want / 100:.2f} = daily_budget {minor / 100:.2f}"
    if want > minor:
        note = (f"daily_budget {minor / 100:.2f} is under WB's minimum daily limit {want / 100:.2f}: WB's limit is "
                f"set to the minimum and the daemon's own pause keeps the budget")
    write = current is None or not current.enabled or current.daily_limit != want or current.carry_over
    return LimitPlan(campaign.advert_id, want, minor, write, note)


class DailyLimitStep:
    """Keeps WB's daily limits of an account's CPC campaigns at their budgets; reads them back."""

    def __init__(self, reader: LimitReader, *, interval: timedelta = INTERVAL) -> None:
        self.reader = reader
        self.interval = interval
        self.last_run: datetime | None = None
        self.invalid: set[int] = set()  # campaigns already alerted as not valid (alert on the change)

    def due(self, now: datetime) -> bool:
        return self.last_run is None or now - self.last_run >= self.interval

    async def run(self, campaigns: Mapping[int, Campaign], budgets: Mapping[int, Decimal], writer: LimitWriter | None,
                  min_daily_limit: int | None, now: datetime,
                  alert: Callable[[int, DailyLimit], Awaitable[None]] | None = None) -> list[LimitOutcome]:
        """One pass: read, write what differs (when a writer is given), read back, alert on ``valid`` false."""
        ids = sorted(a for a in budgets if a in campaigns and campaigns[a].payment_type == "cpc")
        self.last_run = now
        if not ids:
            return []
        current = {x.advert_id: x for x in await self.reader.daily_limits(ids)}
        plans = [p for a in ids if (p := plan(campaigns[a], budgets[a], current.get(a), min_daily_limit))]
        by_value: dict[int, list[int]] = {}
        for p in plans:
            if p.write and writer is not None:
                by_value.setdefault(p.want, []).append(p.advert_id)
        if writer is not None:
            for value, group in by_value.items():
                for i in range(0, len(group), 100):
                    await writer.set_daily_limits(group[i:i + 100], enabled=True, daily_limit=value, carry_over=False)
        back = {x.advert_id: x for x in await self.reader.daily_limits(ids)} if by_value else current
        out = []
        for p in plans:
            r = back.get(p.advert_id)
            ok = r is not None and r.enabled and r.daily_limit == p.want and not r.carry_over
            note = p.note if ok else f"{p.note}; WB reads back {_words(r)}"
            if r is not None and not r.valid:
                note += (f"; WB says the limit is too small for the current bids (required "
                         f"{r.required_limit / 100:.2f}): spend may run unevenly through the day")
                if p.advert_id not in self.invalid and alert is not None:
                    await alert(p.advert_id, r)
                self.invalid.add(p.advert_id)
            elif r is not None:
                self.invalid.discard(p.advert_id)
            if not ok:
                log.warning("campaign %s: %s", p.advert_id, note)
            out.append(LimitOutcome(p.advert_id, p.want, r, ok, None if r is None else r.valid, note))
        return out


async def cycle_pass(step: DailyLimitStep, cycle: Any) -> list[LimitOutcome]:
    """The step inside an account cycle (after apply): budgets from the view's strategies, WB's minimum
    from the config, the live writer unless the cycle runs dry (then only read and alert). A WB error
    here is logged and the cycle goes on: the limit is a backstop, the daemon's own pause stays."""
    now = cycle.clock.now()
    if not step.due(now):
        return []
    view = cycle.view
    budgets = {a: b for a in view.managed_ids() if (b := budget_of(view.strategies_for(a))) is not None}
    if not any(view.campaigns[a].payment_type == "cpc" for a in budgets):
        step.last_run = now
        return []
    applier = cycle.applier
    writer = applier.writer if applier.writer is not applier.dry_writer else None

    async def alert(advert_id: int, r: DailyLimit) -> None:
        send = getattr(cycle.alerts, "daily_limit_invalid", None)
        if send is None:
            return
        async with cycle.sessions.begin() as s:
            await send(s, view.name, advert_id, r.daily_limit, r.required_limit, now)

    try:
        cfg = await cycle.reader.config()
        return await step.run(view.campaigns, budgets, writer, cfg.min_daily_limit, now, alert)
    except WBError as exc:
        step.last_run = now
        log.warning("account %s: WB daily limits not kept this pass: %s", view.name, exc)
        return []


def _words(r: DailyLimit | None) -> str:
    if r is None:
        return "nothing (the campaign is missing from the reply)"
    if not r.enabled:
        return "no limit"
    return f"{r.daily_limit / 100:.2f}{' with carry-over' if r.carry_over else ''}"
