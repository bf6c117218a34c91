"""Properties of the strategies and guardrails over random snapshots (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from _bid_builders import ADVERT, NOW, TODAY
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bidder.domain import (
    Action,
    BidRules,
    Campaign,
    CampaignSnapshot,
    DailyStat,
    DecisionRecord,
    Item,
    Proposal,
    Status,
)
from bidder.engine.guards import GuardConfig, decide
from strategies.roi_floor import RoiFloor
from strategies.schedule import Schedule
from strategies.spend_cap import SpendCap
from strategies.target_position import TargetPosition

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

bids = st.integers(min_value=100, max_value=300_000)
money = st.decimals(min_value=0, max_value=5000, places=2)


@st.composite
def snapshots(draw, nm_ids=(1, 2)):
    n = draw(st.integers(1, len(nm_ids)))
    nms = nm_ids[:n]
    bid_type = draw(st.sampled_from(["unified", "manual"]))
    placements = draw(st.sampled_from([frozenset({"search"}), frozenset({"search", "recommendations"}),
                                       frozenset({"recommendations"})]))
    items = []
    for nm in nms:
        b = draw(bids)
        items.append(Item(nm, {"search": b, "recommendations": draw(st.one_of(st.just(b), bids))}))
    status = draw(st.sampled_from([Status.READY, Status.ACTIVE, Status.ACTIVE, Status.PAUSED, Status.COMPLETED]))
    camp = Campaign(ADVERT, "c", 9, status, bid_type, draw(st.sampled_from(["cpm", "cpc"])), "RUB",
                    placements, tuple(items))
    step = draw(st.sampled_from([1, 10, 100, 500]))
    min_bids = {}
    for nm in nms:
        for p in ("combined", "search", "recommendations"):
            if draw(st.booleans()):
                min_bids[(nm, p)] = draw(st.integers(100, 30_000))
    rules = BidRules(step=step, min_bids=min_bids, max_bid=draw(st.one_of(st.none(), st.integers(5_000, 400_000))))
    stats = []
    for nm in nms:
        for d in range(draw(st.integers(0, 8))):
            stats.append(DailyStat(ADVERT, nm, TODAY - timedelta(days=d), draw(st.integers(0, 10_000)),
                                   draw(st.integers(0, 500)), 0, draw(st.integers(0, 50)), draw(money), draw(money),
                                   draw(st.one_of(st.none(), st.floats(1, 200)))))
    history = []
    for _ in range(draw(st.integers(0, 6))):
        action = draw(st.sampled_from(list(Action)))
        campaign_level = action in (Action.PAUSE, Action.RESUME)
        history.append(DecisionRecord(
            at=NOW - timedelta(minutes=draw(st.integers(1, 3000))),
            strategy=draw(st.sampled_from(["target_position", "roi_floor", "spend_cap", "schedule", "operator"])),
            action=action, nm_id=None if campaign_level else draw(st.sampled_from(nms)),
            placement=None if campaign_level else draw(st.sampled_from(["combined", "search", "recommendations"])),
            bid_before=None if campaign_level else draw(bids), bid_after=None if campaign_level else draw(bids),
            applied=draw(st.booleans()), avg_position=draw(st.one_of(st.none(), st.floats(1, 100))),
        ))
    history.sort(key=lambda r: r.at)
    age = draw(st.one_of(st.none(), st.integers(0, 12 * 60)))
    return CampaignSnapshot(
        account="acc", campaign=camp, rules=rules, daily_stats=tuple(stats), history=tuple(history),
        stats_as_of=None if age is None else NOW - timedelta(minutes=age),
        operator_paused=draw(st.booleans()),
    )


guards = st.builds(
    GuardConfig.from_numbers,
    max_bid=st.one_of(st.none(), st.integers(1, 3000)),
    max_step_pct=st.sampled_from([5, 10, 25, 50]),
    min_change_interval=st.sampled_from([0, 600, 3600]),
    dead_band_pct=st.sampled_from([0, 3, 10]),
    max_stats_age=st.sampled_from([600, 6 * 3600]),
    min_evidence_spend=st.sampled_from([0, 300]),
    min_evidence_clicks=st.sampled_from([0, 30]),
    war_raises=st.sampled_from([1, 3]),
)

all_strategies = st.one_of(
    st.builds(lambda pos, mb, q, m: TargetPosition(TargetPosition.Params(position=pos, max_bid=mb, query=q, margin=m,
                                                                         settle="0s")),
              st.integers(1, 40), st.integers(1, 3000), st.sampled_from([None, "q"]), st.integers(0, 3)),
    st.builds(lambda r, m, pa: RoiFloor(RoiFloor.Params(min_roi_pct=r, margin_pct=m, pause_after=pa)),
              st.integers(-50, 300), st.integers(1, 100), st.integers(1, 3)),
    st.builds(lambda c, b, on: SpendCap(SpendCap.Params(max_drr_pct=c, daily_budget=b, on_breach=on)),
              st.integers(1, 100), st.one_of(st.none(), st.integers(1, 3000)), st.sampled_from(["lower", "pause"])),
    st.builds(lambda h, o: Schedule(Schedule.Params(active_hours=h, outside=o)),
              st.sampled_from(["08:00-23:00", "22:00-02:00", "00:00-24:00"]), st.sampled_from(["pause", "lower"])),
)


def _run(snap, strats, guard, now=NOW):
    proposals = [p for s in strats for p in s.decide(snap, now)]
    return proposals, decide(snap, proposals, guard, now)


def _current(snap: CampaignSnapshot, d) -> int | None:
    item = snap.campaign.item(d.nm_id)
    return item.bid_for(d.placement) if item and d.placement else None


def _floor(snap: CampaignSnapshot, nm: int, placement: str) -> int:
    from strategies.common import min_bid, round_up

    return round_up(min_bid(snap, nm, placement), max(snap.rules.step, 1))


def _cap(snap: CampaignSnapshot, guard: GuardConfig) -> int | None:
    caps = [c for c in (guard.max_bid, snap.rules.max_bid) if c is not None]
    return min(caps) if caps else None


@SETTINGS
@given(snapshots(), st.lists(all_strategies, min_size=1, max_size=3), guards,
       st.integers(0, 47).map(lambda h: NOW + timedelta(minutes=30 * h)))
def test_guardrails_hold_for_any_snapshot(snap, strats, guard, now):
    proposals, decisions = _run(snap, strats, guard, now)
    # deterministic
    assert decisions == _run(snap, strats, guard, now)[1]
    assert [p for s in strats for p in s.decide(snap, now)] == proposals
    for d in decisions:
        event(f"{d.action}{' guarded' if d.guard else ''}")
        assert d.reason
        if d.action != Action.SET_BID:
            if d.nm_id is not None:
                assert d.bid_after == d.bid_before
            continue
        before, after = d.bid_before, d.bid_after
        assert before is not None and after is not None and after != before
        assert snap.campaign.status in (Status.READY, Status.ACTIVE, Status.PAUSED)
        cap = _cap(snap, guard)
        floor = _floor(snap, d.nm_id, d.placement)
        if cap is not None:
            assert after <= cap  # never above max_bid
        assert after >= floor  # never below WB's minimum
        assert after % max(snap.rules.step, 1) == 0 or after in (cap, floor)
        in_range = before >= floor and (cap is None or before <= cap)
        if in_range:
            assert abs(after - before) <= before * guard.max_step_pct / 100  # no step above max_step_pct
        if after > before and in_range:
            assert snap.stats_as_of is not None and now - snap.stats_as_of <= guard.max_stats_age
    # a pause needs evidence unless it is time-based
    for d in decisions:
        if d.action == Action.PAUSE:
            assert snap.campaign.status == Status.ACTIVE
        if d.action == Action.RESUME:
            assert not snap.operator_paused and snap.campaign.status in (Status.READY, Status.PAUSED)


@SETTINGS
@given(snapshots(), st.lists(st.integers(0, 300_000), min_size=1, max_size=4), guards)
def test_guards_never_exceed_limits_for_arbitrary_proposals(snap, proposed, guard):
    targets = [(it.nm_id, p) for it in snap.campaign.items for p in snap.campaign.bid_placements]
    ps = [Proposal("target_position", Action.SET_BID, ADVERT, nm, pl, bid=b, reason="x")
          for (nm, pl), b in zip(targets * 4, proposed, strict=False)]
    for d in decide(snap, ps, guard, NOW):
        if d.action == Action.SET_BID:
            cap = _cap(snap, guard)
            assert cap is None or d.bid_after <= cap
            assert d.bid_after >= _floor(snap, d.nm_id, d.placement)


def _effective(snap, ps):
    """The bid each item-level proposal means: its bid, or the current bid for a hold."""
    out = {}
    for p in ps:
        if p.nm_id is None:
            continue
        item = snap.campaign.item(p.nm_id)
        cur = item.bid_for(p.placement) if item else None
        out[(p.nm_id, p.placement)] = p.bid if p.action == Action.SET_BID else cur
    return out


def _with_stats(snap: CampaignSnapshot, spend: Decimal, revenue: Decimal, pos: float | None) -> CampaignSnapshot:
    stats = tuple(DailyStat(ADVERT, it.nm_id, TODAY, 1000, 50, 0, 5, spend, revenue, pos)
                  for it in snap.campaign.items)
    return replace(snap, daily_stats=stats)


@SETTINGS
@given(snapshots(nm_ids=(1,)), st.integers(1, 100), st.decimals(1, 10_000, places=2),
       st.lists(st.decimals(0, 20_000, places=2), min_size=2, max_size=5), guards)
def test_spend_cap_monotone_in_drr(snap, cap, revenue, spends, guard):
    s = SpendCap(SpendCap.Params(max_drr_pct=cap))
    last_strategy = last_guarded = None
    for spend in sorted(spends):  # same revenue, growing spend: growing ДРР
        sn = _with_stats(snap, spend, revenue, None)
        ps = s.decide(sn, NOW)
        eff = _effective(sn, ps)
        guarded = {(d.nm_id, d.placement): d.bid_after for d in decide(sn, ps, guard, NOW) if d.nm_id is not None}
        if last_strategy is not None:
            for k, v in eff.items():
                if v is not None and last_strategy.get(k) is not None:
                    assert v <= last_strategy[k]
            for k, v in guarded.items():
                if v is not None and last_guarded.get(k) is not None:
                    assert v <= last_guarded[k]
        last_strategy, last_guarded = eff, guarded


@SETTINGS
@given(snapshots(nm_ids=(1,)), st.integers(1, 40), st.integers(0, 3), st.integers(1, 3000),
       st.lists(st.floats(1, 200), min_size=2, max_size=5), guards)
def test_target_position_monotone_in_position(snap, target, margin, max_bid, positions, guard):
    s = TargetPosition(TargetPosition.Params(position=target, max_bid=max_bid, margin=margin))
    last = None
    for pos in sorted(positions):  # growing number: a worse position
        sn = _with_stats(snap, Decimal(100), Decimal(1000), pos)
        eff = _effective(sn, s.decide(sn, NOW))
        if last is not None:
            for k, v in eff.items():
                if v is not None and last.get(k) is not None:
                    assert v >= last[k]
        last = eff


@SETTINGS
@given(snapshots(), all_strategies, guards)
def test_stop_makes_everything_hold(snap, strat, guard):
    ps = strat.decide(snap, NOW)
    assert all(d.action == Action.HOLD for d in decide(snap, ps, guard, NOW, stop=True))
