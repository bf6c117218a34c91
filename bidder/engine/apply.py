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
from bidder.domain import STARTABLE_STATUSES, Action, Decision, Status
from bidder.engine import kill_switch
from bidder.engine.min_bids import note_rejection
from bidder.engine.ports import AlertSink, MetricsSink, OperatorState, Reader, Writer
from bidder.engine.reconcile import CALL_MARGIN, STATUS_TICK, Reconciler
from bidder.engine.safety import REJECTION_TTL, RejectedWrites, placement_fits, request_shape_problem
from bidder.engine.view import AccountView
from bidder.errors import AuthFailed, BadRequest, SchemaDrift, TemporaryError, WBError
from bidder.store import rejected as rejected_store
from bidder.store import repo
from bidder.wb.models import BidChange, ClusterBidChange

log = logging.getLogger("bidder.engine")

HOLD_RECORD_EVERY = timedelta(hours=1)
STATUS_SETTLE = STATUS_TICK + CALL_MARGIN
_NUMBERS = re.compile(r"[-+]?\d[\d.,:]*")

Write = tuple[int, Decision]  # (decision row id, decision)
NOT_A_REJECTION = ("not sent", "ambiguous", "no result from WB")  # failures that say nothing about the request


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
        self.reconciler = Reconciler(view, sessions, clock)
        self.rejected = RejectedWrites()
        self._status_sent: dict[int, tuple[Action, datetime]] = {}  # advert -> last status change WB accepted
        self._status_decisions: dict[int, Decision] = {}  # advert -> that change's decision (confirmed on re-read)
        self.status_reread: set[int] = set()  # campaigns to re-read: WB's tick passed since a status change
        self._confirmed: list[Decision] = []  # this run's writes WB accepted (announced as sent after the answers)
        self._shown: list[Decision] = []  # this run's writes a re-read showed applied (announced as confirmed)
        self._rejections: list[tuple[Decision, str]] = []
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
        """Record intents, send them through the writer (live or dry-run), record the outcome. The requests
        WB rejected are kept in the store (read back after a restart, ``engine/safety.py``)."""
        rejected = self.rejected
        if not rejected.loaded:
            since = self.clock.now() - REJECTION_TTL
            async with self.sessions.begin() as s:
                await rejected_store.purge_rejected(s, self.view.name, since)
                rejected.load(await rejected_store.load_rejected(s, self.view.name, since))
        try:
            return await self._run(decisions)
        finally:
            if rejected.unsaved or rejected.forgotten:
                unsaved, forgotten = rejected.unsaved, rejected.forgotten
                rejected.unsaved, rejected.forgotten = [], set()
                async with self.sessions.begin() as s:
                    await rejected_store.forget_rejected(s, self.view.name, forgotten)
                    await rejected_store.save_rejected(s, self.view.name, unsaved)

    async def _run(self, decisions: list[Decision]) -> tuple[int, int]:
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
        refused: dict[str, list[Decision]] = {}
        if not self.writes_blocked:
            allowed = []
            for d in intents:
                why = self.refusal(d)
                if why is None:
                    allowed.append(d)
                else:
                    refused.setdefault(why, []).append(d)
            intents = allowed
        evidence = view.evidence_times()  # the data's time, not the fetch's (engine/freshness.py)
        async with self.sessions.begin() as s:
            if self.writes_blocked:
                await repo.record_decisions(s, view.name, intents, at=now, dry_run=dry, apply_status="skipped",
                                            evidence_at=evidence, error=self.writes_blocked)
            else:
                ids = await repo.record_decisions(s, view.name, intents, at=now, dry_run=dry, apply_status="pending",
                                                  evidence_at=evidence, returning_ids=True)
                writes = list(zip(ids, intents, strict=True))
            for why, ds in refused.items():
                await repo.record_decisions(s, view.name, ds, at=now, dry_run=dry, apply_status="skipped",
                                            evidence_at=evidence, error=why)
            await repo.record_decisions(s, view.name, holds, at=now, dry_run=dry, apply_status="held",
                                        evidence_at=evidence)
            # holds now; changes are announced once WB has answered (what it confirmed, see _announce)
            await self.alerts.for_decisions(s, view.name, view.campaigns, holds, now,
                                            dry_run=dry, currency=view.currency or "RUB")
        if self.metrics is not None:
            for action, n in Counter(d.action.value for d in decisions).items():
                self.metrics.decision(action, n)
        if not writes:
            return 0, 0
        self._confirmed, self._shown, self._rejections = [], [], []
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
        await self._announce()
        if self.metrics is not None:
            done = "dry_run" if self.dry_run else "applied"
            for status, n in ((done, applied), ("failed", failed)):
                for _ in range(n):
                    self.metrics.write_intent(status)
        return applied, failed

    def refusal(self, d: Decision) -> str | None:
        """Why this write must not be sent (fail closed), or None. A pause is refused only when the
        campaign is unknown or waiting for reconciliation: its request is the campaign id alone and it
        stops spending."""
        view = self.view
        if d.advert_id in view.reconciling:
            return "a write to this campaign is being reconciled with WB"
        camp = view.campaigns.get(d.advert_id)
        if camp is None and not (d.action == Action.PAUSE and d.advert_id in view.listed):
            return "campaign not known"  # a pause needs only the id: one known from WB's list goes out
        if d.action != Action.PAUSE:
            problem = view.write_blocked.get(d.advert_id) or request_shape_problem(camp)
            if problem is not None:
                self.rejected.needs_reread.add(d.advert_id)  # re-read its details before trying again
                return f"not written until WB's campaign details read cleanly: {problem}"
            if not placement_fits(camp, d):
                return f"placement {d.placement} does not fit a {camp.bid_type} campaign"
        sent = self._status_sent.get(d.advert_id)
        if sent is not None and sent[0] == d.action:
            # WB shows a status change only from its next whole minute: a read before then still shows the
            # old status. The change it accepted is not sent again; once the tick has passed the campaign
            # is re-read, and only if WB still shows the old status is it decided (and sent) again.
            if self.clock.now() - sent[1] >= STATUS_SETTLE:
                self.status_reread.add(d.advert_id)
            return f"{d.action.value} accepted by WB at {sent[1]:%H:%M:%S}; waiting to read it applied"
        return self.rejected.refused(d, camp, self.clock.now())

    def overlay_statuses(self) -> None:
        """Before an evaluation: a status change WB accepted shows in the view even when a read taken before
        WB's minute tick still shows the old status (so it is not decided again); once the tick has passed
        the campaign is re-read at the next cycle's start (``needs_reread``), and what WB shows then counts."""
        now = self.clock.now()
        for advert_id, (action, at) in list(self._status_sent.items()):
            if now - at >= STATUS_SETTLE:
                self.status_reread.add(advert_id)  # read at the next cycle's start; shown until then
            self.view.note_status(advert_id, Status.PAUSED if action == Action.PAUSE else Status.ACTIVE)

    async def reread(self, advert_ids) -> None:
        """These campaigns' details were just read from WB: what they show is what WB applied. A status
        change WB accepted ("sent") that the read shows is announced as confirmed; one it does not show is
        decided again by the next evaluation (logged)."""
        shown: list[Decision] = []
        for advert_id in advert_ids:
            sent = self._status_sent.pop(advert_id, None)
            decision = self._status_decisions.pop(advert_id, None)
            self.status_reread.discard(advert_id)
            camp = self.view.campaigns.get(advert_id)
            if sent is None or decision is None or camp is None:
                continue
            expected = Status.PAUSED if sent[0] == Action.PAUSE else Status.ACTIVE
            if camp.status == expected:
                shown.append(decision)
            else:
                log.warning("account %s campaign %s: WB accepted %s at %s but shows status %s", self.view.name,
                            advert_id, sent[0].value, sent[1].isoformat(timespec="seconds"), camp.status)
        if shown:
            view = self.view
            async with self.sessions.begin() as s:
                await self.alerts.for_decisions(s, view.name, view.campaigns, shown, self.clock.now(),
                                                dry_run=False, currency=view.currency or "RUB", confirmed=True)

    async def _announce(self) -> None:
        """Tell people what WB accepted (bid changes, pauses, resumes: "sent", a later read confirms them),
        what a re-read showed applied ("confirmed") and what it rejected, with WB's reason: after the
        answer, never before."""
        accepted, shown, rejections = self._confirmed, self._shown, self._rejections
        self._confirmed, self._shown, self._rejections = [], [], []
        if not accepted and not shown and not rejections:
            return
        view, now = self.view, self.clock.now()
        async with self.sessions.begin() as s:
            for decisions, confirmed in ((accepted, False), (shown, True)):
                if decisions:
                    await self.alerts.for_decisions(s, view.name, view.campaigns, decisions, now, dry_run=self.dry_run,
                                                    currency=view.currency or "RUB", confirmed=confirmed)
            rejected_by = getattr(self.alerts, "write_rejected", None)
            for d, reason in rejections:
                if rejected_by is not None:
                    await rejected_by(s, view.name, d, reason, now)

    def _rejected(self, d: Decision, reason: str) -> None:
        """WB refused this write: never the same request again, re-read the campaign first, alert."""
        self.rejected.rejected(d, self.view.campaigns.get(d.advert_id), reason, self.clock.now())
        self._rejections.append((d, reason))
        log.warning("account %s campaign %s: WB rejected %s: %s", self.view.name, d.advert_id, d.action.value, reason)

    async def _ambiguous(self, writes: list[Write], exc: WBError) -> tuple[int, int]:
        """WB answered 200 but the reply does not parse: it may have applied the change. The intents stay
        pending and their campaigns are reconciled by re-reading after WB's tick; nothing is re-sent."""
        log.warning("account %s: the answer to a write does not parse (%s); reconciling %d intents by re-reading",
                    self.view.name, exc, len(writes))
        self.reconciler.expect({d.advert_id for _, d in writes})
        return 0, 0

    async def _apply_bids(self, writes: list[Write]) -> tuple[int, int]:
        changes = [BidChange(d.advert_id, d.nm_id, d.placement, d.bid_after) for _, d in writes]  # type: ignore[arg-type]
        return await self._send(writes, self.writer.set_bids(changes),
                                lambda r: ((r.advert_id, r.nm_id, r.placement), (r.applied, r.error, r.confirmed)),
                                lambda d: (d.advert_id, d.nm_id, d.placement))

    async def _apply_cluster_bids(self, writes: list[Write]) -> tuple[int, int]:
        changes = [ClusterBidChange(d.advert_id, d.nm_id, d.norm_query, d.bid_after)  # type: ignore[arg-type]
                   for _, d in writes]
        return await self._send(writes, self.writer.set_cluster_bids(changes),
                                lambda r: ((r.advert_id, r.nm_id, r.norm_query), (r.applied, r.reason)),
                                lambda d: (d.advert_id, d.nm_id, d.norm_query))

    async def _send(self, writes: list[Write], call, outcome, key) -> tuple[int, int]:
        """One write call for ``writes``: a 200 whose reply breaks the schema is ambiguous (reconciled), any
        other WB error fails them; ``outcome(result)`` is (key, (applied, reason)), ``key(decision)`` its key."""
        try:
            results = await call
        except SchemaDrift as exc:
            if exc.status == 200:
                return await self._ambiguous(writes, exc)
            return await self._failed(writes, exc)
        except WBError as exc:
            return await self._failed(writes, exc)
        by_key = dict(outcome(r) for r in results)
        return await self._record_results(writes, {k: by_key.get(key(d)) for k, d in writes})

    async def _record_results(self, writes: list[Write], results: dict[int, tuple | None]) -> tuple[int, int]:
        """``results``: decision id -> (applied, reason[, confirmed by a re-read]), None: no result."""
        now = self.clock.now()
        outcomes: list[tuple[int, str, str | None, datetime | None]] = []
        unknown: set[int] = set()
        for did, d in writes:
            r = results.get(did)
            if r is not None and not r[0] and str(r[1] or "").startswith("ambiguous"):
                unknown.add(d.advert_id)  # WB may have applied it: stays pending, reconciled by re-reading
                continue
            if r is not None and r[0]:
                outcomes.append((did, "dry_run" if self.dry_run else "applied", None, now))
                (self._shown if len(r) > 2 and r[2] else self._confirmed).append(d)
                if not self.dry_run:
                    self.view.note_bid(d)
            else:
                reason = (r[1] if r else None) or "no result from WB"
                outcomes.append((did, "failed", reason, None))
                if not reason.startswith(NOT_A_REJECTION):
                    self._rejected(d, reason)
                note_rejection(self.view.min_bids, d, r[1] if r else None)
        if unknown:
            self.reconciler.expect(unknown)
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
                outcome = await self.writer.pause(d.advert_id)
                new_status = Status.PAUSED
            else:
                if camp is not None and camp.status not in STARTABLE_STATUSES:
                    raise WBError(f"campaign status {camp.status} cannot be started")
                outcome = await self.writer.start(d.advert_id)
                new_status = Status.ACTIVE
        except SchemaDrift as exc:
            if exc.status == 200:
                await self._ambiguous([(did, d)], exc)
                return False
            await self._failed([(did, d)], exc)
            return False
        except WBError as exc:
            await self._failed([(did, d)], exc)
            return False
        async with self.sessions.begin() as s:
            await repo.set_decision_status(s, did, "dry_run" if self.dry_run else "applied", applied_at=self.clock.now())
        if getattr(outcome, "changed", True):  # WB's 422 "already in that state": nothing to announce
            self._confirmed.append(d)
        if not self.dry_run:
            kill_switch.note_paused(self.view, d)  # not sent again while the campaign reads the same
            self._status_sent[d.advert_id] = (d.action, self.clock.now())
            if getattr(outcome, "changed", True):  # announced as sent: confirmed once a read shows it
                self._status_decisions[d.advert_id] = d
            else:
                self._status_decisions.pop(d.advert_id, None)
            self.view.note_status(d.advert_id, new_status)
        return True

    async def _failed(self, writes: list[Write], exc: WBError) -> tuple[int, int]:
        if isinstance(exc, AuthFailed):
            await self._block_writes(exc)
        elif not isinstance(exc, TemporaryError):  # WB refused the request itself (4xx)
            for _, d in writes:
                self._rejected(d, getattr(exc, "detail", None) or str(exc))
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

    async def reconcile(self, reader: Reader, *, wait: bool = False) -> int:
        """Resolve intents recorded but never completed (a crash between the intent and WB's answer, or an
        answer that did not parse), campaign by campaign once WB's tick has passed (see
        :mod:`bidder.engine.reconcile`); the other campaigns are not held. Nothing is re-sent."""
        n = await self.reconciler.run(reader, wait=wait)
        confirmed, self.reconciler.confirmed = self.reconciler.confirmed, []
        if confirmed:  # a read of WB showed them: announced as confirmed (never announced before: no answer)
            view = self.view
            async with self.sessions.begin() as s:
                await self.alerts.for_decisions(s, view.name, view.campaigns, confirmed, self.clock.now(),
                                                dry_run=False, currency=view.currency or "RUB", confirmed=True)
        return n
