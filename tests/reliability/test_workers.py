"""Several workers on one PostgreSQL (issue 20): real daemon processes (``daemon_child.py`` forked by a
:class:`support.Zygote`), the simulator over loopback HTTP, the throwaway PostgreSQL of the conftest.

* two workers share the accounts (each serves its own, none serves an account the other serves), and
  when one is killed with SIGKILL the other serves its accounts again;
* a worker frozen with SIGSTOP in the middle of a cycle past its lease TTL is taken over; resumed with
  SIGCONT while the new holder is frozen (so that anything reaching WB or the audit trail is the old
  worker's), it sends no write and records nothing at all: no intent, and no row of any table changes
  (campaigns, statistics, cycles, alerts, observations, ...: every store write checks the lease; only the
  lease bookkeeping tables ``leases`` / ``workers`` are left out) (fenced_writes = 0); the books then agree: the
  simulator's applied bid changes are exactly the decisions recorded as applied (no double applies).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import defaultdict
from pathlib import Path

import pytest
from support import Daemon, SimHost, Zygote, demo_config, tail, write_config

pytestmark = pytest.mark.postgres

TTL = 4.0  # real seconds; heartbeat every TTL / 3
APPLIED = ("applied", "reconciled_applied")


def _pg_rows(url: str, sql: str, params: tuple = ()) -> list[dict]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), row_factory=dict_row) as conn:
        return list(conn.execute(sql, params))


def _decisions(url: str) -> list[dict]:
    return _pg_rows(url, "SELECT d.*, a.name AS account FROM decisions d JOIN accounts a ON a.id = d.account_id "
                         "ORDER BY d.id")


def _tables(url: str) -> dict[str, list[str]]:
    """Every row of every table but the lease bookkeeping (``leases``, ``workers``: the heartbeat's own),
    for comparing the whole database before and after a fenced worker ran."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+asyncpg://", "postgresql://")) as conn:
        names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                            "AND tablename NOT IN ('leases', 'workers', 'alembic_version')")]
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in sorted(names)}


def _holders(url: str) -> dict[str, str | None]:
    return {r["name"]: r["holder"] for r in _pg_rows(url, "SELECT name, holder FROM leases WHERE expires_at > now()")}


def _worker(zygote, config: Path, url: str, host: SimHost, env: dict, tmp: Path, wid: str) -> Daemon:
    env = {**env, "BIDDER_WORKER_ID": wid, "BIDDER_LEASE_TTL": str(TTL)}
    return Daemon(zygote, config, url, host, env, tmp / f"{wid}.log")


async def _until(cond, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.1)


def _books(url: str, market) -> int:
    """The simulator's applied bid changes equal the decisions recorded as applied (per item and
    placement, in order): none applied twice, none missing."""
    wb: dict[tuple, list[int]] = defaultdict(list)
    for e in market.bid_log:
        if e.get("norm_query") is None:
            wb[(e["advert_id"], e["nm_id"], e["placement"])].append(e["new"])
    audit: dict[tuple, list[int]] = defaultdict(list)
    for r in _decisions(url):
        if r["action"] == "set_bid" and r["apply_status"] in APPLIED and not r["dry_run"]:
            audit[(r["advert_id"], r["nm_id"], r["placement"])].append(r["bid_after"])
    assert dict(wb) == dict(audit), f"WB: {dict(wb)}\naudit: {dict(audit)}"
    return sum(len(v) for v in audit.values())


async def test_two_workers_share_the_accounts_and_take_over_after_sigkill(tmp_path, postgres_url):
    host = await SimHost("scale:4x3x2", speed=60.0, seed=5).start()
    zygote = await Zygote().start()
    a = b = None
    try:
        host.sim.market.advance(host.sim.now())
        sellers = sorted(host.sim.sellers)
        env, accounts = {}, []
        for i, name in enumerate(sellers):
            s = host.sim.sellers[name]
            env[f"WB_READ_{i}"], env[f"WB_WRITE_{i}"] = s.read_token, s.write_token
            accounts.append({"name": name, "read_env": f"WB_READ_{i}", "write_env": f"WB_WRITE_{i}"})
        config = write_config(tmp_path / "bidder.yaml", accounts)
        a = _worker(zygote, config, postgres_url, host, env, tmp_path, "A")
        b = _worker(zygote, config, postgres_url, host, env, tmp_path, "B")
        await a.start()
        await a.wait_ready()
        await b.start()
        await b.wait_ready()

        def balanced() -> bool:
            h = _holders(postgres_url)
            return (sorted(h) == sellers and sum(v == "A" for v in h.values()) == 2
                    and sum(v == "B" for v in h.values()) == 2)

        await _until(balanced, 4 * TTL, "two accounts each")
        holders = _holders(postgres_url)
        mine = {w: sorted(n for n, h in holders.items() if h == w) for w in "AB"}
        for w, d in (("A", a), ("B", b)):
            for name in mine[w]:
                await d.wait_cycles(name, 1, ok=None, within=30)
        mark_a, mark_b = len(a.lines), len(b.lines)
        # every account completes a cycle from here (an event, not a time: a loaded host is slow), then
        # each was served by one worker only
        await _until(lambda: all(a.cycles(n, None, mark_a) + b.cycles(n, None, mark_b) for n in sellers), 60,
                     "a cycle of every account")
        for name in sellers:  # each account served by one worker only
            served = [w for w, d, m in (("A", a, mark_a), ("B", b, mark_b)) if d.cycles(name, None, m)]
            assert served == [holders[name]], (name, served)

        killed_at = time.monotonic()
        a.kill(signal.SIGKILL)
        assert await a.wait_exit(30) == -signal.SIGKILL
        mark_b = len(b.lines)
        await b.wait_until(lambda: all(b.cycles(n, None, mark_b) for n in mine["A"]), 3 * TTL + 30,
                           f"B serving A's accounts {mine['A']}")
        takeover_s = time.monotonic() - killed_at
        print(f"\ntakeover after SIGKILL: {takeover_s:.1f} s (TTL {TTL:.0f} s)")
        assert sorted(_holders(postgres_url)) == sellers and set(_holders(postgres_url).values()) == {"B"}
        assert await b.stop() == 0
        assert not _pg_rows(postgres_url, "SELECT 1 FROM decisions WHERE apply_status = 'pending'")
        assert not _holders(postgres_url), "SIGTERM releases the leases"
        await host.settle()
        _books(postgres_url, host.sim.market)
    finally:
        for d in (a, b):
            if d is not None:
                await d.ensure_dead()
        await zygote.close()
        await host.stop()


async def test_a_worker_frozen_past_its_lease_neither_records_nor_sends(tmp_path, postgres_url):
    host = await SimHost("demo", speed=60.0, seed=3).start()
    zygote = await Zygote().start()
    a = b = None
    try:
        host.sim.market.advance(host.sim.now())
        seller = host.sim.sellers["shop-a"]
        env = {"WB_READ_TOKEN": seller.read_token, "WB_WRITE_TOKEN": seller.write_token}
        config = demo_config(tmp_path / "bidder.yaml")
        a = _worker(zygote, config, postgres_url, host, env, tmp_path, "A")
        b = _worker(zygote, config, postgres_url, host, env, tmp_path, "B")
        await a.start()
        await a.wait_ready()
        await a.wait_cycles("shop-a", 2, within=60)
        await b.start()
        await b.wait_ready()  # B holds nothing: every request the simulator gets now is A's
        assert _holders(postgres_url) == {"shop-a": "A"}

        frozen = asyncio.Event()
        requests = {"writes": 0}

        async def before(request):
            if request.method in ("PATCH", "POST") and "stats" not in request.path \
                    and "get-bids" not in request.path:
                requests["writes"] += 1
            if not frozen.is_set():  # freeze A in the middle of a cycle, its request in flight
                frozen.set()
                a.kill(signal.SIGSTOP)
            return None

        host.before = before
        await asyncio.wait_for(frozen.wait(), 60)
        mark_b = len(b.lines)
        await b.wait_until(lambda: b.cycles("shop-a", True, mark_b) >= 2, 3 * TTL + 60, "B taking over shop-a")
        assert _holders(postgres_url) == {"shop-a": "B"}
        epoch = _pg_rows(postgres_url, "SELECT epoch FROM leases WHERE name = 'shop-a'")[0]["epoch"]

        b.kill(signal.SIGSTOP)  # now anything reaching WB or the audit trail is A's
        # B's lease must hold while A runs (B's heartbeat is frozen too): stand in for its renewal
        _pg_rows(postgres_url, "UPDATE leases SET expires_at = clock_timestamp() + interval '60 seconds' "
                               "WHERE name = 'shop-a' AND holder = 'B' RETURNING name")
        await asyncio.sleep(0.3)
        writes_before = requests["writes"]
        last_id = max((r["id"] for r in _decisions(postgres_url)), default=0)
        tables_before = _tables(postgres_url)
        mark_a = len(a.lines)
        a.kill(signal.SIGCONT)
        await asyncio.sleep(TTL / 2)  # A resumes its cycle and runs its heartbeat; B's lease still holds
        fenced_writes = requests["writes"] - writes_before
        fenced_intents = [r for r in _decisions(postgres_url) if r["id"] > last_id]
        tables_after = _tables(postgres_url)  # no row of any kind: campaigns, statistics, cycles, alerts, ...
        fenced_rows = {t: (sorted(set(tables_after[t]) - set(rows)), sorted(set(rows) - set(tables_after[t])))
                       for t, rows in tables_before.items() if tables_after.get(t) != rows}
        assert _pg_rows(postgres_url, "SELECT epoch FROM leases WHERE name = 'shop-a'")[0]["epoch"] == epoch
        b.kill(signal.SIGCONT)
        print(f"\nfenced_writes = {fenced_writes}, intents recorded by the fenced worker = {len(fenced_intents)}, "
              f"tables changed by it = {len(fenced_rows)}; "
              f"A after SIGCONT: {a.lines[mark_a:]}")
        assert fenced_writes == 0
        assert fenced_intents == [], fenced_intents
        assert fenced_rows == {}, f"written by the fenced worker (added, removed): {fenced_rows}"
        assert sorted(tables_before) == sorted(tables_after)
        # the cycle A was frozen in may finish (it read WB, decided nothing it could record): nothing applied
        assert all(line.split()[-1] == "0" for line in a.lines[mark_a:] if line.startswith("CYCLE")), a.lines
        assert a.cycles("shop-a", None, mark_a) <= 1, a.lines[mark_a:]  # and no new cycle started
        log = Path(tmp_path / "A.log").read_text(errors="replace")
        assert "lease on shop-a lost" in log, tail(tmp_path / "A.log")

        host.before = None
        mark_b = len(b.lines)
        await b.wait_cycles("shop-a", 2, within=60)
        assert await b.stop() == 0
        assert await a.stop() == 0
        await host.settle()
        assert not _pg_rows(postgres_url, "SELECT 1 FROM decisions WHERE apply_status = 'pending'")
        _books(postgres_url, host.sim.market)
    finally:
        for d in (a, b):
            if d is not None:
                with_cont = d.alive
                if with_cont:
                    os.kill(d.pid, signal.SIGCONT)
                await d.ensure_dead()
        await zygote.close()
        await host.stop()
