"""Issue 21: after a crash, reconciling pending writes holds only the campaigns concerned.

The daemon (a real child process, 30x simulated time) is SIGKILLed right after WB accepted a bids PATCH
for campaign A (1000001): its intents stay pending. While it is down the schedule's hours of A and of
another campaign B (1000004) end (the restart's config says so), and it restarts at once.

Shown, in simulated time from the simulator's own request log and the daemon's cycle rows:

* B's schedule pause reaches the simulator within the first cycle after the restart (the pending bids of
  A do not hold it);
* nothing at all is sent for A before its intents' bid tick (30 s) plus the call margin has passed since
  they were recorded; A is re-read, its intents resolved, and its schedule pause reaches the simulator
  within the first cycle that starts after that (its tick plus one cycle);
* the books still balance: no intent left pending, WB's bid log equals the audit trail.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from support import Daemon, SimHost, Zygote, assert_books, named_adverts, query, write_config

SPEED = 30.0  # a process start (~0.3 s on a busy 2-core box) is then ~10 s of simulated time
A, B = 1000001, 1000004
CYCLE = timedelta(minutes=1)  # intervals.evaluate
SETTLE = timedelta(seconds=60)  # bid tick 30 s + call margin 30 s (bidder.engine.reconcile)
MOSCOW = ZoneInfo("Europe/Moscow")


def _config(path: Path, hours: str | None) -> Path:
    """A: target_position (it writes bids), B: the default spend cap; with ``hours`` both get a schedule."""
    schedule = f'        schedule: {{active_hours: "{hours}", timezone: Europe/Moscow}}\n' if hours else ""
    body = ("    defaults:\n      strategies:\n        - spend_cap: {max_drr_pct: 20, window: 3d}\n"
            "    campaigns:\n"
            f"      - id: {A}\n        strategies:\n          - target_position: {{position: 3, max_bid: 600}}\n"
            + schedule
            + (f"      - id: {B}\n" + schedule if hours else ""))
    return write_config(path, [{"name": "shop-a", "read_env": "WB_READ_TOKEN", "write_env": "WB_WRITE_TOKEN",
                                "body": body.rstrip("\n")}])


def _t(value: str) -> datetime:
    t = datetime.fromisoformat(value)
    return t if t.tzinfo else t.replace(tzinfo=ZoneInfo("UTC"))


async def test_a_pending_bid_holds_only_its_campaign_after_a_crash(tmp_path: Path, record_property) -> None:
    host = await SimHost("demo", speed=SPEED, seed=1).start()
    zygote = await Zygote().start()
    db = tmp_path / "bidder.db"
    cfg = tmp_path / "bidder.yaml"
    log: list[tuple[datetime, str, str, set[int]]] = []  # (sim time, method, path, campaigns named)
    try:
        host.sim.market.advance(host.sim.now())
        seller = host.sim.sellers["shop-a"]
        daemon = Daemon(zygote, _config(cfg, None), f"sqlite+aiosqlite:///{db}", host,
                        {"WB_READ_TOKEN": seller.read_token, "WB_WRITE_TOKEN": seller.write_token},
                        tmp_path / "daemon.log")
        killed = asyncio.Event()

        async def before(request):
            log.append((host.sim.now(), request.method, request.path, await named_adverts(request)))
            return None

        async def after(request):
            if request.method == "PATCH" and not killed.is_set() and A in log[-1][3]:
                killed.set()
                daemon.kill(signal.SIGKILL)

        host.before, host.after = before, after
        try:
            await daemon.start()
            await asyncio.wait_for(killed.wait(), 120)
            assert await daemon.wait_exit(30) == -signal.SIGKILL
            pending = query(db, "SELECT advert_id, at FROM decisions WHERE apply_status = 'pending'")
            assert A in {r["advert_id"] for r in pending}, "the kill left A's bid intents pending"
            intent_at = max(_t(r["at"]) for r in pending if r["advert_id"] == A)

            # the hours of A and B end while the daemon is down; it restarts at once
            local = host.sim.now().astimezone(MOSCOW)
            hours = f"{(local - timedelta(hours=3)):%H:%M}-{(local - timedelta(minutes=1)):%H:%M}"
            _config(cfg, hours)
            restart = host.sim.now()
            mark = len(log)
            await daemon.start()
            await daemon.wait_ready()

            def paused(advert: int) -> datetime | None:
                return next((t for t, m, p, ids in log[mark:] if p == "/adv/v0/pause" and advert in ids), None)

            await daemon.wait_until(lambda: paused(A) is not None and paused(B) is not None, 120,
                                    "both schedule pauses")
            await daemon.wait_until(lambda: not query(db, "SELECT id FROM decisions WHERE apply_status = 'pending'"),
                                    60, "no intent pending")
            await daemon.wait_cycles("shop-a", 1, within=60)
            assert await daemon.stop() == 0
        finally:
            await daemon.ensure_dead()
        host.before = host.after = None

        cycles = [(_t(r["started_at"]), _t(r["finished_at"])) for r in
                  query(db, "SELECT started_at, finished_at FROM cycles WHERE finished_at IS NOT NULL ORDER BY id")]
        pause_b, pause_a = paused(B), paused(A)
        assert pause_a is not None and pause_b is not None
        first_after_restart = next(c for c in cycles if c[0] >= restart)
        # the first cycle after the restart starts at once (no account-wide wait) and B's pause is in it,
        # within one cycle of the restart (the process start included)
        assert first_after_restart[0] - restart < CYCLE, (restart, first_after_restart)
        assert pause_b <= first_after_restart[1], (pause_b, first_after_restart)
        assert pause_b - restart <= CYCLE, (restart, pause_b)
        # sent once: a re-read before WB's minute tick still shows it active, and that does not send it again
        assert sum(1 for _, _, p, ids in log[mark:] if p == "/adv/v0/pause" and B in ids) == 1
        # safety first: B's pause went out before the cycle's first statistics read
        first_stats = next((t for t, m, p, _ in log[mark:] if p == "/adv/v3/fullstats"), None)
        assert first_stats is None or pause_b < first_stats
        settled = intent_at + SETTLE
        # nothing is sent for A before its tick has passed: not a bid, not a pause, not a re-read
        early = [(t, m, p) for t, m, p, ids in log[mark:] if A in ids and t < settled]
        assert early == [], early
        # A is reconciled and paused by the first cycle that starts once its tick has passed (cycles start
        # every minute; a long first cycle after a restart, polling everything, makes the scheduler skip one)
        first_after_settle = next(c for c in cycles if c[0] >= settled)
        assert pause_a <= first_after_settle[1], (pause_a, first_after_settle)

        rows = query(db, "SELECT apply_status FROM decisions WHERE advert_id = ?", (A,))
        assert any(r["apply_status"].startswith("reconciled") for r in rows)
        await host.settle()
        assert_books(db, host.sim.market, max_bid_minor=800 * 100)
        figures = {
            "restart_to_b_pause_s": round((pause_b - restart).total_seconds(), 1),
            "first_cycle_after_restart_s": round((first_after_restart[1] - first_after_restart[0]).total_seconds(), 1),
            "intent_to_restart_s": round((restart - intent_at).total_seconds(), 1),
            "intent_to_a_pause_s": round((pause_a - intent_at).total_seconds(), 1),
            "restart_to_a_pause_s": round((pause_a - restart).total_seconds(), 1),
            "a_settled_to_a_pause_s": round((pause_a - settled).total_seconds(), 1),
            "a_settled_to_next_cycle_start_s": round((first_after_settle[0] - settled).total_seconds(), 1),
        }
        record_property("scoped_reconcile", figures)
        print(f"\nscoped reconcile (simulated seconds): {figures}")
    finally:
        await zygote.close()
        await host.stop()

