"""The evaluate stage: from what the view knows to one list of decisions.

For each campaign whose bids can change: the operator's pause and the stop file come first (they need
no data from WB), then every strategy proposes and the guardrails (:func:`bidder.engine.guards.decide`)
decide. A campaign whose inputs (:class:`~bidder.engine.view.CampaignInputs`) did not change since an
evaluation that only held is skipped, unless it has a clock-driven strategy or ``REEVALUATE_EVERY``
has passed.

``run(now, safety_only=True)`` is the pass that needs no fresh reads from WB: the operator's pause and
resume, the stop file, and the proposals of strategies that declare ``safe_without_fresh_reads`` (a
schedule's boundaries; spend_cap's pauses: a daily budget already reached, a pause already decided), all
on what the view and the store already hold (see :mod:`bidder.engine.safety`). The cycle runs it, then
applies its decisions, when a read failed. Campaigns whose writes are being reconciled
(``view.reconciling``) are left out until WB has been re-read. Every pass but ``only=`` and
``everything=`` adds the operator's pause of the managed campaigns it cannot see (known only from WB's
list, or in a status it does not know: :mod:`bidder.engine.kill_switch`).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.domain import (
    BID_EDITABLE_STATUSES,
    PAUSABLE_STATUSES,
    STARTABLE_STATUSES,
    Action,
    Campaign,
    CampaignSnapshot,
    Decision,
    Placement,
    Proposal,
)
from bidder.engine.guards import GuardConfig
from bidder.engine.guards import decide as guard_decide
from bidder.engine.kill_switch import unseen_pauses
from bidder.engine.min_bids import hold_without_minimum
from bidder.engine.observe import InputRecorder
from bidder.engine.ports import AlertSink, OperatorState
from bidder.engine.safety import SAFE_WITHOUT_FRESH_READS, safe_actions  # noqa: F401 (re-exported)
from bidder.engine.view import AccountView, CampaignInputs
from bidder.reasons import because, guarded

log = logging.getLogger("bidder.engine")

OPERATOR = "operator"
ROLLBACK = "rollback"
# A campaign whose inputs (campaign details and bids, WB's bid rules, statistics, search clusters,
# recommendations, its audit trail, operator state, the local date) did not change since an evaluation
# that only held is evaluated again after this long: WB syncs statistics every 3 minutes, so in between
# only time-based thresholds can move (a cooldown or min_change_interval running out), which this delays
# by at most this much. Campaigns with a clock-driven strategy (a schedule) are evaluated every cycle.
REEVALUATE_EVERY = timedelta(minutes=3)
YIELD_EVERY = 20  # campaigns evaluated between yields to the event loop
# Accounts that hold their evaluation's inputs at once in one process (the daily statistics of their due
# campaigns, the snapshots, the observation rows waiting for the database writer). Evaluation is CPU work
# on the one event loop and the recorder waits for the one writer, so more at once adds no throughput,
# only memory: 50 accounts x 200 campaigns on a cold start piled up all their first evaluations at once
# (bench.scale peak RSS ~470 MB with no gate, 360 MB with 4 at once, 348 MB with 1).
EVALUATIONS_AT_ONCE = 2
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def evaluation_slot() -> asyncio.Semaphore:
    """The process's (event loop's) gate for :data:`EVALUATIONS_AT_ONCE`."""
    loop = asyncio.get_running_loop()
    slot = _slots.get(loop)
    if slot is None:
        slot = _slots[loop] = asyncio.Semaphore(EVALUATIONS_AT_ONCE)
    return slot


@dataclass(frozen=True, slots=True)
class Evaluation:
    decisions: list[Decision]
    evaluated: int  # campaigns evaluated (the others' inputs had not changed)


class Evaluator:
    """``Evaluator(view, sessions=, read_sessions=, alerts=, operator=, stop_file=)``.

    ``await run(now)`` -> :class:`Evaluation` of the campaigns whose inputs changed;
    ``run(now, everything=True)`` evaluates every campaign and leaves the skip memory as it was;
    ``run(now, safety_only=True)`` gives only the decisions that need no fresh reads (see the module).
    """

    def __init__(self, view: AccountView, *, sessions: async_sessionmaker[AsyncSession],
                 read_sessions: async_sessionmaker[AsyncSession], alerts: AlertSink, operator: OperatorState,
                 stop_file: Path | None = None) -> None:
        self.view = view
        self.sessions = sessions
        self.read_sessions = read_sessions
        self.alerts = alerts
        self.operator = operator
        self.stop_file = stop_file
        self._held: dict[int, tuple[CampaignInputs, datetime]] = {}  # advert -> inputs of a hold-only pass
        self._broken: set[tuple[int, str]] = set()
        self.recorder = InputRecorder(view.name)

    def forget(self) -> None:
        """A reload: every campaign is evaluated afresh."""
        self._held = {}

    def holding(self) -> list[int]:
        """Campaigns skipped while their inputs stay as they were at their last (hold-only) evaluation."""
        return sorted(self._held)

    def stopped(self) -> bool:
        return self.stop_file is not None and self.stop_file.exists()

    async def run(self, now: datetime, *, everything: bool = False, safety_only: bool = False,
                  only: set[int] | None = None) -> Evaluation:
        if safety_only:  # the safety pass never waits for another account's evaluation
            evaluation = await self._run(now, everything=everything, safety_only=True, only=only)
        else:
            async with evaluation_slot():
                evaluation = await self._run(now, everything=everything, safety_only=False, only=only)
        if only is None and not everything:  # the kill switch reaches what the evaluation cannot see
            async with self.read_sessions() as s:
                paused = await self.operator.paused(s, self.view.name)
            unseen = unseen_pauses(self.view, paused)  # engine/kill_switch.py
            if unseen:
                evaluation = Evaluation([*evaluation.decisions, *unseen], evaluation.evaluated)
        return evaluation

    async def _run(self, now: datetime, *, everything: bool, safety_only: bool, only: set[int] | None
                   ) -> Evaluation:
        view = self.view
        ids = [i for i in view.editable_ids() if i not in view.reconciling]  # engine/reconcile.py
        if only is not None:  # just these campaigns (e.g. again once the minimum bids they wait for are read)
            ids = [i for i in ids if i in only]
        if not ids:
            return Evaluation([], 0)
        remember = not (everything or safety_only)
        today = view.today(now)
        since = today - timedelta(days=max(view.window_days(i) for i in ids))
        recs = view.recommendations_by_campaign()
        stop = self.stopped()
        inputs = view.inputs
        # first what changed (cheap), then the daily statistics of just those campaigns, then decide
        due: list[CampaignInputs] = []
        async with self.read_sessions() as s:
            await inputs.refresh(s, clusters_since=today - timedelta(days=7), history_since=view.history_since(now))
            paused = await self.operator.paused(s, view.name)
            for advert_id in ids:
                camp = view.campaigns[advert_id]
                seen = CampaignInputs(
                    camp, view.rules_for(camp), inputs.stats_version(advert_id), inputs.cluster_stats(advert_id),
                    recs.get(advert_id, {}), view.evidence_at(advert_id), inputs.history(advert_id),
                    paused is True or (isinstance(paused, set) and advert_id in paused),
                    stop, today, view.rules_known(advert_id), view.positions.for_campaign(advert_id),
                    tuple(sorted(view.positions.cluster_bids.get(advert_id, {}).items())),
                )
                if remember or safety_only:  # (the safety pass decides a subset of what the full one held)
                    last = self._held.get(advert_id)
                    if (last is not None and now - last[1] < REEVALUATE_EVERY and last[0] == seen
                            and not view.clock_driven(advert_id)):
                        continue  # nothing it reads has changed since it last held
                due.append(seen)
            daily = await inputs.load_stats(s, [d.campaign.advert_id for d in due], since) if due else {}
        decisions: list[Decision] = []
        recorded: list = []
        evaluated = 0
        for seen in due:
            advert_id = seen.campaign.advert_id
            snap = campaign_snapshot(view.name, view.account.timezone, seen, daily.get(advert_id, ()))
            evaluated += 1
            if evaluated % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the other accounts' paced calls go out on time
            decided = await self._decide(snap, now, seen, safety_only)
            if not safety_only:
                recorded.append((seen, snap.daily_stats, decided))
            if remember:
                if decided is not None and all(d.action == Action.HOLD for d in decided):
                    self._held[advert_id] = (seen, now)
                else:
                    self._held.pop(advert_id, None)
            decisions.extend(decided or ())
        if recorded:  # replay: what each evaluation read and decided (bidder.engine.observe)
            await self.recorder.record(self.sessions, view, now, since, recorded)
        return Evaluation(decisions, evaluated)

    async def _decide(self, snap: CampaignSnapshot, now: datetime, seen: CampaignInputs, safety_only: bool
                      ) -> list[Decision] | None:
        """One campaign's decisions; None when a strategy failed (alerted once, the campaign skipped)."""
        advert_id = seen.campaign.advert_id
        strategies = self.view.strategies_for(advert_id)
        mins, known = self.view.min_bids, seen.rules.min_bids
        ceiling = mins.ceiling(seen.campaign.payment_type)

        def min_hold(d: Decision) -> Decision:  # WB's minimum bids are read lazily (engine/min_bids.py)
            return hold_without_minimum(d, mins, known, ceiling)

        try:
            decided = decide_campaign(snap, now, strategies, self.view.decision_guard(), stopped=seen.stopped,
                                      rules_known=seen.rules_known, stop_file=self.stop_file,
                                      safety_only=safety_only, min_hold=min_hold)
        except StrategyFailed as failed:  # a failing strategy skips its campaign, alerts once
            key = (advert_id, failed.kind)
            log.error("account %s campaign %s: strategy %s failed", self.view.name, advert_id, failed.kind,
                      exc_info=failed.error)
            if key not in self._broken:
                self._broken.add(key)
                async with self.sessions.begin() as s:
                    await self.alerts.strategy_failed(s, self.view.name, advert_id, failed.kind, failed.error, now)
            return None
        for strategy in strategies:
            self._broken.discard((advert_id, strategy.kind))
        if seen.rules_known and not safety_only:
            mins.want_near(seen.campaign, known, ceiling)
        return decided


class StrategyFailed(Exception):
    def __init__(self, kind: str, error: BaseException) -> None:
        super().__init__(f"strategy {kind} failed: {error!r}")
        self.kind = kind
        self.error = error


def campaign_snapshot(account: str, timezone: str, seen: CampaignInputs, daily_stats: tuple) -> CampaignSnapshot:
    """The snapshot one campaign's strategies see, from what its evaluation reads (pure; replay builds it
    the same way from the stored observations)."""
    return CampaignSnapshot(
        account=account, campaign=seen.campaign, rules=seen.rules, timezone=timezone, daily_stats=daily_stats,
        cluster_stats=seen.cluster_stats, recommendations=seen.recommendations, stats_as_of=seen.stats_as_of,
        history=seen.history, operator_paused=seen.operator_paused, positions=seen.positions,
        cluster_bids=dict(seen.cluster_bids),
    )


def decide_campaign(snap: CampaignSnapshot, now: datetime, strategies: list, guard: GuardConfig, *,
                    stopped: bool, rules_known: bool, stop_file: Path | None = None, safety_only: bool = False,
                    min_hold: Callable[[Decision], Decision] | None = None) -> list[Decision]:
    """One campaign's decisions (pure: the evaluator and replay both call it): the operator's pause, the
    stop file, the operator's resume, else the strategies' proposals through the guardrails (bid changes
    held until WB's bid step is known, and by ``min_hold`` where WB's minimum matters). ``safety_only``:
    only the actions each strategy may decide without fresh reads. Raises :class:`StrategyFailed` when a
    strategy raises."""
    advert_id = snap.campaign.advert_id
    if snap.operator_paused:
        return operator_hold(snap)
    if stopped:
        return [Decision(action=Action.HOLD, advert_id=advert_id, strategy=OPERATOR,
                         reason=because("engine.stop_file", path=str(stop_file)))]
    resume = operator_resume(snap)
    if resume is not None:
        return [resume]
    if safety_only:  # after the operator's pause and the stop file, which need no fresh reads either
        strategies = [s for s in strategies if safe_actions(s)]
    if not strategies:
        return []
    proposals: list[Proposal] = []
    for strategy in strategies:
        try:
            proposed = strategy.decide(snap, now)
        except Exception as exc:
            raise StrategyFailed(strategy.kind, exc) from exc
        if safety_only:  # only what this strategy may decide without fresh reads
            allowed = safe_actions(strategy)
            proposed = [p for p in proposed if p.action in allowed]
        proposals.extend(proposed)
    if safety_only and not any(p.action != Action.HOLD for p in proposals):
        return []  # nothing to enforce: holds are for the full evaluation to record
    decided = guard_decide(snap, proposals, guard, now, stop=stopped)
    if not rules_known:
        return [_wait_for_rules(d) for d in decided]
    if min_hold is not None:
        decided = [min_hold(d) for d in decided]
    return decided


def operator_hold(snap: CampaignSnapshot) -> list[Decision]:
    camp = snap.campaign
    if camp.status in PAUSABLE_STATUSES:
        return [Decision(action=Action.PAUSE, advert_id=camp.advert_id, strategy=OPERATOR,
                         reason=because("engine.operator_pause"))]
    return [Decision(action=Action.HOLD, advert_id=camp.advert_id, strategy=OPERATOR,
                     reason=because("engine.operator_hold"))]


def operator_resume(snap: CampaignSnapshot) -> Decision | None:
    """After an operator pause is lifted, start again what the operator's pause stopped."""
    camp = snap.campaign
    if camp.status not in STARTABLE_STATUSES:
        return None
    for rec in reversed(snap.history):
        if rec.nm_id is not None or rec.action not in (Action.PAUSE, Action.RESUME):
            continue
        if rec.strategy == OPERATOR and rec.action == Action.PAUSE and rec.applied:
            return Decision(action=Action.RESUME, advert_id=camp.advert_id, strategy=OPERATOR,
                            reason=because("engine.operator_resume"))
        return None
    return None


def rollback_decisions(view: AccountView, target: Mapping[tuple[int, int, str], int],
                       current: Mapping[int, Campaign], to: datetime, now: datetime) -> list[Decision]:
    """Bid changes back to ``target`` (the bids in force at ``to``), decided by the guardrails like any
    other proposal: max_bid and WB's minimum and step apply; the pacing rails (step size, interval since
    the last change, dead band, stale statistics) do not, as this is the operator's explicit request."""
    wanted: dict[tuple[int, int, str], int] = {}
    for (aid, nm_id, placement), bid in target.items():
        camp = current.get(aid)
        if camp is None:
            continue
        if camp.bid_type == "unified":  # snapshots keep WB's two fields; a unified bid is one value
            if placement == Placement.SEARCH or (aid, nm_id, Placement.COMBINED.value) not in wanted:
                wanted[(aid, nm_id, Placement.COMBINED.value)] = bid
        else:
            wanted[(aid, nm_id, placement)] = bid
    guard = rollback_guard(view.guard)
    reason = because("engine.rollback", to=to.isoformat(timespec="minutes"))
    by_campaign: dict[int, list[Proposal]] = {}
    for (aid, nm_id, placement), bid in sorted(wanted.items()):
        camp = current[aid]
        if camp.status not in BID_EDITABLE_STATUSES or placement not in camp.bid_placements:
            continue
        if camp.item(nm_id) is None:
            continue
        by_campaign.setdefault(aid, []).append(Proposal(strategy=ROLLBACK, action=Action.SET_BID, advert_id=aid,
                                                        nm_id=nm_id, placement=placement, bid=bid, reason=reason))
    decisions: list[Decision] = []
    for aid, proposals in by_campaign.items():
        camp = current[aid]
        snap = CampaignSnapshot(account=view.name, campaign=camp, rules=view.rules_for(camp),
                                timezone=view.account.timezone, stats_as_of=now)
        decided = guard_decide(snap, proposals, guard, now)
        known, ceiling = snap.rules.min_bids, view.min_bids.ceiling(camp.payment_type)
        decisions.extend(d for d in decided
                         if d.changes_bid and hold_without_minimum(d, view.min_bids, known, ceiling) is d)
    return decisions


def rollback_guard(guard: GuardConfig) -> GuardConfig:
    """The account's guardrails without the pacing rails (a rollback restores bids in one step)."""
    return replace(guard, pacing=False)


def _wait_for_rules(d: Decision) -> Decision:
    """No bid change before WB's bid step is known (a bid off the step is rejected); pauses and resumes
    do not depend on it. WB's minimum bids: :func:`bidder.engine.min_bids.hold_without_minimum`."""
    if not d.changes_bid:
        return d
    return replace(d, action=Action.HOLD, bid_after=d.bid_before,
                   reason=guarded(d.reason, because("engine.wait_bid_step")),
                   guard=because("engine.wait_bid_step_guard"))
