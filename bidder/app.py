"""Composition root: builds every collaborator from settings and config, owns their lifetimes.

Everything is opened in one ``AsyncExitStack`` and closed in reverse order. The write token is read
only when a live writer is built; in dry-run it is never loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bidder import systemd
from bidder.clock import Clock, SystemClock
from bidder.config import BidderConfig, load_config
from bidder.engine.cycle import AccountCycle, CycleResult
from bidder.engine.guards import GuardConfig
from bidder.engine.runner import Runner
from bidder.errors import ConfigError, TokenError
from bidder.health import Health, max_age_for
from bidder.metrics import Metrics
from bidder.notify import alerts
from bidder.notify.control import Control, OperatorStateReader
from bidder.settings import Settings
from bidder.store import db
from bidder.store.migrate import upgrade
from bidder.wb.pacing import Pacer
from bidder.wb.tokens import EXPIRY_CHECK_EVERY, expiry_alert_due, load_tokens
from bidder.wb.writer import DryRunWriter, make_reader, make_writer

log = logging.getLogger("bidder.app")
PLAN_TIMEOUT = 30.0  # seconds the reload waits for the plan summary before going on without it


@dataclass
class App:
    settings: Settings
    config: BidderConfig
    clock: Clock
    dry_run: bool
    on_decisions: Callable | None = None
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    cycles: dict[str, AccountCycle] = field(default_factory=dict)
    disabled: dict[str, str] = field(default_factory=dict)  # account -> why it is not served
    metrics: Metrics = field(default_factory=Metrics)
    health: Health | None = None
    sessions: Any = None
    read_sessions: Any = None
    http_session: aiohttp.ClientSession | None = None
    pacer: Pacer | None = None
    control: Control | None = None
    reload_error: str | None = None  # why the last reload was refused (the dashboard shows it)
    leases: Any = None  # bidder.workers.WorkerLeases on PostgreSQL (several workers), None on SQLite
    token_infos: dict[str, dict[str, Any]] = field(default_factory=dict)  # account -> read/write TokenInfo
    expiry_alerted: dict[tuple[str, str, Any], int] = field(default_factory=dict)  # smallest threshold alerted
    _worker: bool = False  # become_worker() done

    # -------------------------------------------------------------- building

    async def open(self) -> App:
        from bidder import workers

        await upgrade(self.settings.database_url)
        database = db.Database(self.settings.database_url)
        self.stack.push_async_callback(database.dispose)
        self.sessions = database.sessions
        self.read_sessions = database.read_sessions
        self.http_session = await self.stack.enter_async_context(aiohttp.ClientSession())
        self.pacer = Pacer(self.clock)
        self.health = Health(max_age=max_age_for(self.config.intervals.evaluate), clock=self.clock)
        self.control = Control(self.sessions, self.clock, accounts=lambda: self.config,
                               locale=self.config.telegram.locale, default_dry_run=self.dry_run)
        if workers.uses_leases(self.settings.database_url):
            self.leases = workers.WorkerLeases(self)
            self.stack.push_async_callback(self.leases.close)
        for account in self.config.accounts:
            await self._add_account(account)
        return self

    async def become_worker(self) -> None:
        """Before running cycles (``serve``, ``run_once``; not for the operator commands that build an App):
        on PostgreSQL claim this worker's share of the accounts; on SQLite refuse a second worker."""
        if self._worker:
            return
        self._worker = True
        if self.leases is not None:
            await self.leases.start()
            return
        from bidder import workers

        unlock = workers.single_worker_lock(self.settings.database_url)  # SQLite: one worker process
        if unlock is not None:
            self.stack.callback(unlock)

    async def _add_account(self, account) -> None:
        name = account.name
        now = self.clock.now()
        self.health.register(name)
        try:
            # the one place tokens are decoded and checked; dry-run never loads the write token
            tokens = load_tokens(account.read_token, None if self.dry_run else account.write_token, now=now)
            info = tokens.read.info
            reader = make_reader(self.http_session, tokens.read, self.pacer, self.clock,
                                 base_url=self.settings.advert_url(tokens.read.sandbox))
            dry_writer = DryRunWriter(reader=reader)
            live = None
            if tokens.write is not None:
                live = make_writer(reader=reader, write_token=tokens.write)
                if self.leases is not None:
                    live = self.leases.fence_writer(live, name)
        except TokenError as exc:
            self.disabled[name] = str(exc)
            log.error("account %s is not served: %s", name, exc)
            self.health.record(name, False, f"not served: {exc}", now)
            await self._ensure_and_alert(name, str(exc), now)
            return
        self.token_infos[name] = {"read": info, **({"write": tokens.write.info} if tokens.write else {})}
        for which, token_info in self.token_infos[name].items():
            await self._expiry_alert(name, which, token_info, now)
        cycle = AccountCycle(
            account=account,
            intervals=self.config.intervals,
            reader=reader,
            writer=live or dry_writer,
            dry_writer=dry_writer,
            sessions=self.sessions,
            read_sessions=self.read_sessions,
            clock=self.clock,
            seller_id=info.seller_id,
            alerts=alerts.OutboxAlerts(),
            operator=OperatorStateReader(),
            stop_file=Path(self.config.stop_file) if self.config.stop_file else None,
            metrics=self.metrics,
            on_decisions=self.on_decisions,
        )
        cycle.health = self.health
        self.cycles[name] = cycle

    async def _ensure_and_alert(self, name: str, error: str, now) -> None:
        from bidder.store import repo

        async with self.sessions.begin() as s:
            await repo.ensure_account(s, name)
            await alerts.account_failing(s, name, error, now)

    async def _expiry_alert(self, name: str, which: str, info, now) -> None:
        """Days left on /healthz; an alert at 14, 3 and 1 days (once each per token)."""
        left = info.days_left(now)
        self.health.set_token_days(name, which, left)
        key = (name, which, info.expires_at)
        due = expiry_alert_due(left, self.expiry_alerted.get(key))
        if due is None:
            return
        self.expiry_alerted[key] = due
        from bidder.store import repo

        log.warning("account %s: the %s token expires in %.0f days", name, which, left)
        async with self.sessions.begin() as s:
            await repo.ensure_account(s, name, info.seller_id)
            await alerts.token_expiring(s, name, which, info.expires_at, now)

    async def check_token_expiry(self) -> None:
        """Run by the daemon at least daily (not only at start-up; issue 14, defect 10)."""
        now = self.clock.now()
        for name, infos in list(self.token_infos.items()):
            for which, info in infos.items():
                await self._expiry_alert(name, which, info, now)

    async def _expiry_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), EXPIRY_CHECK_EVERY / 24 / max(self.clock.speed, 1e-9))
            if not stop.is_set():
                try:
                    await self.check_token_expiry()
                except Exception:  # a database hiccup: the next hourly check tries again
                    log.exception("token expiry check failed")

    async def close(self) -> None:
        for cycle in self.cycles.values():  # background statistics reads (engine/stats_pump.py)
            await cycle.poller.stats.stop()
        await self.stack.aclose()

    # -------------------------------------------------------------- running

    async def _log_plan(self, new: Any) -> None:
        """Before a reloaded config takes effect: what it would do on the next cycle against the running one
        (``bidder plan``), one summary line per account in the log. Never stops the reload."""
        from bidder.replay.plan import plan_account

        try:
            stop_file = Path(new.stop_file) if new.stop_file else None
            stopped = stop_file is not None and await asyncio.to_thread(stop_file.exists)
            async with self.read_sessions() as s:
                for account in new.accounts:
                    old = next((a for a in self.config.accounts if a.name == account.name), None)
                    if old is None:
                        continue
                    plan = await asyncio.wait_for(plan_account(s, old, account, self.clock.now(), stopped=stopped,
                                                               stop_file=stop_file), PLAN_TIMEOUT)
                    log.info("reload: %s", plan.summary())
        except Exception:
            log.exception("reload: the plan of the new config could not be built")

    async def reload(self) -> bool:
        """Re-read the YAML. Valid: accounts are updated for the next cycle. Invalid: keep the old one."""
        systemd.reloading()
        try:
            new = load_config(self.settings.config)
        except ConfigError as exc:
            log.error("reload rejected, the old configuration keeps running:\n%s", exc)
            self.reload_error = str(exc)  # shown on the dashboard's /config page
            systemd.ready()
            return False
        await self._log_plan(new)
        old_names = set(self.cycles) | set(self.disabled)
        self.config = new
        self.reload_error = None
        for account in new.accounts:
            cycle = self.cycles.get(account.name)
            if cycle is not None and _tokens_changed(cycle.account, account):
                # new tokens (e.g. after a 401 on writes): a fresh cycle with fresh clients; writes resume
                # without a restart. Its failing state carries over so that recovery is announced once.
                old = self.cycles.pop(account.name)
                await self._add_account(account)
                if account.name in self.cycles:
                    self.cycles[account.name].failing = old.failing
                continue
            if cycle is not None:
                cycle.account = account
                cycle.intervals = new.intervals
                cycle.guard = GuardConfig.from_guardrails(account.guardrails)
            else:
                self.disabled.pop(account.name, None)
                await self._add_account(account)
        for gone in old_names - {a.name for a in new.accounts}:
            self.cycles.pop(gone, None)
            self.disabled.pop(gone, None)
            self.health.unregister(gone)
        if self.leases is not None:
            self.leases.reloaded()
        log.info("configuration reloaded: %d account(s)", len(new.accounts))
        systemd.ready()
        return True

    def runner(self, stop: asyncio.Event | None = None) -> Runner:
        wd = systemd.watchdog_interval()
        runner = Runner(
            self.cycles if self.leases is None else self.leases.active,
            clock=self.clock,
            interval=self.config.intervals.evaluate,
            reload=self.reload,
            watchdog=systemd.watchdog if wd else None,
            watchdog_every=wd,
            stop=stop,
            guard=None if self.leases is None else self.leases.keeper.serving,
        )
        if self.leases is not None:
            self.leases.runner = runner
        return runner

    async def run_once(self) -> list[CycleResult]:
        """One full cycle for every account (``bidder run --once``)."""
        await self.become_worker()
        return await self.runner().run_once()

    async def serve(self, *, telegram_sink=None, stop: asyncio.Event | None = None) -> None:
        """Run until SIGTERM/SIGINT (or ``stop``): cycles, the HTTP endpoints, Telegram, the digest."""
        from bidder.http import start_http
        from bidder.notify.digest import DigestJob
        from bidder.notify.outbox import OutboxSender

        await self.become_worker()
        stop = stop or asyncio.Event()
        tasks: list[asyncio.Task] = []
        http = None
        if self.settings.http_port:
            from bidder.dashboard import deps_for_app, setup_dashboard

            http = await start_http(self.settings.http_port, self.settings.http_host, self.health, self.metrics,
                                    self.clock, extra=lambda web_app: setup_dashboard(web_app, deps_for_app(self)))
            log.info("health and metrics on port %d", http.port)
        tasks.append(asyncio.create_task(self._expiry_loop(stop), name="token-expiry"))
        tg = self.config.telegram
        sink = telegram_sink
        client = None
        chat_ids = tuple(self.settings.telegram_chat_ids)
        if sink is None and self.settings.telegram_bot_token is not None:
            from bidder.notify.telegram import TelegramClient

            client = TelegramClient(self.settings.telegram_bot_token, base_url=self.settings.telegram_api_url,
                                    session=self.http_session, clock=SystemClock())
            sink = client
        if sink is not None:
            sender = OutboxSender(self.sessions, sink, chat_ids or (0,), clock=self.clock, locale=tg.locale,
                                  timezone=tg.digest_timezone, merge_window=tg.merge_window)
            self.control.set_kick(sender.kick)
            tasks.append(self._one_of_a_kind("telegram", sender.run, stop))
            digest = DigestJob(self.sessions, self.clock, accounts=lambda: self.config.accounts, locale=tg.locale,
                               digest_time=tg.digest_time, timezone=tg.digest_timezone, on_enqueued=sender.kick,
                               read_sessions=self.read_sessions)
            tasks.append(self._one_of_a_kind("digest", lambda st: digest.run(st, every=60.0 / self.clock.speed), stop))
        approval_on = [a.name for a in self.config.accounts if a.approval.mode != "off"
                       or any(c.approval is not None and c.approval.mode != "off" for c in a.campaigns)]
        if approval_on and (client is None or not chat_ids):
            log.warning("approval mode is on for %s but Telegram is not configured (BIDDER_TELEGRAM_BOT_TOKEN, "
                        "BIDDER_TELEGRAM_CHAT_IDS): changes that need approval are held and skipped at their timeout",
                        ", ".join(approval_on))
        if client is not None and chat_ids:
            from bidder.notify.approvals import ApprovalAnswers, ApprovalSender
            from bidder.notify.commands import CommandLoop

            answers = ApprovalAnswers(self.sessions, client, chat_ids, clock=self.clock, locale=tg.locale)
            commands = CommandLoop(client, self.control, chat_ids, clock=SystemClock(), locale=tg.locale,
                                   timezone=tg.digest_timezone, callbacks=answers)
            tasks.append(self._one_of_a_kind("telegram-commands", commands.run, stop))
            requests = ApprovalSender(self.sessions, client, chat_ids, clock=self.clock, locale=tg.locale)
            tasks.append(self._one_of_a_kind("approval-requests", lambda st: requests.run(st, every=2.0), stop))
        if self.leases is not None:
            tasks.append(self.leases.run(stop))
        systemd.ready()
        try:
            await self.runner(stop=stop).serve()
        finally:
            stop.set()
            self.health.mark_stopping()
            systemd.stopping()
            for task in tasks:
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 3)
            if http is not None:
                await http.stop()


    def _one_of_a_kind(self, job: str, run: Callable, stop: asyncio.Event) -> asyncio.Task:
        """A job one worker of the cluster runs (leased on PostgreSQL; this process on SQLite)."""
        if self.leases is not None:
            return self.leases.job(job, run, stop)
        return asyncio.create_task(run(stop), name=job)


def _tokens_changed(old, new) -> bool:
    def secret(s) -> str | None:
        return None if s is None else s.get_secret_value()

    return secret(old.read_token) != secret(new.read_token) or secret(old.write_token) != secret(new.write_token)


async def build_app(settings: Settings, *, dry_run: bool | None = None, clock: Clock | None = None,
                    config: BidderConfig | None = None, on_decisions: Callable | None = None) -> App:
    cfg = config or load_config(settings.config)
    app = App(
        settings=settings,
        config=cfg,
        clock=clock or SystemClock(),
        dry_run=settings.dry_run if dry_run is None else dry_run,
        on_decisions=on_decisions,
    )
    try:
        await app.open()
    except BaseException:
        await app.close()
        raise
    return app
