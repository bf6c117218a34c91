"""SIGKILL at random points of the cycle, biased toward the apply phase; restart; check the books.

Each episode: a fresh simulated market (``demo``, 120x) and a fresh SQLite file; the daemon is forked
(:class:`support.Zygote`), killed with SIGKILL 1-3 times, restarted after each kill, and finally run
cleanly for two cycles and stopped with SIGTERM. Kill points, drawn at random per trial:

* ``drop``: the bids PATCH reaches the simulator; the daemon is killed and WB never handles it;
* ``applied``: WB has accepted the PATCH, the daemon is killed before it reads the answer;
* ``pending``: as soon as an intent with ``apply_status='pending'`` is committed (polled from the file);
* ``random``: at a uniformly random moment of the run (start-up, polling, evaluating, applying).

After every kill: every audit row committed before it is still there, unchanged (only ``pending`` may
become resolved later). After each episode: no intent is left pending; the bid changes the simulator
applied are exactly the decisions recorded as applied (per item and placement, in order: none applied
twice, none missing, none recorded as applied that WB never saw); no bid above the guardrail.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

from support import (
    Daemon,
    SimHost,
    Zygote,
    assert_books,
    decisions,
    demo_config,
    kill_at_point_or_after,
    query,
    scan_for_secrets,
)

SPEED = 120.0
MAX_BID_MINOR = 800 * 100  # examples/bidder.yaml: guardrails.max_bid 800
APPLIED = ("applied", "reconciled_applied")
MODES = ("drop", "applied", "pending", "random")
WEIGHTS = (3, 3, 2, 2)  # biased toward the apply phase


def pending_ids(db: Path) -> list[int]:
    """Intents still pending in the daemon's file (the daemon writes it meanwhile: a locked moment reads
    as "not yet")."""
    try:
        return [r["id"] for r in query(db, "SELECT id FROM decisions WHERE apply_status = 'pending'")]
    except Exception:
        return [-1]


def _row_key(r) -> tuple:
    return (r["id"], r["at"], r["advert_id"], r["nm_id"], r["placement"], r["action"], r["bid_before"],
            r["bid_after"], r["strategy"], r["reason"])


class Episode:
    def __init__(self, tmp: Path, n: int, zygote: Zygote, rng: random.Random) -> None:
        self.dir = tmp / f"episode-{n:03d}"
        self.dir.mkdir()
        self.rng = rng
        self.zygote = zygote
        self.db = self.dir / "bidder.db"
        self.snapshot: dict[int, tuple] = {}
        self.statuses: dict[int, str] = {}
        self.modes: Counter[str] = Counter()

    async def run(self, kills: int) -> None:
        host = self.host = await SimHost("demo", speed=SPEED, seed=self.rng.randrange(1, 10_000)).start()
        try:
            host.sim.market.advance(host.sim.now())  # build the history here, not inside the first request
            seller = host.sim.sellers["shop-a"]
            daemon = Daemon(self.zygote, demo_config(self.dir / "bidder.yaml"), f"sqlite+aiosqlite:///{self.db}",
                            host, {"WB_READ_TOKEN": seller.read_token, "WB_WRITE_TOKEN": seller.write_token},
                            self.dir / "daemon.log")
            try:
                for _ in range(kills):
                    await self.kill_once(daemon)
                    self.check_nothing_lost()
                await daemon.start()
                await daemon.wait_ready()
                await daemon.wait_cycles("shop-a", 2, within=90)
                await daemon.wait_until(lambda: not pending_ids(self.db), 90, "pending intents reconciled")
                assert await daemon.stop() == 0
            finally:
                await daemon.ensure_dead()
            await self.check_books()
            self.searched = scan_for_secrets(host.tokens(), logs=[self.dir / "daemon.log"], dbs=[self.db])
        finally:
            host.before = host.after = None
            await host.stop()

    async def kill_once(self, daemon: Daemon) -> None:
        mode = self.rng.choices(MODES, WEIGHTS)[0]
        host = self.host
        fired = asyncio.Event()

        def kill() -> None:
            if not fired.is_set():
                fired.set()
                daemon.kill(signal.SIGKILL)

        async def before(request):
            if mode == "drop" and request.method == "PATCH" and daemon.alive and not fired.is_set():
                kill()
                return "drop"
            return None

        async def after(request):
            if mode == "applied" and request.method == "PATCH" and daemon.alive:
                kill()

        host.before, host.after = before, after
        await daemon.start()
        poller = None
        try:
            if mode == "random":
                await daemon.wait_ready()
                await asyncio.sleep(self.rng.uniform(0.0, 1.2))  # the kill moment itself is the random input
                kill()
            elif mode == "pending":
                poller = asyncio.create_task(self._kill_on_pending(kill))
            # wait for the kill point, or for two cycles without one (nothing left to write): then kill
            # at this arbitrary point instead
            mode = await kill_at_point_or_after(daemon, fired, kill, lambda: daemon.cycles("shop-a", None) >= 2, mode)
        finally:
            if poller is not None:
                poller.cancel()
            host.before = host.after = None
        self.modes[mode] += 1

    async def _kill_on_pending(self, kill) -> None:
        """Kill as soon as a *new* intent is pending (older ones may wait for this start's reconcile)."""
        newest = max(self.snapshot, default=0)
        while True:
            if self.db.exists():
                try:
                    rows = query(self.db, "SELECT count(*) AS n FROM decisions WHERE apply_status = 'pending' "
                                          "AND id > ?", (newest,))
                except Exception:  # the schema is not there yet, or the file is being created
                    rows = []
                if rows and rows[0]["n"] > 0:
                    kill()
                    return
            await asyncio.sleep(0.01)

    def check_nothing_lost(self) -> None:
        """Every audit row committed before this kill is still there, unchanged; a resolved intent stays
        resolved."""
        if not self.db.exists():
            return
        try:
            rows = decisions(self.db)
        except Exception:  # killed before the schema was created
            assert not self.snapshot
            return
        now = {r["id"]: _row_key(r) for r in rows}
        status = {r["id"]: r["apply_status"] for r in rows}
        lost = set(self.snapshot) - set(now)
        assert not lost, f"audit rows lost after a SIGKILL: {sorted(lost)[:10]}"
        for i, key in self.snapshot.items():
            assert now[i] == key, f"audit row {i} changed: {self.snapshot[i]} -> {now[i]}"
            if self.statuses[i] != "pending":
                assert status[i] == self.statuses[i], f"row {i}: {self.statuses[i]} -> {status[i]}"
        self.snapshot, self.statuses = now, status

    async def check_books(self) -> None:
        await self.host.settle()
        self.check_nothing_lost()
        rows = decisions(self.db)
        pending = [r["id"] for r in rows if r["apply_status"] == "pending"]
        assert not pending, f"intents left pending after restart and reconcile: {pending}"
        self.changes = assert_books(self.db, self.host.sim.market, max_bid_minor=MAX_BID_MINOR)
        self.reconciled = Counter(r["apply_status"] for r in rows if r["apply_status"].startswith("reconciled"))


async def _trials(tmp_path: Path, trials: int, seed: int) -> dict:
    rng = random.Random(seed)
    zygote = await Zygote().start()
    t0 = time.monotonic()
    modes: Counter[str] = Counter()
    reconciled: Counter[str] = Counter()
    changes = episodes = 0
    try:
        while sum(modes.values()) < trials:
            kills = min(rng.randint(1, 3), trials - sum(modes.values()))
            ep = Episode(tmp_path, episodes, zygote, rng)
            await ep.run(kills)
            episodes += 1
            modes.update(ep.modes)
            reconciled.update(ep.reconciled)
            changes += ep.changes
    finally:
        await zygote.close()
    summary = {"trials": sum(modes.values()), "episodes": episodes, "modes": dict(modes),
               "reconciled": dict(reconciled), "bid_changes_checked": changes,
               "seconds": round(time.monotonic() - t0, 1)}
    print(f"\nSIGKILL trials: {summary}")
    return summary


async def test_sigkill_anywhere_loses_nothing_and_applies_nothing_twice(tmp_path, long_run, record_property):
    seed = int(os.environ.get("BIDDER_CRASH_SEED", "20261124"))
    summary = await _trials(tmp_path, 200 if long_run else 20, seed)
    record_property("crash_trials", summary)
    assert summary["trials"] >= (200 if long_run else 20)
    # the trials did exercise the interesting paths
    assert summary["bid_changes_checked"] > 0
    assert sum(summary["reconciled"].values()) > 0, summary


async def test_kill_after_wb_accepted_a_bid_but_before_its_30s_tick(tmp_path):
    """WB applies bid changes on 30-second ticks: a daemon killed right after WB accepted its PATCH and
    restarted at once may re-read the bids before the tick. The intent must not be recorded as "not
    applied" when WB goes on to apply it (the books would then show a change nobody decided)."""
    zygote = await Zygote().start()
    try:
        rng = random.Random(7)
        ep = Episode(tmp_path, 0, zygote, rng)
        ep.modes = Counter()
        global SPEED
        saved, SPEED = SPEED, 10.0  # a tick is 3 s of real time: the restart (~0.3 s) comes before it
        try:
            host = ep.host = await SimHost("demo", speed=SPEED, seed=3).start()
        finally:
            SPEED = saved
        try:
            host.sim.market.advance(host.sim.now())
            seller = host.sim.sellers["shop-a"]
            daemon = Daemon(zygote, demo_config(ep.dir / "bidder.yaml"), f"sqlite+aiosqlite:///{ep.db}", host,
                            {"WB_READ_TOKEN": seller.read_token, "WB_WRITE_TOKEN": seller.write_token},
                            ep.dir / "daemon.log")
            killed = asyncio.Event()

            async def after(request):
                if request.method == "PATCH" and not killed.is_set():
                    killed.set()
                    daemon.kill(signal.SIGKILL)

            host.after = after
            try:
                await daemon.start()
                await asyncio.wait_for(killed.wait(), 120)
                assert await daemon.wait_exit(30) == -signal.SIGKILL
                host.after = None
                pending_at_wb = sum(len(host.sim.market.campaign(c.advert_id).pending_bids)
                                    for c in host.spec.sellers[0].campaigns)
                assert pending_at_wb > 0, "the test needs WB to hold the accepted bids until its tick"
                await daemon.start()
                await daemon.wait_ready()
                await daemon.wait_cycles("shop-a", 1, within=120)
                # reconciling waits for WB's tick, counted from each intent's time, while cycles go on
                await daemon.wait_until(lambda: not pending_ids(ep.db), 120, "pending intents reconciled")
                assert await daemon.stop() == 0
            finally:
                await daemon.ensure_dead()
            await ep.check_books()
            assert ep.reconciled.get("reconciled_applied", 0) > 0, ep.reconciled
        finally:
            await host.stop()
    finally:
        await zygote.close()
