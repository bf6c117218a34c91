"""One account, one pass: refresh campaigns -> poll statistics -> evaluate -> apply -> audit.

Every step is gated by its own interval so a cycle that runs every minute only calls WB when the data
can have changed (WB syncs statistics every 3 minutes, applies bids on a 30-second tick and changes
statuses at most once a minute). Errors are handled by type, for this account only: the caller
(:mod:`bidder.engine.runner`) keeps the other accounts running.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.domain import (
    BID_EDITABLE_STATUSES,
    PAUSABLE_STATUSES,
    STARTABLE_STATUSES,
    Action,
    BidRules,
    Campaign,
    CampaignSnapshot,
    Decision,
    Placement,
    Proposal,
    Recommendation,
    Status,
)
from bidder.engine import alerts
from bidder.engine.control import dry_run_override, operator_paused
from bidder.engine.guards import GuardConfig
from bidder.engine.guards import decide as guard_decide
from bidder.engine.inputs import EvaluationInputs
from bidder.engine.planner import due, fullstats_capacity, stats_candidates, stats_range
from bidder.errors import AuthFailed, EndpointGone, SchemaDrift, TemporaryError, WBError
from bidder.store import repo
from bidder.wb.batching import MAX_NORMQUERY_PAIRS
from bidder.wb.models import BidChange

log = logging.getLogger("bidder.engine")

OPERATOR = "operator"
HISTORY_DAYS = 7
RULES_TTL = timedelta(hours=6)
FULL_DETAILS_REFRESH = timedelta(hours=1)
HOLD_RECORD_EVERY = timedelta(hours=1)
# WB applies a bid change on the next 30-second tick and a status change on the next whole minute, so
# right after a crash a write WB accepted may not show yet: reconcile re-reads once this has passed
# since the newest pending intent (the tick, plus time for the call itself).
WRITE_SETTLE = timedelta(seconds=90)
CLUSTER_CALLS_PER_CYCLE = 3
# A campaign whose inputs (campaign details and bids, WB's bid rules, statistics, search clusters,
# recommendations, its audit trail, operator state, the local date) did not change since an evaluation
# that only held is evaluated again after this long: WB syncs statistics every 3 minutes, so in between
# only time-based thresholds can move (a cooldown or min_change_interval running out), which this delays
# by at most this much. Campaigns with a clock-driven strategy (a schedule) are evaluated every cycle.
REEVALUATE_EVERY = timedelta(minutes=3)
YIELD_EVERY = 20  # campaigns evaluated between yields to the event loop
_NUMBERS = re.compile(r"[-+]?\d[\d.,:]*")


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
        return {
            "campaigns": self.campaigns,
            "stats_refreshed": self.stats_refreshed,
            "decisions": len(changes),
            "evaluated": self.evaluated,
            "applied": self.applied,
            "failed": self.failed,
            "dry_run": self.dry_run,
        }


class AccountCycle:
    """The runtime of one seller account. Holds caches between cycles; all durable state is in the store."""

    def __init__(
        self,
        *,
        account,  # bidder.config.AccountConfig
        intervals,  # bidder.config.Intervals
        reader,  # bidder.wb.client.WBClient (read token)
        writer,  # LiveWriter, or the dry_writer itself when the process runs dry (no write token loaded)
        dry_writer,  # DryRunWriter: used in dry-run and while the operator's dry-run toggle is on
        sessions: async_sessionmaker[AsyncSession],
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
        clock,
        seller_id: str,
        stop_file: Path | None = None,
        metrics=None,
        on_decisions: Callable[[str, list[Decision]], None] | None = None,
    ) -> None:
        self.account = account
        self.name: str = account.name
        self.intervals = intervals
        self.reader = reader
        self.live_writer = None if writer is dry_writer else writer
        self.dry_writer = dry_writer
        self.writer = writer
        self.health = None
        self._api_seen: dict = {}
        self.sessions = sessions
        self.read_sessions = read_sessions or sessions  # reads that must not hold SQLite's write lock
        self.clock = clock
        self.seller_id = seller_id
        self.stop_file = stop_file
        self.metrics = metrics
        self.on_decisions = on_decisions
        self.guard = GuardConfig.from_guardrails(account.guardrails)
        self.tz = ZoneInfo(account.timezone)

        self.campaigns: dict[int, Campaign] = {}
        self._changed_at: dict[int, Any] = {}
        self._details_at: dict[int, datetime] = {}
        self._count_at: datetime | None = None
        self.stats_at: dict[int, datetime] = {}
        self._clusters_at: dict[int, datetime] = {}
        self._recs_at: dict[tuple[int, int], datetime] = {}
        self._recs: dict[tuple[int, int], Recommendation] = {}
        self._rules: dict[int, tuple[datetime, dict]] = {}
        self._steps: tuple[datetime, int, int] | None = None  # fetched_at, cpm_step, cpc_step
        self._currency: str | None = None
        self._last_hold: dict[tuple, str] = {}
        self.evaluated = 0
        self._broken_strategies: set[tuple[int, str]] = set()
        self._drift_alerted: set[str] = set()
        self.writes_blocked: str | None = None
        self.failing: str | None = None
        self.started = False

    # ------------------------------------------------------------------ configuration

    @property
    def account(self):
        return self._account

    @account.setter
    def account(self, value) -> None:  # a reload replaces it: strategies and evaluation inputs start afresh
        self._account = value
        self._strategy_cache: dict[int, list | None] = {}
        self.inputs = EvaluationInputs(value.name, keeps_holds=self._reads_holds)
        self._evaluated: dict[int, tuple[tuple, datetime]] = {}  # advert -> (inputs, when) of a hold-only pass

    def _reads_holds(self, advert_id: int) -> bool:
        return any(s.reads_holds for s in self.strategies_for(advert_id))

    def _strategies_for(self, advert_id: int) -> list | None:
        """The campaign's strategy instances (strategies are pure, so one set serves every cycle); None
        when the campaign is not managed."""
        try:
            return self._strategy_cache[advert_id]
        except KeyError:
            account = self._account
            out = account.strategies_for(advert_id) if account.is_managed(advert_id) else None
            self._strategy_cache[advert_id] = out
            return out

    def strategies_for(self, advert_id: int) -> list:
        return self._strategies_for(advert_id) or []

    # ------------------------------------------------------------------ lifecycle

    @property
    def dry_run(self) -> bool:
        return self.writer is not self.live_writer

    async def _choose_writer(self) -> None:
        """The operator's /dryrun toggle, read each cycle: on = the dry-run writer; off = the live writer
        (only when the process holds one: a process started dry never loads the write token)."""
        async with self.read_sessions() as s:
            override = await dry_run_override(s, self.name)
        if override is True or self.live_writer is None:
            self.writer = self.dry_writer
        else:
            self.writer = self.live_writer

    async def start(self) -> None:
        """Register the account and reconcile write intents left by a crash."""
        async with self.sessions.begin() as s:
            await repo.ensure_account(s, self.name, self.seller_id, self._currency or "", self.account.timezone)
        async with self.sessions() as s:
            last = (await repo.last_cycles(s)).get(self.name)
        if last is not None and last.ok is False and self.failing is None:
            # it was failing before this process started and that was alerted then: a restart must not
            # alert again (its recovery still is)
            self.failing = last.error or "failing before the restart"
        await self.reconcile()
        self.started = True

    async def reconcile(self) -> int:
        """Resolve intents that were recorded but never completed (a crash between the intent and the
        API's answer): re-read current bids and statuses from WB and record what actually happened.
        Nothing is re-sent; the next cycle decides afresh."""
        async with self.sessions() as s:
            pending = await repo.pending_intents(s, self.name)
        if not pending:
            return 0
        settled = max(p.at for p in pending) + WRITE_SETTLE
        wait = (settled - self.clock.now()).total_seconds()
        if wait > 0:
            log.info("account %s: %d write intents pending; waiting %.0fs for WB to apply accepted writes "
                     "before re-reading", self.name, len(pending), wait)
            await self.clock.sleep(wait)
        ids = sorted({p.advert_id for p in pending})
        current = {c.advert_id: c for c in await self.reader.campaigns(ids)}
        now = self.clock.now()
        async with self.sessions.begin() as s:
            for p in pending:
                camp = current.get(p.advert_id)
                applied = False
                if camp is not None:
                    if p.action == Action.SET_BID:
                        item = camp.item(p.nm_id) if p.nm_id is not None else None
                        applied = item is not None and item.bid_for(p.placement or "") == p.bid_after
                    elif p.action == Action.PAUSE:
                        applied = camp.status == Status.PAUSED
                    elif p.action == Action.RESUME:
                        applied = camp.status == Status.ACTIVE
                status = "reconciled_applied" if applied else "reconciled_not_applied"
                await repo.set_decision_status(s, p.id, status, applied_at=now if applied else None)
            await repo.save_campaigns(s, self.name, list(current.values()), now)
        for camp in current.values():
            self.campaigns[camp.advert_id] = camp
        log.info("account %s: reconciled %d pending write intents", self.name, len(pending))
        return len(pending)

    # ------------------------------------------------------------------ the cycle

    async def run_cycle(self) -> CycleResult:
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
            await self._choose_writer()
            result.dry_run = self.dry_run
            await self.refresh_campaigns(now)
            result.campaigns = len(self.campaigns)
            # The polls use different WB rate-limit buckets: run them side by side, so that one waiting
            # on its bucket (min bids at 20/min, clusters, recommendations) does not hold back
            # fullstats (3/min, the binding limit) and the evaluation.
            polled = await asyncio.gather(
                self.poll_statistics(now), self.poll_extras(now), self.refresh_rules(now), return_exceptions=True
            )
            for outcome in polled:
                if isinstance(outcome, BaseException):
                    raise outcome
            result.stats_refreshed = polled[0]
            decisions = await self.evaluate(self.clock.now())
            result.decisions = decisions
            result.evaluated = self.evaluated
            result.applied, result.failed = await self.apply(decisions)
        except AuthFailed as exc:
            result.ok, result.error = False, f"authorization failed: {exc}"
        except (SchemaDrift, EndpointGone) as exc:
            result.ok, result.error = False, f"WB API changed: {exc}"
            await self._alert_drift(exc)
        except TemporaryError as exc:
            result.ok, result.error = False, f"WB temporarily unavailable: {exc}"
        except WBError as exc:
            result.ok, result.error = False, str(exc)
        result.finished_at = self.clock.now()
        await self._health_transition(result)
        if cycle_id is not None:
            async with self.sessions.begin() as s:
                await repo.finish_cycle(s, cycle_id, at=result.finished_at, ok=result.ok, error=result.error,
                                        summary=result.summary())
        if self.health is not None:
            self.health.cycle_finished(self.name, result.finished_at, result.ok, result.error)
        self._export_api_metrics()
        if self.metrics is not None:
            self.metrics.cycle(
                self.name,
                (result.finished_at - result.started_at).total_seconds() / max(self.clock.speed, 1e-9),
                result.ok,
                result.finished_at,
            )
        if self.on_decisions is not None and result.decisions:
            self.on_decisions(self.name, result.decisions)
        return result

    # ------------------------------------------------------------------ polling

    def managed_ids(self) -> list[int]:
        return sorted(i for i, c in self.campaigns.items() if self._strategies_for(i) is not None and c.status != Status.DELETED)

    async def refresh_campaigns(self, now: datetime) -> None:
        if self._count_at is not None and now - self._count_at < self.intervals.campaigns:
            return
        refs = await self.reader.count()
        self._count_at = now
        stale = []
        for ref in refs:
            if ref.status == Status.DELETED:
                continue
            known = self.campaigns.get(ref.advert_id)
            if (
                known is None
                or known.status != ref.status
                or self._changed_at.get(ref.advert_id) != ref.changed_at
                or now - self._details_at.get(ref.advert_id, now) >= FULL_DETAILS_REFRESH
            ):
                stale.append(ref.advert_id)
            self._changed_at[ref.advert_id] = ref.changed_at
        live = {r.advert_id for r in refs if r.status != Status.DELETED}
        for gone in set(self.campaigns) - live:
            self.campaigns.pop(gone, None)
        if not stale:
            return
        fresh = await self.reader.campaigns(sorted(stale))
        for camp in fresh:
            self.campaigns[camp.advert_id] = camp
            self._details_at[camp.advert_id] = now
            if camp.currency:
                self._currency = camp.currency
        async with self.sessions.begin() as s:
            await repo.save_campaigns(s, self.name, fresh, now)

    def _window_days(self, advert_id: int) -> int:
        days = 1
        for strategy in self.strategies_for(advert_id):
            window = getattr(strategy.params, "window", None)
            if window is not None:
                days = max(days, int(window.total_seconds() // 86400))
        return max(days, HISTORY_DAYS)

    async def poll_statistics(self, now: datetime) -> int:
        candidates = stats_candidates(self.campaigns.values(), self.managed_ids())
        # The first pass (nothing fetched yet) takes everything back to back at WB's rate (the other polls
        # run alongside); afterwards at most what one cycle interval allows, so a cycle never queues.
        capacity = fullstats_capacity(self.intervals.evaluate) if self.stats_at else None
        ids = due(candidates, self.stats_at, now, self.intervals.stats, capacity)
        if not ids:
            return 0
        today = now.astimezone(self.tz).date()
        groups: dict[tuple, list[int]] = {}
        for advert_id in ids:
            first = advert_id not in self.stats_at
            begin, end = stats_range(today, self._window_days(advert_id), first)
            groups.setdefault((begin, end), []).append(advert_id)
        refreshed = 0
        for (begin, end), group in sorted(groups.items()):
            stats = await self.reader.fullstats(group, begin, end)
            async with self.sessions.begin() as s:
                await repo.save_daily_stats(s, self.name, stats)
            self.inputs.add_stats(stats)
            fetched = self.clock.now()
            for advert_id in group:
                self.stats_at[advert_id] = fetched
            refreshed += len(group)
        return refreshed

    def _needs(self, advert_id: int, attr: str) -> bool:
        return any(getattr(s, attr, False) for s in self.strategies_for(advert_id))

    async def poll_extras(self, now: datetime) -> None:
        """Search-cluster stats and bid recommendations, only for campaigns whose strategies use them."""
        active = [i for i in self.managed_ids() if self.campaigns[i].status in BID_EDITABLE_STATUSES]
        cluster_ids = [i for i in active if self._needs(i, "needs_clusters")]
        # All due campaigns' (advert, nm) pairs in as few calls as WB allows (100 pairs a call), at most
        # CLUSTER_CALLS_PER_CYCLE calls a cycle (WB allows 10 a minute).
        picked: list[int] = []
        pairs: list[tuple[int, int]] = []
        for advert_id in due(cluster_ids, self._clusters_at, now, self.intervals.clusters):
            items = [(advert_id, it.nm_id) for it in self.campaigns[advert_id].items]
            if len(pairs) + len(items) > CLUSTER_CALLS_PER_CYCLE * MAX_NORMQUERY_PAIRS:
                break
            picked.append(advert_id)
            pairs.extend(items)
        if pairs:
            today = now.astimezone(self.tz).date()
            stats = await self.reader.cluster_stats(pairs, today - timedelta(days=6), today)
            async with self.sessions.begin() as s:
                await repo.save_cluster_stats(s, self.name, stats, fetched_at=self.clock.now())
            self.inputs.add_clusters(stats)
        for advert_id in picked:
            self._clusters_at[advert_id] = now
        rec_keys = [(i, it.nm_id) for i in active if self._needs(i, "needs_recommendations") for it in self.campaigns[i].items]
        never = datetime.min.replace(tzinfo=now.tzinfo)
        rec_due = [k for k in rec_keys if now - self._recs_at.get(k, never) >= self.intervals.recommendations]
        rec_due.sort(key=lambda k: self._recs_at.get(k, never))
        for key in rec_due[:5]:  # WB allows 5 a minute
            rec = await self.reader.recommendations(key[0], key[1])
            self._recs[key] = rec
            self._recs_at[key] = now

    async def refresh_rules(self, now: datetime) -> None:
        """WB's bid step (config, cached for hours) and per-item minimum bids (cached per campaign)."""
        if self._steps is None or now - self._steps[0] >= RULES_TTL:
            cfg = await self.reader.config()
            self._steps = (now, cfg.cpm_step, cfg.cpc_step)
            if cfg.currency:
                self._currency = cfg.currency
        never = datetime.min.replace(tzinfo=now.tzinfo)
        wanted = [
            i
            for i in self.managed_ids()
            if self.campaigns[i].status in BID_EDITABLE_STATUSES and self.campaigns[i].items
        ]
        stale = [i for i in wanted if now - self._rules.get(i, (never, {}))[0] >= RULES_TTL]
        for advert_id in stale[:20]:  # WB allows 20 a minute
            camp = self.campaigns[advert_id]
            mins = await self.reader.min_bids(
                advert_id, [it.nm_id for it in camp.items], camp.payment_type, list(camp.bid_placements)
            )
            self._rules[advert_id] = (now, mins)

    def rules_for(self, camp: Campaign) -> BidRules:
        step = 0
        if self._steps is not None:
            step = self._steps[2] if camp.payment_type == "cpc" else self._steps[1]
        mins = self._rules.get(camp.advert_id, (None, {}))[1]
        return BidRules(step=step, min_bids=mins)

    # ------------------------------------------------------------------ deciding

    def stopped(self) -> bool:
        return self.stop_file is not None and self.stop_file.exists()

    async def evaluate(self, now: datetime) -> list[Decision]:
        ids = [i for i in self.managed_ids() if self.campaigns[i].status in BID_EDITABLE_STATUSES]
        if not ids:
            return []
        today = now.astimezone(self.tz).date()
        since = today - timedelta(days=max(self._window_days(i) for i in ids))
        recs: dict[int, dict[int, Recommendation]] = {}
        for (a, nm), r in self._recs.items():
            recs.setdefault(a, {})[nm] = r
        stop = self.stopped()
        # first what changed (cheap), then the daily statistics of just those campaigns, then decide
        due: list[tuple[int, bool, BidRules, tuple]] = []
        async with self.read_sessions() as s:
            await self.inputs.refresh(s, clusters_since=today - timedelta(days=7),
                                      history_since=now - timedelta(days=HISTORY_DAYS))
            paused_by_operator = await operator_paused(s, self.name)
            for advert_id in ids:
                camp = self.campaigns[advert_id]
                operator = paused_by_operator is True or (
                    isinstance(paused_by_operator, set) and advert_id in paused_by_operator
                )
                rules = self.rules_for(camp)
                seen = (camp, rules, self.inputs.stats_version(advert_id), self.inputs.cluster_stats(advert_id),
                        recs.get(advert_id, {}), self.stats_at.get(advert_id), self.inputs.history(advert_id),
                        operator, stop, today, advert_id in self._rules)
                last = self._evaluated.get(advert_id)
                if (last is not None and now - last[1] < REEVALUATE_EVERY and last[0] == seen
                        and not any(x.clock_driven for x in self.strategies_for(advert_id))):
                    continue  # nothing it reads has changed since it last held
                due.append((advert_id, operator, rules, seen))
            daily = await self.inputs.load_stats(s, [d[0] for d in due], since) if due else {}
        decisions: list[Decision] = []
        self.evaluated = 0
        for advert_id, operator, rules, seen in due:
            snap = CampaignSnapshot(
                account=self.name,
                campaign=seen[0],
                rules=rules,
                timezone=self.account.timezone,
                daily_stats=daily.get(advert_id, ()),
                cluster_stats=seen[3],
                recommendations=seen[4],
                stats_as_of=seen[5],
                history=seen[6],
                operator_paused=operator,
            )
            self.evaluated += 1
            if self.evaluated % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the other accounts' paced calls go out on time
            decided = await self._decide(snap, now, stop, advert_id)
            if decided is not None and all(d.action == Action.HOLD for d in decided):
                self._evaluated[advert_id] = (seen, now)
            else:
                self._evaluated.pop(advert_id, None)
            decisions.extend(decided or ())
        return decisions

    async def _decide(self, snap: CampaignSnapshot, now: datetime, stop: bool, advert_id: int
                      ) -> list[Decision] | None:
        """One campaign's decisions; None when a strategy failed (alerted once, the campaign skipped)."""
        if snap.operator_paused:
            return self._operator_hold(snap)
        if stop:
            return [Decision(action=Action.HOLD, advert_id=advert_id, strategy=OPERATOR,
                             reason=f"stop file {self.stop_file} present: every bid is held")]
        resume = self._operator_resume(snap)
        if resume is not None:
            return [resume]
        proposals = await self._propose(snap, now)
        if proposals is None:
            return None
        decided = guard_decide(snap, proposals, self.guard, now, stop=stop)
        if advert_id not in self._rules:
            decided = [_wait_for_rules(d) for d in decided]
        return decided

    async def _propose(self, snap: CampaignSnapshot, now: datetime) -> list[Proposal] | None:
        proposals: list[Proposal] = []
        for strategy in self.strategies_for(snap.campaign.advert_id):
            key = (snap.campaign.advert_id, strategy.kind)
            try:
                proposals.extend(strategy.decide(snap, now))
            except Exception as exc:  # a failing strategy skips its campaign, alerts once
                log.exception("account %s campaign %s: strategy %s failed", self.name, key[0], strategy.kind)
                if key not in self._broken_strategies:
                    self._broken_strategies.add(key)
                    async with self.sessions.begin() as s:
                        await alerts.strategy_failed(s, self.name, key[0], strategy.kind, exc, now)
                return None
            self._broken_strategies.discard(key)
        return proposals

    def _operator_hold(self, snap: CampaignSnapshot) -> list[Decision]:
        camp = snap.campaign
        if camp.status in PAUSABLE_STATUSES:
            return [
                Decision(
                    action=Action.PAUSE,
                    advert_id=camp.advert_id,
                    strategy=OPERATOR,
                    reason="paused by the operator; holds until resumed",
                )
            ]
        return [
            Decision(
                action=Action.HOLD,
                advert_id=camp.advert_id,
                strategy=OPERATOR,
                reason="operator pause in force: every strategy is held",
            )
        ]

    def _operator_resume(self, snap: CampaignSnapshot) -> Decision | None:
        """After an operator pause is lifted, start again what the operator's pause stopped."""
        camp = snap.campaign
        if camp.status not in STARTABLE_STATUSES:
            return None
        for rec in reversed(snap.history):
            if rec.nm_id is not None or rec.action not in (Action.PAUSE, Action.RESUME):
                continue
            if rec.strategy == OPERATOR and rec.action == Action.PAUSE and rec.applied:
                return Decision(action=Action.RESUME, advert_id=camp.advert_id, strategy=OPERATOR,
                                reason="operator pause lifted: resuming the campaign it paused")
            return None
        return None

    async def rollback(self, to: datetime, advert_id: int | None = None) -> list[Decision]:
        """Restore the bids in force at ``to`` (from the audit trail's bid snapshots) through the same
        paced, audited writer. WB's minimum bid and the account's max_bid still apply."""
        async with self.sessions() as s:
            target = await repo.bids_at(s, self.name, to, advert_id)
        ids = sorted({k[0] for k in target})
        if not ids:
            return []
        now = self.clock.now()
        current = {c.advert_id: c for c in await self.reader.campaigns(ids)}
        self.campaigns.update(current)
        await self.refresh_rules(now)
        wanted_bids: dict[tuple[int, int, str], int] = {}
        for (aid, nm_id, placement), bid in target.items():
            camp = current.get(aid)
            if camp is None:
                continue
            if camp.bid_type == "unified":  # snapshots keep WB's two fields; a unified bid is one value
                if placement == Placement.SEARCH or (aid, nm_id, Placement.COMBINED.value) not in wanted_bids:
                    wanted_bids[(aid, nm_id, Placement.COMBINED.value)] = bid
            else:
                wanted_bids[(aid, nm_id, placement)] = bid
        decisions = []
        for (aid, nm_id, placement), bid in sorted(wanted_bids.items()):
            camp = current[aid]
            if camp.status not in BID_EDITABLE_STATUSES or placement not in camp.bid_placements:
                continue
            item = camp.item(nm_id)
            if item is None:
                continue
            before = item.bid_for(placement)
            wanted = bid
            notes = []
            if self.guard.max_bid is not None and wanted > self.guard.max_bid:
                wanted = self.guard.max_bid
                notes.append("clamped to max_bid")
            wb_min = self.rules_for(camp).min_for(nm_id, placement)
            if wb_min is not None and wanted < wb_min:
                wanted = wb_min
                notes.append("raised to WB's minimum")
            if wanted == before:
                continue
            decisions.append(Decision(
                action=Action.SET_BID, advert_id=aid, nm_id=nm_id, placement=placement, strategy="rollback",
                reason=f"rollback to the bid in force at {to.isoformat(timespec='minutes')}",
                bid_before=before, bid_after=wanted, proposed_bid=bid, guard="; ".join(notes) or None,
            ))
        await self.apply(decisions)
        return decisions

    # ------------------------------------------------------------------ applying

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

    async def apply(self, decisions: list[Decision]) -> tuple[int, int]:
        """Record intents, send them through the writer (live or dry-run), record the outcome."""
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
        writes: list[tuple[int, Decision]] = []
        async with self.sessions.begin() as s:
            if self.writes_blocked:
                await repo.record_decisions(s, self.name, intents, at=now, dry_run=dry, apply_status="skipped",
                                            evidence_at=self.stats_at, error=self.writes_blocked)
            else:
                ids = await repo.record_decisions(s, self.name, intents, at=now, dry_run=dry, apply_status="pending",
                                                  evidence_at=self.stats_at, returning_ids=True)
                writes = list(zip(ids, intents, strict=True))
            await repo.record_decisions(s, self.name, holds, at=now, dry_run=dry, apply_status="held",
                                        evidence_at=self.stats_at)
            await alerts.for_decisions(s, self.name, self.campaigns, [d for _, d in writes] + holds, now,
                                       dry_run=dry, currency=self._currency or "RUB")
        if self.metrics is not None:
            for action, n in Counter(d.action.value for d in decisions).items():
                self.metrics.decision(action, n)
        if not writes:
            return 0, 0
        applied = failed = 0
        bid_writes = [(i, d) for i, d in writes if d.action == Action.SET_BID]
        status_writes = [(i, d) for i, d in writes if d.action != Action.SET_BID]
        if bid_writes:
            a, f = await self._apply_bids(bid_writes)
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

    async def _apply_bids(self, writes: list[tuple[int, Decision]]) -> tuple[int, int]:
        changes = [BidChange(d.advert_id, d.nm_id, d.placement, d.bid_after) for _, d in writes]
        writer = self.writer
        try:
            results = await writer.set_bids(changes)
        except AuthFailed as exc:
            await self._block_writes(exc)
            await self._finish(writes, "failed", str(exc))
            return 0, len(writes)
        except WBError as exc:
            await self._finish(writes, "failed", str(exc))
            return 0, len(writes)
        by_key = {(r.advert_id, r.nm_id, r.placement): r for r in results}
        now = self.clock.now()
        outcomes: list[tuple[int, str, str | None, datetime | None]] = []
        for did, d in writes:
            r = by_key.get((d.advert_id, d.nm_id, d.placement))
            if r is not None and r.applied:
                outcomes.append((did, "dry_run" if self.dry_run else "applied", None, now))
                if not self.dry_run:
                    self._note_bid(d)
            else:
                outcomes.append((did, "failed", (r.error if r else "no result from WB"), None))
        async with self.sessions.begin() as s:
            await repo.set_decision_statuses(s, outcomes)
        applied = sum(1 for o in outcomes if o[3] is not None)
        if self.metrics is not None and not self.dry_run and applied:
            self.metrics.bid_changed(self.name, applied)
        return applied, len(outcomes) - applied

    def _note_bid(self, d: Decision) -> None:
        camp = self.campaigns.get(d.advert_id)
        if camp is None or d.nm_id is None or d.placement is None:
            return
        items = []
        for it in camp.items:
            if it.nm_id == d.nm_id:
                bids = dict(it.bids)
                keys = ("search", "recommendations") if d.placement == Placement.COMBINED else (d.placement,)
                for k in keys:
                    bids[k] = d.bid_after
                it = type(it)(nm_id=it.nm_id, bids=bids, subject=it.subject)
            items.append(it)
        self.campaigns[d.advert_id] = _replace(camp, items=tuple(items))

    async def _apply_status(self, did: int, d: Decision) -> bool:
        camp = self.campaigns.get(d.advert_id)
        try:
            if d.action == Action.PAUSE:
                await self.writer.pause(d.advert_id)
                new_status = Status.PAUSED
            else:
                if camp is not None and camp.status not in STARTABLE_STATUSES:
                    raise WBError(f"campaign status {camp.status} cannot be started")
                await self.writer.start(d.advert_id)
                new_status = Status.ACTIVE
        except AuthFailed as exc:
            await self._block_writes(exc)
            await self._finish([(did, d)], "failed", str(exc))
            return False
        except WBError as exc:
            await self._finish([(did, d)], "failed", str(exc))
            return False
        async with self.sessions.begin() as s:
            await repo.set_decision_status(s, did, "dry_run" if self.dry_run else "applied", applied_at=self.clock.now())
        if camp is not None and not self.dry_run:
            self.campaigns[d.advert_id] = _replace(camp, status=new_status)
        return True

    async def _finish(self, writes: list[tuple[int, Decision]], status: str, error: str) -> None:
        async with self.sessions.begin() as s:
            await repo.set_decision_statuses(s, [(did, status, error[:500], None) for did, _ in writes])

    # ------------------------------------------------------------------ health and alerts

    async def _block_writes(self, exc: AuthFailed) -> None:
        if self.writes_blocked:
            return
        self.writes_blocked = f"writes stopped: the write token was refused ({exc.status})"
        log.error("account %s: %s", self.name, self.writes_blocked)
        async with self.sessions.begin() as s:
            await alerts.writes_blocked(s, self.name, str(exc), self.clock.now())

    async def _alert_drift(self, exc: WBError) -> None:
        key = f"{type(exc).__name__}:{exc.method}"
        if key in self._drift_alerted:
            return
        self._drift_alerted.add(key)
        async with self.sessions.begin() as s:
            await alerts.api_drift(s, self.name, exc, self.clock.now())

    async def _health_transition(self, result: CycleResult) -> None:
        now = self.clock.now()
        if not result.ok and self.failing is None:
            self.failing = result.error or "unknown error"
            log.error("account %s: failing: %s", self.name, self.failing)
            async with self.sessions.begin() as s:
                await alerts.account_failing(s, self.name, self.failing, now)
        elif result.ok and self.failing is not None:
            log.info("account %s: recovered", self.name)
            self.failing = None
            async with self.sessions.begin() as s:
                await alerts.account_recovered(s, self.name, now)
        elif not result.ok:
            log.warning("account %s: cycle failed again: %s", self.name, result.error)


    def _export_api_metrics(self) -> None:
        """Push the WB clients' call counters (by method and status) into the Prometheus metrics."""
        if self.metrics is None:
            return
        clients = [self.reader]
        live_client = getattr(self.live_writer, "_client", None)
        if live_client is not None:
            clients.append(live_client)
        for client in clients:
            for (method, status), count in list(getattr(client, "metrics", {}).items()):
                key = (id(client), method, status)
                delta = count - self._api_seen.get(key, 0)
                if delta > 0:
                    self._api_seen[key] = count
                    self.metrics.api_call(method, status, delta)
                    if str(status) == "429":
                        self.metrics.rate_limited(method)


def _replace(obj, **changes):
    return replace(obj, **changes)


def _wait_for_rules(d: Decision) -> Decision:
    """No bid change before WB's minimum bids for the campaign are known (WB would answer 400 to a bid
    below them); pauses and resumes do not depend on them."""
    if not d.changes_bid:
        return d
    return replace(d, action=Action.HOLD, bid_after=d.bid_before,
                   reason=f"{d.reason} [held: WB's minimum bids for this campaign are not read yet]",
                   guard="waiting for WB's minimum bids")
