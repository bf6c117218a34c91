"""Strategy benchmark.

target_position runs on the real daemon stack (:mod:`bench.position_bench`: the account cycle against the
simulator over HTTP, on the simulator's clock, in a market with WB-like statistics lag and competitors who
answer raises), once per position source, with WB's own chase-the-recommendation policy as the baseline
in the same run. The other strategies run in the simulator's market in-process for a simulated week
against a fixed-bid baseline of the same campaign (same scenario and seed): every ``--every`` minutes a
:class:`CampaignSnapshot` from what the market publishes, the strategy, :func:`bidder.engine.guards.decide`.

    python -m bench.strategies [--seed 1] [--days 7] [--every 5] [--tp-days 3] [--json]

``--json`` prints one JSON object whose ``cases`` list holds one case per target_position source
(``target_position_clusters_today``, ``target_position_public_search``, ``target_position_search_report``)
with exactly ``held_pct``,
``bid_ratio``, ``vs_wb_autobidder_cost_ratio``, ``false_war_alerts``, ``max_overshoot_ratio``, plus the
cases other modules add to the list.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench import position_bench, spend_cases
from bidder.domain import (
    Action,
    CampaignSnapshot,
    Decision,
    DecisionRecord,
)
from bidder.engine.guards import GuardConfig, decide
from bidder.sim.market import Market, msk_day
from bidder.sim.scenarios import build_scenario
from bidder.sweep.simulate import CampaignRun
from strategies.base import Strategy
from strategies.roi_floor import RoiFloor
from strategies.schedule import Schedule
from strategies.spend_cap import SpendCap

TZ = "Europe/Moscow"


@dataclass
class Run:
    """One campaign in one market, driven by a strategy (or by nothing: the fixed-bid baseline)."""

    market: Market
    advert_id: int
    strategy: Strategy | None
    guard: GuardConfig
    history: list[DecisionRecord] = field(default_factory=list)
    last_hold: dict[tuple, str] = field(default_factory=dict)
    decisions: int = 0
    changes: int = 0
    pauses: int = 0
    wars: int = 0

    def snapshot(self, t: datetime) -> CampaignSnapshot:
        """What the daemon would see of the campaign at ``t`` (the sweep's snapshot, one path for both)."""
        strategies = [self.strategy] if self.strategy is not None else []
        return CampaignRun(self.market, self.advert_id, strategies, self.guard, "bench", TZ,
                           history=self.history).snapshot(t)

    def step(self, t: datetime) -> None:
        if self.strategy is None:
            self.market.advance_campaign(self.advert_id, t)
            return
        snap = self.snapshot(t)
        proposals = self.strategy.decide(snap, t)
        for d in decide(snap, proposals, self.guard, t):
            self._apply(snap, d, t)

    def _apply(self, snap: CampaignSnapshot, d: Decision, t: datetime) -> None:
        self.decisions += 1
        if d.guard and d.guard.startswith("bidding war"):
            self.wars += 1
        applied = False
        if d.changes_bid:
            assert d.nm_id is not None and d.placement is not None and d.bid_after is not None
            self.market.set_bid(self.advert_id, d.nm_id, d.placement, d.bid_after, t)
            applied = True
            self.changes += 1
        elif d.action in (Action.PAUSE, Action.RESUME):
            self.market.set_status(self.advert_id, 11 if d.action == Action.PAUSE else 9, t, d.strategy)
            applied = True
            self.pauses += d.action == Action.PAUSE
        elif d.action == Action.HOLD:  # like the engine: a hold is recorded when its reason changes
            key = (d.nm_id, d.placement)
            if self.last_hold.get(key) == d.reason:
                return
            self.last_hold[key] = d.reason
        pos = d.inputs.get("avg_position")
        self.history.append(DecisionRecord(
            at=t, strategy=d.strategy, action=d.action, nm_id=d.nm_id, placement=d.placement,
            bid_before=d.bid_before, bid_after=d.bid_after, applied=applied, evidence_at=snap.stats_as_of,
            avg_position=float(pos) if isinstance(pos, int | float) else None,
        ))


def _totals(m: Market, advert_id: int, first: date, last: date) -> tuple[float, float, float]:
    """(spend, revenue, orders) in base units from the market's exact (unrounded) accrual."""
    spend = revenue = orders = 0.0
    for day, rows in m.campaign(advert_id).stats.items():
        if first <= day <= last:
            for v in rows.values():
                orders += v[3]
                spend += v[4] / 100
                revenue += v[5] / 100
    return spend, revenue, orders


def simulate(seed: int, days: int, every: int, make: Callable[[Market], Run], sample: Callable[[Run, datetime], None]
             | None = None) -> tuple[Run, Run, datetime, datetime]:
    spec = build_scenario("demo", seed)
    ours, base = make(Market(spec, seed)), make(Market(spec, seed))
    base.strategy = None
    start = spec.start
    end = start + timedelta(days=days)
    t = start
    while t < end:
        ours.step(t)
        base.step(t)
        if sample is not None:
            sample(ours, t)
            sample(base, t)
        t += timedelta(minutes=every)
    ours.market.advance_campaign(ours.advert_id, end)
    base.market.advance_campaign(base.advert_id, end)
    return ours, base, start, end


# --------------------------------------------------------------------------------------- spend_cap
SC_ADVERT, SC_CAP = 1000015, 40.0  # the demo's over-spender: ДРР ~66% at its fixed bids


def bench_spend_cap(seed: int, days: int, every: int, guard: GuardConfig) -> dict[str, Any]:
    params = SpendCap.Params(max_drr_pct=SC_CAP, window="1d")

    def make(m: Market) -> Run:
        return Run(m, SC_ADVERT, SpendCap(params), guard)

    ours, base, start, end = simulate(seed, days, every, make)
    first, last = msk_day(start), msk_day(end - timedelta(seconds=1))
    out = {}
    for name, run in (("strategy", ours), ("baseline", base)):
        spend, revenue, orders = _totals(run.market, run.advert_id, first, last)
        out[name] = {"drr": spend / revenue * 100 if revenue else None, "orders": orders, "spend": spend,
                     "changes": run.changes, "pauses": run.pauses}
    # ДРР of the last 3 days (after the cuts have settled)
    spend, revenue, _ = _totals(ours.market, ours.advert_id, last - timedelta(days=2), last)
    out["strategy"]["drr_last3"] = spend / revenue * 100 if revenue else None
    return out


# --------------------------------------------------------------------------------------- roi_floor
RF_ADVERT, RF_FLOOR, RF_MARGIN = 1000015, 0.0, 50.0  # ROI about -24% at the fixed bids


def bench_roi_floor(seed: int, days: int, every: int, guard: GuardConfig) -> dict[str, Any]:
    params = RoiFloor.Params(min_roi_pct=RF_FLOOR, margin_pct=RF_MARGIN, window="2d")

    def make(m: Market) -> Run:
        return Run(m, RF_ADVERT, RoiFloor(params), guard)

    ours, base, start, end = simulate(seed, days, every, make)
    first, last = msk_day(start), msk_day(end - timedelta(seconds=1))
    out = {}
    for name, run in (("strategy", ours), ("baseline", base)):
        spend, revenue, orders = _totals(run.market, run.advert_id, first, last)
        roi = (revenue * RF_MARGIN / 100 - spend) / spend * 100 if spend else None
        s3, r3, _ = _totals(run.market, run.advert_id, last - timedelta(days=2), last)
        out[name] = {"roi": roi, "roi_last3": (r3 * RF_MARGIN / 100 - s3) / s3 * 100 if s3 else None,
                     "orders": orders, "spend": spend, "changes": run.changes, "pauses": run.pauses,
                     "status": run.market.campaign(run.advert_id).status}
    return out


# --------------------------------------------------------------------------------------- schedule
SCH_ADVERT, SCH_HOURS = 1000004, "08:00-23:00"


def bench_schedule(seed: int, days: int, every: int, guard: GuardConfig) -> dict[str, Any]:
    params = Schedule.Params(active_hours=SCH_HOURS, timezone=TZ)
    outside: dict[int, float] = {}
    last_spend: dict[int, float] = {}

    def make(m: Market) -> Run:
        return Run(m, SCH_ADVERT, Schedule(params), guard)

    def sample(run: Run, t: datetime) -> None:
        st = run.market.campaign(run.advert_id)
        prev = last_spend.get(id(run), st.spend_total)
        last_spend[id(run)] = st.spend_total
        local = t.astimezone(ZoneInfo(TZ))
        if not (8 <= local.hour < 23):
            outside[id(run)] = outside.get(id(run), 0.0) + (st.spend_total - prev) / 100

    ours, base, _, _ = simulate(seed, days, every, make, sample)
    return {name: {"spend_outside": outside.get(id(run), 0.0), "spend": run.market.campaign(run.advert_id).spend_total / 100,
                   "pauses": run.pauses}
            for name, run in (("strategy", ours), ("baseline", base))}


def _f(x: float | None, fmt: str = ".1f") -> str:
    return "n/a" if x is None else format(x, fmt)


def _print_target_position(results: dict[str, dict[str, Any]], days: float) -> None:
    for source, f in results.items():
        print(f"target_position on the daemon stack (campaign {position_bench.ADVERT}, cluster {position_bench.QUERY!r}, "
              f"target position {position_bench.TARGET}, max_bid {position_bench.MAX_BID} RUB, {days:g} simulated days, "
              f"position source: {source}; statistics lag {position_bench.STATS_LAG // 60} min, "
              f"+1 RUB responders {position_bench.RESPONDERS})")
        print(f"  held_pct {f['held_pct']} (goal >= 90; WB's autobidder {f['baseline_held_pct']})")
        print(f"  bid_ratio {f['bid_ratio']} (goal <= {1.05 if source == 'public_search' else 1.10}; "
              f"WB's autobidder {f['baseline_bid_ratio']})")
        print(f"  vs_wb_autobidder_cost_ratio {f['vs_wb_autobidder_cost_ratio']} (goal <= 0.85; spend {f['spend']} "
              f"vs {f['baseline_spend']} RUB; a policy bidding exactly the cheapest holding bid: "
              f"{f['oracle_cost_ratio']})")
        print(f"  cheapest holding bid, mean: {f['cheapest_holding_bid']} RUB in our run, "
              f"{f['baseline_cheapest_holding_bid']} RUB in the baseline's")
        print(f"  false_war_alerts {f['false_war_alerts']} (goal 0; war alerts {f['war_alerts']})")
        print(f"  max_overshoot_ratio {f['max_overshoot_ratio']} (goal <= 1.25)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.strategies", description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--every", type=int, default=5, help="minutes between evaluations (in-process strategies)")
    ap.add_argument("--tp-days", type=float, default=3, help="simulated days of the target_position runs")
    ap.add_argument("--position-source", choices=[*position_bench.SOURCES, "all", "both"], default="all",
                    help="'both' is kept for old scripts and means all")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object (a `cases` list)")
    args = ap.parse_args(argv)
    guard = GuardConfig.from_numbers(max_bid=2000)
    t0 = time.monotonic()
    sources = position_bench.SOURCES if args.position_source in ("all", "both") else (args.position_source,)
    tp = position_bench.run_all(args.tp_days, args.seed, sources)
    if args.json:
        cases: list[dict[str, Any]] = position_bench.cases(tp)
        cases.extend(spend_cases.run_cases(args.seed, 14))  # issue 15: 14 simulated days each
        print(json.dumps({"seed": args.seed, "tp_days": args.tp_days, "cases": cases}, ensure_ascii=False))
        return 0
    print(f"strategy benchmark: seed {args.seed}")
    print()
    _print_target_position(tp, args.tp_days)
    r = bench_spend_cap(args.seed, args.days, args.every, guard)
    s, b = r["strategy"], r["baseline"]
    print(f"spend_cap (campaign {SC_ADVERT}, max ДРР {SC_CAP:g}%, window 1d)")
    print(f"  realised ДРР {_f(s['drr'])}% over the week, {_f(s['drr_last3'])}% over the last 3 days "
          f"(goal <= {SC_CAP + 1:g}%; baseline {_f(b['drr'])}%)")
    print(f"  orders {s['orders']:.1f} vs baseline {b['orders']:.1f} "
          f"({s['orders'] / b['orders']:.0%} kept); spend {s['spend']:.0f} vs {b['spend']:.0f} RUB; "
          f"bid changes {s['changes']}")
    r = bench_roi_floor(args.seed, args.days, args.every, guard)
    s, b = r["strategy"], r["baseline"]
    print(f"roi_floor (campaign {RF_ADVERT}, floor {RF_FLOOR:g}%, margin {RF_MARGIN:g}%, window 2d)")
    print(f"  ROI {_f(s['roi'])}% over the week, {_f(s['roi_last3'])}% over the last 3 days "
          f"(floor {RF_FLOOR:g}%; baseline {_f(b['roi'])}%)")
    print(f"  orders {s['orders']:.1f} vs baseline {b['orders']:.1f}; spend {s['spend']:.0f} vs {b['spend']:.0f} RUB; "
          f"bid changes {s['changes']}, pauses {s['pauses']}")
    r = bench_schedule(args.seed, args.days, args.every, guard)
    s, b = r["strategy"], r["baseline"]
    print(f"schedule (campaign {SCH_ADVERT}, active {SCH_HOURS} {TZ}, outside: pause)")
    print(f"  spend outside the hours {s['spend_outside']:.0f} RUB vs baseline {b['spend_outside']:.0f} RUB; "
          f"pauses {s['pauses']}")
    print()
    print(f"done in {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
