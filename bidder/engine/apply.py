"""The apply stage: record every decision, send the changes through the writer, record the outcome.

Each change is first recorded as a write intent (``pending``), then sent through the writer (live, or
dry-run when the process runs dry or the operator's ``/dryrun`` toggle is on), then marked ``applied``,
``dry_run`` or ``failed``. Item bids go out in one batched call, search-cluster bids (decisions with a
``norm_query``) in theirs, pauses and resumes one by one. A refused write token stops this account's
writes (alerted once); later intents are recorded as ``skipped``. Holds are recorded when their reason
changes in substance or once an hour. Apply needs no fresh data from WB: it acts on any decision list.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.clock import Clock
from bidder.domain import STARTABLE_STATUSES, Action, Campaign, Decision, Status
from bidder.engine.min_bids import note_rejection
from bidder.engine.ports import AlertSink, MetricsSink, OperatorState, Reader, Writer
from bidder.engine.view import AccountView
from bidder.errors import AuthFailed, BadRequest, WBError
from bidder.store import repo
from bidder.wb.models import BidChange, ClusterBidChange

log = logging.getLogger("bidder.engine")

HOLD_RECORD_EVERY = timedelta(hours=1)
# WB applies a bid change on the next 30-second tick and a status change on the next whole minute, so
# right after a crash a write WB accepted may not show yet: reconcile re-reads once this has passed
# since the newest pending intent (the tick, plus time for the call itself).
WRITE_SETTLE = timedelta(seconds=90)
_NUMBERS = re.compile(r"[-+]?\d[\d.,:]*")

Write = tuple[int, Decision]  # (decision row id, decision)


class Applier:
    """``Applier(view, sessions=, read_sessions=, clock=, alerts=, operator=, live_writer=, dry_writer=,
    metrics=)``. ``await choose_writer()`` once a cycle, then ``await run(decisions) -> (applied, failed)``.
    ``await reconcile(reader)`` resolves intents a crash left pending."""

    def __init__(self, view: AccountView, *, sessions: async_sessionmaker[AsyncSession],
                 read_sessions: async_sessionmaker[AsyncSession], clock: Clock, alerts: AlertSink,
                 operator: OperatorState, live_writer: Writer | None, dry_writer: Writer,
                 metrics: MetricsSink | None = None) -> None:
        self.view = view
        self.sessions = sessions
        self.read_sessions = read_sessions
        self.clock = clock
        self.alerts = alerts
        self.operator = operator
        self.live_writer = live_writer
        self.dry_writer = dry_writer
        self.writer: Writer = live_writer or dry_writer
        self.metrics = metrics
        self.writes_blocked: str | None = None
        self._last_hold: dict[tuple, tuple[str, datetime]] = {}

    @property
    def dry_run(self) -> bool:
        return self.writer is not self.live_writer

    async def choose_writer(self) -> None:
        """The operator's /dryrun toggle, read each cycle: on = the dry-run writer; off = the live writer
        (only when the process holds one: a process started dry never loads the write token)."""
        async with self.read_sessions() as s:
            override = await self.operator.dry_run(s, self.view.name)
        if override is True or self.live_writer is None:
            self.writer = self.dry_writer
        else:
            self.writer = self.live_writer

    def _worth_recording(self, d: Decision, now: datetime) -> bool:
        """Every change is recorded. A hold is recorded when its reason changes in substance (numbers
        aside) or once an hour, so the audit trail shows why nothing happened without a row per minute."""
        key = (d.advert_id, d.nm_id, d.placement, d.norm_query)
        if d.action != Action.HOLD:
            self._last_hold.pop(key, None)
            return True
        gist = _NUMBERS.sub("#", d.reason)
        last = self._last_hold.get(key)
        if last is not None and last[0] == gist and now - last[1] < HOLD_RECORD_EVERY:
            return False
        self._last_hold[key] = (gist, now)
        return True

    async def run(self, decisions: list[Decision]) -> tuple[int, int]:
        """Record intents, send them through the writer (live or dry-run), record the outcome."""
        view = self.view
        now = self.clock.now()
        dry = self.dry_run
        intents: list[Decision] = []
        holds: list[Decision] = []
        for d in decisions:
            if not self._worth_recording(d, now):
                continue
            if d.changes_bid or d.action in (Action.PAUSE, Action.RESUME):
                intents.append(d)
            else:
                holds.append(d)
        writes: list[Write] = []
        async with self.sessions.begin() as s:
            if self.writes_blocked:
                await repo.record_decisions(s, view.name, intents, at=now, dry_run=dry, apply_status="skipped",
                                            evidence_at=view.stats_at, error=self.writes_blocked)
            else:
                ids = await repo.record_decisions(s, view.name, intents, at=now, dry_run=dry, apply_status="pending",
                                                  evidence_at=view.stats_at, returning_ids=True)
                writes = list(zip(ids, intents, strict=True))
            await repo.record_decisions(s, view.name, holds, at=now, dry_run=dry, apply_status="held",
                                        evidence_at=view.stats_at)
            await self.alerts.for_decisions(s, view.name, view.campaigns, [d for _, d in writes] + holds, now,
                                            dry_run=dry, currency=view.currency or "RUB")
        if self.metrics is not None:
            for action, n in Counter(d.action.value for d in decisions).items():
                self.metrics.decision(action, n)
        if not writes:
            return 0, 0
        applied = failed = 0
        bid_writes = [(i, d) for i, d in writes if d.action == Action.SET_BID and d.norm_query is None]
        cluster_writes = [(i, d) for i, d in writes if d.action == Action.SET_BID and d.norm_query is not None]
        status_writes = [(i, d) for i, d in writes if d.action != Action.SET_BID]
        if bid_writes:
            a, f = await self._apply_bids(bid_writes)
            applied, failed = applied + a, failed + f
        if cluster_writes:
            a, f = await self._apply_cluster_bids(cluster_writes)
            applied, failed = applied + a, failed + f
        for did, d in status_writes:
            ok = await self._apply_status(did, d)
            applied, failed = applied + ok, failed + (not ok)
        if self.metrics is not None:
            done = "dry_run" if self.dry_run else "applied"
            for status, n in ((done, applied), ("failed", failed)):
                for _ in range(n):
                    self.metrics.write_intent(status)
        return applied, failed

    async def _apply_bids(self, writes: list[Write]) -> tuple[int, int]:
        changes = [BidChange(d.advert_id, d.nm_id, d.placement, d.bid_after) for _, d in writes]  # type: ignore[arg-type]
        try:
            results = await self.writer.set_bids(changes)
        except WBError as exc:
            return await self._failed(writes, exc)
        by_key = {(r.advert_id, r.nm_id, r.placement): (r.applied, r.error) for r in results}
        return await self._record_results(writes, {k: by_key.get((d.advert_id, d.nm_id, d.placement))
                                                   for k, d in writes})

    async def _apply_cluster_bids(self, writes: list[Write]) -> tuple[int, int]:
        changes = [ClusterBidChange(d.advert_id, d.nm_id, d.norm_query, d.bid_after)  # type: ignore[arg-type]
                   for _, d in writes]
        try:
            results = await self.writer.set_cluster_bids(changes)
        except WBError as exc:
            return await self._failed(writes, exc)
        by_key = {(r.advert_id, r.nm_id, r.norm_query): (r.applied, r.reason) for r in results}
        return await self._record_results(writes, {k: by_key.get((d.advert_id, d.nm_id, d.norm_query))
                                                   for k, d in writes})

    async def _record_results(self, writes: list[Write], results: dict[int, tuple[bool, str | None] | None]
                              ) -> tuple[int, int]:
        now = self.clock.now()
        outcomes: list[tuple[int, str, str | None, datetime | None]] = []
        for did, d in writes:
            r = results.get(did)
            if r is not None and r[0]:
                outcomes.append((did, "dry_run" if self.dry_run else "applied", None, now))
                if not self.dry_run:
                    self.view.note_bid(d)
            else:
                outcomes.append((did, "failed", (r[1] if r else "no result from WB"), None))
                note_rejection(self.view.min_bids, d, r[1] if r else None)
        async with self.sessions.begin() as s:
            await repo.set_decision_statuses(s, outcomes)
        applied = sum(1 for o in outcomes if o[3] is not None)
        if self.metrics is not None and not self.dry_run and applied:
            self.metrics.bid_changed(self.view.name, applied)
        return applied, len(outcomes) - applied

    async def _apply_status(self, did: int, d: Decision) -> bool:
        camp = self.view.campaigns.get(d.advert_id)
        try:
            if d.action == Action.PAUSE:
                await self.writer.pause(d.advert_id)
                new_status = Status.PAUSED
            else:
                if camp is not None and camp.status not in STARTABLE_STATUSES:
                    raise WBError(f"campaign status {camp.status} cannot be started")
                await self.writer.start(d.advert_id)
                new_status = Status.ACTIVE
        except WBError as exc:
            await self._failed([(did, d)], exc)
            return False
        async with self.sessions.begin() as s:
            await repo.set_decision_status(s, did, "dry_run" if self.dry_run else "applied", applied_at=self.clock.now())
        if not self.dry_run:
            self.view.note_status(d.advert_id, new_status)
        return True

    async def _failed(self, writes: list[Write], exc: WBError) -> tuple[int, int]:
        if isinstance(exc, AuthFailed):
            await self._block_writes(exc)
        error = str(exc)[:500]
        if isinstance(exc, BadRequest):
            for _, d in writes:
                note_rejection(self.view.min_bids, d, exc.detail)
        async with self.sessions.begin() as s:
            await repo.set_decision_statuses(s, [(did, "failed", error, None) for did, _ in writes])
        return 0, len(writes)

    async def _block_writes(self, exc: AuthFailed) -> None:
        if self.writes_blocked:
            return
        self.writes_blocked = f"writes stopped: the write token was refused ({exc.status})"
        log.error("account %s: %s", self.view.name, self.writes_blocked)
        async with self.sessions.begin() as s:
            await self.alerts.writes_blocked(s, self.view.name, str(exc), self.clock.now())

    # ------------------------------------------------------------------ after a crash

    async def reconcile(self, reader: Reader) -> int:
        """Resolve intents that were recorded but never completed (a crash between the intent and the
        API's answer): re-read current bids and statuses from WB and record what actually happened.
        Nothing is re-sent; the next cycle decides afresh."""
        view = self.view
        async with self.sessions() as s:
            pending = await repo.pending_intents(s, view.name)
        if not pending:
            return 0
        settled = max(p.at for p in pending) + WRITE_SETTLE
        wait = (settled - self.clock.now()).total_seconds()
        if wait > 0:
            log.info("account %s: %d write intents pending; waiting %.0fs for WB to apply accepted writes "
                     "before re-reading", view.name, len(pending), wait)
            await self.clock.sleep(wait)
        ids = sorted({p.advert_id for p in pending})
        current: dict[int, Campaign] = {c.advert_id: c for c in await reader.campaigns(ids)}
        cluster_pairs = sorted({(p.advert_id, p.nm_id) for p in pending if p.norm_query and p.nm_id is not None})
        cluster_bids = ({(b.advert_id, b.nm_id, b.norm_query): b.bid for b in await reader.cluster_bids(cluster_pairs)}
                        if cluster_pairs else {})
        now = self.clock.now()
        async with self.sessions.begin() as s:
            for p in pending:
                camp = current.get(p.advert_id)
                applied = False
                if camp is not None:
                    if p.action == Action.SET_BID and p.norm_query:
                        applied = cluster_bids.get((p.advert_id, p.nm_id, p.norm_query)) == p.bid_after
                    elif p.action == Action.SET_BID:
                        item = camp.item(p.nm_id) if p.nm_id is not None else None
                        applied = item is not None and item.bid_for(p.placement or "") == p.bid_after
                    elif p.action == Action.PAUSE:
                        applied = camp.status == Status.PAUSED
                    elif p.action == Action.RESUME:
                        applied = camp.status == Status.ACTIVE
                status = "reconciled_applied" if applied else "reconciled_not_applied"
                await repo.set_decision_status(s, p.id, status, applied_at=now if applied else None)
            await repo.save_campaigns(s, view.name, list(current.values()), now)
        view.campaigns.update(current)
        log.info("account %s: reconciled %d pending write intents", view.name, len(pending))
        return len(pending)
