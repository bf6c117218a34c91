"""``bidder plan``: what a config would decide on the next cycle, against the running config, through the
same decision path (:func:`bidder.replay.core.decide_from_parts`, i.e. the evaluator's own), writing
nothing. The inputs are the newest stored observations of each campaign (what the last evaluation knew),
the audit trail as it stands, the operator's pauses and the stop file as they are now. A SIGHUP reload
logs :meth:`Plan.summary` before the new config takes effect.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bidder.engine.evaluate import StrategyFailed
from bidder.engine.guards import GuardConfig
from bidder.engine.observe import compact
from bidder.engine.view import HISTORY_DAYS
from bidder.notify.control import operator_paused
from bidder.replay.core import HistoryAt, decide_from_parts, stats_window
from bidder.store import observations as obs


@dataclass
class Plan:
    account: str
    at: datetime
    campaigns: int = 0
    decisions_total: int = 0
    same: int = 0
    differ_by_action: Counter = field(default_factory=Counter)  # "running->new"
    differences: list[dict[str, Any]] = field(default_factory=list)
    changes_running: int = 0
    changes_new: int = 0
    skipped: dict[int, str] = field(default_factory=dict)

    def summary(self) -> str:
        differ = self.decisions_total - self.same
        text = (f"plan for {self.account}: {self.campaigns} campaigns, {self.decisions_total} decisions on the next "
                f"cycle; {self.same} the same, {differ} differ")
        if self.differ_by_action:
            text += " (" + ", ".join(f"{k} {v}" for k, v in sorted(self.differ_by_action.items())) + ")"
        text += f"; bid changes {self.changes_running} -> {self.changes_new}"
        if self.skipped:
            text += f"; {len(self.skipped)} campaigns not planned"
        return text

    def as_json(self) -> dict[str, Any]:
        return {"account": self.account, "at": self.at.isoformat(timespec="seconds"), "campaigns": self.campaigns,
                "decisions_total": self.decisions_total, "same": self.same,
                "differ": self.decisions_total - self.same, "differ_by_action": dict(sorted(self.differ_by_action.items())),
                "bid_changes_running": self.changes_running, "bid_changes_new": self.changes_new,
                "differences": self.differences, "skipped": {str(k): v for k, v in self.skipped.items()}}


def _decide(account: Any, parts: Any, ev: Any, hist: HistoryAt, now: datetime, paused: bool, stopped: bool,
            stop_file: Any) -> list | str:
    aid = ev.advert_id
    if not account.is_managed(aid):
        return []
    strategies = account.strategies_for(aid)
    today = now.astimezone(ZoneInfo(account.timezone)).date()
    try:
        decided = decide_from_parts(parts, parts.campaign, ev, hist.at(now), now, today, account, strategies,
                                    GuardConfig.from_guardrails(account.guardrails), window=stats_window(strategies),
                                    account_name=account.name, stop_file=stop_file, operator_paused=paused,
                                    stopped=stopped)
    except StrategyFailed as exc:
        return f"strategy {exc.kind} raised: {exc.error!r}"
    return [compact(d) for d in decided]


async def plan_account(session: Any, running: Any, new: Any, now: datetime, *, stopped: bool = False,
                       stop_file: Path | None = None) -> Plan:
    """``running`` and ``new``: the AccountConfig of the same account (read-only ``session``); ``stopped``:
    the stop file is present now."""
    plan = Plan(running.name, now)
    evals = await obs.latest_evaluations(session, running.name)
    state = obs.ObservedState(await obs.latest_observations(session, running.name))
    state.advance(now)
    rows = await obs.history_rows(session, running.name, None, since=now - timedelta(days=HISTORY_DAYS),
                                  until=now + timedelta(microseconds=1))
    by_campaign: dict[int, list] = {}
    for r in rows:
        by_campaign.setdefault(r.advert_id, []).append(r)
    paused_now = await operator_paused(session, running.name)
    for ev in evals:
        aid = ev.advert_id
        parts = state.parts.get(aid)
        if parts is None or parts.campaign is None:
            plan.skipped[aid] = "no stored observation"
            continue
        if not (running.is_managed(aid) or new.is_managed(aid)):
            continue
        paused = paused_now is True or (isinstance(paused_now, set) and aid in paused_now)
        a = _decide(running, parts, ev, HistoryAt(by_campaign.get(aid, []), _holds(running, aid)), now, paused,
                    stopped, stop_file)
        b = _decide(new, parts, ev, HistoryAt(by_campaign.get(aid, []), _holds(new, aid)), now, paused, stopped,
                    stop_file)
        if isinstance(a, str) or isinstance(b, str):
            plan.skipped[aid] = a if isinstance(a, str) else str(b)
            continue
        plan.campaigns += 1
        ta = {(d[1], d[2], d[3]): d for d in a}
        tb = {(d[1], d[2], d[3]): d for d in b}
        plan.changes_running += sum(1 for d in a if d[0] == "set_bid" and d[5] != d[4])
        plan.changes_new += sum(1 for d in b if d[0] == "set_bid" and d[5] != d[4])
        for key in list(ta) + [k for k in tb if k not in ta]:
            x, y = ta.get(key), tb.get(key)
            plan.decisions_total += 1
            if x is not None and y is not None and x[0] == y[0] and x[5] == y[5]:
                plan.same += 1
                continue
            plan.differ_by_action[f"{x[0] if x else 'none'}->{y[0] if y else 'none'}"] += 1
            plan.differences.append({
                "advert_id": aid, "nm_id": key[0], "placement": key[1], "norm_query": key[2],
                "running": None if x is None else {"action": x[0], "bid_before": x[4], "bid_after": x[5],
                                                   "strategy": x[6]},
                "new": None if y is None else {"action": y[0], "bid_before": y[4], "bid_after": y[5],
                                               "strategy": y[6]},
            })
    return plan


def _holds(account: Any, advert_id: int) -> bool:
    return account.is_managed(advert_id) and any(s.reads_holds for s in account.strategies_for(advert_id))
