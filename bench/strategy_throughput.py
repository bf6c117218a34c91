"""Strategy throughput: decisions per second of the pure strategy layer (a strategy's ``decide`` and the
guardrails, :func:`bidder.engine.guards.decide`) over generated campaign snapshots.

    python -m bench.strategy_throughput [--snapshots 100000] [--seed 1] [--chunk 2000]

Snapshots are generated from the seed (deterministic): 1–4 items, CPM or CPC, manual or unified, active
or paused, 8 days of per-item statistics, search-cluster stats, a recommendation per item, WB's minimum
bids and 0–6 earlier decisions. They are generated in chunks outside the timed section, and each chunk is
run through every strategy alone and through the combination (all four on the same campaign, as a
config with several strategies runs them). One "decision" = one :class:`Decision` the guards return
(one per item and placement, plus campaign-level ones), so the rates are given both per snapshot and per
decision.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bench.common import cpu_seconds, header, peak_rss_mb, table
from bidder.domain import (
    Action,
    BidRules,
    Campaign,
    CampaignSnapshot,
    ClusterStat,
    DailyStat,
    DecisionRecord,
    Item,
    Recommendation,
)
from bidder.engine.guards import GuardConfig, decide
from strategies.base import Strategy
from strategies.params import RoiFloorParams, ScheduleParams, SpendCapParams, TargetPositionParams
from strategies.roi_floor import RoiFloor
from strategies.schedule import Schedule
from strategies.spend_cap import SpendCap
from strategies.target_position import TargetPosition

NOW = datetime(2026, 11, 10, 12, 30, tzinfo=UTC)
TZ = "Europe/Moscow"
QUERIES = ["платье женское", "кроссовки мужские", "сумка женская", "наушники беспроводные", "куртка зимняя"]


def strategies() -> dict[str, list[Strategy]]:
    tp = TargetPosition(TargetPositionParams(position=3, max_bid=Decimal(600), query=QUERIES[0]))
    roi = RoiFloor(RoiFloorParams(min_roi_pct=30, margin_pct=35))
    cap = SpendCap(SpendCapParams(max_drr_pct=20, daily_budget=Decimal(3000)))
    sched = Schedule(ScheduleParams(active_hours="08:00-23:00", timezone=TZ))
    return {
        "target_position": [tp],
        "roi_floor": [roi],
        "spend_cap": [cap],
        "schedule": [sched],
        "combined (all four)": [tp, roi, cap, sched],
    }


def make_snapshot(rng: random.Random, n: int) -> CampaignSnapshot:
    advert_id = 3_000_000 + n
    pay = "cpc" if rng.random() < 0.25 else "cpm"
    bid_type = "unified" if rng.random() < 0.6 else "manual"
    placements = frozenset({"search", "recommendations"}) if bid_type == "unified" or rng.random() < 0.5 \
        else frozenset({"search"})
    status = 9 if rng.random() < 0.85 else 11
    step = 10 if pay == "cpc" else 100
    items, stats, clusters, recs, mins = [], [], [], {}, {}
    today = NOW.date()
    for i in range(rng.randint(1, 4)):
        nm = 400_000_000 + n * 10 + i
        base = rng.randint(6, 40) * 100 if pay == "cpc" else rng.randint(150, 700) * 100
        bids = {"search": base, "recommendations": base} if bid_type == "unified" else \
            {p: base + rng.randint(0, 20) * step for p in sorted(placements)}
        items.append(Item(nm_id=nm, bids=bids, subject="платья"))
        for p in ("search", "recommendations", "combined"):
            mins[(nm, p)] = (base // 2) // step * step
        price = rng.randint(5, 80) * 100
        for d in range(8):
            views = rng.randint(0, 20_000)
            clicks = int(views * rng.uniform(0.01, 0.05))
            orders = int(clicks * rng.uniform(0.0, 0.08))
            stats.append(DailyStat(
                advert_id=advert_id, nm_id=nm, day=today - timedelta(days=d), views=views, clicks=clicks,
                atbs=orders * 2, orders=orders, spend=Decimal(views * base) / Decimal(100_000),
                revenue=Decimal(orders * price), avg_position=rng.uniform(1, 30) if bid_type == "unified" else None,
            ))
        for q in rng.sample(QUERIES, 2):
            clusters.append(ClusterStat(
                advert_id=advert_id, nm_id=nm, norm_query=q, period_from=today - timedelta(days=6), period_to=today,
                views=rng.randint(100, 5000), clicks=rng.randint(0, 200), orders=rng.randint(0, 10),
                spend=Decimal(rng.randint(0, 5000)), avg_pos=rng.uniform(1, 40),
            ))
        recs[nm] = Recommendation(advert_id=advert_id, nm_id=nm, payment_type=pay,
                                  competitive_bid=base + rng.randint(-50, 50) * step,
                                  leaders_bid=base + rng.randint(0, 100) * step, fetched_at=NOW)
    history = []
    t = NOW - timedelta(days=3)
    for _ in range(rng.randint(0, 6)):
        t += timedelta(minutes=rng.randint(20, 600))
        if t >= NOW:
            break
        it = rng.choice(items)
        before = it.bids.get("search", 0)
        history.append(DecisionRecord(
            at=t, strategy=rng.choice(("target_position", "spend_cap", "roi_floor")), action=Action.SET_BID,
            nm_id=it.nm_id, placement=rng.choice(sorted(placements)) if bid_type == "manual" else "combined",
            bid_before=before, bid_after=before + step * rng.randint(-5, 5), applied=True, evidence_at=t,
        ))
    camp = Campaign(advert_id=advert_id, name=f"Кампания {advert_id}", type=9, status=status, bid_type=bid_type,
                    payment_type=pay, currency="RUB", placements=placements, items=tuple(items))
    return CampaignSnapshot(
        account="bench", campaign=camp, rules=BidRules(step=step, min_bids=mins), timezone=TZ,
        daily_stats=tuple(stats), cluster_stats=tuple(clusters), recommendations=recs,
        stats_as_of=NOW - timedelta(minutes=rng.randint(1, 30)), history=tuple(history),
    )


def run(snapshots: int, seed: int, chunk: int, out: Callable[[str], None] = print) -> list[list]:
    rng = random.Random(seed)
    guard = GuardConfig.from_numbers(max_bid=800)
    kinds = strategies()
    wall = dict.fromkeys(kinds, 0.0)
    cpu = dict.fromkeys(kinds, 0.0)
    decisions = dict.fromkeys(kinds, 0)
    changes = dict.fromkeys(kinds, 0)
    gen = 0.0
    done = 0
    while done < snapshots:
        t = time.perf_counter()
        batch = [make_snapshot(rng, done + i) for i in range(min(chunk, snapshots - done))]
        gen += time.perf_counter() - t
        for name, strats in kinds.items():
            c0, w0 = cpu_seconds(), time.perf_counter()
            n = k = 0
            for snap in batch:
                proposals = []
                for s in strats:
                    proposals.extend(s.decide(snap, NOW))
                for d in decide(snap, proposals, guard, NOW):
                    n += 1
                    k += d.action != Action.HOLD
            wall[name] += time.perf_counter() - w0
            cpu[name] += cpu_seconds() - c0
            decisions[name] += n
            changes[name] += k
        done += len(batch)
    out(f"{done:,} snapshots generated in {gen:.1f}s (not timed); {sum(len(s.campaign.items) for s in batch)} items "
        f"in the last chunk of {len(batch)}")
    rows = []
    for name in kinds:
        rows.append([name, done, decisions[name], changes[name], wall[name], done / wall[name],
                     decisions[name] / wall[name], cpu[name] / wall[name]])
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.strategy_throughput", description=__doc__.split("\n\n")[0])
    ap.add_argument("--snapshots", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=2000, help="snapshots generated at a time (memory bound)")
    args = ap.parse_args(argv)
    header("bench.strategy_throughput: the pure strategy layer (strategy.decide + guards.decide)")
    rows = run(args.snapshots, args.seed, args.chunk)
    table(["strategy", "snapshots", "decisions", "non-hold", "seconds", "snapshots/s", "decisions/s", "CPU/wall"],
          rows)
    print(f"peak RSS {peak_rss_mb():.0f} MB; one core (the strategy layer is single-threaded)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
