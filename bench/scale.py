"""Scale benchmark: the daemon (the real App / Runner / AccountCycle stack on a SQLite file, or with
``--store postgresql`` a throwaway PostgreSQL server) against the simulator's ``scale`` scenario, sped
up; a naive per-campaign poller against a fresh simulator on the same clock, measured on the same figures.

    python -m bench.scale [--sellers 50 --campaigns 200 --items 3 --history 1000 --hours 1 --speed 10]
                          [--seed 1] [--store sqlite|postgresql] [--no-baseline] [--json]

``--history N``: N finished campaigns (status 7, finished weeks ago) per seller besides the live ones, as a
seller who has advertised for years has; WB's ``promotion/count`` lists them all. ``--json``: the human
report goes to stderr and one JSON object with the figures (:data:`JSON_KEYS`) to stdout.

The default is the issue's size, 50 sellers x 200 campaigns x 3 items (10,000 campaigns), for one
simulated hour at 10x: about 6 real minutes plus a minute of set-up and analysis. At 10x the daemon keeps
pace on the 2-core machine it was written on; at 15x the daemon process is CPU-bound there (its cycles
stretch to several simulated minutes) and the goals that depend on timing are missed. ``--hours 3`` runs
"a few simulated hours" (about 20 real minutes).

Processes (so that CPU seconds and peak RSS are the daemon's own, and the cores are used): each of the two
simulators runs in a child process of its own (the naive poller's 429 storm must not slow the daemon's
WB, as it would not on WB's side), the naive poller in another, the daemon in this one. They share one
:class:`~bidder.clock.ScaledClock`: every process builds it from the same start, speed and
``time.monotonic()`` origin (CLOCK_MONOTONIC is system-wide), so all of them agree on the simulated time.
Only loopback traffic.

What the server saw is recorded by a hook on :meth:`Simulator.handle`: for every request, the simulated
time, seller, method, status and the batchable units it carried (ids, (advert, nm) pairs, campaigns in a
bids PATCH). The figures:

* calls: requests the simulator answered, by method (all statuses);
* batch-optimal minimum: for the refreshes actually done, the fewest calls WB's batch limits allow. Per
  seller and request group (a fullstats date range, a normquery period), with U units requested over D
  distinct ids and at most c per call: ``(U // D) * ceil(D / c) + ceil((U % D) / c)`` (every round over
  all D ids needs ``ceil(D / c)`` calls, see :func:`bidder.wb.batching.calls_needed`). ``count``: one per
  ``intervals.campaigns`` per seller. Methods that take one id per call: the minimum is the number of
  calls (ratio 1 by definition) and is marked "1 per call";
* 429s: answers with status 429;
* backlog rate: fullstats (WB: 3/min per seller, burst 1) during each seller's first full refresh, the
  achieved rate ``(k - 1) / (t_k - t_1)`` of its k successful calls over the permitted 3/min (mean and
  minimum over sellers);
* full refresh: the simulated time from a seller's first fullstats call until every live campaign that
  has statistics (status 9, 11; finished ones are read once, not refreshed) has been served once, against
  the floor WB's limits impose,
  ``(ceil(n / 50) - 1) * 20 s`` (the first call uses the burst of 1); worst seller;
* fullstats ratio (``--json``: ``fullstats_calls`` / ``fullstats_min``): every fullstats call the daemon
  made against the batch-optimal minimum for the live campaigns' refreshes done (finished campaigns' final
  reads count as calls, not in the minimum);
* time to first decision: real seconds from the daemon's cold start (before ``build_app``) to the end of
  each account's first cycle that evaluated campaigns with statistics; the worst seller;
* CPU seconds per cycle per 1,000 campaigns: this process's user+system CPU (``getrusage``) over the
  campaign-passes done (daemon: an account cycle evaluates all its campaigns; naive: one pass over all
  of a seller's campaigns); peak RSS: ``ru_maxrss`` of that process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import cpu_seconds, fmt, header, peak_rss_mb, serve_for, table, throwaway_postgres
from bench.scale_parts import (  # noqa: F401  (re-exported: the benchmark's figures and its tests)
    CAPACITY,
    FULLSTATS_BATCH,
    FULLSTATS_PER_MIN,
    LIVE_STATS_STATUSES,
    STATS_STATUSES,
    Call,
    first_refresh,
    floor_seconds,
    minimum_calls,
    naive_process,
    shared_clock,
)

JSON_KEYS = ("fullstats_calls", "fullstats_min", "fullstats_ratio", "time_to_first_decision_s",
             "refresh_worst_over_floor", "backlog_rate_mean", "backlog_rate_worst", "calls_429", "rejected",
             "peak_rss_mb", "cpu_s_per_cycle_per_1000", "cycles_per_account_hour")


# ============================================================================ simulator process


def _hook(sim, log: list[Call]) -> None:
    """Record every request the simulator answers (time, seller, method, status, units)."""
    by_token = {}
    for s in sim.sellers.values():
        for tok in (s.read_token, s.write_token, s.base_token):
            by_token[tok] = s.name
    original = sim.handle

    async def handle(ep, request):
        resp = await original(ep, request)
        seller = by_token.get(request.headers.get("Authorization", ""), "?")
        units: tuple = ()
        group = ""
        q = request.query
        try:
            if ep.key in ("GET /api/advert/v2/adverts", "GET /adv/v3/fullstats") and q.get("ids"):
                units = tuple(int(x) for x in q["ids"].split(","))
                group = f"{q.get('beginDate', '')}..{q.get('endDate', '')}"
            elif ep.key in CAPACITY and request.body_exists:
                import json

                body = json.loads(await request.read() or b"null") or {}
                if ep.key == "PATCH /api/advert/v1/bids":
                    units = tuple(b["advert_id"] for b in body.get("bids", []))
                elif ep.key == "POST /api/advert/v2/budget":
                    units = tuple(body.get("advertIds", []))
                else:
                    units = tuple((i.get("advert_id"), i.get("nm_id")) for i in body.get("items", []))
                    group = f"{body.get('from', '')}..{body.get('to', '')}"
        except Exception:  # malformed requests are counted, not analysed
            units = ()
        log.append(Call(sim.clock.monotonic(), seller, ep.key, resp.status, units, group))
        return resp

    sim.handle = handle


async def _start_sim(scenario: str, seed: int, clock, log: list[Call]):
    from aiohttp import web

    from bidder.sim.app import Simulator, create_app
    from bidder.sim.scenarios import build_scenario
    from bidder.sim.testing import RunningSimulator

    sim = Simulator(build_scenario(scenario, seed), seed=seed, clock=clock)
    _hook(sim, log)
    runner = web.AppRunner(create_app(sim), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return RunningSimulator(sim, runner, f"http://127.0.0.1:{port}")


def _sellers(sim) -> list[dict[str, Any]]:
    out = []
    for spec in sim.spec.sellers:
        s = sim.sellers[spec.name]
        out.append({
            "name": spec.name, "read": s.read_token, "write": s.write_token,
            "ids": [c.advert_id for c in spec.campaigns],
            "stats_ids": [c.advert_id for c in spec.campaigns if c.status in LIVE_STATS_STATUSES],
            "live_ids": [c.advert_id for c in spec.campaigns if c.status != 7],
        })
    return out


def sim_process(conn, which: str, scenario: str, seed: int, start: datetime, speed: float, t0: float) -> None:
    """One simulator (the daemon's, or the naive poller's: each in its own process, as two WB clients
    would not slow each other down on WB's side)."""
    logging.basicConfig(level=logging.WARNING)

    async def main() -> None:
        clock = shared_clock(start, speed, t0)
        logs: dict[str, list[Call]] = {which: []}
        sims = {name: await _start_sim(scenario, seed, clock, logs[name]) for name in logs}
        conn.send({name: {"url": r.url, "sellers": _sellers(r.sim)} for name, r in sims.items()})
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # "stop"
        out: dict[str, Any] = {"cpu": cpu_seconds(), "rss": peak_rss_mb()}
        for name, r in sims.items():
            rep = r.sim.report()
            out[name] = {
                "calls": [(c.t, c.seller, c.key, c.status, c.units, c.group) for c in logs[name]],
                "requests": rep["requests"],
                "total_429": rep["total_429"],
                "rejected": len(rep["rejected"]),
                "rejected_sample": rep["rejected"][:5],
                "bid_changes": len(rep["bid_changes"]),
                "status_changes": len(rep["status_changes"]),
            }
            await r.stop()
        conn.send(out)

    asyncio.run(main())


# ============================================================================ the daemon (this process)


def make_config(sellers: list[dict], target_share: float):
    """Every account: spend_cap by default; every ``1 / target_share``-th campaign target_position (so
    search-cluster stats and recommendations are polled for those)."""
    from bidder.config import BidderConfig

    every = max(1, round(1 / target_share)) if target_share > 0 else 0
    accounts = []
    for s in sellers:
        targets = [i for n, i in enumerate(s["ids"]) if every and n % every == 0]
        accounts.append({
            "name": s["name"],
            "read_token": s["read"],
            "write_token": s["write"],
            "guardrails": {"max_bid": 800},
            "defaults": {"strategies": [{"spend_cap": {"max_drr_pct": 20, "window": "3d"}}]},
            "campaigns": [{"id": i, "strategies": [{"target_position": {"position": 3, "max_bid": 600}}]}
                          for i in targets],
        })
    return BidderConfig.model_validate({"accounts": accounts, "stop_file": "/nonexistent/bidder-bench-STOP"})


@dataclass
class DaemonStats:
    cycles: int = 0
    failed: int = 0
    crashed: int = 0
    campaign_passes: int = 0
    evaluated: int = 0
    errors: Counter = field(default_factory=Counter)
    cpu: float = 0.0
    rss: float = 0.0
    cycle_wall: list = field(default_factory=list)
    phase_wall: Counter = field(default_factory=Counter)
    first_decision: dict = field(default_factory=dict)  # account -> real s from the cold start


async def run_daemon(sim_info: dict, clock, hours: float, database_url: str, workdir: Path,
                     target_share: float) -> DaemonStats:
    from bidder.app import build_app
    from bidder.settings import Settings

    config = make_config(sim_info["sellers"], target_share)
    settings = Settings(config=workdir / "bidder.yaml", database_url=database_url,
                        wb_advert_url=sim_info["url"], dry_run=False, http_port=0, telegram_bot_token=None)
    stats = DaemonStats()
    cpu0 = cpu_seconds()
    cold = time.perf_counter()
    app = await build_app(settings, clock=clock, config=config)
    phases = (("start", "", "start"), ("refresh_campaigns", "poller", "refresh_campaigns"),
              ("poll_statistics", "poller", "poll_statistics"), ("poll_extras", "poller", "poll_extras"),
              ("refresh_rules", "poller", "refresh_rules"), ("evaluate", "evaluator", "run"),
              ("apply", "applier", "run"))
    for cycle in app.cycles.values():
        # WB's 30 s timeout on the simulated clock is 30/speed real seconds (0.75 s at 40x): any stall of
        # this process's event loop would time out. Time out after 30 real seconds instead.
        for client in (cycle.reader, getattr(cycle.live_writer, "_client", None)):
            if client is not None:
                client.timeout = 30.0 * clock.speed
        for phase, stage, method in phases:
            owner = getattr(cycle, stage) if stage else cycle

            def timed(fn=getattr(owner, method), phase=phase):
                async def wrapper(*a, **k):
                    t = time.perf_counter()
                    try:
                        return await fn(*a, **k)
                    finally:
                        stats.phase_wall[phase] += time.perf_counter() - t
                return wrapper
            setattr(owner, method, timed())
        original = cycle.run_cycle

        async def counted(original=original, cycle=cycle):
            t = time.perf_counter()
            try:
                result = await original()
            except Exception as exc:  # the runner logs it and keeps the schedule; count it here
                stats.crashed += 1
                stats.errors[f"crashed: {type(exc).__name__}: {exc}"[:120]] += 1
                raise
            stats.cycle_wall.append(time.perf_counter() - t)
            if result.ok and result.evaluated and cycle.view.stats_at and result.account not in stats.first_decision:
                # the first cycle that decided campaigns whose statistics had arrived
                stats.first_decision[result.account] = time.perf_counter() - cold
            stats.cycles += 1
            stats.campaign_passes += result.campaigns
            stats.evaluated += result.evaluated
            if not result.ok:
                stats.failed += 1
                stats.errors[(result.error or "?")[:120]] += 1
            return result

        cycle.run_cycle = counted
    await serve_for(app, clock, hours)
    stats.cpu = cpu_seconds() - cpu0
    stats.rss = peak_rss_mb()
    return stats


# ============================================================================ main


def _ratio(a, b) -> float | None:
    if a is None or b in (None, 0):
        return None
    return a / b


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Every option of the benchmark (one place to add more)."""
    ap = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sellers", type=int, default=50)
    ap.add_argument("--campaigns", type=int, default=200, help="live campaigns per seller")
    ap.add_argument("--items", type=int, default=3, help="per campaign")
    ap.add_argument("--history", type=int, default=1000,
                    help="finished campaigns (status 7) per seller besides the live ones")
    ap.add_argument("--hours", type=float, default=1.0, help="simulated hours")
    ap.add_argument("--speed", type=float, default=10.0, help="simulated seconds per real second")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--target-share", type=float, default=0.1,
                    help="share of campaigns with target_position (clusters + recommendations polled)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the naive poller")
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite",
                    help="the daemon's database: a SQLite file (default) or a throwaway PostgreSQL server")
    ap.add_argument("--json", action="store_true",
                    help="one JSON object with the figures on stdout (the report goes to stderr)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    if any(a.split("=")[0] == "--workers" for a in (sys.argv[1:] if argv is None else argv)):  # issue 20
        return __import__("bench.scale_workers", fromlist=["main"]).main(argv)  # several worker processes
    args = parse_args(argv)
    with contextlib.ExitStack() as stack:
        if args.json:
            stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        figures: dict[str, Any] = {}
        code = _run(args, stack, figures)
    if args.json:
        print(json.dumps({k: figures.get(k) for k in JSON_KEYS}))
    return code


def _run(args: argparse.Namespace, stack: contextlib.ExitStack, figures: dict[str, Any]) -> int:
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.CRITICAL)  # cycles cancelled at the end of the run
    header("bench.scale: the daemon against the simulated WB at scale, and a naive per-campaign poller",
           out=sys.stdout)  # (sys.stdout is stderr under --json)
    scenario = f"scale:{args.sellers}x{args.campaigns}x{args.items}x{args.history}"
    total = args.sellers * args.campaigns
    print(f"scenario {scenario} (seed {args.seed}): {total:,} live campaigns and "
          f"{args.sellers * args.history:,} finished ones, {args.hours:g} simulated hours at "
          f"{args.speed:g}x (≈ {args.hours * 3600 / args.speed / 60:.1f} real minutes)", flush=True)

    from bidder.config import Intervals
    from bidder.sim.scenarios import build_scenario

    start = build_scenario("scale:1x1x1", args.seed).start
    intervals = Intervals()
    database_url = None
    if args.store == "postgresql":
        database_url = stack.enter_context(throwaway_postgres("scale"))
        print("store: a throwaway PostgreSQL server (fsync on)", flush=True)
    ctx = mp.get_context("spawn")
    t0 = time.monotonic()
    wall0 = time.perf_counter()
    sims = {}
    for name in ("daemon", "naive"):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=sim_process, args=(child, name, scenario, args.seed, start, args.speed, t0),
                           daemon=True)
        proc.start()
        child.close()
        sims[name] = (parent, proc)
    info = {}
    for parent, _ in sims.values():
        info.update(parent.recv())
    clock = shared_clock(start, args.speed, t0)
    print(f"simulators up at simulated {clock.now():%Y-%m-%d %H:%M} UTC, {time.perf_counter() - wall0:.1f}s real "
          f"after start", flush=True)
    until = clock.monotonic() + args.hours * 3600
    naive_conn = naive_proc = None
    if not args.no_baseline:
        naive_conn, naive_child = ctx.Pipe()
        naive_proc = ctx.Process(target=naive_process, args=(naive_child, info["naive"], start, args.speed, t0, until,
                                                             intervals.stats.total_seconds()), daemon=True)
        naive_proc.start()
        naive_child.close()
    run_from = clock.monotonic()
    with tempfile.TemporaryDirectory(prefix="bidder-bench-scale-") as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bidder.db'}"
        daemon = asyncio.run(run_daemon(info["daemon"], clock, args.hours, url, Path(tmp), args.target_share))
        if database_url:
            store = "PostgreSQL (throwaway server, fsync on)"
        else:
            store = f"SQLite {sum(f.stat().st_size for f in Path(tmp).glob('bidder.db*')) / 1e6:.0f} MB"
    duration = clock.monotonic() - run_from
    naive = None
    if naive_conn is not None:
        if naive_conn.poll(120):
            naive = naive_conn.recv()
        else:
            print("naive poller: no result (its process died); baseline columns left out")
    if naive and naive.get("errors"):
        for err, n in naive["errors"].items():
            print(f"naive poller: {n} seller loop(s) stopped: {err}")
    server: dict[str, Any] = {"cpu": 0.0}
    for parent, proc in sims.values():
        parent.send("stop")
        got = parent.recv()
        server["cpu"] += got.pop("cpu")
        got.pop("rss")
        server.update(got)
        proc.join(30)
    for name in ("daemon", "naive"):
        server[name]["calls"] = [Call(*c) for c in server[name]["calls"]]
    if naive_proc is not None:
        naive_proc.join(30)
    real = time.perf_counter() - wall0

    print(f"\nrun finished: {real:.0f}s real, {duration / 3600:.2f} simulated hours; daemon: {daemon.cycles} account "
          f"cycles ({daemon.failed} failed, {daemon.crashed} crashed), {store}; simulator processes' CPU {server['cpu']:.0f}s")
    for err, n in daemon.errors.most_common(5):
        print(f"  failed cycles: {n} x {err}")
    if daemon.cycle_wall:
        w = sorted(daemon.cycle_wall)
        print(f"account cycle wall time (real s): median {w[len(w) // 2]:.2f}, p95 {w[int(len(w) * 0.95)]:.2f}, "
              f"max {w[-1]:.2f}")
        print("  mean real seconds per account cycle by phase (the polls overlap): " + ", ".join(
            f"{k} {v / max(daemon.cycles, 1):.2f}" for k, v in daemon.phase_wall.items()))
    dsrv, nsrv = server["daemon"], server["naive"]
    print(f"the daemon's simulator: {dsrv['bid_changes']} bid changes applied, {dsrv['status_changes']} status changes, "
          f"{dsrv['rejected']} rejected requests")
    for r in dsrv["rejected_sample"]:
        print(f"  rejected: {r['status']} {r['method']}: {r['reason'][:100]}")

    # ------------------------------------------------------------------ per method
    methods = sorted({c.key for c in dsrv["calls"]} | ({c.key for c in nsrv["calls"]} if naive else set()))
    rows = []
    for key in methods:
        d_calls = sum(1 for c in dsrv["calls"] if c.key == key)
        d_429 = sum(1 for c in dsrv["calls"] if c.key == key and c.status == 429)
        d_min = minimum_calls(dsrv["calls"], key, intervals.campaigns.total_seconds(), duration)
        row = [key, d_calls, d_min if d_min is not None else "1 per call", _ratio(d_calls, d_min), d_429]
        if naive:
            n_calls = sum(1 for c in nsrv["calls"] if c.key == key)
            n_429 = sum(1 for c in nsrv["calls"] if c.key == key and c.status == 429)
            n_min = minimum_calls(nsrv["calls"], key, intervals.campaigns.total_seconds(), duration)
            row += [n_calls, n_min if n_min is not None else "1 per call", _ratio(n_calls, n_min), n_429,
                    _ratio(n_calls, d_calls)]
        rows.append(row)
    print("\nCalls per method (what the server saw) versus the batch-optimal minimum for the refreshes done:")
    hdr = ["method", "daemon calls", "min", "ratio", "429s"]
    if naive:
        hdr += ["naive calls", "min", "ratio", "429s", "naive/daemon"]
    table(hdr, rows, out=sys.stdout)

    # ------------------------------------------------------------------ summary figures
    floor = floor_seconds(info["daemon"]["sellers"])
    d_times, d_ratios, d_nd = first_refresh(dsrv["calls"], info["daemon"]["sellers"])
    d_cpu = daemon.cpu / max(daemon.campaign_passes / 1000, 1e-9)
    live = {i for s in info["daemon"]["sellers"] for i in s["live_ids"]}
    fs_key = "GET /adv/v3/fullstats"
    fs_calls = sum(1 for c in dsrv["calls"] if c.key == fs_key)
    fs_min = minimum_calls(dsrv["calls"], fs_key, intervals.campaigns.total_seconds(), duration, only=live)
    first = daemon.first_decision
    cycles_per_hour = daemon.cycles / max(len(info["daemon"]["sellers"]), 1) / max(duration / 3600, 1e-9)
    figures.update({
        "fullstats_calls": fs_calls, "fullstats_min": fs_min, "fullstats_ratio": _ratio(fs_calls, fs_min),
        "time_to_first_decision_s": (max(first.values()) if len(first) == len(info["daemon"]["sellers"])
                                     else None),
        "refresh_worst_over_floor": _ratio(max(d_times), floor) if d_times and not d_nd else None,
        "backlog_rate_mean": sum(d_ratios) / len(d_ratios) if d_ratios else None,
        "backlog_rate_worst": min(d_ratios) if d_ratios else None,
        "calls_429": sum(1 for c in dsrv["calls"] if c.status == 429),
        "rejected": dsrv["rejected"],
        "peak_rss_mb": daemon.rss,
        "cpu_s_per_cycle_per_1000": d_cpu,
        "cycles_per_account_hour": cycles_per_hour,
    })
    print(f"\nfullstats: {fs_calls} calls, batch-optimal minimum for the live campaigns' refreshes {fs_min} "
          f"(ratio {fmt(figures['fullstats_ratio'])}); first decision (worst seller, real s from the cold start): "
          f"{fmt(figures['time_to_first_decision_s'])} ({len(first)} of {len(info['daemon']['sellers'])} sellers "
          f"decided)")
    summary = [
        ["requests", len(dsrv["calls"]), "", None],
        ["429s (goal 0)", sum(1 for c in dsrv["calls"] if c.status == 429), "", None],
        ["fullstats rate in the backlog / permitted 3 per min, mean (goal >= 0.9)",
         sum(d_ratios) / len(d_ratios) if d_ratios else None, "", None],
        ["  worst seller", min(d_ratios) if d_ratios else None, "", None],
        [f"full statistics refresh, worst seller, s (floor {floor:.0f}s)", max(d_times) if d_times else None, "", None],
        ["  / floor (goal <= 1.1)", _ratio(max(d_times), floor) if d_times else None, "", None],
        ["  sellers not fully refreshed in the run", d_nd, "", None],
        ["account cycles per account per simulated hour (1-minute interval: 60)", cycles_per_hour, "", None],
        ["campaign passes (cycles x campaigns)", daemon.campaign_passes, "", None],
        ["  of which evaluated (the rest: nothing they read had changed)", daemon.evaluated, "", None],
        ["CPU s per cycle per 1,000 campaigns", d_cpu, "", None],
        ["CPU s total (process)", daemon.cpu, "", None],
        ["peak RSS, MB (goal < 300)", daemon.rss, "", None],
    ]
    if naive:
        n_times, n_ratios, n_nd = first_refresh(nsrv["calls"], info["naive"]["sellers"])
        n_passes = sum(naive["passes"].values())
        n_cpu = naive["cpu"] / max(n_passes / 1000, 1e-9)
        nvals = [len(nsrv["calls"]), sum(1 for c in nsrv["calls"] if c.status == 429),
                 sum(n_ratios) / len(n_ratios) if n_ratios else None, min(n_ratios) if n_ratios else None,
                 max(n_times) if n_times else None,
                 _ratio(max(n_times), floor) if n_times else None, n_nd, None, n_passes, None, n_cpu, naive["cpu"],
                 naive["rss"]]
        for row, v in zip(summary, nvals, strict=True):
            row[2] = v
            row[3] = _ratio(v, row[1]) if isinstance(v, int | float) and isinstance(row[1], int | float) else None
    print("\nSummary:")
    table(["figure", "daemon", "naive", "naive/daemon"] if naive else ["figure", "daemon"],
          [r if naive else r[:2] for r in summary], out=sys.stdout)
    if naive and n_nd:
        print(f"(naive: {n_nd} of {len(info['naive']['sellers'])} sellers never completed a full refresh within the "
              f"run; their time is at least {duration:.0f}s, not included above)")
    print(f"\nsimulated {duration / 3600:.2f} h of {total:,} campaigns in {real:.0f}s real "
          f"({fmt(args.speed)}x); daemon peak RSS {daemon.rss:.0f} MB")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
