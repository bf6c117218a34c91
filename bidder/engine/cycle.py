"""One account, one pass: poll -> evaluate -> apply, with errors mapped by type and health tracked.

The stages are small classes over one :class:`~bidder.engine.view.AccountView`:

* :class:`~bidder.engine.poll.Poller` reads WB (each read gated by its own interval and WB's limits);
* :class:`~bidder.engine.evaluate.Evaluator` turns the view into decisions (strategies, then guardrails);
* :class:`~bidder.engine.apply.Applier` records and sends them through the writer.

Errors are mapped by type (:mod:`bidder.engine.errors_map`), for this account only: the caller
(:mod:`bidder.engine.runner`) keeps the other accounts running, and nothing escapes ``run_cycle``. When a
read fails, :meth:`AccountCycle.safety_pass` still evaluates and applies what needs no fresh data from
WB (operator pause and resume, the stop file, schedule boundaries, budget pauses), from the view and the
store. Pending write intents are reconciled campaign by campaign (:mod:`bidder.engine.reconcile`);
alerts on changes of state and the API metrics are :mod:`bidder.engine.reports`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.clock import Clock
from bidder.domain import Action, Campaign, Decision
from bidder.engine import reports
from bidder.engine.apply import Applier
from bidder.engine.approval import ApprovalGate
from bidder.engine.errors_map import map_error
from bidder.engine.evaluate import REEVALUATE_EVERY, Evaluation, Evaluator, rollback_decisions
from bidder.engine.guards import GuardConfig
from bidder.engine.limits import DailyLimitStep, cycle_pass
from bidder.engine.min_bids import MIN_BIDS_IN_CYCLE
from bidder.engine.poll import Poller
from bidder.engine.ports import AlertSink, HealthSink, MetricsSink, OperatorState, Reader, Writer
from bidder.engine.view import AccountView
from bidder.errors import WBError
from bidder.store import repo

__all__ = ["REEVALUATE_EVERY", "AccountCycle", "CycleResult"]

log = logging.getLogger("bidder.engine")


@dataclass
class CycleResult:
    account: str
    started_at: datetime
    finished_at: datetime | None = None
    ok: bool = True
    error: str | None = None
    campaigns: int = 0
    stats_refreshed: int = 0
    decisions: list[Decision] = field(default_factory=list)
    evaluated: int = 0  # campaigns evaluated (the others' inputs had not changed)
    applied: int = 0
    failed: int = 0
    dry_run: bool = False

    def summary(self) -> dict[str, Any]:
        changes = [d for d in self.decisions if d.action != Action.HOLD]
        return {"campaigns": self.campaigns, "stats_refreshed": self.stats_refreshed, "decisions": len(changes),
                "evaluated": self.evaluated, "applied": self.applied, "failed": self.failed, "dry_run": self.dry_run}


class AccountCycle:
    """The runtime of one seller account: the three stages over its view. All durable state is in the
    store; the view and the stages hold caches between cycles."""

    def __init__(
        self,
        *,
        account,  # bidder.config.AccountConfig
        intervals,  # bidder.config.Intervals
        reader: Reader,
        writer: Writer,  # the live writer, or dry_writer itself when the process runs dry (no write token)
        dry_writer: Writer,  # used in dry-run and while the operator's dry-run toggle is on
        sessions: async_sessionmaker[AsyncSession],
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
        clock: Clock,
        seller_id: str,
        alerts: AlertSink,
        operator: OperatorState,
        stop_file: Path | None = None,
        metrics: MetricsSink | None = None,
        health: HealthSink | None = None,
        on_decisions: Callable[[str, list[Decision]], None] | None = None,
    ) -> None:
        read_sessions = read_sessions or sessions  # reads that must not hold SQLite's write lock
        self.name: str = account.name
        self.view = AccountView(account, GuardConfig.from_guardrails(account.guardrails))
        self.reader = reader
        self.sessions = sessions
        self.clock = clock
        self.seller_id = seller_id
        self.alerts = alerts
        self.metrics = metrics
        self.health = health
        self.on_decisions = on_decisions
        self.poller = Poller(self.view, reader, sessions, clock, intervals, alerts=alerts)
        self.evaluator = Evaluator(self.view, sessions=sessions, read_sessions=read_sessions, alerts=alerts,
                                   operator=operator, stop_file=stop_file)
        self.applier = Applier(self.view, sessions=sessions, read_sessions=read_sessions, clock=clock,
                               alerts=alerts, operator=operator, live_writer=None if writer is dry_writer else writer,
                               dry_writer=dry_writer, metrics=metrics)
        self.approval = ApprovalGate(self.name, lambda: self.view.account, sessions)
        self.evaluated = 0
        self.daily_limits = DailyLimitStep(reader)  # WB's daily limits as a budget backstop (engine/limits.py)
        self.failing: str | None = None
        self.started = False
        self.drift_alerted: set[str] = set()  # engine/reports.py: API drift alerted once per method
        self.api_seen: dict = {}  # engine/reports.py: WB call counters already exported

    # ------------------------------------------------------------------ configuration (a reload sets these)

    @property
    def account(self):
        return self.view.account

    @account.setter
    def account(self, value) -> None:  # strategies and evaluation inputs start afresh
        self.view.configure(value)
        self.evaluator.forget()

    @property
    def intervals(self):
        return self.poller.intervals

    @intervals.setter
    def intervals(self, value) -> None:
        self.poller.intervals = value

    @property
    def guard(self) -> GuardConfig:
        return self.view.guard

    @guard.setter
    def guard(self, value: GuardConfig) -> None:
        self.view.guard = value

    # ------------------------------------------------------------------ what the stages know

    @property
    def campaigns(self) -> dict[int, Campaign]:
        return self.view.campaigns

    @property
    def live_writer(self) -> Writer | None:
        return self.applier.live_writer

    @property
    def writes_blocked(self) -> str | None:
        return self.applier.writes_blocked

    @property
    def dry_run(self) -> bool:
        return self.applier.dry_run

    def managed_ids(self) -> list[int]:
        return self.view.managed_ids()

    def strategies_for(self, advert_id: int) -> list:
        return self.view.strategies_for(advert_id)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Register the account and load the campaigns last stored, so that the decisions needing no fresh
        reads (the safety pass) can be taken before WB answers. Write intents a crash left pending are
        reconciled by each cycle, campaign by campaign (:mod:`bidder.engine.reconcile`)."""
        async with self.sessions.begin() as s:
            await repo.ensure_account(s, self.name, self.seller_id, self.view.currency or "", self.account.timezone)
        async with self.sessions() as s:
            # the last *finished* cycle: one cut by a SIGKILL or a lease hand-over (another worker's, on
            # PostgreSQL) says nothing; and the health alert last made for the account, by whichever
            # process: it is alerted before its cycle row is closed, so a kill in between leaves the alert
            last = (await repo.last_cycles(s, finished=True)).get(self.name)
            alerted = await repo.last_alert_kind(s, self.name, ("account_failing", "account_recovered"))
            if not self.view.campaigns:
                for camp in await repo.load_campaigns(s, self.name):
                    self.view.campaigns.setdefault(camp.advert_id, camp)
                    if camp.currency and not self.view.currency:
                        self.view.currency = camp.currency
        was_failing = alerted == "account_failing" if alerted is not None else (last is not None and last.ok is False)
        if was_failing and self.failing is None:
            # it was failing before this process started (or took the account over) and that was alerted
            # then: a restart or a takeover must not alert again (its recovery still is)
            self.failing = (last.error if last is not None and last.ok is False else None) or "failing before the restart"
        self.started = True

    async def reconcile(self, *, wait: bool = False) -> int:
        """Resolve the pending intents whose campaigns WB has had the time to settle; with ``wait``, wait
        for all of them (one-shot commands). Never raises a read failure (the campaigns keep waiting)."""
        return await self.applier.reconcile(self.reader, wait=wait)

    # ------------------------------------------------------------------ the cycle

    async def run_cycle(self) -> CycleResult:
        """One pass: reconcile what is due, the safety pass (operator pause/resume, the stop file, schedule
        boundaries, budget pauses: from the view and the store, before any read, so it is applied whatever
        the reads do), then poll -> evaluate -> apply. Never raises (but for cancellation): every failure
        is mapped (:mod:`bidder.engine.errors_map`) into a failed result with a health transition, and
        the cycle row is closed."""
        now = self.clock.now()
        if self.health is not None:
            self.health.cycle_started(self.name, now)
        result = CycleResult(account=self.name, started_at=now)
        cycle_id = None
        try:
            if not self.started:
                await self.start()
            async with self.sessions.begin() as s:
                cycle_id = await repo.start_cycle(s, self.name, now)
            await self.applier.choose_writer()
            result.dry_run = self.dry_run
            await self.reconcile()
            # safety first: what needs no fresh data goes out before any read (a pause never waits for
            # WB's statistics, nor for a restart's first polls); the full evaluation then sees it applied
            safety = await self.safety_pass(self.clock.now())
            known_before = self.view.known_ids()  # with details, or from WB's list alone
            read_error: Exception | None = None
            try:
                await self._reread_rejected(now)
                await self.poller.refresh_campaigns(now)
                result.campaigns = len(self.view.campaigns)
                result.stats_refreshed = await self.poller.poll(now)
            except Exception as exc:  # mapped below, after the safety pass
                read_error = exc
            result.decisions, result.applied, result.failed = safety
            await reports.alert_features_off(self)
            if read_error is not None and self.view.known_ids() - known_before:  # e.g. a first start: the
                again = await self.safety_pass(self.clock.now())  # list read, a later read failed
                safety = ([*safety[0], *again[0]], safety[1] + again[1], safety[2] + again[2])
                result.decisions, result.applied, result.failed = safety
            if read_error is not None:
                result.campaigns = len(self.view.campaigns)
                log.warning("account %s: a read failed (%s); only what needs no fresh data was applied",
                            self.name, type(read_error).__name__)
                raise read_error
            self.applier.overlay_statuses()
            evaluation = await self._evaluate(self.clock.now())
            result.decisions = [*safety[0], *evaluation.decisions]
            result.evaluated = evaluation.evaluated
            decisions = await self.approval.gate(evaluation.decisions, self.clock.now())  # approval mode
            result.decisions = [*safety[0], *decisions]
            applied, failed = await self.applier.run(decisions)
            result.applied, result.failed = result.applied + applied, result.failed + failed
            await cycle_pass(self.daily_limits, self)
        except Exception as exc:
            mapped = map_error(exc)
            result.ok, result.error = False, mapped.message
            if mapped.kind in ("unexpected", "database", "bidder"):
                log.error("account %s: cycle failed: %s", self.name, mapped.message, exc_info=exc)
            if mapped.drift and isinstance(exc, WBError):
                await self._guarded(reports.alert_drift(self, exc), "alerting API drift")
        result.finished_at = self.clock.now()
        await self._guarded(reports.health_transition(self, result), "recording the health transition")
        if cycle_id is not None:
            await self._guarded(self._finish(cycle_id, result), "closing the cycle row")
        if self.health is not None:
            self.health.cycle_finished(self.name, result.finished_at, result.ok, result.error)
        try:
            reports.export_api_metrics(self)
            await reports.alert_long_waits(self)
            if self.metrics is not None:
                self.metrics.cycle(
                    self.name,
                    (result.finished_at - result.started_at).total_seconds() / max(self.clock.speed, 1e-9),
                    result.ok,
                    result.finished_at,
                )
            if self.on_decisions is not None and result.decisions:
                self.on_decisions(self.name, result.decisions)
        except Exception:
            log.exception("account %s: after the cycle", self.name)
        return result

    async def _finish(self, cycle_id, result: CycleResult) -> None:
        async with self.sessions.begin() as s:
            await repo.finish_cycle(s, cycle_id, at=result.finished_at, ok=result.ok, error=result.error,
                                    summary=result.summary())

    async def _guarded(self, step, what: str) -> None:
        """A bookkeeping step after the cycle: its failure (the database gone) is logged, never raised."""
        try:
            await step
        except Exception:
            log.exception("account %s: %s failed", self.name, what)

    async def _reread_rejected(self, now: datetime) -> None:
        """Campaigns WB rejected a write for, or whose request-shaping fields were missing or unknown: read
        their details again before any write to them; and those whose status change WB's minute tick has
        passed since (what WB shows now counts). One call for all."""
        rejected = self.applier.rejected
        ids = sorted(i for i in rejected.needs_reread | self.applier.status_reread if i in self.view.campaigns)
        if not ids:
            rejected.needs_reread.clear()
            self.applier.status_reread.clear()
            return
        fresh = await self.reader.campaigns(ids)
        for camp in fresh:
            self.view.details_at[camp.advert_id] = now
        await self.poller.save_campaigns(fresh, now)
        rejected.reread(ids)
        await self.applier.reread(ids)

    async def _evaluate(self, now: datetime) -> Evaluation:
        evaluation = await self.evaluator.run(now)
        # cuts held for want of WB's minimum bid: read those minimums now (WB's burst, no waiting) and
        # decide those campaigns again in this cycle (engine.min_bids); the rest in the next cycle
        read = await self.poller.read_minimums(now, MIN_BIDS_IN_CYCLE)
        if read:
            again = await self.evaluator.run(now, only=read)
            evaluation = Evaluation([d for d in evaluation.decisions if d.advert_id not in read] + again.decisions,
                                    evaluation.evaluated)
        self.evaluated = evaluation.evaluated
        return evaluation

    async def evaluate(self, now: datetime) -> list[Decision]:
        """The evaluate stage alone (the campaigns whose inputs changed); nothing is applied."""
        return (await self._evaluate(now)).decisions

    async def safety_pass(self, now: datetime) -> tuple[list[Decision], int, int]:
        """Evaluate and apply only what needs no fresh data from WB (the operator's pause and resume, the
        stop file, strategies marked ``safe_without_fresh_reads``), on what the view already holds: first
        in every cycle, before any read. Only actions are applied and returned (the full evaluation
        records the holds, with their reasons). Returns (decisions, applied, failed)."""
        await self.applier.choose_writer()
        self.applier.overlay_statuses()
        decisions = [d for d in (await self.evaluator.run(now, safety_only=True)).decisions
                     if d.action != Action.HOLD]
        if not decisions:
            return [], 0, 0
        applied, failed = await self.applier.run(decisions)
        return decisions, applied, failed

    async def rollback(self, to: datetime, advert_id: int | None = None) -> list[Decision]:
        """Restore the bids in force at ``to`` (from the audit trail's bid snapshots) through the
        guardrails and the same paced, audited writer. WB's minimum bid and the account's max_bid apply."""
        async with self.sessions() as s:
            target = await repo.bids_at(s, self.name, to, advert_id)
        ids = sorted({k[0] for k in target})
        if not ids:
            return []
        now = self.clock.now()
        current = {c.advert_id: c for c in await self.reader.campaigns(ids)}
        self.view.campaigns.update(current)
        await self.poller.refresh_rules(now, every_item_of=ids)
        decisions = rollback_decisions(self.view, target, current, to, now)
        await self.applier.run(decisions)
        return decisions
