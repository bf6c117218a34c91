"""Replaying one campaign: the candidate config's strategies and guardrails over the inputs as they were
known at each recorded evaluation (pure: no I/O; the data comes from :mod:`bidder.replay.load`).

The decision path is the evaluator's own: :func:`bidder.engine.evaluate.campaign_snapshot` builds the
snapshot, :func:`bidder.engine.evaluate.decide_campaign` decides (operator pause, stop file, operator
resume, strategies, :func:`bidder.engine.guards.decide`).

Until it diverges the candidate's changes near WB's minimum bid wait for that minimum where the recorded
run had not read it (the evaluator's lazy hold, with the stored ceiling); once diverged they do not (its
own asks would have been read within a cycle or two).

Evaluations of one campaign at the same time (a cycle that read WB's minimum bids and decided those
campaigns again) are one: the last pass, whose decisions were the ones applied.

Feedback model. Until the candidate first decides differently from what was recorded, it sees exactly
the recorded inputs (so the config that ran reproduces its decisions). From that evaluation on the
campaign has *diverged*: the candidate sees its own bids and pause state (the recorded ones frozen at the
divergence, then changed only by its own decisions, all assumed applied) and its own decisions as history;
statistics, recommendations, minimum bids stay as recorded (what a different bid would have made WB show
is unknown: replay measures stability and direction, not counterfactual results).
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bidder.domain import Action, BidRules, Campaign, DecisionRecord, Placement, Status
from bidder.engine.evaluate import StrategyFailed, campaign_snapshot, decide_campaign
from bidder.engine.guards import GuardConfig
from bidder.engine.min_bids import MinBids, depends_on_minimum, hold_without_minimum
from bidder.engine.positions import KEEP as POSITIONS_KEEP
from bidder.engine.view import HISTORY_DAYS, CampaignInputs
from bidder.store.observations import CampaignParts, EvaluationRecord, HistoryRow, Observation, ObservedState

CLUSTER_DAYS = 7  # the evaluator keeps a week of search-cluster statistics
MAX_GAP = timedelta(hours=1)  # a longer gap between two evaluations counts as not observed
EXAMPLES = 20  # differences listed per campaign

# why a decision differs (every difference gets one)
NOT_STORED = "inputs not stored: no campaign observation recorded before this evaluation"
NOT_MANAGED = "campaign not managed by this config"
RECORDED_FAILED = "a strategy raised in the recorded run: nothing was decided"
REPLAY_FAILED = "a strategy raised in the replay"
CONFIG = "the config decides differently"
DIVERGED = "after an earlier difference: the candidate's own bids and history"
EXPLAINED_FOR_GATE = frozenset({NOT_STORED, RECORDED_FAILED})  # causes outside the decision path


Target = tuple[int | None, str | None, str | None]  # (nm_id, placement, norm_query); (None,)*3: the campaign


@dataclass
class SideMetrics:
    """Stability figures of one side (the recorded run or the candidate) for one campaign."""

    decisions: int = 0
    bid_changes: int = 0
    raises: int = 0
    cuts: int = 0
    pauses: int = 0
    resumes: int = 0
    direction_changes: int = 0
    target_seconds: float = 0.0
    pinned_max_seconds: float = 0.0
    pinned_min_seconds: float = 0.0
    bid_seconds: dict[tuple[int, date], float] = field(default_factory=dict)  # (nm, day) -> integral of bid*dt
    active_seconds: dict[tuple[int, date], float] = field(default_factory=dict)
    changes_by_day: Counter = field(default_factory=Counter)
    _direction: dict[Target, int] = field(default_factory=dict)

    def count(self, decisions: list[tuple], day: date) -> None:
        for action, nm_id, placement, query, before, after, _strategy in decisions:
            self.decisions += 1
            if action == Action.SET_BID and after is not None and after != before:
                self.bid_changes += 1
                self.changes_by_day[day] += 1
                sign = 1 if before is None or after > before else -1
                if sign > 0:
                    self.raises += 1
                else:
                    self.cuts += 1
                key = (nm_id, placement, query)
                last = self._direction.get(key)
                if last is not None and last != sign:
                    self.direction_changes += 1
                self._direction[key] = sign
            elif action == Action.PAUSE:
                self.pauses += 1
            elif action == Action.RESUME:
                self.resumes += 1


@dataclass
class CampaignReplay:
    advert_id: int
    evaluations: int = 0
    decisions_total: int = 0
    identical: int = 0
    differ_by_action: Counter = field(default_factory=Counter)  # "recorded->replayed"
    differ_by_cause: Counter = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)
    recorded: SideMetrics = field(default_factory=SideMetrics)
    replayed: SideMetrics = field(default_factory=SideMetrics)
    diverged_at: datetime | None = None
    first: datetime | None = None
    last: datetime | None = None
    spend: dict[tuple[int, date], Decimal] = field(default_factory=dict)  # recorded spend per (nm, day)
    days: set[date] = field(default_factory=set)  # local days with an evaluation
    superseded: int = 0  # evaluations decided again in the same cycle (not compared: never applied)

    @property
    def unexplained(self) -> int:
        return sum(n for cause, n in self.differ_by_cause.items() if cause not in EXPLAINED_FOR_GATE)


class _Overlay:
    """A diverged campaign's own state: bids per (nm, WB field), status, history since the divergence."""

    def __init__(self, camp: Campaign, at: datetime) -> None:
        self.at = at
        self.status = camp.status
        self.bids: dict[tuple[int, str], int] = {(it.nm_id, k): v for it in camp.items for k, v in it.bids.items()}
        self.history: list[DecisionRecord] = []

    def campaign(self, observed: Campaign) -> Campaign:
        items = []
        for it in observed.items:
            bids = dict(it.bids)
            for k in bids:
                if (it.nm_id, k) in self.bids:
                    bids[k] = self.bids[(it.nm_id, k)]
            items.append(type(it)(nm_id=it.nm_id, bids=bids, subject=it.subject))
        status = self.status if observed.status in (Status.ACTIVE, Status.PAUSED) else observed.status
        return replace(observed, status=status, items=tuple(items))

    def apply(self, decisions: list, at: datetime, keep_holds: bool) -> None:
        for d in decisions:
            if d.action == Action.SET_BID and d.changes_bid and d.nm_id is not None and d.norm_query is None:
                keys = ("search", "recommendations") if d.placement == Placement.COMBINED else (d.placement,)
                for k in keys:
                    self.bids[(d.nm_id, k)] = d.bid_after
            elif d.action == Action.PAUSE:
                self.status = Status.PAUSED
            elif d.action == Action.RESUME:
                self.status = Status.ACTIVE
            if d.action == Action.HOLD and not keep_holds:
                continue
            self.history.append(DecisionRecord(
                at=at, strategy=d.strategy, action=Action(d.action), nm_id=d.nm_id, placement=d.placement,
                bid_before=d.bid_before, bid_after=d.bid_after, applied=d.action != Action.HOLD,
                evidence_at=None, avg_position=_avg_position(d.inputs), norm_query=d.norm_query,
                war=bool((d.inputs or {}).get("bidding_war"))))


def _avg_position(inputs: Any) -> float | None:
    value = (inputs or {}).get("avg_position")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class HistoryAt:
    """The recorded audit trail of one campaign, as it was known at each evaluation time."""

    def __init__(self, rows: list[HistoryRow], keep_holds: bool) -> None:
        rows = [r for r in rows if keep_holds or r.record.action != Action.HOLD]
        rows.sort(key=lambda r: (r.at, r.id))
        self.rows = rows
        self.ats = [r.at for r in rows]
        self._cache: tuple[Any, tuple[DecisionRecord, ...]] | None = None

    def at(self, t: datetime, until: datetime | None = None) -> tuple[DecisionRecord, ...]:
        lo = bisect.bisect_left(self.ats, t - timedelta(days=HISTORY_DAYS))
        hi = bisect.bisect_left(self.ats, t if until is None or until > t else until)
        unresolved = []
        i = hi - 1
        while i >= lo and self.rows[i].at > t - MAX_GAP:  # outcomes recorded after t (a write in flight)
            r = self.rows[i]
            if r.record.applied and (r.applied_at is None or r.applied_at > t):
                unresolved.append(i)
            i -= 1
        key = (lo, hi, tuple(unresolved))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        out = tuple(r.known_at(t) if j in unresolved else r.record
                    for j, r in enumerate(self.rows[lo:hi], start=lo))
        self._cache = (key, out)
        return out


def replay_campaign(advert_id: int, evaluations: list[EvaluationRecord], observations: list[Observation],
                    history: list[HistoryRow], account: Any, guard: GuardConfig, *, account_name: str,
                    cap: int | None, stop_file: Any = None, positions: list | None = None) -> CampaignReplay:
    """Replay one campaign's recorded evaluations (ordered by time) under ``account`` (an AccountConfig)."""
    out = CampaignReplay(advert_id)
    # a cycle that read WB's minimum bids decides those campaigns again at the same time; only the last
    # pass was applied and audited (engine/cycle.py), and its inputs are the ones stored at that time
    kept = [ev for i, ev in enumerate(evaluations)
            if i + 1 == len(evaluations) or evaluations[i + 1].at != ev.at]
    out.superseded = len(evaluations) - len(kept)
    evaluations = kept
    managed = account.is_managed(advert_id)
    strategies = account.strategies_for(advert_id) if managed else []
    keep_holds = any(s.reads_holds for s in strategies)
    window = stats_window(strategies)
    tz = ZoneInfo(account.timezone)
    state = ObservedState(observations)
    recorded_history = HistoryAt(history, keep_holds)
    overlay: _Overlay | None = None
    spend_from: CampaignParts | None = None
    rows: dict = {}  # decide_from_parts' ordered statistics rows, kept while no observation is folded in
    prev: tuple[datetime, list, list, Campaign | None, Campaign | None, BidRules | None] | None = None
    for ev in evaluations:
        state.advance(ev.at)
        parts = state.parts.get(advert_id)
        today = ev.at.astimezone(tz).date()
        out.evaluations += 1
        out.first = out.first or ev.at
        out.last = ev.at
        recorded = [list(d) for d in ev.decisions]
        cause: str | None = None
        replayed: list[tuple] = []
        camp_seen: Campaign | None = None
        rules = parts.rules if parts is not None else None
        decided: list = []
        if parts is None or parts.campaign is None:
            cause = NOT_STORED
        elif ev.failed:
            cause = RECORDED_FAILED
        elif not managed:
            cause = NOT_MANAGED
        else:
            observed = parts.campaign
            camp_seen = overlay.campaign(observed) if overlay is not None else observed
            hist = recorded_history.at(ev.at, overlay.at if overlay is not None else None)
            if overlay is not None:
                hist = hist + tuple(overlay.history)
                cutoff = ev.at - timedelta(days=HISTORY_DAYS)
                hist = tuple(r for r in hist if r.at >= cutoff)
            try:
                seen_pos = tuple(p for p in positions or () if ev.at - POSITIONS_KEEP <= p.observed_at <= ev.at)
                decided = decide_from_parts(parts, camp_seen, ev, hist, ev.at, today, account, strategies, guard,
                                            window=window, account_name=account_name, stop_file=stop_file,
                                            positions=seen_pos, min_bid_hold=overlay is None, rows=rows)
                replayed = [_compact(d) for d in decided]
            except StrategyFailed:
                cause = REPLAY_FAILED
        differ = _compare(out, ev, recorded, replayed, cause if cause else (DIVERGED if overlay is not None else CONFIG))
        if overlay is None and cause is None and differ and parts is not None and parts.campaign is not None:
            overlay = _Overlay(parts.campaign, ev.at)
            out.diverged_at = ev.at
        if overlay is not None and decided:
            overlay.apply(decided, ev.at, keep_holds)
        out.days.add(today)
        out.recorded.count(recorded, today)
        out.replayed.count(replayed, today)
        if prev is not None:
            _accrue(out, prev, ev.at, cap, tz)
        prev = (ev.at, recorded, replayed or recorded, parts.campaign if parts else None, camp_seen, rules)
        if parts is not None:
            spend_from = parts
    # recorded spend per (nm, day): the newest of each as of the last evaluation (stored rows are only
    # ever replaced, never dropped, so this is what updating it at every evaluation came to)
    if spend_from is not None:
        out.spend = {(st.nm_id, st.day): st.spend for st in spend_from.daily.values()}
    return out


def stats_window(strategies: list) -> int:
    """Days of daily statistics the strategies read (at least the history window), as the view counts them."""
    return max([HISTORY_DAYS] + [int(w.total_seconds() // 86400) for s in strategies
                                 if (w := getattr(s.params, "window", None)) is not None])


def decide_from_parts(parts: CampaignParts, camp: Campaign, ev: EvaluationRecord, history: tuple, now: datetime,
                      today: date, account: Any, strategies: list, guard: GuardConfig, *, window: int,
                      account_name: str, stop_file: Any = None, operator_paused: bool | None = None,
                      stopped: bool | None = None, positions: tuple = (), min_bid_hold: bool = True,
                      rows: dict | None = None) -> list:
    """One campaign's decisions at ``now`` from its stored inputs, through the evaluator's own path
    (:func:`campaign_snapshot`, :func:`decide_campaign`). ``ev`` gives what is not an observation (the
    statistics time, operator pause, stop file, whether WB's minimum bids were known); ``operator_paused``
    and ``stopped`` override its flags. ``min_bid_hold``: a change near WB's minimum waits for the item's
    minimum when it was not stored, as the evaluator held it (off for a diverged campaign: the candidate's
    own cuts would have had their minimums read within a cycle or two). ``rows``: a campaign's cache of its
    ordered statistics rows between calls (keyed by the parts' version). Raises :class:`StrategyFailed`."""
    paused = ev.operator_paused if operator_paused is None else operator_paused
    stop = ev.stopped if stopped is None else stopped
    since = ev.stats_since if (today - ev.stats_since).days >= window else today - timedelta(days=window)
    rules = parts.rules or BidRules(step=0)
    clusters_since = today - timedelta(days=CLUSTER_DAYS)
    if rows is None:
        clusters, daily = parts.cluster_stats(clusters_since), parts.daily_stats(since)
    else:  # the same tuples again while nothing was folded in since (the strategies' memos then hold too)
        key = (parts.version, clusters_since, since)
        if rows.get("key") != key:
            rows.update(key=key, clusters=parts.cluster_stats(clusters_since), daily=parts.daily_stats(since))
        clusters, daily = rows["clusters"], rows["daily"]
    seen = CampaignInputs(camp, rules, 0, clusters, dict(parts.recs), ev.stats_as_of, history, paused, stop, today,
                          ev.rules_known, positions=positions, cluster_bids=parts.cluster_bids)
    snap = campaign_snapshot(account_name, account.timezone, seen, daily)
    min_hold = None
    if min_bid_hold and parts.ceiling_known:  # the lazy minimum-bid hold as the evaluator applied it (engine/min_bids.py)
        known, ceiling = rules.min_bids, parts.ceiling

        def min_hold(d: Any) -> Any:  # (the minimums it asks for are not read: replay reads nothing)
            if not depends_on_minimum(d, ceiling):
                return d
            return hold_without_minimum(d, MinBids(), known, ceiling)

    return decide_campaign(snap, now, strategies, guard, stopped=stop, rules_known=ev.rules_known,
                           stop_file=stop_file, min_hold=min_hold)


def _compact(d: Any) -> list:
    """``list(compact(d))`` (bidder.engine.observe) without the enum's property lookup."""
    a = d.action
    return [a._value_ if type(a) is Action else Action(a).value, d.nm_id, d.placement, d.norm_query, d.bid_before,
            d.bid_after, d.strategy]


def _targets(decisions: list) -> dict[Target, list]:
    return {(d[1], d[2], d[3]): d for d in decisions}


def _compare(out: CampaignReplay, ev: EvaluationRecord, recorded: list, replayed: list, cause: str) -> int:
    """Counts the evaluation's decisions, identical or not (same action and bid per target); returns how
    many differ (0: the evaluation decided as recorded)."""
    a, b = _targets(recorded), _targets(replayed)
    differ = 0
    for key in list(a) + [k for k in b if k not in a]:
        r, c = a.get(key), b.get(key)
        out.decisions_total += 1
        if r is not None and c is not None and r[0] == c[0] and r[5] == c[5]:
            out.identical += 1
            continue
        differ += 1
        label = f"{r[0] if r else 'none'}->{c[0] if c else 'none'}"
        out.differ_by_action[label] += 1
        out.differ_by_cause[cause] += 1
        if len(out.examples) < EXAMPLES:
            out.examples.append({
                "at": ev.at.isoformat(timespec="seconds"), "nm_id": key[0], "placement": key[1], "norm_query": key[2],
                "recorded": None if r is None else {"action": r[0], "bid_before": r[4], "bid_after": r[5],
                                                    "strategy": r[6]},
                "replayed": None if c is None else {"action": c[0], "bid_before": c[4], "bid_after": c[5],
                                                    "strategy": c[6]},
                "cause": cause,
            })
    return differ


def _accrue(out: CampaignReplay, prev: tuple, now: datetime, cap: int | None, tz: ZoneInfo) -> None:
    """Time-weighted figures over the interval since the previous evaluation: the bid in force after each
    side's decisions, pinned at max_bid or at WB's minimum, and the bid-time per item and day (spend model)."""
    at, recorded, replayed, observed, seen, rules = prev
    dt = (now - at).total_seconds()
    if dt <= 0 or now - at > MAX_GAP or observed is None:
        return
    day = at.astimezone(tz).date()
    mins = rules.min_bids if rules is not None else None
    for side, decisions, camp in ((out.recorded, recorded, observed), (out.replayed, replayed, seen or observed)):
        paused = camp.status != Status.ACTIVE
        target, pinned_max, pinned_min = side.target_seconds, side.pinned_max_seconds, side.pinned_min_seconds
        bid_seconds, active_seconds = side.bid_seconds, side.active_seconds
        for _action, nm_id, placement, query, before, after, _s in decisions:
            if nm_id is None or placement is None or query is not None:
                continue
            bid = after if after is not None else before
            if bid is None:
                continue
            target += dt
            if cap is not None and bid >= cap:
                pinned_max += dt
            floor = mins.get((nm_id, placement)) if mins is not None else None
            if floor is not None and bid <= floor:
                pinned_min += dt
            if not paused:
                key = (nm_id, day)
                bid_seconds[key] = bid_seconds.get(key, 0.0) + bid * dt
                active_seconds[key] = active_seconds.get(key, 0.0) + dt
        side.target_seconds, side.pinned_max_seconds, side.pinned_min_seconds = target, pinned_max, pinned_min
