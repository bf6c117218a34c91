"""Steady-state CPU of one account's cycles: the real App / AccountCycle stack on a SQLite file against the
simulator in the same process, on a FakeClock (no waiting: every cycle runs back to back, one simulated
minute apart), so the figure does not depend on how busy the machine is.

    python -m bench.cycle_cpu [--campaigns 200 --items 3 --history 1000 --warmup 6 --cycles 20] [--json]

After ``--warmup`` cycles (the cold start: campaign list, details, first statistics), ``--cycles`` cycles
are measured: this process's CPU (``time.process_time``: every thread, as ``getrusage`` counts it) minus
the CPU the simulator's request handling took (measured around ``Simulator.handle``), over the campaign
passes (cycles x campaigns), per 1,000. It is the per-cycle cost ``bench.scale``'s
``cpu_s_per_cycle_per_1000`` divides, without the cold start, the concurrency of 50 accounts and the
machine's load; cycles run with ``run_once`` (statistics read inline; the runner's garbage-collector
settings, :data:`bidder.engine.runner.GC_THRESHOLD`, do not apply: ``--serving-gc`` applies them).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
import tempfile
import time
from pathlib import Path


async def _run(args: argparse.Namespace) -> dict:
    from bidder.app import build_app
    from bidder.clock import FakeClock
    from bidder.config import BidderConfig
    from bidder.settings import Settings
    from bidder.sim.testing import start_simulator

    clock = FakeClock()
    scenario = f"scale:1x{args.campaigns}x{args.items}x{args.history}"
    async with await start_simulator(scenario, seed=args.seed, clock=clock) as running:
        sim_cpu = [0.0]
        original = running.sim.handle

        async def handle(ep, request):
            t = time.process_time()
            try:
                return await original(ep, request)
            finally:
                sim_cpu[0] += time.process_time() - t

        running.sim.handle = handle
        accounts = [{"name": name, "read_token": s.read_token, "write_token": s.write_token,
                     "guardrails": {"max_bid": 800},
                     "defaults": {"strategies": [{"spend_cap": {"max_drr_pct": 20, "window": "3d"}}]}}
                    for name, s in running.sim.sellers.items()]
        config = BidderConfig.model_validate({"accounts": accounts, "stop_file": "/nonexistent/bidder-bench-STOP"})
        with tempfile.TemporaryDirectory(prefix="bidder-bench-cycle-cpu-") as tmp:
            settings = Settings(config=Path(tmp) / "bidder.yaml", database_url=f"sqlite+aiosqlite:///{tmp}/b.db",
                                wb_advert_url=running.url, dry_run=False, http_port=0, telegram_bot_token=None)
            app = await build_app(settings, clock=clock, config=config)
            try:
                for _ in range(args.warmup):
                    await app.run_once()
                    clock.advance(60)
                thresholds = gc.get_threshold()
                if args.serving_gc:
                    from bidder.engine.runner import GC_THRESHOLD

                    gc.freeze()
                    gc.set_threshold(GC_THRESHOLD, thresholds[1], thresholds[2])
                cpu0, sim0 = time.process_time(), sim_cpu[0]
                results = []
                for _ in range(args.cycles):
                    results += await app.run_once()
                    clock.advance(60)
                cpu, sim = time.process_time() - cpu0, sim_cpu[0] - sim0
                gc.set_threshold(*thresholds)
                gc.unfreeze()
            finally:
                await app.close()
    passes = sum(r.campaigns for r in results)
    return {"cycles": args.cycles, "campaign_passes": passes, "evaluated": sum(r.evaluated for r in results),
            "failed_cycles": sum(1 for r in results if not r.ok), "cpu_s": round(cpu, 3), "sim_cpu_s": round(sim, 3),
            "cpu_s_per_cycle_per_1000": round((cpu - sim) / max(passes / 1000, 1e-9), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cycle_cpu", description=__doc__.split("\n\n")[0])
    ap.add_argument("--campaigns", type=int, default=200, help="live campaigns")
    ap.add_argument("--items", type=int, default=3)
    ap.add_argument("--history", type=int, default=1000, help="finished campaigns")
    ap.add_argument("--warmup", type=int, default=6)
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--serving-gc", action="store_true", help="the collector settings Runner.serve uses")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    figures = asyncio.run(_run(args))
    if args.json:
        print(json.dumps(figures))
    else:
        for k, v in figures.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
