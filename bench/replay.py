"""Replay time: ``bidder replay`` over 7 recorded days of a 200-campaign account (goal: at most 60 s).

    python -m bench.replay [--campaigns 200] [--days 7] [--workers 2] [--db /tmp/bidder-bench-replay.db]

The recorded history is generated through the store's own functions (what the recorder writes): every
campaign (2 items, CPM, search and recommendations) evaluated every 3 minutes, today's statistics of each
item changing at every evaluation (WB syncs every 3 minutes), a recommendation per item every 30 minutes,
a bid change with its applied audit row every hour, the week before the period as daily rows. Strategies:
the example config's mix (spend_cap for most, target_position on every 4th, roi_floor + spend_cap on every
4th). The recorded decisions are holds at the recorded bids (not what the config decides), so the
identical share printed is not the gate's (the gate is tested over a real ``bidder demo`` run); the timing
covers the whole replay: loading, decoding, deciding every evaluation, comparing and summing up.
The database is kept and reused when it exists with the same sizes and was made by the current generator
(``GENERATOR``, kept in ``<db>.version``; generating it takes minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bench.common import cpu_seconds, header, peak_rss_mb, table
from bidder.domain import Action, BidRules, Campaign, DailyStat, Decision, Item, Recommendation
from bidder.engine.min_bids import PLAUSIBLE_MARGIN
from bidder.store import accounts, audit
from bidder.store import observations as obs
from bidder.store.db import Database
from bidder.store.migrate import upgrade

ACCOUNT = "bench"
STEP = timedelta(minutes=3)
END = datetime(2026, 11, 30, 21, 0, tzinfo=UTC)
FIRST_ID = 3_000_001
# the generator's version, kept beside the database (``.version``): a database without it, or from an older
# generator, is stale (it lacks parts the recorder stores now) and is generated again
# 2: the minimum-bid ceiling stored per campaign, as engine/observe.py records it
GENERATOR = "2"


def config_text(n: int) -> str:
    lines = ["accounts:", f"  - name: {ACCOUNT}", "    read_token: ${BENCH_READ_TOKEN}",
             "    timezone: Europe/Moscow", "    guardrails: {max_bid: 800, max_step_pct: 25, min_change_interval: 10m}",
             "    defaults:", "      strategies:", "        - spend_cap: {max_drr_pct: 20, window: 3d}",
             "    campaigns:"]
    for i in range(n):
        aid = FIRST_ID + i
        if i % 4 == 1:
            lines += [f"      - id: {aid}", "        strategies:", "          - target_position: {position: 3, max_bid: 600}"]
        elif i % 4 == 2:
            lines += [f"      - id: {aid}", "        strategies:",
                      "          - roi_floor: {min_roi_pct: 30, margin_pct: 35, window: 7d}",
                      "          - spend_cap: {max_drr_pct: 20, window: 3d}"]
    return "\n".join(lines) + "\n"


def campaign(aid: int, bids: dict[int, int]) -> Campaign:
    return Campaign(advert_id=aid, name=f"bench {aid}", type=9, status=9, bid_type="manual", payment_type="cpm",
                    currency="RUB", placements=frozenset({"search", "recommendations"}),
                    items=tuple(Item(nm_id=nm, bids={"search": b, "recommendations": b - 50}) for nm, b in bids.items()))


async def generate(url: str, n: int, days: int, echo) -> None:
    await upgrade(url)
    start = END - timedelta(days=days)
    async with Database(url) as db:
        async with db.sessions.begin() as s:
            await accounts.ensure_account(s, ACCOUNT, seller_id="1", currency="RUB", timezone="Europe/Moscow")
        bids = {FIRST_ID + i: {FIRST_ID * 10 + i * 2: 400 + i % 7 * 30, FIRST_ID * 10 + i * 2 + 1: 450} for i in range(n)}
        rows: list[obs.Observation] = []
        evals: list[obs.EvaluationRecord] = []
        changes: list[tuple[datetime, Decision]] = []

        def put(aid: int, kind: str, key: str, at: datetime, payload) -> None:
            rows.append(obs.Observation(aid, kind, key, at, at, obs.digest(payload), payload))

        async def flush() -> None:
            async with db.sessions.begin() as s:
                await obs.save_observations(s, ACCOUNT, rows)
                await obs.save_evaluations(s, ACCOUNT, evals)
                for at, d in changes:
                    did = await audit.record_decision(s, ACCOUNT, d, at=at, dry_run=False, apply_status="pending")
                    await audit.set_decision_status(s, did, "applied", applied_at=at + timedelta(seconds=20))
            rows.clear()
            evals.clear()
            changes.clear()

        for i, aid in enumerate(bids):
            t0 = start + timedelta(seconds=i % 180)
            put(aid, obs.CAMPAIGN, "", t0, obs.encode_campaign(campaign(aid, bids[aid])))
            rules = BidRules(step=1, min_bids={(nm, p): 150 for nm in bids[aid] for p in ("search", "recommendations")})
            put(aid, obs.RULES, "", t0, obs.encode_rules(rules))
            # what the recorder stores besides (engine/observe.py): the plausible ceiling of WB's minimum bids
            # the lazy minimum-bid hold compares against (every minimum known: 150, so twice that); no
            # search-cluster bids (the recorder stores them only for campaigns that have some)
            put(aid, obs.MIN_CEILING, "", t0, obs.encode_ceiling(150 * PLAUSIBLE_MARGIN))
            for back in range(1, 9):
                day = (t0 - timedelta(days=back)).date()
                for nm in bids[aid]:
                    st = DailyStat(aid, nm, day, 20000, 400, 40, 12 + i % 5, Decimal(3000 + i % 11 * 100),
                                   Decimal(15000 + i % 13 * 1000), 4.0 + i % 6)
                    put(aid, obs.DAILY, obs.daily_key(st), t0, obs.encode_daily(st))
        steps = int((END - start) / STEP)
        for k in range(steps):
            for i, aid in enumerate(bids):
                at = start + k * STEP + timedelta(seconds=i % 180)
                local = at + timedelta(hours=3)
                minutes = local.hour * 60 + local.minute
                if k % 20 == 19:  # an hourly bid change, applied
                    nm = next(iter(bids[aid]))
                    before = bids[aid][nm]
                    after = before + (15 if k // 20 % 2 else -15)
                    bids[aid][nm] = after
                    changes.append((at - timedelta(seconds=90), Decision(
                        action=Action.SET_BID, advert_id=aid, strategy="spend_cap", reason="bench", nm_id=nm,
                        placement="search", bid_before=before, bid_after=after)))
                    put(aid, obs.CAMPAIGN, "", at, obs.encode_campaign(campaign(aid, bids[aid])))
                for nm, bid in bids[aid].items():
                    st = DailyStat(aid, nm, local.date(), 14 * minutes, minutes * 3 // 10, minutes // 30,
                                   minutes // 120, Decimal(minutes * 2 + i % 11), Decimal(minutes * 11), 4.0 + i % 6)
                    put(aid, obs.DAILY, obs.daily_key(st), at, obs.encode_daily(st))
                    if k % 10 == 0:
                        rec = Recommendation(aid, nm, "cpm", competitive_bid=bid + 20, leaders_bid=bid + 120,
                                             fetched_at=at)
                        put(aid, obs.REC, str(nm), at, obs.encode_rec(rec))
                decisions = tuple((Action.HOLD.value, nm, p, None, b if p == "search" else b - 50,
                                   b if p == "search" else b - 50, "spend_cap")
                                  for nm, b in bids[aid].items() for p in ("search", "recommendations"))
                evals.append(obs.EvaluationRecord(aid, at, at - timedelta(seconds=40), local.date() - timedelta(days=7),
                                                  False, False, True, False, decisions))
            if len(rows) > 40_000:
                await flush()
            if k % 480 == 0:
                echo(f"  generated day {k // 480 + 1} of {days}")
        await flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--campaigns", type=int, default=200)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    header("bench.replay")
    db = args.db or Path(f"/tmp/bidder-bench-replay-{args.campaigns}x{args.days}.db")
    cfg = db.with_suffix(".yaml")
    cfg.write_text(config_text(args.campaigns))
    url = f"sqlite+aiosqlite:///{db}"
    version = db.with_suffix(".version")
    if db.exists() and not (version.exists() and version.read_text().strip() == GENERATOR):
        print(f"{db} was generated by an older generator (not {GENERATOR}): generating it again")
        for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), version):
            stale.unlink(missing_ok=True)
    if db.exists():
        asyncio.run(upgrade(url))  # a database kept from an older schema gets the newer tables
    else:
        t = time.perf_counter()
        asyncio.run(generate(url, args.campaigns, args.days, print))
        version.write_text(GENERATOR + "\n")
        print(f"generated {db} in {time.perf_counter() - t:.0f} s ({db.stat().st_size / 1e6:.0f} MB)")
    from bidder.replay.report import build_report
    from bidder.replay.run import ReplayRequest, replay_account, span

    first, last = asyncio.run(span(url, ACCOUNT))
    assert first is not None and last is not None, "no recorded evaluation: delete the database and run again"
    request = ReplayRequest(cfg, url, ACCOUNT, None, max(first, last - timedelta(days=args.days)), last)
    results_rows = []
    for workers in [args.workers]:
        cpu0 = cpu_seconds()
        kids0 = _children_cpu()
        t = time.perf_counter()
        results = replay_account(request, workers=workers)
        report = build_report(results, account=ACCOUNT, since=str(request.since), until=str(request.until),
                              config=str(cfg))
        wall = time.perf_counter() - t
        cpu = cpu_seconds() - cpu0 + _children_cpu() - kids0
        results_rows.append([workers, report["campaigns"], report["evaluations"], report["decisions_total"],
                             round(wall, 1), round(cpu, 1), round(report["evaluations"] / cpu)])
        print(json.dumps({"workers": workers, "replay_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
                          "load_average_1m": round(__import__("os").getloadavg()[0], 1), "campaigns": report["campaigns"],
                          "evaluations": report["evaluations"], "identical_pct": report["identical_pct"]}))
    table(["workers", "campaigns", "evaluations", "decisions", "wall s", "CPU s (all processes)", "evals per CPU s"],
          results_rows)
    print(f"peak RSS of this process {peak_rss_mb():.0f} MB (workers not counted)")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


if __name__ == "__main__":
    main()
