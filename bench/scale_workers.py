"""Several worker processes on one PostgreSQL against the simulator's ``scale`` scenario (issue 20).

    python -m bench.scale --workers N --store postgresql [--sellers 50 --campaigns 200 --items 3]
                          [--hours 1 --speed 10] [--lease-ttl 30] [--failover] [--json]

``bench.scale`` hands over to :func:`run` when ``--workers`` is given. Processes: the simulator in one
child process, each worker (the real App: leases, runner, cycles) in its own child process, all on one
:class:`~bidder.clock.ScaledClock` (same start, speed and CLOCK_MONOTONIC origin), a throwaway
PostgreSQL server (fsync on) as the store. Run it at a speed where one worker is CPU-bound, so that the
figure shows what a second process adds. The default is 12x: at 10x one worker on a quiet 2-core machine
made 38.6 of the 60 account cycles an hour the 1-minute interval allows, so two could show at most
60 / 38.6 = 1.55x whatever they did; at 12x one worker makes about 32 and 1.6x (51) fits under the cap.
Faster is not better: the simulator's market advances per simulated time and the statistics are polled at
WB's per-minute limits, so the simulator and PostgreSQL cost about a fixed number of CPU seconds per
simulated hour (``other_cpu_s_per_simulated_hour``), i.e. more of the two cores the higher the speed
(``other_cores_at_this_speed``), which the two workers then do not get.

Figures (``--json`` keys): ``workers``; ``cycles_per_account_hour``: account cycles completed by all
workers, per account per simulated hour (the cycle interval caps it at 60); with ``--failover``, one
worker is killed with SIGKILL halfway through and:

* ``takeover_s``: real seconds from the SIGKILL until every account the killed worker held has
  completed its first *successful* cycle on another worker (the slowest orphaned account; goal: within
  the lease TTL plus one cycle); ``takeover_claimed_s`` (the SIGKILL until the last orphaned account is
  claimed) and ``takeover_first_cycle_s`` (claim to first successful cycle, median and max) say where
  the time goes, ``cycle_s_before_kill`` what one cycle is at that load;
* ``double_applies``: bid changes the simulator applied beyond the decisions recorded as applied, per
  (campaign, item, placement) (an intent sent twice);
* ``lost_audit_rows``: audit rows that existed before the kill and are gone at the end, plus bid
  changes recorded as applied that the simulator never applied;
* ``fenced_writes``: write requests a worker sent for an account after another worker had claimed that
  account with a higher epoch (from each worker's record of the epoch it sent under and the claims).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing as mp
import os
import signal
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import cpu_seconds, peak_rss_mb, serve_for, throwaway_postgres


def _sim_process(conn, scenario: str, seed: int, start: datetime, speed: float, t0: float,
                 profile: str | None = None) -> None:
    from bench.scale import _sellers, shared_clock
    from bidder.sim.testing import start_simulator

    logging.basicConfig(level=logging.WARNING)

    async def main() -> None:
        clock = shared_clock(start, speed, t0)
        # no request log here (bench.scale's per-call hook): nothing in this bench reads it
        r = await start_simulator(scenario, seed=seed, clock=clock)
        conn.send({"url": r.url, "sellers": _sellers(r.sim)})
        loop = asyncio.get_running_loop()
        profiler = None
        if profile:  # --profile-sim: where the simulator's CPU goes while it serves the workers
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        await loop.run_in_executor(None, conn.recv)  # "stop": the workers are gone
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        await clock.sleep(61)  # every accepted bid reaches its 30 s tick, every status its minute
        r.sim.market.advance(r.sim.now())
        log = [(e["advert_id"], e["nm_id"], e["placement"], e["new"]) for e in r.sim.market.bid_log
               if e.get("norm_query") is None]
        conn.send({"bid_log": log, "cpu": cpu_seconds()})
        await r.stop()

    asyncio.run(main())


def proc_cpu(pid: int, *, children: bool = False) -> float:
    """User + system CPU seconds of process ``pid`` from /proc (``children``: plus its reaped children's
    and its live children's, e.g. a PostgreSQL postmaster and its backends); 0.0 when it is gone."""
    tick = os.sysconf("SC_CLK_TCK")

    def stat(p: int) -> list[str] | None:
        try:
            raw = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            return None
        return raw[raw.rindex(")") + 2:].split()  # fields from 3 (state) on

    own = stat(pid)
    if own is None:
        return 0.0
    total = int(own[11]) + int(own[12])  # utime, stime (fields 14, 15)
    if children:
        total += int(own[13]) + int(own[14])  # cutime, cstime: reaped children (exited backends)
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                st = stat(int(entry))
                if st is not None and int(st[1]) == pid:  # ppid
                    total += int(st[11]) + int(st[12]) + int(st[13]) + int(st[14])
    return total / tick


def _postmaster_pid(url: str) -> int | None:
    """The PID of the PostgreSQL server's postmaster (the parent of a backend), if it runs on this host."""
    async def parent_of_backend() -> int:
        from bidder.store.db import Database
        from bidder.store.leases import backend_pid

        async with Database(url) as database, database.read_sessions() as s:
            pid = await backend_pid(s)
            raw = Path(f"/proc/{pid}/stat").read_text()  # while the backend lives
            return int(raw[raw.rindex(")") + 2:].split()[1])

    with contextlib.suppress(Exception):
        return asyncio.run(parent_of_backend())
    return None


def _worker_process(events, wid: str, sim_info: dict, start: datetime, speed: float, t0: float, hours: float,
                    url: str, ttl: float, target_share: float, workdir: str) -> None:
    os.environ["BIDDER_LEASE_TTL"] = str(ttl)
    os.environ["BIDDER_WORKER_ID"] = wid
    logging.basicConfig(level=logging.ERROR, format=f"{wid} %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.CRITICAL)
    from bench.scale import make_config, shared_clock
    from bidder.app import build_app
    from bidder.settings import Settings

    async def main() -> None:
        clock = shared_clock(start, speed, t0)
        settings = Settings(config=Path(workdir) / "bidder.yaml", database_url=url, wb_advert_url=sim_info["url"],
                            dry_run=False, http_port=0, telegram_bot_token=None)
        cpu0 = cpu_seconds()
        app = await build_app(settings, clock=clock, config=make_config(sim_info["sellers"], target_share))
        keeper = app.leases.keeper
        acquire = keeper.on_acquire

        async def acquired(name: str) -> None:
            events.put(("claim", wid, name, keeper.held[name].epoch, time.monotonic()))
            await acquire(name)

        keeper.on_acquire = acquired
        for name in keeper.accounts():
            events.put(("claim", wid, name, keeper.held[name].epoch, time.monotonic()))
        for name, cycle in app.cycles.items():
            for client in (cycle.reader, getattr(cycle.live_writer, "_client", None)):
                if client is not None:
                    client.timeout = 30.0 * clock.speed  # 30 real seconds, as in bench.scale
            original = cycle.run_cycle

            async def counted(original=original, name=name):
                try:
                    result = await original()
                except asyncio.CancelledError:  # stopped: the account went to another worker (or the end)
                    events.put(("stopped", wid, name, False, time.monotonic()))
                    raise
                events.put(("cycle", wid, name, result.ok, time.monotonic()))
                return result

            cycle.run_cycle = counted
            writer = cycle.live_writer
            if writer is not None:
                for method in ("set_bids", "set_cluster_bids", "start", "pause"):
                    inner = getattr(writer._writer, method)

                    async def sent(*a, inner=inner, name=name, **k):
                        held = keeper.held.get(name)
                        events.put(("write", wid, name, held.epoch if held else -1, time.monotonic()))
                        return await inner(*a, **k)

                    setattr(writer._writer, method, sent)
        events.put(("ready", wid, "", 0, time.monotonic()))
        await serve_for(app, clock, hours)
        events.put(("done", wid, json.dumps({"cpu": cpu_seconds() - cpu0, "rss": peak_rss_mb(),
                                             "refused_writes": keeper.refused_writes}), 0, time.monotonic()))

    asyncio.run(main())


async def _audit(url: str) -> tuple[dict[int, tuple], dict[tuple, list[int]], int]:
    """(id -> row key) of every decision, the applied bid changes per (campaign, item, placement), pending."""
    from bidder.store import audit
    from bidder.store.db import Database

    async with Database(url) as database, database.read_sessions() as s:
        rows = await audit.history(s, limit=10_000_000)
    keys = {r.id: (r.at, r.advert_id, r.nm_id, r.placement, r.action.value, r.bid_after) for r in rows}
    applied: dict[tuple, list[int]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: r.id):
        if r.action.value == "set_bid" and r.norm_query is None and r.applied and not r.dry_run:
            applied[(r.advert_id, r.nm_id, r.placement)].append(r.bid_after)
    pending = sum(1 for r in rows if r.apply_status == "pending")
    return keys, applied, pending


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m bench.scale --workers N", description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, required=True, help="worker processes")
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="postgresql")
    ap.add_argument("--sellers", type=int, default=50)
    ap.add_argument("--campaigns", type=int, default=200, help="per seller")
    ap.add_argument("--items", type=int, default=3, help="per campaign")
    ap.add_argument("--hours", type=float, default=1.0, help="simulated hours")
    ap.add_argument("--speed", type=float, default=12.0,
                    help="simulated seconds per real second (default 12: see the module docstring)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--target-share", type=float, default=0.1)
    ap.add_argument("--lease-ttl", type=float, default=30.0, help="real seconds (the daemon's default is 60)")
    ap.add_argument("--failover", action="store_true", help="SIGKILL one worker halfway through")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.add_argument("--profile-sim", metavar="FILE", help="write a cProfile of the simulator process to FILE")
    ap.add_argument("--no-baseline", action="store_true", help="accepted for bench.scale compatibility; no effect")
    return run(ap.parse_args(argv))


def run(args: Any) -> int:
    """``bench.scale --workers N``: run and print the figures (``--json``: one JSON object)."""
    from bidder.sim.scenarios import build_scenario
    from bidder.store.migrate import upgrade

    if args.store != "postgresql":
        print("several workers need --store postgresql (SQLite serves one worker process)")
        return 2
    scenario = f"scale:{args.sellers}x{args.campaigns}x{args.items}"
    ttl = args.lease_ttl
    say = (lambda *a, **k: None) if args.json else (lambda *a, **k: print(*a, **k, flush=True))
    say(f"bench.scale --workers {args.workers}: {scenario}, {args.hours:g} simulated h at {args.speed:g}x "
        f"(≈ {args.hours * 3600 / args.speed / 60:.1f} real min), lease TTL {ttl:g}s"
        f"{', SIGKILL of one worker halfway' if args.failover else ''}")
    ctx = mp.get_context("spawn")
    with contextlib.ExitStack() as stack, __import__("tempfile").TemporaryDirectory(prefix="bidder-workers-") as tmp:
        url = stack.enter_context(throwaway_postgres("workers"))
        asyncio.run(upgrade(url))
        start = build_scenario("scale:1x1x1", args.seed).start
        t0 = time.monotonic()
        parent, child = ctx.Pipe()
        sim = ctx.Process(target=_sim_process, args=(child, scenario, args.seed, start, args.speed, t0,
                                                     args.profile_sim), daemon=True)
        sim.start()
        info = parent.recv()
        postmaster = _postmaster_pid(url)
        # CPU seconds of everything but the workers, from here (the simulator built, the schema made)
        # to the end of the run: the simulator process, PostgreSQL (postmaster, its backends and helper
        # processes) and this harness process
        cpu_at_start = {"simulator": proc_cpu(sim.pid), "postgresql": proc_cpu(postmaster, children=True)
                        if postmaster else 0.0, "harness": cpu_seconds()}
        events = ctx.Queue()
        procs = {}
        for i in range(args.workers):
            wid = f"w{i + 1}"
            p = ctx.Process(target=_worker_process, args=(events, wid, info, start, args.speed, t0, args.hours, url,
                                                         ttl, args.target_share, tmp), daemon=True)
            p.start()
            procs[wid] = p
        real_total = args.hours * 3600 / args.speed
        log: list[tuple] = []
        done: dict[str, dict] = {}
        killed: str | None = None
        kill_at = None
        before_kill: dict[int, tuple] = {}
        victim_accounts: set[str] = set()
        first_ready = None
        while len(done) + (killed is not None) < len(procs):
            with contextlib.suppress(Exception):
                ev = events.get(timeout=0.5)
                log.append(ev)
                if ev[0] == "ready" and first_ready is None:
                    first_ready = ev[4]
                    kill_at = first_ready + real_total / 2 if args.failover else None
                if ev[0] == "done":
                    done[ev[1]] = json.loads(ev[2])
            if kill_at is not None and killed is None and time.monotonic() >= kill_at:
                holders = _holders(url)
                killed = max(procs, key=lambda w: sum(h == w for h in holders.values()))
                victim_accounts = {n for n, h in holders.items() if h == killed}
                before_kill = asyncio.run(_audit(url))[0]
                os.kill(procs[killed].pid, signal.SIGKILL)
                killed_at = time.monotonic()
                say(f"killed {killed} (SIGKILL) holding {len(victim_accounts)} account(s)")
            if all(not p.is_alive() for w, p in procs.items()) and len(done) + (killed is not None) < len(procs):
                break
        while True:  # drain
            try:
                log.append(events.get(timeout=0.5))
            except Exception:
                break
        cpu_at_end = {"simulator": proc_cpu(sim.pid), "postgresql": proc_cpu(postmaster, children=True)
                      if postmaster else 0.0, "harness": cpu_seconds()}
        pending_at_end = asyncio.run(_audit(url))[2]
        reconciled = asyncio.run(_reconcile_all(url, info, start, args.speed, t0, tmp, args.target_share))
        parent.send("stop")
        sim_out = parent.recv()
        sim.join(30)
        keys, applied, pending = asyncio.run(_audit(url))
        db_load = asyncio.run(_db_load(url))
        db_tables, alert_kinds = asyncio.run(_db_tables(url))

    cycles = [e for e in log if e[0] == "cycle"]
    ok_cycles = [e for e in cycles if e[3]]
    accounts = len(info["sellers"])
    span_real = real_total
    sim_hours = span_real * args.speed / 3600
    out: dict[str, Any] = {
        "workers": args.workers,
        "cycles_per_account_hour": round(len(ok_cycles) / accounts / max(sim_hours, 1e-9), 2),
        # the second half alone: past every account's first cycle (the statistics backlog), steady state
        "cycles_per_account_hour_second_half": round(
            sum(1 for e in ok_cycles if first_ready is not None and e[4] > first_ready + span_real / 2)
            / accounts / max(sim_hours / 2, 1e-9), 2),
        # real seconds between the first and the last worker ready to serve (built, before the first claim)
        "ready_skew_s": round(max(readies) - min(readies), 1) if (readies := [e[4] for e in log if e[0] == "ready"])
        else None,
        "account_cycles": len(cycles),
        "failed_cycles": len(cycles) - len(ok_cycles),
        # cycles cancelled in progress: the account was handed to another worker (or the run ended)
        "stopped_cycles": sum(1 for e in log if e[0] == "stopped"),
        "accounts": accounts,
        "campaigns": accounts * args.campaigns,
        "speed": args.speed,
        "simulated_hours": args.hours,
        "lease_ttl_s": ttl,
        "worker_cpu_s": {w: round(d["cpu"], 1) for w, d in sorted(done.items())},
        "worker_peak_rss_mb": {w: round(d["rss"], 1) for w, d in sorted(done.items())},
        "cycles_by_worker": {w: sum(1 for e in cycles if e[1] == w) for w in procs},
        # intents the workers left pending when they stopped (SIGTERM cancels cycles after 8 s; the
        # SIGKILLed worker's own), resolved by a restart's reconciliation as a real deployment would
        "pending_at_end": pending_at_end,
        "reconciled_after_run": reconciled,
        "pending_left": pending,
        # what the workers asked of PostgreSQL over the run (pg_stat_database), per simulated hour
        "db_per_simulated_hour": {k: round(v / max(sim_hours, 1e-9)) for k, v in db_load.items()},
    }
    # the CPU model of docs/SCALING.md: worker CPU per account cycle (C) against the rest's (S: the
    # simulator, PostgreSQL and this harness) per account cycle; on 2 cores two workers can give at most
    # 2C / (C + S) times one worker's cycles when everything is CPU-bound
    other_cpu = {k: round(cpu_at_end[k] - cpu_at_start[k], 1) for k in cpu_at_start}
    n_ok = max(len(ok_cycles), 1)
    c_per = sum(d["cpu"] for d in done.values()) / n_ok
    s_per = sum(other_cpu.values()) / n_ok
    busiest = sorted(db_tables.items(), key=lambda kv: -(kv[1]["seq_tup_read"] + kv[1]["idx_tup_fetch"]
                                                        + kv[1]["n_tup_ins"] + kv[1]["n_tup_upd"]))[:8]
    out.update({
        # rows per account cycle by table (read by sequential scans, fetched by index, inserted, updated)
        "db_rows_per_cycle_by_table": {t: {k: round(v / n_ok, 1) for k, v in d.items()
                                           if k in ("seq_tup_read", "idx_tup_fetch", "n_tup_ins", "n_tup_upd")}
                                       for t, d in busiest},
        "alerts_pending_by_kind": alert_kinds,
        "db_transactions_per_cycle": round(db_load.get("transactions", 0) / n_ok, 1),
        "other_cpu_s": other_cpu,
        "worker_cpu_s_per_cycle": round(c_per, 4),
        "other_cpu_s_per_cycle": round(s_per, 4),
        "other_cpu_s_per_cycle_by_process": {k: round(v / n_ok, 4) for k, v in other_cpu.items()},
        # the simulator's market advances per simulated time and the statistics are polled at WB's
        # per-minute limits: most of the rest's CPU is per simulated hour, so it costs more cores the
        # higher the speed (cores = this * speed / 3600)
        "other_cpu_s_per_simulated_hour": round(sum(other_cpu.values()) / max(sim_hours, 1e-9), 1),
        "other_cores_at_this_speed": round(sum(other_cpu.values()) / max(sim_hours, 1e-9) * args.speed / 3600, 3),
        "cpu_bound_ratio_2_over_1": round(2 * c_per / (c_per + s_per), 3) if c_per + s_per > 0 else None,
        "postgresql_measured": postmaster is not None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    })
    wb: dict[tuple, list[int]] = defaultdict(list)
    for a, nm, placement, new in sim_out["bid_log"]:
        wb[(a, nm, placement)].append(new)
    double = sum(max(0, len(wb[k]) - len(applied.get(k, []))) for k in wb)
    phantom = sum(max(0, len(v) - len(wb.get(k, []))) for k, v in applied.items())
    out["bid_changes_applied_by_wb"] = sum(len(v) for v in wb.values())
    out["double_applies"] = double
    # claims: (account, epoch, time); a write is fenced when sent under an epoch below a claim made before it
    claims = sorted((e[2], e[3], e[4]) for e in log if e[0] == "claim")
    fenced = 0
    for _, _wid, name, epoch, t in (e for e in log if e[0] == "write"):
        if any(c[0] == name and c[1] > epoch and c[2] < t for c in claims):
            fenced += 1
    if args.failover:
        lost = sum(1 for i in before_kill if i not in keys) + phantom
        served_after: dict[str, float] = {}  # the first *successful* cycle completed on a survivor
        for _, wid, name, ok, t in cycles:
            if ok and name in victim_accounts and wid != killed and t > killed_at and name not in served_after:
                served_after[name] = t
        claimed_after: dict[str, float] = {}
        for _, wid, name, _epoch, t in (e for e in log if e[0] == "claim"):
            if name in victim_accounts and wid != killed and t > killed_at and name not in claimed_after:
                claimed_after[name] = t
        takeover = (max(served_after.values(), default=killed_at) - killed_at
                    if len(served_after) == len(victim_accounts) else None)
        claimed = (max(claimed_after.values(), default=killed_at) - killed_at
                   if len(claimed_after) == len(victim_accounts) else None)
        first = [served_after[n] - claimed_after[n] for n in served_after if n in claimed_after]
        out.update({"killed_worker": killed, "killed_accounts": len(victim_accounts),
                    "takeover_s": None if takeover is None else round(takeover, 1),
                    # where the time goes: kill -> the last orphaned account claimed by a survivor; then
                    # each account's claim -> its first successful cycle (median, max)
                    "takeover_claimed_s": None if claimed is None else round(claimed, 1),
                    "takeover_first_cycle_s": {"median": round(sorted(first)[len(first) // 2], 1) if first else None,
                                               "max": round(max(first), 1) if first else None},
                    # the cycle time of the survivor's own accounts before the kill (a cycle's length here)
                    "cycle_s_before_kill": _cycle_length(log, killed, killed_at),
                    "lost_audit_rows": lost, "fenced_writes": fenced,
                    "accounts_not_served_after_kill": len(victim_accounts) - len(served_after)})
    else:
        out["fenced_writes"] = fenced
    if args.json:
        print(json.dumps(out, indent=2, sort_keys=True))
    else:
        for k, v in out.items():
            print(f"  {k}: {v}")
    return 0


def _cycle_length(log: list[tuple], killed: str, killed_at: float) -> float | None:
    """Median real seconds between two successive completed cycles of one account on the surviving
    workers before the kill (the last two minutes, else all of it): what "one cycle" is on this machine
    at this load."""
    last: dict[str, float] = {}
    gaps: list[tuple[float, float]] = []
    for kind, wid, name, _ok, t in log:
        if kind != "cycle" or wid == killed or t > killed_at:
            continue
        if name in last:
            gaps.append((t, t - last[name]))
        last[name] = t
    recent = sorted(g for t, g in gaps if t > killed_at - 120) or sorted(g for _, g in gaps)
    return round(recent[len(recent) // 2], 1) if recent else None


async def _reconcile_all(url: str, sim_info: dict, start: datetime, speed: float, t0: float, workdir: str,
                         target_share: float) -> int:
    """What a restart does first: one worker claims every account and reconciles its pending intents."""
    from bench.scale import make_config, shared_clock
    from bidder.app import build_app
    from bidder.settings import Settings

    clock = shared_clock(start, speed, t0)
    settings = Settings(config=Path(workdir) / "bidder.yaml", database_url=url, wb_advert_url=sim_info["url"],
                        dry_run=False, http_port=0, telegram_bot_token=None, worker_id="reconciler")
    app = await build_app(settings, clock=clock, config=make_config(sim_info["sellers"], target_share))
    try:
        await app.become_worker()
        done = 0
        for cycle in list(app.leases.active.values()):
            done += await cycle.reconcile()
        return done
    finally:
        await app.close()


async def _db_load(url: str) -> dict[str, int]:
    from bidder.store.db import Database
    from bidder.store.leases import database_load

    async with Database(url) as database, database.read_sessions() as s:
        return await database_load(s)


async def _db_tables(url: str) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Rows per table (pg_stat_user_tables), and the alerts left in the outbox by kind (no Telegram here)."""
    from collections import Counter

    from bidder.store.alerts import pending_events
    from bidder.store.db import Database
    from bidder.store.leases import table_load

    async with Database(url) as database, database.read_sessions() as s:
        return await table_load(s), dict(Counter(a.kind for a in await pending_events(s, 1_000_000)))


def _holders(url: str) -> dict[str, str]:
    from bidder.store import leases
    from bidder.store.db import Database

    async def read() -> dict[str, str]:
        async with Database(url) as database, database.read_sessions() as s:
            return {i.name: i.holder for i in await leases.leases(s) if i.live and i.holder
                    and not i.name.startswith(leases.JOB_PREFIX)}

    return asyncio.run(read())
