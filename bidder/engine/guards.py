"""Combination of strategy proposals and the guardrails above them. Pure: no I/O, ``now`` is an argument.

``decide(snapshot, proposals, guard, now, stop=False) -> list[Decision]`` gives one decision per target:
the campaign (pause / resume) and every (nm, placement[, norm_query]) some strategy spoke about.

Combination: a pause from any strategy wins; otherwise the lowest proposed bid per target; a resume only
when no strategy pauses (a strategy proposes PAUSE for an already paused campaign to keep it paused). Then the guardrails, which no strategy can bypass:

1. ``stop`` (kill switch, stop file): everything becomes HOLD.
2. bids change only in campaign statuses 4 / 9 / 11; pause only from 9, resume only from 4 / 11.
3. ``max_bid`` (the account's and WB's cap): never above; a current bid above it is brought down to it.
4. no raise on stale statistics (``stats_as_of`` older than ``max_stats_age``): only holds and cuts.
5. bidding wars (:mod:`bidder.engine.wars`): target_position raised the same target twice within 90
   minutes and a fresh reading shows no gain -> back to the cheapest bid that held, with
   ``guard="bidding war: ..."`` (the engine alerts once), and no raise for a while after.
6. ``min_change_interval`` since the item's last applied bid change (from the history).
7. ``max_step_pct``: the change is clamped toward the proposed bid.
8. WB's minimum bid (``BidRules``) and rounding to ``BidRules.step``: never below the minimum; a cut to
   below it holds at (or moves to) the minimum. A pause is only ever proposed by a strategy.
9. dead band: no change smaller than one step or ``dead_band_pct``.
10. a HOLD carrying ``inputs["no_raise"]`` (e.g. roi_floor at the minimum below its floor) blocks
    another strategy's raise of the same target.
11. minimum evidence before any pause (spend or clicks in the snapshot's daily statistics), except
    time-based pauses (``inputs["time_based"]``: schedule, daily budget).

A decision the guardrails changed says so in ``guard`` and in its reason. ``bid_before`` is the current bid
from the campaign snapshot; a HOLD keeps ``bid_after == bid_before``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from bidder.domain import (
    BID_EDITABLE_STATUSES,
    PAUSABLE_STATUSES,
    STARTABLE_STATUSES,
    Action,
    CampaignSnapshot,
    Decision,
    Proposal,
    Status,
)
from bidder.engine import wars
from bidder.guardrails import DEFAULTS, Guardrails
from bidder.reasons import because, guarded, joined, notes
from strategies.common import (
    NO_RAISE,
    TIME_BASED,
    applied_bid_changes,
    min_bid,
    round_down,
    round_up,
    totals,
)

WAR_PREFIX = "bidding war: "
TARGET_POSITION = "target_position"


@dataclass(frozen=True, slots=True)
class GuardConfig:
    """The guardrails of one account as :func:`decide` applies them: :class:`bidder.guardrails.Guardrails`
    with ``max_bid`` in minor units (None: only WB's cap, ``BidRules.max_bid``, applies);
    ``min_evidence_spend`` stays in base units. Its defaults and bounds are those of ``Guardrails`` (written
    there once) and it is validated against them. Built from the config by :meth:`from_guardrails`."""

    max_bid: int | None = None
    max_step_pct: float = float(DEFAULTS["max_step_pct"])
    min_change_interval: timedelta = DEFAULTS["min_change_interval"]
    dead_band_pct: float = float(DEFAULTS["dead_band_pct"])
    max_stats_age: timedelta = DEFAULTS["max_stats_age"]
    min_evidence_spend: Decimal = DEFAULTS["min_evidence_spend"]
    min_evidence_clicks: int = DEFAULTS["min_evidence_clicks"]
    war_raises: int = DEFAULTS["war_raises"]
    # False for a rollback: the pacing rails (stale statistics, bidding war, min_change_interval,
    # max_step_pct, dead_band_pct) are off; max_bid, WB's cap, minimum and step still apply.
    pacing: bool = True

    def __post_init__(self) -> None:
        if self.max_bid is not None and self.max_bid <= 0:
            raise ValueError(f"max_bid must be greater than 0, got {self.max_bid}")
        _validated({name: getattr(self, name) for name in DEFAULTS}, max_bid=None)

    @classmethod
    def from_guardrails(cls, g: Any) -> GuardConfig:
        """The one builder: from the config's :class:`Guardrails` (or anything with some of its field names,
        in its units: money in base units, durations as ``timedelta`` or seconds; a missing field takes its
        default, a missing ``max_bid`` means only WB's cap). Raises ``ValueError`` outside the bounds."""
        max_bid = getattr(g, "max_bid", None)
        rails = g if isinstance(g, Guardrails) else _validated(
            {name: getattr(g, name, default) for name, default in DEFAULTS.items()}, max_bid=max_bid
        )
        return cls(
            max_bid=None if max_bid is None else rails.max_bid_minor,
            max_step_pct=float(rails.max_step_pct),
            min_change_interval=rails.min_change_interval,
            dead_band_pct=float(rails.dead_band_pct),
            max_stats_age=rails.max_stats_age,
            min_evidence_spend=rails.min_evidence_spend,
            min_evidence_clicks=rails.min_evidence_clicks,
            war_raises=rails.war_raises,
        )

    @classmethod
    def from_numbers(cls, **numbers: Any) -> GuardConfig:
        """:meth:`from_guardrails` from keyword arguments written as the YAML has them (tests, benchmarks)."""
        unknown = set(numbers) - {"max_bid", *DEFAULTS}
        if unknown:
            raise TypeError(f"unknown guardrail(s): {', '.join(sorted(unknown))}")
        return cls.from_guardrails(SimpleNamespace(**numbers))


def _validated(fields: dict[str, Any], *, max_bid: Any) -> Guardrails:
    """``fields`` checked against the bounds of :class:`Guardrails`; without a ``max_bid`` (None), a
    placeholder stands in for it (every other field is checked all the same)."""
    return Guardrails.model_validate({**fields, "max_bid": 1 if max_bid is None else max_bid})


Key = tuple[int, int | None, str | None, str | None]


def _key(p: Proposal) -> Key:
    return (p.advert_id, p.nm_id, p.placement, p.norm_query)


def _names(ps: Sequence[Proposal]) -> str:
    seen: list[str] = []
    for p in ps:
        if p.strategy not in seen:
            seen.append(p.strategy)
    return "+".join(seen)


def _reasons(ps: Sequence[Proposal]) -> str:
    return joined([(p.strategy, p.reason) for p in ps])


def decide(
    snapshot: CampaignSnapshot,
    proposals: Sequence[Proposal],
    guard: GuardConfig,
    now: datetime,
    *,
    stop: bool = False,
) -> list[Decision]:
    """Combine the proposals of every strategy for one campaign and apply the guardrails.

    Returns one decision per target in first-mentioned order: campaign-level first, then items.
    """
    groups: dict[Key, list[Proposal]] = {}
    for p in proposals:
        if p.action in (Action.PAUSE, Action.RESUME):
            groups.setdefault((p.advert_id, None, None, None), []).append(p)
        else:
            groups.setdefault(_key(p), []).append(p)
    camp_key: Key = (snapshot.campaign.advert_id, None, None, None)
    ordered = sorted(groups, key=lambda k: (k != camp_key,))
    out: list[Decision] = []
    pausing = False
    if camp_key in groups:
        d = _campaign(snapshot, groups[camp_key], guard, now, stop)
        pausing = d.action == Action.PAUSE
        out.append(d)
    for key in ordered:
        if key == camp_key:
            continue
        out.append(_target(snapshot, groups[key], guard, now, stop, pausing))
    return out


def evidence(snapshot: CampaignSnapshot) -> tuple[Decimal, int]:
    t = totals(snapshot.daily_stats)
    return t.spend, t.clicks


def _campaign(snapshot: CampaignSnapshot, ps: list[Proposal], guard: GuardConfig, now: datetime,
              stop: bool) -> Decision:
    camp = snapshot.campaign
    pauses = [p for p in ps if p.action == Action.PAUSE]
    resumes = [p for p in ps if p.action == Action.RESUME]
    holds = [p for p in ps if p.action == Action.HOLD]

    def make(action: Action, chosen: Sequence[Proposal], reason: str, g: str | None = None,
             **extra: Any) -> Decision:
        inputs: dict[str, Any] = {}
        for p in chosen:
            inputs.update(p.inputs)
        inputs.update(extra)
        return Decision(action=action, advert_id=camp.advert_id, strategy=_names(chosen) or "guards",
                        reason=guarded(reason, g), guard=g, inputs=inputs)

    if stop:
        return make(Action.HOLD, ps, _reasons(ps), because("guard.stopped"))
    if pauses:
        time_based = [p for p in pauses if p.inputs.get(TIME_BASED)]
        chosen = time_based[0] if time_based else pauses[0]
        if camp.status == Status.PAUSED:
            return make(Action.HOLD, [chosen], chosen.reason, because("guard.already_paused"))
        if camp.status not in PAUSABLE_STATUSES:
            return make(Action.HOLD, [chosen], chosen.reason, because("guard.status_no_pause", status=camp.status))
        if not chosen.inputs.get(TIME_BASED):
            spend, clicks = evidence(snapshot)
            if spend < guard.min_evidence_spend and clicks < guard.min_evidence_clicks:
                return make(Action.HOLD, [chosen], chosen.reason,
                            because("guard.no_evidence", spend=str(spend), min_spend=str(guard.min_evidence_spend),
                                    clicks=clicks, min_clicks=guard.min_evidence_clicks),
                            evidence_spend=str(spend), evidence_clicks=clicks)
        return make(Action.PAUSE, [chosen], chosen.reason)
    if resumes:
        chosen = resumes[0]
        if snapshot.operator_paused:
            return make(Action.HOLD, [chosen], chosen.reason, because("guard.operator_paused"))
        if camp.status not in STARTABLE_STATUSES:
            return make(Action.HOLD, [chosen], chosen.reason, because("guard.status_no_resume", status=camp.status))
        return make(Action.RESUME, [chosen], chosen.reason)
    return make(Action.HOLD, holds, _reasons(holds))


def _target(snapshot: CampaignSnapshot, ps: list[Proposal], guard: GuardConfig, now: datetime, stop: bool,
            pausing: bool) -> Decision:
    first = ps[0]
    nm_id, placement = first.nm_id, first.placement
    item = snapshot.campaign.item(nm_id) if nm_id is not None else None
    current = item.bid_for(placement) if item is not None and placement is not None else None
    if first.norm_query is not None:  # a search-cluster bid starts from that cluster's own bid
        current = snapshot.cluster_bids.get((nm_id, first.norm_query)) if nm_id is not None else None
    sets = [p for p in ps if p.action == Action.SET_BID and p.bid is not None]
    chosen = min(sets, key=lambda p: p.bid) if sets else None  # type: ignore[arg-type,return-value]

    def make(action: Action, reason: str, g: str | None = None, bid_after: int | None = None,
             strategy: str | None = None, **extra: Any) -> Decision:
        if chosen is not None or len(ps) == 1:
            inputs: dict[str, Any] = dict((chosen or ps[0]).inputs)
        else:  # every proposal's inputs, the first one's value of a key kept, in first-seen order
            inputs = dict(ps[0].inputs)
            for p in ps[1:]:
                inputs.update({k: v for k, v in p.inputs.items() if k not in inputs})
        if len(ps) > 1:
            inputs["proposals"] = {p.strategy: (p.bid if p.action == Action.SET_BID else str(p.action))
                                   for p in ps}
        inputs.update(extra)
        return Decision(
            action=action, advert_id=first.advert_id, nm_id=nm_id, placement=placement,
            norm_query=first.norm_query,
            strategy=strategy or (chosen.strategy if chosen is not None else _names(ps)),
            reason=guarded(reason, g), guard=g,
            bid_before=current, bid_after=current if action == Action.HOLD else bid_after,
            proposed_bid=chosen.bid if chosen is not None else None, inputs=inputs,
        )

    def hold(g: str | None, reason: str | None = None, **extra: Any) -> Decision:
        return make(Action.HOLD, reason if reason is not None else (chosen.reason if chosen else _reasons(ps)), g,
                    **extra)

    if stop:
        return hold(because("guard.stopped"))
    status = snapshot.campaign.status
    if status not in BID_EDITABLE_STATUSES:
        return hold(because("guard.status_no_bids", status=status))
    if current is None:
        return hold(because("guard.bid_unknown"))
    step = max(snapshot.rules.step, 1)
    caps = [c for c in (guard.max_bid, snapshot.rules.max_bid) if c is not None]
    cap = round_down(min(caps), step) if caps else None
    floor = min_bid(snapshot, nm_id, placement) if nm_id is not None and placement is not None else step
    floor = round_up(floor, step)
    if cap is not None and cap < floor:
        return hold(because("guard.cap_below_min", cap=cap, floor=floor))

    # A current bid outside WB's or the account's limits is corrected first, whatever was proposed.
    if cap is not None and current > cap and (chosen is None or chosen.bid is None or chosen.bid >= cap):
        reason = chosen.reason if chosen else _reasons(ps)
        return make(Action.SET_BID, reason, because("guard.above_cap", current=current, cap=cap),
                    bid_after=cap, strategy=(chosen.strategy if chosen else "guards"))
    if current < floor and (chosen is None or chosen.bid is None or chosen.bid <= floor):
        reason = chosen.reason if chosen else _reasons(ps)
        return make(Action.SET_BID, reason, because("guard.below_min", current=current, floor=floor),
                    bid_after=floor, strategy=(chosen.strategy if chosen else "guards"))

    if chosen is None:
        return _war_at_max(snapshot, ps, current, floor, cap, step, guard, now, make) or hold(None)

    def blocked(g: str | None, reason: str | None = None, strategy: str | None = None) -> Decision:
        """A hold, except that a bid below WB's minimum still goes up to the minimum."""
        if current < floor:
            note = because("guard.below_min", current=current, floor=floor)
            return make(Action.SET_BID, reason or chosen.reason, notes([g, note]) if g else note, bid_after=floor,
                        strategy=strategy)
        if reason is not None:
            return make(Action.HOLD, reason, g, strategy=strategy)
        return hold(g)

    if pausing:
        return blocked(because("guard.pausing"))
    proposed = chosen.bid
    assert proposed is not None
    vetoes = [p for p in ps if p.action == Action.HOLD and p.inputs.get(NO_RAISE)]
    if proposed > current and vetoes:
        return blocked(None, _reasons(vetoes), _names(vetoes))
    noted: list[str] = []
    want = proposed
    if cap is not None and want > cap:
        want = cap
        noted.append(because("guard.capped", cap=cap))
    forced = (cap is not None and current > cap) or current < floor

    if want > current and guard.pacing:
        age = None if snapshot.stats_as_of is None else now - snapshot.stats_as_of
        if age is None or age > guard.max_stats_age:
            limit_h = guard.max_stats_age.total_seconds() / 3600
            return blocked(because("guard.stale_unknown", limit_h=limit_h) if age is None else
                           because("guard.stale", age_h=round(age.total_seconds() / 3600, 1), limit_h=limit_h))
        war = wars.check(snapshot, chosen, current, guard.war_raises, now) if by_target_position(chosen) else None
        if war is not None and war.rollback is None:
            return blocked(war.note)
        if war is not None and war.rollback is not None:
            back = max(round_up(war.rollback, step), floor)
            if cap is not None:
                back = min(back, cap)
            if back < current:
                return make(Action.SET_BID, chosen.reason, war.note, bid_after=back,
                            raises=war.raises, bidding_war=True,
                            war_first_raise=None if war.first_raise is None else war.first_raise.isoformat())
            return blocked(war.note)

    if not forced and guard.pacing:
        changes = applied_bid_changes(snapshot, nm_id) if nm_id is not None else []
        if changes and now - changes[0].at < guard.min_change_interval:
            ago = now - changes[0].at
            return hold(because("guard.interval", ago_min=int(ago.total_seconds() // 60),
                                interval_min=int(guard.min_change_interval.total_seconds() // 60)))
        limit = current * guard.max_step_pct / 100
        if abs(want - current) > limit:
            want = current + math.floor(limit) if want > current else current - math.floor(limit)
            noted.append(because("guard.step_clamped", pct=guard.max_step_pct))

    # WB's minimum and the bid step.
    if want < floor:
        want = floor
        noted.append(because("guard.at_min", floor=floor))
    rounded = round_down(want, step) if want >= current else round_up(want, step)
    if cap is not None:
        rounded = min(rounded, cap)
    rounded = max(rounded, floor)
    if rounded != want and not noted:
        noted.append(because("guard.rounded", step=step))
    want = rounded

    if not forced:
        diff = abs(want - current)
        if diff == 0 or diff < step or (guard.pacing and diff < current * guard.dead_band_pct / 100):
            band = because("guard.dead_band", diff=diff, step=step, pct=guard.dead_band_pct)
            return hold(notes([*noted, band]) if noted else band)
    return make(Action.SET_BID, chosen.reason, (notes(noted) if len(noted) > 1 else noted[0]) if noted else None,
                bid_after=want)


def _war_at_max(snapshot: CampaignSnapshot, ps: list[Proposal], current: int, floor: int, cap: int | None, step: int,
                guard: GuardConfig, now: datetime, make: Any) -> Decision | None:
    """target_position wants a raise but sits at its max_bid: raises that bought nothing are rolled back too."""
    wanting = next((p for p in ps if by_target_position(p) and p.inputs.get("wants_raise")), None)
    if wanting is None or not guard.pacing:
        return None
    war = wars.check(snapshot, wanting, current, guard.war_raises, now)
    if war is None or war.rollback is None:
        return None
    back = max(round_up(war.rollback, step), floor)
    if cap is not None:
        back = min(back, cap)
    if back >= current:
        return None
    return make(Action.SET_BID, wanting.reason, war.note, bid_after=back, strategy=wanting.strategy,
                raises=war.raises, bidding_war=True,
                war_first_raise=None if war.first_raise is None else war.first_raise.isoformat())


def by_target_position(p: Proposal) -> bool:
    return p.strategy == TARGET_POSITION
