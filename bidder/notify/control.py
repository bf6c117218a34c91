"""The narrow operator interface: every command (CLI or Telegram) goes through :class:`Control`.

State is in the store, so the CLI (another process) and the Telegram loop (this process) share it:

* ``operator_state`` key ``paused``: ``advert_id=None`` pauses a whole account, otherwise one campaign.
  The engine reads it each cycle with :func:`operator_paused` (through :class:`OperatorStateReader`,
  its ``OperatorState`` port, wired by the app: the engine does not import this package) and holds
  every strategy for what is paused (and pauses the campaign on WB); it holds until ``resume``,
  whatever the strategies say.
* ``operator_state`` key ``dry_run`` (per account, ``True``/``False``): :func:`dry_run_override` gives the
  engine the toggle (None when the operator never set it: the process setting applies).

Each action commits its state change together with an ``operator_action`` event in the outbox (a
confirmation for every allowed chat, except the chat that gave the command: it gets the direct answer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.clock import Clock
from bidder.errors import BidderError
from bidder.notify import events as ev
from bidder.store import repo

PAUSED = "paused"
DRY_RUN = "dry_run"
ALL = "all"


class UnknownCampaign(BidderError, LookupError):
    def __init__(self, advert_id: int) -> None:
        self.advert_id = advert_id
        super().__init__(f"campaign {advert_id} is not among the managed campaigns")


@dataclass(frozen=True, slots=True)
class AccountStatus:
    name: str
    health: str  # "ok" | "failing" | "unknown"
    managed: int
    currency: str
    timezone: str
    spend: Decimal
    revenue: Decimal
    orders: int
    last_cycle: repo.CycleRecord | None
    dry_run: bool | None  # the operator's toggle, None when never set
    paused_all: bool
    paused: tuple[int, ...]

    @property
    def drr(self) -> Decimal | None:
        return (self.spend / self.revenue * 100) if self.revenue else None


@dataclass(frozen=True, slots=True)
class StatusReport:
    at: datetime
    accounts: tuple[AccountStatus, ...]
    dry_run: bool  # effective for the process: the operator's toggle if set everywhere, else the default


@dataclass(frozen=True, slots=True)
class ActionResult:
    action: str  # pause | resume | dryrun_on | dryrun_off
    target: str  # "all" or the advert id
    accounts: tuple[str, ...]
    changed: bool
    notes: tuple[str, ...] = field(default=())


async def operator_paused(session: AsyncSession, account: str) -> bool | set[int]:
    """For the engine, each cycle: True when the whole account is paused by the operator, else the set
    of paused advert ids (possibly empty)."""
    paused: set[int] = set()
    for st in await repo.operator_states(session, account, PAUSED):
        if not st.value:
            continue
        if st.advert_id is None:
            return True
        paused.add(int(st.advert_id))
    return paused


async def dry_run_override(session: AsyncSession, account: str) -> bool | None:
    st = await repo.get_operator_state(session, account, DRY_RUN)
    return None if st is None else bool(st.value)


class OperatorStateReader:
    """The engine's ``OperatorState`` port (``bidder.engine.ports``): what the operator set, read in the
    engine's own session."""

    async def paused(self, session: AsyncSession, account: str) -> bool | set[int]:
        return await operator_paused(session, account)

    async def dry_run(self, session: AsyncSession, account: str) -> bool | None:
        return await dry_run_override(session, account)


AccountsSource = Callable[[], Sequence[Any]] | Sequence[Any] | Any


class Control:
    """``Control(sessions, clock, accounts=config_or_callable, locale="ru")``.

    ``accounts``: a ``BidderConfig`` (its ``.accounts``; ``is_managed`` decides which campaigns count), a
    list of names, or a callable returning either (so a reloaded config is seen at once).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock, *, accounts: AccountsSource,
                 locale: str = "ru", default_dry_run: bool = False, kick: Callable[[], None] | None = None) -> None:
        self._sessions = sessions
        self._clock = clock
        self._accounts = accounts
        self.locale = locale
        self.default_dry_run = default_dry_run
        self._kick = kick  # e.g. OutboxSender.kick: confirmations go out without waiting for a poll

    # ---- accounts -----------------------------------------------------------------------------------

    def _account_objs(self) -> list[Any]:
        src = self._accounts
        if callable(src) and not hasattr(src, "accounts"):
            src = src()
        if hasattr(src, "accounts"):
            src = src.accounts
        return list(src)

    def account_names(self) -> list[str]:
        return [a if isinstance(a, str) else a.name for a in self._account_objs()]

    def _config_for(self, name: str) -> Any | None:
        for a in self._account_objs():
            if not isinstance(a, str) and a.name == name:
                return a
        return None

    async def _managed(self, s: AsyncSession, name: str) -> list[Any]:
        cfg = self._config_for(name)
        campaigns = await repo.load_campaigns(s, name)
        if cfg is None or not hasattr(cfg, "is_managed"):
            return campaigns
        return [c for c in campaigns if cfg.is_managed(c.advert_id)]

    async def _owner(self, s: AsyncSession, advert_id: int) -> str:
        for name in self.account_names():
            if await repo.load_campaigns(s, name, [advert_id]):
                cfg = self._config_for(name)
                if cfg is None or not hasattr(cfg, "is_managed") or cfg.is_managed(advert_id):
                    return name
        for name in self.account_names():  # configured but not seen on WB yet
            cfg = self._config_for(name)
            if cfg is not None and hasattr(cfg, "campaign") and cfg.campaign(advert_id) is not None:
                return name
        raise UnknownCampaign(advert_id)

    async def _known_accounts(self, s: AsyncSession) -> list[str]:
        names = []
        for name in self.account_names():
            if await repo.get_account(s, name) is not None:
                names.append(name)
            else:
                await repo.ensure_account(s, name)
                names.append(name)
        return names

    # ---- reads --------------------------------------------------------------------------------------

    async def status(self) -> StatusReport:
        now = self._clock.now()
        out = []
        async with self._sessions() as s:
            cycles = await repo.last_cycles(s)
            for name in self.account_names():
                info = await repo.get_account(s, name)
                tz = info.timezone if info else "Europe/Moscow"
                today = now.astimezone(ZoneInfo(tz)).date()
                totals = await repo.daily_totals(s, name, today, today)
                cycle = cycles.get(name)
                health = "unknown" if cycle is None or cycle.ok is None else ("ok" if cycle.ok else "failing")
                paused = await operator_paused(s, name)
                out.append(AccountStatus(
                    name=name, health=health, managed=len(await self._managed(s, name)),
                    currency=info.currency if info else "RUB", timezone=tz,
                    spend=sum((x.spend for x in totals), Decimal(0)),
                    revenue=sum((x.revenue for x in totals), Decimal(0)),
                    orders=sum(x.orders for x in totals), last_cycle=cycle,
                    dry_run=await dry_run_override(s, name),
                    paused_all=paused is True, paused=tuple(sorted(paused)) if isinstance(paused, set) else (),
                ))
        toggles = {a.dry_run for a in out}
        dry = toggles.pop() if len(toggles) == 1 and None not in toggles else self.default_dry_run
        return StatusReport(now, tuple(out), bool(dry))

    async def spend(self) -> list[Any]:
        """Per configured account: today's spend against budgets and caps (bidder/notify/spend_view.py)."""
        from bidder.notify.spend_view import account_spend

        out = []
        async with self._sessions() as s:
            for name in self.account_names():
                cfg = self._config_for(name)
                if cfg is None or not hasattr(cfg, "strategies_for"):
                    continue
                info = await repo.get_account(s, name)
                out.append(await account_spend(s, cfg, self._clock.now(), currency=info.currency if info else "RUB"))
        return out

    async def history(self, advert_id: int, limit: int = 10) -> list[repo.StoredDecision]:
        async with self._sessions() as s:
            return await repo.history(s, advert_id=int(advert_id), limit=max(1, min(int(limit), 50)))

    async def report(self, days: int = 7) -> Any:
        """The chart over the last ``days`` days (today included): a ``ChartResult`` (png + series)."""
        from bidder.notify.chart import build_chart
        from bidder.notify.digest import chart_data

        end = self._clock.now().date()
        async with self._sessions() as s:
            data = await chart_data(s, self.account_names(), end - timedelta(days=days - 1), end)
        # drawing takes a second or two: keep the event loop (commands, watchdog) responsive
        return await asyncio.to_thread(build_chart, data, self.locale)

    async def report_png(self, days: int = 7) -> bytes:
        return (await self.report(days)).png

    # ---- actions ------------------------------------------------------------------------------------

    async def pause(self, target: int | str, by: str, *, chat_id: int | None = None,
                    account: str | None = None) -> ActionResult:
        """``target``: an advert id or "all"; ``account`` limits "all" to one account (CLI --account)."""
        return await self._pause(target, by, chat_id, on=True, only=account)

    async def resume(self, target: int | str, by: str, *, chat_id: int | None = None,
                     account: str | None = None) -> ActionResult:
        return await self._pause(target, by, chat_id, on=False, only=account)

    async def _pause(self, target: int | str, by: str, chat_id: int | None, *, on: bool,
                     only: str | None = None) -> ActionResult:
        now = self._clock.now()
        action = "pause" if on else "resume"
        notes: list[str] = []
        async with self._sessions.begin() as s:
            if _is_all(target):
                accounts = await self._known_accounts(s)
                if only is not None:
                    if only not in accounts:
                        raise LookupError(f"unknown account {only!r}")
                    accounts = [only]
                changed = False
                for name in accounts:
                    if on:
                        before = await operator_paused(s, name)
                        changed |= before is not True
                        await repo.set_operator_state(s, name, PAUSED, True, at=now, set_by=by)
                    else:
                        for st in await repo.operator_states(s, name, PAUSED):
                            changed |= await repo.clear_operator_state(s, name, PAUSED, advert_id=st.advert_id)
                tgt = ALL
            else:
                advert_id = int(target)
                name = await self._owner(s, advert_id)
                accounts = [name]
                before = await operator_paused(s, name)
                if on:
                    await repo.set_operator_state(s, name, PAUSED, True, advert_id=advert_id, at=now, set_by=by)
                    changed = advert_id not in (before if isinstance(before, set) else set())
                else:
                    changed = await repo.clear_operator_state(s, name, PAUSED, advert_id=advert_id)
                    if before is True:
                        notes.append("account_paused")
                if on and before is True:
                    notes.append("account_paused")
                tgt = str(advert_id)
            for name in accounts:
                payload_event = ev.operator_action(name, action, tgt, by=by)
                await ev.enqueue(s, _with_origin(payload_event, chat_id), at=now)
        self._wake()
        return ActionResult(action, tgt, tuple(accounts), changed, tuple(notes))

    async def set_dry_run(self, on: bool, by: str, *, chat_id: int | None = None) -> ActionResult:
        now = self._clock.now()
        action = "dryrun_on" if on else "dryrun_off"
        async with self._sessions.begin() as s:
            accounts = await self._known_accounts(s)
            changed = False
            for name in accounts:
                changed |= await dry_run_override(s, name) is not bool(on)
                await repo.set_operator_state(s, name, DRY_RUN, bool(on), at=now, set_by=by)
                await ev.enqueue(s, _with_origin(ev.operator_action(name, action, "", by=by), chat_id), at=now)
        self._wake()
        return ActionResult(action, "", tuple(accounts), changed)

    def set_kick(self, kick: Callable[[], None] | None) -> None:
        """Call ``kick`` after each committed action (``OutboxSender.kick``: confirmations go out at once)."""
        self._kick = kick

    def _wake(self) -> None:
        if self._kick is not None:
            self._kick()


def _is_all(target: int | str) -> bool:
    return isinstance(target, str) and target.strip().lower() in {"all", "*", "все", "всё"}


def _with_origin(event: ev.Event, chat_id: int | None) -> ev.Event:
    if chat_id is None:
        return event
    return ev.Event(event.kind, event.account, {**event.payload, "origin_chat": int(chat_id)}, event.dedup_key)


def today_in(tz: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(tz)).date()
