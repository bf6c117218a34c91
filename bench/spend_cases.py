"""Issue 15's spend-control cases, each in the simulated market for 14 days with WB-like lag and noise,
side by side with the previous decision logic (bench/spend_previous.py) and a fixed-bid baseline.

    python -m bench.spend_cases [--days 14] [--seed 1] [--json]
    (also part of ``python -m bench.strategies --json``: its ``cases`` list)

The loop is the engine's without HTTP or a database: every ``every`` minutes a CampaignSnapshot is built
from what the market publishes, the strategy decides, :func:`bidder.engine.guards.decide` applies the
guardrails and the result goes back to the market. WB-like lag: statistics are the market's 3-minute
sync snapshots (``visible=True``); orders and revenue are attributed ``ORDER_LAG`` after the click (a
snapshot sees the order counts of ``ORDER_LAG`` ago with today's spend and clicks); bids apply on the
30-second tick and statuses on the next whole minute. Noise is the market's seeded per-hour noise.

Each case's limit is set against the *true* economics measured in the same run: the fixed-bid
baseline's exact (unrounded) 14-day ДРР or ROI, so "true ДРР 0.85 x cap" means exactly that.
For ``daily_budget_cpc`` the current logic also sets WB's daily limit through
:func:`bidder.engine.limits.plan` (what the engine's daily-limit step does), which the market enforces.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.spend_previous import PreviousRoiFloor, PreviousSpendCap
from bidder.domain import (
    Action,
    BidRules,
    Campaign,
    CampaignSnapshot,
    DailyStat,
    Decision,
    DecisionRecord,
    Item,
)
from bidder.engine.guards import GuardConfig, decide
from bidder.engine.limits import plan
from bidder.sim.market import (
    CampaignSpec,
    ClusterSpec,
    ItemSpec,
    Market,
    ScenarioSpec,
    SellerSpec,
    msk_day,
)
from bidder.wb.models import DailyLimit
from strategies.base import Strategy
from strategies.roi_floor import RoiFloor
from strategies.spend_cap import SpendCap

TZ = "Europe/Moscow"
ORDER_LAG = timedelta(hours=3)
HISTORY_DAYS = 14
ADVERT, NM, QUERY = 2000001, 91000001, "кроссовки мужские"


def _d(x: float) -> Decimal:
    return Decimal(str(x))


def scenario(*, payment: str, bid: int, cr: float, price: int, ctr: float = 0.03, reach: float = 0.1,
             searches: int = 60000, start_min: bool = False, history_days: int = 10) -> ScenarioSpec:
    """One seller, one unified campaign with one item in one cluster; ``history_days`` before start."""
    item = ItemSpec(NM, 7001, "Кроссовки", price, (QUERY,), search_bid=bid, ctr=ctr, cr=cr, reach=reach)
    camp = CampaignSpec(ADVERT, f"bench {payment}", payment, "unified", 9, (item,), budget=10**12)
    spec = ScenarioSpec("spend-bench", (SellerSpec("bench", "6a4f8a1e-0000-4000-8000-000000000015", (camp,)),),
                        clusters={QUERY: ClusterSpec(QUERY, daily_searches=searches)}, history_days=history_days)
    if start_min:
        m = Market(spec)
        low = m.min_bid(ADVERT, NM, "combined")
        item = ItemSpec(NM, 7001, "Кроссовки", price, (QUERY,), search_bid=low, ctr=ctr, cr=cr, reach=reach)
        camp = CampaignSpec(ADVERT, f"bench {payment}", payment, "unified", 9, (item,), budget=10**12)
        spec = ScenarioSpec(spec.name, (SellerSpec("bench", spec.sellers[0].seller_id, (camp,)),),
                            clusters=spec.clusters, history_days=history_days)
    return spec


@dataclass
class Run:
    """One campaign in one market driven by a strategy (None: the fixed-bid baseline)."""

    market: Market
    strategy: Strategy | None
    guard: GuardConfig
    wb_limit_budget: Decimal | None = None  # set WB's daily limit to this budget (the engine's limits step)
    history: deque = field(default_factory=deque)  # DecisionRecords of the last HISTORY_DAYS
    lagged: deque = field(default_factory=deque)  # (t, {(day, nm): (orders, revenue)})
    pauses: list[datetime] = field(default_factory=list)
    last_hold: dict[tuple, str] = field(default_factory=dict)
    cuts: int = 0
    first_evidence: datetime | None = None

    def _orders(self, t: datetime, rows: list) -> dict:
        self.lagged.append((t, {(r.day, r.nm_id): (r.orders, r.revenue) for r in rows}))
        old: dict | None = None
        while self.lagged and self.lagged[0][0] <= t - ORDER_LAG:
            old = self.lagged.popleft()[1]
        if old is not None:
            self.lagged.appendleft((t - ORDER_LAG, old))  # keep the newest record older than the lag
        return old or {}

    def snapshot(self, t: datetime) -> CampaignSnapshot:
        m = self.market
        st = m.advance_campaign(ADVERT, t)
        c = st.spec
        camp = Campaign(ADVERT, c.name, 9, st.status, c.bid_type, c.payment_type, "RUB",
                        frozenset({"search", "recommendations"}),
                        tuple(Item(it.nm_id, dict(st.bids[it.nm_id])) for it in c.items))
        rules = BidRules(step=m.step(c.payment_type),
                         min_bids={(it.nm_id, "combined"): m.min_bid(ADVERT, it.nm_id, "combined") for it in c.items},
                         max_bid=m.max_bid(c.payment_type))
        today = msk_day(t)
        rows = m.daily_stats(ADVERT, today - timedelta(days=HISTORY_DAYS), today, visible=True)
        lag = self._orders(t, rows)
        start_day = msk_day(m.start)
        daily = []
        for r in rows:
            o, rev = lag.get((r.day, r.nm_id), (r.orders, r.revenue) if r.day < start_day else (0, 0.0))
            daily.append(DailyStat(ADVERT, r.nm_id, r.day, r.views, r.clicks, r.atbs, min(o, r.orders),
                                   _d(r.spend), _d(min(rev, r.revenue))))
        while self.history and self.history[0].at < t - timedelta(days=HISTORY_DAYS):
            self.history.popleft()
        return CampaignSnapshot("bench", camp, rules, TZ, tuple(daily), stats_as_of=st.published_at,
                                history=tuple(self.history))

    def step(self, t: datetime) -> None:
        if self.strategy is None:
            self.market.advance_campaign(ADVERT, t)
            return
        snap = self.snapshot(t)
        if self.first_evidence is None and any(s.day < msk_day(t) and s.spend > 0 for s in snap.daily_stats):
            self.first_evidence = t
        if self.wb_limit_budget is not None:
            self._wb_limit(snap, t)
        for d in decide(snap, self.strategy.decide(snap, t), self.guard, t):
            self._apply(snap, d, t)

    def _wb_limit(self, snap: CampaignSnapshot, t: datetime) -> None:
        raw = self.market.daily_limit(ADVERT, t)
        cur = DailyLimit(ADVERT, raw["enabled"], raw["dailyLimit"], raw["spentToday"], raw["currency"],
                         raw["carryOverEnabled"], raw["valid"], raw["requiredLimit"])
        p = plan(snap.campaign, self.wb_limit_budget or Decimal(0), cur, self.market.spec.min_daily_limit)
        if p is not None and p.write:
            self.market.set_daily_limit(ADVERT, t, enabled=True, limit=p.want, carry_over=False)

    def _apply(self, snap: CampaignSnapshot, d: Decision, t: datetime) -> None:
        applied = False
        if d.changes_bid:
            assert d.nm_id is not None and d.placement is not None and d.bid_after is not None
            self.market.set_bid(ADVERT, d.nm_id, d.placement, d.bid_after, t)
            applied = True
            self.cuts += d.bid_after < (d.bid_before or 0)
        elif d.action in (Action.PAUSE, Action.RESUME):
            applied = self.market.set_status(ADVERT, 11 if d.action == Action.PAUSE else 9, t, d.strategy) is not None
            if applied and d.action == Action.PAUSE:
                self.pauses.append(t)
        elif d.action == Action.HOLD:  # like the engine: a hold is recorded when its reason changes
            key = (d.nm_id, d.placement)
            if self.last_hold.get(key) == d.reason:
                return
            self.last_hold[key] = d.reason
        self.history.append(DecisionRecord(t, d.strategy, d.action, d.nm_id, d.placement, d.bid_before, d.bid_after,
                                           applied, evidence_at=snap.stats_as_of))


def exact(m: Market) -> dict[Any, list[float]]:
    """Per Moscow day of the run: [spend, revenue] in base units, from the market's exact accrual."""
    out = {}
    for day, rows in m.campaign(ADVERT).stats.items():
        if day >= msk_day(m.start):
            out[day] = [sum(v[4] for v in rows.values()) / 100, sum(v[5] for v in rows.values()) / 100]
    return out


def simulate(spec: ScenarioSpec, seed: int, days: int, every: int,
             runs: dict[str, Callable[[Market], Run]]) -> dict[str, Run]:
    made = {name: make(Market(spec, seed)) for name, make in runs.items()}
    t = spec.start
    end = spec.start + timedelta(days=days)
    while t < end:
        for r in made.values():
            r.step(t)
        t += timedelta(minutes=every)
    for r in made.values():
        r.market.advance_campaign(ADVERT, end)
    return made


def true_economics(spec: ScenarioSpec, seed: int, days: int) -> tuple[float, float, float, float]:
    """(spend, revenue, clicks, orders) of the fixed-bid campaign over the run, exact accrual."""
    m = Market(spec, seed)
    m.advance_campaign(ADVERT, spec.start + timedelta(days=days))
    e = exact(m)
    rows = [v for day, r in m.campaign(ADVERT).stats.items() if day >= msk_day(m.start) for v in r.values()]
    return (sum(v[0] for v in e.values()), sum(v[1] for v in e.values()), sum(v[1] for v in rows),
            sum(v[3] for v in rows))


GUARD = GuardConfig.from_numbers(max_bid=5000)


def _triple(spec: ScenarioSpec, seed: int, days: int, every: int, ours: Strategy, prev: Strategy,
            **kw: Any) -> dict[str, Run]:
    return simulate(spec, seed, days, every, {
        "current": lambda m: Run(m, ours, GUARD, **kw),
        "previous": lambda m: Run(m, prev, GUARD),
        "fixed_bid": lambda m: Run(m, None, GUARD),
    })


def _hours_to_pause(r: Run, days: int) -> tuple[float, bool]:
    start = r.first_evidence or r.market.start
    if not r.pauses:
        return round(days * 24.0 - (start - r.market.start).total_seconds() / 3600, 1), False
    return round((r.pauses[0] - start).total_seconds() / 3600, 1), True


def _overspend(r: Run, budget: float) -> float:
    return round(max(0.0, max((v[0] - budget) / budget * 100 for v in exact(r.market).values())), 2)


def _budget_used(r: Run, budget: float) -> float:
    """The smallest share of the budget spent on a whole day of the run (whole days only):
    how much a control leaves unspent by stopping early."""
    days = sorted(exact(r.market).items())[1:-1]  # the run starts and ends at 09:00 Moscow
    return round(min(v[0] / budget * 100 for _, v in days), 2) if days else 0.0


def case_near_cap(seed: int, days: int, every: int) -> dict[str, Any]:
    spec = scenario(payment="cpm", bid=30000, cr=0.05, price=100000)
    spend, revenue, _, _ = true_economics(spec, seed, days)
    cap = round(spend / revenue * 100 / 0.85, 2)
    params = {"max_drr_pct": cap, "window": "3d", "on_breach": "pause"}  # the harsher setting for pauses
    runs = _triple(spec, seed, days, every, SpendCap(SpendCap.Params(**params)), PreviousSpendCap(SpendCap.Params(**params)))
    fig = {n: {"pauses": len(r.pauses), "bid_cuts_per_day": round(r.cuts / days, 2)} for n, r in runs.items()}
    return {"name": "near_cap_healthy", **fig.pop("current"), **fig,
            "setup": {"true_drr_pct": round(spend / revenue * 100, 2), "max_drr_pct": cap},
            "goal": {"pauses": 0, "bid_cuts_per_day": "<= 1"}}


def case_over_cap_at_min(seed: int, days: int, every: int) -> dict[str, Any]:
    # no history: the first evidence is the first complete day of the run
    spec = scenario(payment="cpm", bid=0, cr=0.05, price=100000, start_min=True, history_days=0)
    spend, revenue, _, _ = true_economics(spec, seed, days)
    cap = round(spend / revenue * 100 / 3, 2)
    params = {"max_drr_pct": cap, "window": "3d"}
    runs = _triple(spec, seed, days, every, SpendCap(SpendCap.Params(**params)), PreviousSpendCap(SpendCap.Params(**params)))
    fig = {}
    for n, r in runs.items():
        h, paused = _hours_to_pause(r, days)
        fig[n] = {"hours_to_pause": h, "paused": paused}
    return {"name": "over_cap_at_min", **fig.pop("current"), **fig,
            "setup": {"true_drr_pct": round(spend / revenue * 100, 2), "max_drr_pct": cap},
            "goal": {"hours_to_pause": "<= 24"}}


def _roi(spend: float, revenue: float, margin: float) -> float:
    return (revenue * margin / 100 - spend) / spend * 100


def case_roi_healthy_low_conversion(seed: int, days: int, every: int) -> dict[str, Any]:
    # 3 % conversion at a few dozen clicks a day: about one order a day
    spec = scenario(payment="cpc", bid=900, cr=0.03, price=150000, searches=10000)
    spend, revenue, clicks, orders = true_economics(spec, seed, days)
    margin = 40.0
    true_roi = _roi(spend, revenue, margin)
    floor = round(true_roi - 30, 1)
    params = {"min_roi_pct": floor, "margin_pct": margin, "window": "2d"}
    runs = _triple(spec, seed, days, every, RoiFloor(RoiFloor.Params(**params)), PreviousRoiFloor(RoiFloor.Params(**params)))
    fig = {n: {"pauses": len(r.pauses), "bid_cuts_per_day": round(r.cuts / days, 2)} for n, r in runs.items()}
    return {"name": "roi_healthy_low_conversion", **fig.pop("current"), **fig,
            "setup": {"true_roi_pct": round(true_roi, 1), "min_roi_pct": floor, "margin_pct": margin,
                      "conversion_pct": 3.0, "clicks_per_day": round(clicks / days, 1),
                      "orders_per_day": round(orders / days, 2)},
            "goal": {"pauses": 0}}


def case_roi_bad(seed: int, days: int, every: int) -> dict[str, Any]:
    spec = scenario(payment="cpc", bid=900, cr=0.03, price=60000, searches=40000)
    spend, revenue, _, _ = true_economics(spec, seed, days)
    margin = 40.0
    true_roi = _roi(spend, revenue, margin)
    floor = max(0.0, round(true_roi + 40, 1))
    params = {"min_roi_pct": floor, "margin_pct": margin, "window": "7d"}
    runs = _triple(spec, seed, days, every, RoiFloor(RoiFloor.Params(**params)), PreviousRoiFloor(RoiFloor.Params(**params)))
    fig = {}
    for n, r in runs.items():
        h, paused = _hours_to_pause(r, days)
        fig[n] = {"hours_to_pause": h, "paused": paused}
    return {"name": "roi_bad", **fig.pop("current"), **fig,
            "setup": {"true_roi_pct": round(true_roi, 1), "min_roi_pct": floor, "margin_pct": margin},
            "goal": {"hours_to_pause": "<= 48"}}


def _budget_case(name: str, payment: str, bid: int, seed: int, days: int, every: int, goal: str) -> dict[str, Any]:
    spec = scenario(payment=payment, bid=bid, cr=0.05, price=349000)
    spend, *_ = true_economics(spec, seed, days)
    budget = max(1000.0, round(spend / days / 2, -1))  # about half of what the campaign would spend a day
    params = {"max_drr_pct": 100, "daily_budget": budget, "window": "3d"}
    kw = {"wb_limit_budget": _d(budget)} if payment == "cpc" else {}
    runs = _triple(spec, seed, days, every, SpendCap(SpendCap.Params(**params)), PreviousSpendCap(SpendCap.Params(**params)),
                   **kw)
    fig = {n: {"overspend_pct": _overspend(r, budget), "min_budget_used_pct": _budget_used(r, budget)}
           for n, r in runs.items()}
    return {"name": name, **fig.pop("current"), **fig,
            "setup": {"daily_budget": budget, "natural_daily_spend": round(spend / days, 2),
                      "wb_daily_limit": payment == "cpc"},
            "goal": {"overspend_pct": goal}}


def case_daily_budget_cpc(seed: int, days: int, every: int) -> dict[str, Any]:
    return _budget_case("daily_budget_cpc", "cpc", 1500, seed, days, every, "<= 2")


def case_daily_budget_cpm(seed: int, days: int, every: int) -> dict[str, Any]:
    return _budget_case("daily_budget_cpm", "cpm", 60000, seed, days, every, "<= 10")


CASES: list[tuple[Callable[[int, int, int], dict[str, Any]], int]] = [
    # (case, minutes between evaluations: the engine evaluates every minute; 5 is enough away from budgets)
    (case_near_cap, 5), (case_over_cap_at_min, 5), (case_roi_healthy_low_conversion, 5), (case_roi_bad, 5),
    (case_daily_budget_cpc, 1), (case_daily_budget_cpm, 1),
]


def run_cases(seed: int = 1, days: int = 14) -> list[dict[str, Any]]:
    return [fn(seed, days, every) for fn, every in CASES]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.spend_cases", description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    cases = run_cases(args.seed, args.days)
    if args.json:
        print(json.dumps({"cases": cases}, ensure_ascii=False))
        return 0
    for c in cases:
        print(json.dumps(c, ensure_ascii=False))
    print(f"done in {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
