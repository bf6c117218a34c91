"""What each strategy would propose for one campaign right now, and what the guardrails would make of it:
the engine's own decision path (pure strategies, then :func:`bidder.engine.guards.decide`, the operator's
pause and the wait for WB's minimum bids) over the stored inputs, writing nothing. The dashboard's
campaign page shows it.

Inputs: the stored campaign, its daily and cluster statistics and its decision history; from the running
engine (when the dashboard is served by the daemon or ``bidder demo``) WB's bid step and minimum bids,
the recommendations and when the statistics were read, which the store does not keep. Without a running
engine those are unknown and the preview fails closed as the engine would: no raise on statistics of
unknown age, no bid change before WB's minimum bids are known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bidder.domain import Action, BidRules, CampaignSnapshot, Decision, Proposal
from bidder.engine.evaluate import OPERATOR, _wait_for_rules, operator_hold, operator_resume
from bidder.engine.guards import GuardConfig
from bidder.engine.guards import decide as guard_decide
from bidder.engine.min_bids import MinBids, hold_without_minimum
from bidder.engine.view import HISTORY_DAYS, AccountView
from bidder.reasons import because
from bidder.store import repo


@dataclass(frozen=True, slots=True)
class Preview:
    proposals: tuple[Proposal, ...] = ()  # what each strategy proposes now, in strategy order
    decisions: tuple[Decision, ...] = ()  # what the guardrails make of them (nothing is written)
    managed: bool = True
    rules_known: bool = False  # WB's minimum bids known (from the running engine)
    stats_as_of: datetime | None = None
    stopped: bool = False  # the stop file is present: everything holds
    failed: dict[str, str] = field(default_factory=dict)  # strategy -> error (the engine would skip)


async def preview_campaign(session: AsyncSession, account: Any, advert_id: int, now: datetime, *,
                           view: AccountView | None = None, stop_file: Path | None = None,
                           stopped: bool = False) -> Preview | None:
    """``account``: the config's AccountConfig; ``view``: the running engine's view of the account (None:
    no engine in this process); ``stopped``: the engine's stop file ``stop_file`` is present. None when
    the campaign is not stored."""
    name = account.name
    camp = view.campaigns.get(advert_id) if view is not None else None
    if camp is None:
        stored = await repo.load_campaigns(session, name, [advert_id])
        if not stored:
            return None
        camp = stored[0]
    if not account.is_managed(advert_id):
        return Preview(managed=False)
    strategies = view.strategies_for(advert_id) if view is not None else account.strategies_for(advert_id)
    guard = view.decision_guard() if view is not None else GuardConfig.from_guardrails(account.guardrails)
    rules = view.rules_for(camp) if view is not None else BidRules(step=0)
    rules_known = view.rules_known(advert_id) if view is not None else False
    recs = view.recommendations_by_campaign().get(advert_id, {}) if view is not None else {}
    stats_as_of = view.stats_at.get(advert_id) if view is not None else None

    today = now.astimezone(view.tz if view is not None else ZoneInfo(account.timezone)).date()
    window = max([HISTORY_DAYS, *(int(w.total_seconds() // 86400) for s in strategies
                                  if (w := getattr(s.params, "window", None)) is not None)])
    daily = await repo.load_daily_stats(session, name, [advert_id], today - timedelta(days=window))
    clusters = await repo.load_cluster_stats(session, name, [advert_id], since=today - timedelta(days=7))
    reads_holds = any(s.reads_holds for s in strategies)
    history = tuple(r for r in await repo.campaign_records(session, name, advert_id, now - timedelta(days=HISTORY_DAYS))
                    if reads_holds or r.action != Action.HOLD)
    paused = await repo.operator_states(session, name, "paused")
    operator_paused = any(s.value and (s.advert_id is None or int(s.advert_id) == advert_id) for s in paused)
    snap = CampaignSnapshot(account=name, campaign=camp, rules=rules, timezone=account.timezone,
                            daily_stats=tuple(daily), cluster_stats=tuple(clusters), recommendations=recs,
                            stats_as_of=stats_as_of, history=history, operator_paused=operator_paused)
    base = {"rules_known": rules_known, "stats_as_of": stats_as_of, "stopped": stopped}

    # the engine's decision path (Evaluator._decide) without its side effects
    if snap.operator_paused:
        return Preview(decisions=tuple(operator_hold(snap)), **base)
    if stopped:
        return Preview(decisions=(Decision(action=Action.HOLD, advert_id=advert_id, strategy=OPERATOR,
                                           reason=because("engine.stop_file", path=str(stop_file))),),
                       **base)
    resume = operator_resume(snap)
    if resume is not None:
        return Preview(decisions=(resume,), **base)
    proposals: list[Proposal] = []
    failed: dict[str, str] = {}
    for strategy in strategies:
        try:
            proposals.extend(strategy.decide(snap, now))
        except Exception as exc:  # the engine skips the campaign and alerts; here: say so
            failed[strategy.kind] = f"{type(exc).__name__}: {exc}"[:300]
    if failed:
        return Preview(proposals=tuple(proposals), failed=failed, **base)
    decided = guard_decide(snap, proposals, guard, now, stop=stopped)
    if not rules_known:
        decided = [_wait_for_rules(d) for d in decided]
    elif view is not None and camp is not None:
        # as the evaluator does (engine/min_bids.py), with a scratch request list: a preview asks WB nothing
        known, ceiling = rules.min_bids, view.min_bids.ceiling(camp.payment_type)
        decided = [hold_without_minimum(d, MinBids(), known, ceiling) for d in decided]
    return Preview(proposals=tuple(proposals), decisions=tuple(decided), **base)
