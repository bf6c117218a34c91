"""Issue 21's scoped reconciliation with two workers on PostgreSQL (issue 20): the lease holder is killed
right after WB accepted a bids PATCH for campaign A (1000001); the other worker takes the account over.

The standby started with the new config (the schedule hours of A and of B (1000004) have ended), as an
operator rolling out a config change would; the holder still runs the old one. Shown, in simulated time from the simulator's own request log and the cycle rows:

* B's schedule pause reaches the simulator by the end of the survivor's first cycle after the kill (A's
  pending bids, recorded by the dead worker, do not hold it);
* nothing at all is sent for A before its intents' bid tick (30 s) plus the call margin has passed since
  they were recorded; A is re-read, its intents resolved, and it is paused by the first cycle of the
  survivor that starts after that;
* the books balance: no intent left pending, WB's bid log equals the audit trail.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support import Daemon, SimHost, Zygote, assert_books, named_adverts, query
from test_crash_scoped import MOSCOW, SETTLE, A, B, _config, _t

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]

SPEED = 30.0
TTL = 4.0


async def test_a_pending_bid_holds_only_its_campaign_after_the_holder_dies(tmp_path: Path, postgres_url: str) -> None:
    host = await SimHost("demo", speed=SPEED, seed=1).start()
    zygote = await Zygote().start()
    db = postgres_url
    cfg = tmp_path / "bidder.yaml"
    log: list[tuple[datetime, str, str, set[int]]] = []  # (sim time, method, path, campaigns named)
    workers: dict[str, Daemon] = {}
    try:
        host.sim.market.advance(host.sim.now())
        seller = host.sim.sellers["shop-a"]
        env = {"WB_READ_TOKEN": seller.read_token, "WB_WRITE_TOKEN": seller.write_token, "BIDDER_LEASE_TTL": str(TTL)}
        _config(cfg, None)
        for wid in ("A", "B"):
            workers[wid] = Daemon(zygote, cfg, db, host, {**env, "BIDDER_WORKER_ID": wid}, tmp_path / f"{wid}.log")
        killed = asyncio.Event()
        victim: list[Daemon] = []
        at_kill: dict[str, object] = {}

        async def before(request):
            log.append((host.sim.now(), request.method, request.path, await named_adverts(request)))
            return None

        async def after(request):
            if request.method == "PATCH" and victim and not killed.is_set() and A in log[-1][3]:
                killed.set()
                victim[0].kill(signal.SIGKILL)
                at_kill.update(time=host.sim.now(), mark=len(log))

        host.before, host.after = before, after
        try:
            # the first worker claims the account and serves it with the old config; the second starts
            # with the new one (the hours of A and B have ended), as an operator rolling out a config
            # change would, and stays the standby (every account is served: it claims nothing)
            holder_d, survivor = workers["A"], workers["B"]
            await holder_d.start()
            await holder_d.wait_ready()
            await holder_d.wait_cycles("shop-a", 1, ok=None, within=60)
            local = host.sim.now().astimezone(MOSCOW)
            _config(cfg, f"{(local - timedelta(hours=3)):%H:%M}-{(local - timedelta(minutes=1)):%H:%M}")
            await survivor.start()
            await survivor.wait_ready()
            rows = query(db, "SELECT holder FROM leases WHERE name = 'shop-a' AND expires_at > now()")
            assert rows and rows[0]["holder"] == "A", rows
            victim.append(holder_d)  # killed at its next bids PATCH for A that WB accepts
            await asyncio.wait_for(killed.wait(), 180)
            assert await victim[0].wait_exit(30) == -signal.SIGKILL
            kill_at, mark = at_kill["time"], at_kill["mark"]
            pending = query(db, "SELECT advert_id, at FROM decisions WHERE apply_status = 'pending'")
            assert A in {r["advert_id"] for r in pending}, "the kill left A's bid intents pending"
            intent_at = max(_t(str(r["at"])) if not isinstance(r["at"], datetime) else r["at"]
                            for r in pending if r["advert_id"] == A)

            def paused(advert: int) -> datetime | None:
                return next((t for t, m, p, ids in log[mark:] if p == "/adv/v0/pause" and advert in ids), None)

            await survivor.wait_until(lambda: paused(A) is not None and paused(B) is not None, 180,
                                      "both schedule pauses from the survivor")
            await survivor.wait_until(
                lambda: not query(db, "SELECT id FROM decisions WHERE apply_status = 'pending'"), 60,
                "no intent pending")
            await survivor.wait_cycles("shop-a", 1, within=60)
            assert await survivor.stop() == 0
        finally:
            for d in workers.values():
                await d.ensure_dead()
        host.before = host.after = None

        cycles = [(r["started_at"], r["finished_at"]) for r in
                  query(db, "SELECT started_at, finished_at FROM cycles WHERE finished_at IS NOT NULL ORDER BY id")]
        pause_b, pause_a = paused(B), paused(A)
        assert pause_a is not None and pause_b is not None
        first_after_kill = next(c for c in cycles if c[0] >= kill_at)
        assert pause_b <= first_after_kill[1], (pause_b, first_after_kill)
        assert sum(1 for _, _, p, ids in log[mark:] if p == "/adv/v0/pause" and B in ids) == 1
        settled = intent_at + SETTLE
        early = [(t, m, p) for t, m, p, ids in log[mark:] if A in ids and t < settled]
        assert early == [], early
        first_after_settle = next(c for c in cycles if c[0] >= settled)
        assert pause_a <= first_after_settle[1], (pause_a, first_after_settle)
        rows = query(db, "SELECT apply_status FROM decisions WHERE advert_id = ?", (A,))
        assert any(r["apply_status"].startswith("reconciled") for r in rows)
        await host.settle()
        assert_books(db, host.sim.market, max_bid_minor=800 * 100)
        print(f"\nscoped reconcile after a takeover (simulated s): kill -> B paused "
              f"{(pause_b - kill_at).total_seconds():.1f}, intent -> A paused {(pause_a - intent_at).total_seconds():.1f}")
    finally:
        await zygote.close()
        await host.stop()
