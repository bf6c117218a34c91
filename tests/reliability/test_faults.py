"""A bad day for a running daemon with seven accounts: one WB fault per seller at once, Telegram down,
hostile Telegram commands, the database locked; then the secrets scan over everything it left behind.

* shop-1: 5xx storm; shop-2: 429 storm with ``X-Ratelimit-Retry``; shop-3: replies slower than the
  client's timeout; shop-4: malformed JSON; shop-5: missing fields; shop-6: tokens revoked (401, for
  good); shop-7: healthy, and its operator pauses its campaigns in the middle of the storm.
* Telegram's Bot API answers 502 to every send while WB misbehaves, then recovers.
* The SQLite file is held by another connection with ``BEGIN EXCLUSIVE`` (CI: 10 s, under SQLite's
  30 s busy timeout, so writers stall; ``--long``: 40 s, so statements fail with "database is locked");
  afterwards shop-1 fails once more, to show that alerts are still produced and delivered.

Checked: the daemon never crashes (it stops with SIGTERM and exit 0 at the end); exactly one
``account_failing`` alert per failing seller and none for the healthy one; every failing seller but the
revoked one recovers (``account_recovered``) once its fault is lifted; the healthy seller's cycles keep
succeeding and its writes keep being applied during the storm; every alert reaches Telegram once it is
back (the outbox drains); no intent is left pending after a restart; the bid changes WB applied are
exactly the decisions recorded as applied; hostile commands get a valid reply or none (foreign chat);
and no token string appears in the logs, the database or any Telegram message.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from fakes.telegram_api import FakeTelegram
from support import (
    REPO,
    Daemon,
    SimHost,
    Workers,
    Zygote,
    alerts,
    assert_books,
    client_pid,
    decisions,
    query,
    scan_for_secrets,
    write_config,
)

from bidder.sim.tokens import read_claims

SCENARIO = str(Path(__file__).with_name("data") / "seven_sellers.yaml")
SELLERS = [f"shop-{k}" for k in range(1, 8)]
FAULTS = {
    "shop-1": {"error_rate": 1.0},
    "shop-2": {"rate_limit_rate": 1.0, "rate_limit_retry": 5},
    "shop-3": {"slow_rate": 1.0, "slow_seconds": 1.0},  # the client's timeout is 30 s / 120 = 0.25 s real
    "shop-4": {"malformed_rate": 1.0},
    "shop-5": {"missing_field_rate": 1.0},
}
HEALED = {"error_rate": 0.0, "rate_limit_rate": 0.0, "slow_rate": 0.0, "malformed_rate": 0.0,
          "missing_field_rate": 0.0}
REVOKED, HEALTHY = "shop-6", "shop-7"
BOT_TOKEN = "7012345678:AAHrel1ab1l1tyTestT0kenNotARealOne_x9"
CHAT, FOREIGN_CHAT = 4242, 999
SPEED = 120.0


def _env(host: SimHost) -> dict[str, str]:
    env = {}
    for k, name in enumerate(SELLERS, 1):
        s = host.sim.sellers[name]
        env[f"WB_READ_{k}"], env[f"WB_WRITE_{k}"] = s.read_token, s.write_token
    return env


def _config(path: Path) -> Path:
    return write_config(path, [
        {"name": name, "read_env": f"WB_READ_{k}", "write_env": f"WB_WRITE_{k}", "max_bid": 800}
        for k, name in enumerate(SELLERS, 1)
    ])


async def _cli(args: list[str], env: dict[str, str], log: Path) -> int:
    """The real ``bidder`` CLI in a subprocess; its output is appended to ``log`` (for the secrets scan)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("BIDDER_", "WB_"))}
    full.update(env)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bidder", *args, env=full, cwd=str(REPO),
                                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    with log.open("ab") as f:
        f.write(out)
    assert proc.returncode == 0, out.decode(errors="replace")
    return proc.returncode


async def _until(cond, within: float, what: str) -> None:
    """Poll a condition on the database (no event to wait on there) until it holds or time runs out."""
    async def _wait() -> None:
        while not cond():  # noqa: ASYNC110 - the condition is in another process's database
            await asyncio.sleep(0.1)
    try:
        await asyncio.wait_for(_wait(), within)
    except TimeoutError:
        raise AssertionError(f"timed out after {within}s waiting for {what}") from None


# postgresql: behind --long for now: about one run in four repeats an account_failing alert of an account
# handed back and forth during the storm (a defect found by this test, not fixed yet; the message names the
# alerts and the lease moves)
@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.slow])])
async def test_a_bad_day(tmp_path: Path, long_run: bool, store: str, request: pytest.FixtureRequest) -> None:
    """``sqlite``: one daemon on a SQLite file. ``postgresql`` (issue 20): two worker processes on the
    throwaway PostgreSQL sharing the seven accounts by lease; in the middle of the storm the worker holding
    the most accounts is killed with SIGKILL and comes back (its accounts move to the other worker and
    back: the alerts must not repeat across workers); the database fault is the busiest tables held with
    ``LOCK TABLE … ACCESS EXCLUSIVE``; the same checks, over both workers' logs."""
    # CI: shorter than SQLite's busy_timeout (30 s): writers stall and go on. --long: longer, so that
    # every statement in the window fails with "database is locked"
    lock_seconds = 40.0 if long_run else 10.0
    host = await SimHost(SCENARIO, speed=SPEED).start()
    host.sim.market.advance(host.sim.now())
    zygote = await Zygote().start()
    pg = store == "postgresql"
    if pg:
        db = db_url = await _pg_database(request)
    else:
        db = tmp_path / "bidder.db"
        db_url = f"sqlite+aiosqlite:///{db}"
    cfg = _config(tmp_path / "bidder.yaml")
    tokens = _env(host)
    cli_log = tmp_path / "cli.log"
    async with FakeTelegram(BOT_TOKEN) as tg:
        tg.fail("sendMessage", status=502, description="Bad Gateway", times=1_000_000)
        tg.fail("sendPhoto", status=502, description="Bad Gateway", times=1_000_000)
        env = dict(tokens, BIDDER_TELEGRAM_BOT_TOKEN=BOT_TOKEN, BIDDER_TELEGRAM_CHAT_IDS=str(CHAT),
                   BIDDER_TELEGRAM_API_URL=tg.url)
        daemon: Daemon | Workers = (Workers(zygote, cfg, db_url, host, env, tmp_path / "daemon.log") if pg
                                    else Daemon(zygote, cfg, db_url, host, env, tmp_path / "daemon.log"))
        try:
            await daemon.start()
            await daemon.wait_ready()
            for name in SELLERS:  # a healthy baseline
                await daemon.wait_cycles(name, 1, within=90)

            # ---------------------------------------------------------------- the storm
            # who sent each of shop-2's requests (one process paces a seller; a hand-over moves it)
            sent_by: list[tuple[datetime, str, int | None]] = []
            ports: dict[int, int | None] = {}
            shop2 = host.sim.sellers["shop-2"].seller_id
            daemons = list(daemon.daemons.values()) if pg else [daemon]

            async def who(req):
                with contextlib.suppress(Exception):
                    if read_claims(req.headers.get("Authorization", "")).seller_id == shop2:
                        sent_by.append((host.sim.now(), f"{req.method} {req.path}",
                                        client_pid(req, [d.pid for d in daemons if d.alive], ports)))
                return None

            host.before = who
            for name, settings in FAULTS.items():
                await host.faults(settings, seller=name)
            await host.revoke(REVOKED)
            if pg:
                await _kill_busiest_worker(daemon)
            mark = daemon.mark()
            cli_env = dict(tokens, BIDDER_DATABASE_URL=db_url, BIDDER_CONFIG=str(cfg), BIDDER_WB_ADVERT_URL=host.url)
            await _cli(["pause-all", "--account", HEALTHY, "--no-apply"], cli_env, cli_log)
            paused_at = daemon.mark()  # cycles finishing before this may have read the state before it
            for name in [*FAULTS, REVOKED]:
                await daemon.wait_until(lambda n=name: daemon.cycles(n, False, mark) >= 2, 120,
                                        f"two failed cycles of {name}")
            # at least one whole cycle after the operator's pause was committed (the first one counted may
            # have begun before it)
            await daemon.wait_until(lambda: daemon.cycles(HEALTHY, True, mark) >= 3
                                    and daemon.cycles(HEALTHY, True, paused_at) >= 2, 120, "healthy cycles")
            assert daemon.alive
            paused = [r for r in decisions(db, HEALTHY) if r["action"] == "pause"]
            assert paused and {r["apply_status"] for r in paused} == {"applied"}, [dict(r) for r in paused]
            await host.settle()
            pauses_at_wb = {(e["advert_id"], e["new"]) for e in host.report()["status_changes"]
                            if e["seller"] == HEALTHY}
            assert {(r["advert_id"], 11) for r in paused} <= pauses_at_wb
            assert not tg.sent, "Telegram is down: nothing can have been delivered"

            # the 429 storm: after each 429 the daemon waited the X-Ratelimit-Retry (5 s) before asking
            # that endpoint again
            # that endpoint again. Per process: the pacer is in-process; with two workers a hand-over moves
            # shop-2 to a process that has not seen the 429 (WB's wait is not handed over: counted, not failed)
            host.before = None
            storm = [r for r in host.sim.rejected if r["seller"] == "shop-2" and r["status"] == 429]
            assert len(storm) >= 2
            storm_from = min(datetime.fromisoformat(r["time"]) for r in storm)
            by_method: dict[tuple[str, int | None], list[datetime]] = {}
            for t, method, pid in sent_by:
                if t >= storm_from:
                    by_method.setdefault((method, pid), []).append(t)
            assert by_method and all(pid is not None for _, pid in by_method), list(by_method)
            for (method, pid), times in by_method.items():
                gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
                short = [(times[i].isoformat(), times[i + 1].isoformat()) for i, g in enumerate(gaps) if g < 4.9]
                assert not short, (method, pid, short, gaps)
            if pg:
                merged = sorted((t, m, pid) for t, m, pid in sent_by if t >= storm_from)
                across = sum(1 for (t0, m0, p0), (t1, m1, p1) in zip(merged, merged[1:], strict=False)
                             if m0 == m1 and p0 != p1 and (t1 - t0).total_seconds() < 4.9)
                print(f"\n429 storm: {len(merged)} requests of shop-2 by {len({p for *_, p in merged})} "
                      f"process(es); sooner than WB's wait across a hand-over: {across}")

            # ---------------------------------------------------------------- WB recovers
            for name in FAULTS:
                await host.faults(HEALED, seller=name)
            mark = daemon.mark()
            for name in FAULTS:
                await daemon.wait_until(lambda n=name: daemon.cycles(n, True, mark) >= 1, 120,
                                        f"{name} to recover")
            assert daemon.cycles(REVOKED, True, mark) == 0

            # ---------------------------------------------------------------- Telegram recovers
            tg._faults.clear()

            def outbox_drained() -> bool:
                rows = alerts(db)
                return bool(rows) and all(r["status"] != "pending" for r in rows)

            await _until(outbox_drained, 120, "the outbox to drain once Telegram is back")
            assert tg.sent

            # ---------------------------------------------------------------- hostile commands
            await _hostile_commands(tg, db)

            # ---------------------------------------------------------------- the database goes away
            async with _database_locked(db, pg):
                await asyncio.sleep(lock_seconds)  # the fault's duration, not a timing assertion
                assert daemon.alive
            mark = daemon.mark()
            for name in [*FAULTS, HEALTHY]:
                await daemon.wait_until(lambda n=name: daemon.cycles(n, True, mark) >= 1, 120,
                                        f"{name} to be served again after the database came back")
            if long_run and not pg:  # PostgreSQL: the writers wait for the lock (no lock_timeout)
                assert "database is locked" in (tmp_path / "daemon.log").read_text(errors="replace")
            # the outbox survived the outage: a new failure is still alerted and delivered
            sent_before = len(tg.sent)
            last_alert = max((r["id"] for r in alerts(db)), default=0)
            await host.faults(FAULTS["shop-1"], seller="shop-1")
            mark = daemon.mark()
            await daemon.wait_until(lambda: daemon.cycles("shop-1", False, mark) >= 1, 120, "shop-1 to fail again")
            await host.faults(HEALED, seller="shop-1")
            mark = daemon.mark()  # an ok cycle that began before the fault must not count as the recovery
            await daemon.wait_until(lambda: daemon.cycles("shop-1", True, mark) >= 1, 120, "shop-1 to recover")
            await _until(outbox_drained, 120, "the outbox to drain after the database outage")
            new = [(r["kind"], r["account"], r["status"]) for r in alerts(db) if r["id"] > last_alert]
            kinds = {(k, a) for k, a, _ in new}
            assert {("account_failing", "shop-1"), ("account_recovered", "shop-1")} <= kinds, new
            texts = [c.fields.get("text") or c.fields.get("caption") or "" for c in tg.sent[sent_before:]]
            assert any("shop-1" in t for t in texts), (new, texts)  # delivered (merged or one by one)
            assert await daemon.stop() == 0, "SIGTERM: clean exit"

            # ---------------------------------------------------------------- a restart settles everything
            await daemon.start()
            await daemon.wait_ready()
            for name in [*FAULTS, HEALTHY]:
                await daemon.wait_cycles(name, 1, within=90)
            # what the restart's cycles alerted is delivered before the stop (with two workers the
            # sender's lease may have just moved: the outbox waits for its next holder, nothing is lost)
            await _until(outbox_drained, 120, "the outbox to drain after the restart")
            assert await daemon.stop() == 0
        finally:
            await daemon.ensure_dead()
            await zygote.close()

        # ---------------------------------------------------------------- the books
        pending = [dict(r) for r in decisions(db) if r["apply_status"] == "pending"]
        assert not pending, pending
        failing = Counter(r["account"] for r in alerts(db) if r["kind"] == "account_failing")
        recovered = Counter(r["account"] for r in alerts(db) if r["kind"] == "account_recovered")
        expected = Counter({name: 1 for name in [*FAULTS, REVOKED]}) + Counter({"shop-1": 1})
        if failing != expected:
            twice = [n for n in failing if failing[n] > expected[n]]
            rows = [(r["id"], str(r["created_at"]), r["account"]) for r in alerts(db)
                    if r["kind"] in ("account_failing", "account_recovered") and r["account"] in twice]
            moves = [f"{p.name}: {line}" for p in daemon.log_paths for line in p.read_text(errors="replace").splitlines()
                     if any(n in line for n in twice) and any(w in line for w in
                                                             ("claimed", "took over", "released", "lost", "failing"))]
            raise AssertionError(f"account_failing repeated: {failing}\n{rows}\n" + "\n".join(moves[-40:]))
        assert set(recovered) == set(FAULTS), recovered
        left = [dict(r) for r in alerts(db) if r["status"] == "pending"]
        assert not left, left
        await host.settle()
        assert_books(db, host.sim.market, max_bid_minor=800 * 100)

        # ---------------------------------------------------------------- secrets
        secrets = dict(host.tokens(), bot=BOT_TOKEN)
        texts = [str(c.fields) for c in tg.calls]
        scan_for_secrets(secrets, logs=[*daemon.log_paths, cli_log], dbs=[db], messages=texts)
    await host.stop()


async def _pg_database(request: pytest.FixtureRequest) -> str:
    """A fresh database on the throwaway PostgreSQL (dropped at the end), migrated."""
    import uuid

    from bidder.store.migrate import upgrade

    server = request.getfixturevalue("postgres_server")
    name = f"bidder_bad_day_{uuid.uuid4().hex[:10]}"
    with server.admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with server.admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    request.addfinalizer(drop)
    url = server.url(name)
    await upgrade(url)
    return url


async def _kill_busiest_worker(workers: Workers) -> None:
    """SIGKILL the worker holding the most accounts; once the other one serves them all, start it again
    (the standby: the balance then gives it its share back)."""
    import signal

    await workers.wait_until(lambda: len(workers.holders()) == len(SELLERS), 60, "every account leased")
    counts = Counter(workers.holders().values())
    victim = workers.daemons[counts.most_common(1)[0][0]]
    survivor = next(w for w, d in workers.daemons.items() if d is not victim)
    victim.kill(signal.SIGKILL)
    assert await victim.wait_exit(30) == -signal.SIGKILL

    async def taken_over() -> None:
        while set(workers.holders().values()) != {survivor} or len(workers.holders()) != len(SELLERS):  # noqa: ASYNC110
            await asyncio.sleep(0.1)

    await asyncio.wait_for(taken_over(), 60)
    await victim.start()
    await victim.wait_ready()


@contextlib.asynccontextmanager
async def _database_locked(db, pg: bool):
    """The database goes away for writers: SQLite held with ``BEGIN EXCLUSIVE``; PostgreSQL: the tables
    every cycle writes held ``ACCESS EXCLUSIVE`` (the leases stay reachable: the workers keep them)."""
    if not pg:
        lock = sqlite3.connect(db, timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        return
    import psycopg

    with psycopg.connect(db.replace("postgresql+asyncpg://", "postgresql://")) as conn:
        conn.execute("LOCK TABLE cycles, decisions, alerts, campaigns, daily_stats IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


async def _hostile_commands(tg: FakeTelegram, db: Path) -> None:
    before = len(tg.sent)
    answered = [
        "/" + "x" * 10_000,                                   # a huge unknown command
        "/status " + "A" * 100_000,                           # a huge argument
        "/history <script>alert(1)</script> & <b>",           # HTML injection in an argument
        "/pause 4007001</b><i>",                              # broken markup in an argument
        "/nosuchcommand",                                     # unknown
        "/pause 99999999999999999999999999",                  # an absurd campaign id
    ]
    for text in answered:
        tg.push_command(CHAT, text)
    tg.push_command(FOREIGN_CHAT, "/pause all")               # a stranger: ignored
    tg.push_command(CHAT, "just text, not a command")         # not a command: no answer
    await tg.wait_sent(before + len(answered), within=60)
    replies = [c for c in tg.sent[before:] if int(c.fields["chat_id"]) == CHAT]
    assert len(replies) >= len(answered)
    assert not [c for c in tg.sent if int(c.fields["chat_id"]) == FOREIGN_CHAT]
    # every reply passed the fake's HTML and length checks (rejected sends are not in tg.sent); none
    # carries the injected markup back unescaped
    for c in replies:
        assert "<script>" not in str(c.fields.get("text", ""))
    rows = query(db, "SELECT * FROM operator_state")
    assert not [r for r in rows if r["set_by"] and str(FOREIGN_CHAT) in str(r["set_by"])]
