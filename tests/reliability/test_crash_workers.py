"""The SIGKILL trials of ``test_crash.py`` with two worker processes on PostgreSQL (issue 20).

Each episode: a fresh simulated market (``demo``, 120x) and a fresh database on the throwaway PostgreSQL;
two daemons (``A``, ``B``: real processes forked by the zygote, lease TTL 4 s) share the account. Per
trial the worker *holding* ``shop-a`` is killed with SIGKILL at a drawn point (``drop``: its bids PATCH
reaches WB and is dropped; ``applied``: WB accepted it and the answer is lost; ``pending``: as soon as
a new intent is committed; ``random``), the other worker takes the account over (its first successful
cycle is waited for), and the killed one is started again as the standby. After every kill every audit
row committed before it is still there, unchanged (a resolved intent stays resolved); after each
episode no intent is pending, WB's applied bid changes are exactly the decisions recorded as applied
(none twice, none missing, none phantom), no bid above the guardrail, and no token in the logs or any
table. CI: 4 trials; ``--long``: 40. The takeover times (SIGKILL to the survivor's first successful
cycle) are printed.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from support import Daemon, SimHost, Zygote, demo_config, kill_at_point_or_after, query, scan_for_secrets
from test_crash import MODES, SPEED, WEIGHTS, Episode

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(900)]

TTL = 4.0


class PgUrl(str):
    """The episode's database: a PostgreSQL URL that answers ``exists()`` as the SQLite path does."""

    def exists(self) -> bool:
        return True


def _holder(url: str) -> str | None:
    rows = query(url, "SELECT holder FROM leases WHERE name = 'shop-a' AND expires_at > now()")
    return rows[0]["holder"] if rows else None


class WorkersEpisode(Episode):
    def __init__(self, tmp: Path, n: int, zygote: Zygote, rng: random.Random, url: str) -> None:
        super().__init__(tmp, n, zygote, rng)
        self.db = PgUrl(url)  # support.query / decisions / assert_books read PostgreSQL URLs too
        self.takeovers: list[float] = []

    async def run(self, kills: int) -> None:
        host = self.host = await SimHost("demo", speed=SPEED, seed=self.rng.randrange(1, 10_000)).start()
        daemons: dict[str, Daemon] = {}
        try:
            host.sim.market.advance(host.sim.now())
            seller = host.sim.sellers["shop-a"]
            env = {"WB_READ_TOKEN": seller.read_token, "WB_WRITE_TOKEN": seller.write_token,
                   "BIDDER_LEASE_TTL": str(TTL)}
            config = demo_config(self.dir / "bidder.yaml")
            for wid in ("A", "B"):
                daemons[wid] = Daemon(self.zygote, config, self.db, host, {**env, "BIDDER_WORKER_ID": wid},
                                      self.dir / f"{wid}.log")
                await daemons[wid].start()
                await daemons[wid].wait_ready()
            try:
                for _ in range(kills):
                    holder = await self._wait_holder(daemons)
                    victim, survivor = daemons[holder], daemons["B" if holder == "A" else "A"]
                    mark = len(survivor.lines)
                    killed_at = await self.kill_once(victim)
                    self.check_nothing_lost()
                    await survivor.wait_until(lambda s=survivor, m=mark: s.cycles("shop-a", True, m) >= 1,
                                              3 * TTL + 60, f"worker {survivor.env['BIDDER_WORKER_ID']} taking over")
                    self.takeovers.append(round(time.monotonic() - killed_at, 1))
                    print(f"  episode {self.dir.name}: killed {holder} ({list(self.modes)[-1]}), taken over in "
                          f"{self.takeovers[-1]} s", flush=True)
                    await victim.start()  # back as the standby
                    await victim.wait_ready()
                holder = daemons[await self._wait_holder(daemons)]
                mark = len(holder.lines)
                await holder.wait_until(lambda: holder.cycles("shop-a", True, mark) >= 2, 90, "two cycles")
                await holder.wait_until(lambda: not _pending(self.db), 90, "pending intents reconciled")
                for d in daemons.values():
                    assert await d.stop() == 0
            finally:
                for d in daemons.values():
                    await d.ensure_dead()
            await self.check_books()
            self.searched = scan_for_secrets(host.tokens(), logs=[d.log_path for d in daemons.values()],
                                             dbs=[self.db])
        finally:
            host.before = host.after = None
            await host.stop()

    async def _wait_holder(self, daemons: dict[str, Daemon]) -> str:
        deadline = time.monotonic() + 3 * TTL + 30
        while time.monotonic() < deadline:
            holder = _holder(self.db)
            if holder in daemons and daemons[holder].alive:
                return holder
            await asyncio.sleep(0.1)
        raise AssertionError("no live worker holds shop-a")

    async def kill_once(self, daemon: Daemon) -> float:  # the daemon runs; returns when it was killed
        mode = self.rng.choices(MODES, WEIGHTS)[0]
        host = self.host
        fired = asyncio.Event()
        killed_at = [0.0]

        def kill() -> None:
            if not fired.is_set():
                fired.set()
                killed_at[0] = time.monotonic()
                daemon.kill(signal.SIGKILL)

        async def before(request):  # only the holder of the one account talks to WB
            if mode == "drop" and request.method == "PATCH" and daemon.alive and not fired.is_set():
                kill()
                return "drop"
            return None

        async def after(request):
            if mode == "applied" and request.method == "PATCH" and daemon.alive:
                kill()

        host.before, host.after = before, after
        poller = None
        mark = len(daemon.lines)
        try:
            if mode == "random":
                await asyncio.sleep(self.rng.uniform(0.0, 1.2))
                kill()
            elif mode == "pending":
                poller = asyncio.create_task(self._kill_on_pending_pg(kill))
            mode = await kill_at_point_or_after(daemon, fired, kill, lambda: daemon.cycles("shop-a", None, mark) >= 2, mode)
        finally:
            if poller is not None:
                poller.cancel()
            host.before = host.after = None
        self.modes[mode] += 1
        return killed_at[0]

    async def _kill_on_pending_pg(self, kill) -> None:
        newest = max(self.snapshot, default=0)
        while True:
            rows = query(self.db, "SELECT count(*) AS n FROM decisions WHERE apply_status = 'pending' AND id > ?",
                         (newest,))
            if rows and rows[0]["n"] > 0:
                kill()
                return
            await asyncio.sleep(0.01)


def _pending(url: str) -> list[int]:
    return [r["id"] for r in query(url, "SELECT id FROM decisions WHERE apply_status = 'pending'")]


async def test_sigkill_of_the_lease_holder_with_two_workers_loses_nothing_and_applies_nothing_twice(
        tmp_path, postgres_server, long_run):
    from bidder.store.migrate import upgrade

    trials = 40 if long_run else 4
    rng = random.Random(int(os.environ.get("BIDDER_CRASH_SEED", "20261207")))
    zygote = await Zygote().start()
    modes: Counter[str] = Counter()
    reconciled: Counter[str] = Counter()
    takeovers: list[float] = []
    changes = episodes = 0
    t0 = time.monotonic()
    try:
        while sum(modes.values()) < trials:
            kills = min(rng.randint(1, 2), trials - sum(modes.values()))
            name = f"bidder_workers_{uuid.uuid4().hex[:10]}"
            with postgres_server.admin_connect() as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = postgres_server.url(name)
            try:
                await upgrade(url)  # the workers would migrate one at a time; done here once
                ep = WorkersEpisode(tmp_path, episodes, zygote, rng, url)
                await ep.run(kills)
            finally:
                with postgres_server.admin_connect() as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            episodes += 1
            modes.update(ep.modes)
            reconciled.update(ep.reconciled)
            takeovers += ep.takeovers
            changes += ep.changes
    finally:
        await zygote.close()
    summary = {"trials": sum(modes.values()), "episodes": episodes, "modes": dict(modes),
               "reconciled": dict(reconciled), "bid_changes_checked": changes, "takeover_s": takeovers,
               "seconds": round(time.monotonic() - t0, 1)}
    print(f"\nSIGKILL trials, two workers on PostgreSQL: {summary}")
    assert summary["trials"] >= trials and changes > 0
