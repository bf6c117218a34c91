"""Helpers for the reliability suite: the simulator in this process with a request hook, the daemon in
a child process (:mod:`daemon_child`), configs, and reading the SQLite file the way an operator would.

Nothing here fakes the product: the simulator is the real one over loopback HTTP, the daemon is the real
app in a real process, the database is a real SQLite file. Waiting is always for an event with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bidder.clock import ScaledClock
from bidder.sim.app import Simulator, create_app
from bidder.sim.scenarios import build_scenario

CHILD = Path(__file__).with_name("daemon_child.py")
REPO = Path(__file__).resolve().parents[2]

Hook = Callable[[web.Request], Awaitable[str | None]]


# ------------------------------------------------------------------------------------------ simulator


class SimHost:
    """The simulator on a loopback port in this process. ``before``/``after`` hooks see every request
    (``after`` once the simulator has handled it, before the reply is sent): the crash tests kill the
    daemon from there, at the exact moment a write reaches WB or has been applied by it."""

    def __init__(self, scenario: str, *, speed: float, seed: int = 1) -> None:
        self.spec = build_scenario(scenario, seed)
        self.clock = ScaledClock(self.spec.start, speed)
        self.sim = Simulator(self.spec, seed=seed, clock=self.clock)
        self.before: Hook | None = None  # returns "drop" to answer 503 without handling the request
        self.after: Hook | None = None
        self.url = ""
        self.last_write_at = None  # simulated time of the last write request
        self._runner: web.AppRunner | None = None

    async def start(self) -> SimHost:
        app = create_app(self.sim)

        @web.middleware
        async def hooks(request: web.Request, handler):
            if self.before is not None and await self.before(request) == "drop":
                return web.Response(status=503, text="dropped by the test")
            if request.method in ("PATCH", "POST") or request.path.startswith(("/adv/v0/start", "/adv/v0/pause")):
                self.last_write_at = self.sim.now()
            response = await handler(request)
            if self.after is not None:
                await self.after(request)
            return response

        app.middlewares.append(hooks)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def settle(self) -> None:
        """Wait (in simulated time) until every write WB accepted has reached its tick (bids: 30 s,
        statuses: the next minute), then apply it to the market so that ``bid_log`` is complete."""
        if self.last_write_at is not None:
            due = self.last_write_at + timedelta(seconds=61)
            left = (due - self.sim.now()).total_seconds()
            if left > 0:
                await self.clock.sleep(left)
        self.sim.market.advance(self.sim.now())

    def report(self) -> dict[str, Any]:
        return self.sim.report()

    async def faults(self, settings: dict[str, Any], seller: str | None = None) -> dict[str, Any]:
        """Change fault settings over HTTP, as an operator of the simulator would."""
        body: dict[str, Any] = {"settings": settings}
        if seller is not None:
            body["seller"] = seller
        async with aiohttp.ClientSession() as s, s.post(f"{self.url}/__sim/faults", json=body) as r:
            data = await r.json()
            assert r.status == 200, data
            return data

    async def revoke(self, seller: str, token: str = "both") -> None:
        async with aiohttp.ClientSession() as s, \
                s.post(f"{self.url}/__sim/revoke", json={"seller": seller, "token": token}) as r:
            assert r.status == 200, await r.text()

    def tokens(self) -> dict[str, str]:
        """Every token string the simulator minted (the secrets the scan looks for)."""
        out = {}
        for name, s in self.sim.sellers.items():
            out[f"{name}:read"] = s.read_token
            out[f"{name}:write"] = s.write_token
        return out


# ------------------------------------------------------------------------------------------ config


def write_config(path: Path, accounts: list[dict[str, Any]], *, extra: str = "") -> Path:
    """A YAML config; each account dict: name, read_env, write_env (names of environment variables),
    max_bid (base units), and optional raw YAML for ``defaults``/``campaigns``."""
    lines = ["accounts:"]
    for a in accounts:
        lines += [
            f"  - name: {a['name']}",
            f"    read_token: ${{{a['read_env']}}}",
        ]
        if a.get("write_env"):
            lines.append(f"    write_token: ${{{a['write_env']}}}")
        lines += [
            "    timezone: Europe/Moscow",
            "    guardrails:",
            f"      max_bid: {a.get('max_bid', 800)}",
            "      max_step_pct: 25",
            f"      min_change_interval: {a.get('min_change_interval', '10m')}",
        ]
        lines.append(a.get("body", "    defaults:\n      strategies:\n        - spend_cap: {max_drr_pct: 20, window: 3d}"))
    text = "\n".join(lines) + "\n" + extra
    path.write_text(text, encoding="utf-8")
    return path


def demo_config(path: Path) -> Path:
    """examples/bidder.yaml (the demo scenario's strategies), tokens from WB_READ_TOKEN/WB_WRITE_TOKEN."""
    path.write_text((REPO / "examples" / "bidder.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ the daemon


class Zygote:
    """``daemon_child.py --zygote``: imports once, forks a daemon per :meth:`spawn` (see its docstring)."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self._pids: asyncio.Queue[int] = asyncio.Queue()
        self.exits: dict[int, asyncio.Future[int]] = {}
        self._reader: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> Zygote:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), "--zygote", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, cwd=str(REPO))
        assert self.proc.stdout is not None
        first = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        assert first.strip() == b"ZYGOTE", first
        self._reader = asyncio.create_task(self._read())
        return self

    def _exit_future(self, pid: int) -> asyncio.Future[int]:
        if pid not in self.exits:
            self.exits[pid] = asyncio.get_running_loop().create_future()
        return self.exits[pid]

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            parts = line.decode().split()
            if parts[0] == "PID":
                await self._pids.put(int(parts[1]))
            elif parts[0] == "EXIT":
                fut = self._exit_future(int(parts[1]))
                if not fut.done():
                    fut.set_result(int(parts[2]))

    async def spawn(self, argv: list[str], env: dict[str, str], stdout: Path, stderr: Path) -> int:
        assert self.proc is not None and self.proc.stdin is not None
        async with self._lock:
            req = {"argv": argv, "env": env, "stdout": str(stdout), "stderr": str(stderr)}
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            await self.proc.stdin.drain()
            pid = await asyncio.wait_for(self._pids.get(), 30)
        self._exit_future(pid)
        return pid

    async def close(self) -> None:
        if self.proc is None:
            return
        for pid, fut in self.exits.items():
            if not fut.done():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.proc.wait(), 10)
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()


@dataclass
class Daemon:
    """The daemon (``daemon_child.py``) forked by a :class:`Zygote`. Its stdout markers arrive through a
    FIFO; its stderr (the logs) is appended to ``log_path`` for the secrets scan."""

    zygote: Zygote
    config: Path
    db_url: str
    host: SimHost
    env: dict[str, str]
    log_path: Path
    dry_run: bool = False
    lines: list[str] = field(default_factory=list)
    starts: int = 0
    _pid: int | None = None
    _changed: asyncio.Condition | None = None
    _reader: asyncio.Task | None = None
    _keep_open: int | None = None

    async def start(self) -> Daemon:
        self.lines = []
        self._changed = asyncio.Condition()
        self.starts += 1
        argv = ["--config", str(self.config), "--db", self.db_url,
                "--sim", self.host.url, "--start", self.host.clock.start.isoformat(),
                "--speed", repr(self.host.clock.speed), "--t0", repr(self.host.clock.t0)]
        if self.dry_run:
            argv.append("--dry-run")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BIDDER_", "WB_"))}
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"
        fifo = self.log_path.with_name(f"{self.log_path.stem}.out.{self.starts}")
        os.mkfifo(fifo)
        rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self._keep_open = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # no EOF before the daemon opens it
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(rfd, "rb", 0))
        self._pid = await self.zygote.spawn(argv, env, fifo, self.log_path)
        self._reader = asyncio.create_task(self._read(reader))
        self._exited = self.zygote.exits[self._pid]
        self._exited.add_done_callback(lambda _: self._release())
        return self

    def _release(self) -> None:
        if self._keep_open is not None:
            os.close(self._keep_open)
            self._keep_open = None

    async def _read(self, reader: asyncio.StreamReader) -> None:
        assert self._changed is not None
        while True:
            line = await reader.readline()
            async with self._changed:
                if line:
                    self.lines.append(line.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()
            if not line:
                return

    @property
    def pid(self) -> int:
        assert self._pid is not None
        return self._pid

    @property
    def alive(self) -> bool:
        return self._pid is not None and not self._exited.done()

    async def wait_until(self, cond: Callable[[], bool], within: float, what: str) -> None:
        """Wait until ``cond()`` holds (checked at each new stdout line); fail on timeout or exit."""
        assert self._changed is not None and self._reader is not None

        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: cond() or self._reader.done())
            if not cond():
                raise AssertionError(f"the daemon exited before {what}; stdout: {self.lines[-20:]}\n"
                                     f"log tail:\n{tail(self.log_path)}")

        try:
            await asyncio.wait_for(_wait(), within)
        except TimeoutError:
            raise AssertionError(f"timed out after {within}s waiting for {what}; stdout: {self.lines[-20:]}\n"
                                 f"log tail:\n{tail(self.log_path)}") from None

    async def wait_ready(self, within: float = 60) -> None:
        await self.wait_until(lambda: "READY" in self.lines, within, "READY")

    def cycles(self, account: str, ok: bool | None = True, start: int = 0) -> int:
        n = 0
        for line in self.lines[start:]:
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "CYCLE" and parts[1] == account and (
                    ok is None or (parts[2] == "ok") == ok):
                n += 1
        return n

    async def wait_cycles(self, account: str, n: int = 1, *, ok: bool | None = True, within: float = 60) -> None:
        """Wait until ``n`` more cycles of ``account`` finished (with that outcome) from now on."""
        mark = len(self.lines)
        await self.wait_until(lambda: self.cycles(account, ok, mark) >= n, within,
                              f"{n} {'ok' if ok else 'failed' if ok is False else ''} cycle(s) of {account}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    async def wait_exit(self, within: float = 30) -> int:
        rc = await asyncio.wait_for(asyncio.shield(self._exited), within)
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
        return rc

    async def stop(self, within: float = 20) -> int:
        """SIGTERM and wait: the clean shutdown path (exit 0)."""
        self.kill(signal.SIGTERM)
        return await self.wait_exit(within)

    async def ensure_dead(self) -> None:
        if self.alive:
            self.kill(signal.SIGKILL)
            with contextlib.suppress(Exception):
                await self.wait_exit(10)

    def mark(self) -> int:
        """Where "from now on" starts for :meth:`cycles`."""
        return len(self.lines)

    @property
    def log_paths(self) -> list[Path]:
        return [self.log_path]


class Workers:
    """Several daemons (``worker ids`` A, B, ...) on one PostgreSQL database, sharing the accounts of one
    config through leases (issue 20), behind the part of :class:`Daemon`'s interface the reliability tests
    use: cycles are counted over all workers (whoever serves the account), a mark is one per worker, and
    waiting is for a condition over all of them. Each worker's log is its own file (``<stem>-<id>.log``)."""

    def __init__(self, zygote: Zygote, config: Path, db_url: str, host: SimHost, env: dict[str, str],
                 log_path: Path, *, ids: tuple[str, ...] = ("A", "B"), ttl: float = 6.0) -> None:
        self.daemons = {
            wid: Daemon(zygote, config, db_url, host, {**env, "BIDDER_WORKER_ID": wid, "BIDDER_LEASE_TTL": str(ttl)},
                        log_path.with_name(f"{log_path.stem}-{wid}{log_path.suffix}"))
            for wid in ids}
        self.db_url = db_url

    async def start(self) -> Workers:
        for d in self.daemons.values():
            await d.start()
        return self

    async def wait_ready(self, within: float = 60) -> None:
        for d in self.daemons.values():
            await d.wait_ready(within)

    def mark(self) -> dict[str, int]:
        return {wid: d.mark() for wid, d in self.daemons.items()}

    def cycles(self, account: str, ok: bool | None = True, start: dict[str, int] | int = 0) -> int:
        return sum(d.cycles(account, ok, start.get(wid, 0) if isinstance(start, dict) else start)
                   for wid, d in self.daemons.items())

    @property
    def alive(self) -> bool:
        return all(d.alive for d in self.daemons.values())

    async def wait_until(self, cond: Callable[[], bool], within: float, what: str) -> None:
        """Wait until ``cond()`` holds (polled: it spans several processes' output and the database); fail
        on timeout or when a worker exits meanwhile."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not cond():
            dead = [wid for wid, d in self.daemons.items() if not d.alive]
            if dead:
                raise AssertionError(f"worker(s) {dead} exited before {what}\n" + self._tails())
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {within}s waiting for {what}\n" + self._tails())
            await asyncio.sleep(0.05)

    def _tails(self) -> str:
        return "\n".join(f"worker {wid} stdout: {d.lines[-10:]}\nlog tail:\n{tail(d.log_path, 15)}"
                         for wid, d in self.daemons.items())

    async def wait_cycles(self, account: str, n: int = 1, *, ok: bool | None = True, within: float = 60) -> None:
        mark = self.mark()
        await self.wait_until(lambda: self.cycles(account, ok, mark) >= n, within,
                              f"{n} {'ok' if ok else 'failed' if ok is False else ''} cycle(s) of {account}")

    async def stop(self, within: float = 20) -> int:
        """SIGTERM to every worker at once (each releases its leases); the worst exit code (0: all clean)."""
        for d in self.daemons.values():
            d.kill(signal.SIGTERM)
        codes = [await d.wait_exit(within) for d in self.daemons.values()]
        return next((c for c in codes if c != 0), 0)

    async def ensure_dead(self) -> None:
        for d in self.daemons.values():
            await d.ensure_dead()

    @property
    def log_paths(self) -> list[Path]:
        return [d.log_path for d in self.daemons.values()]

    def holders(self) -> dict[str, str | None]:
        """account -> the worker holding its live lease (None: free)."""
        return {r["name"]: r["holder"] for r in query(
            self.db_url, "SELECT name, holder FROM leases WHERE expires_at > now() AND holder IS NOT NULL AND position(':' in name) = 0")}


def tail(path: Path, n: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    return ""


# ------------------------------------------------------------------------------------------ the database


def sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


def query(db: Path | str, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
    """Read the daemon's SQLite file from here (a separate connection, like `bidder history`); ``db`` may
    also be a PostgreSQL URL (the workers' database: rows as dicts, ``?`` placeholders as in SQLite)."""
    if isinstance(db, str) and db.startswith("postgresql"):
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(db.replace("postgresql+asyncpg://", "postgresql://"), row_factory=dict_row) as pg:
            return list(pg.execute(sql.replace("?", "%s"), params))  # type: ignore[arg-type]
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


def decisions(db: Path, account: str | None = None) -> list[sqlite3.Row]:
    sql = ("SELECT d.*, a.name AS account FROM decisions d JOIN accounts a ON a.id = d.account_id")
    if account is not None:
        return query(db, sql + " WHERE a.name = ? ORDER BY d.id", (account,))
    return query(db, sql + " ORDER BY d.id")


def alerts(db: Path) -> list[sqlite3.Row]:
    return query(db, "SELECT al.*, a.name AS account FROM alerts al LEFT JOIN accounts a ON a.id = al.account_id "
                     "ORDER BY al.id")


def all_text(db: Path) -> list[tuple[str, str, str]]:
    """(table, column, value) for every non-NULL value of every column of every table, as text
    (JSON columns included): what the secrets scan searches."""
    out = []
    pg = isinstance(db, str) and db.startswith("postgresql")
    tables = [r["name"] for r in query(db, "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
                                       if pg else "SELECT name FROM sqlite_master WHERE type='table'")]
    for t in tables:
        for row in query(db, f'SELECT * FROM "{t}"'):
            for col in row.keys():
                v = row[col]
                if v is None:
                    continue
                if isinstance(v, bytes):
                    v = v.decode(errors="replace")
                out.append((t, col, v if isinstance(v, str) else json.dumps(v, default=str)))
    return out


# ------------------------------------------------------------------------------------------ checks

APPLIED = ("applied", "reconciled_applied")


def assert_books(db: Path, market, *, max_bid_minor: int, sellers: dict[str, str] | None = None) -> int:
    """The bid changes the simulator applied (``market.bid_log``, after :meth:`SimHost.settle`) are exactly
    the decisions recorded as applied, per (campaign, item, placement) and in order: none applied twice,
    none missing, none recorded as applied that WB never saw. No bid above ``max_bid_minor`` reached WB
    or was decided. Returns the number of changes compared."""
    from collections import defaultdict

    applied_by_wb: dict[tuple, list[int]] = defaultdict(list)
    for e in market.bid_log:
        if e.get("norm_query") is None:
            applied_by_wb[(e["advert_id"], e["nm_id"], e["placement"])].append(e["new"])
            assert e["new"] <= max_bid_minor, f"a bid above the guardrail reached WB: {e}"
    recorded: dict[tuple, list[int]] = defaultdict(list)
    rows = decisions(db)
    for r in rows:
        if r["action"] == "set_bid" and r["apply_status"] in APPLIED and not r["dry_run"]:
            recorded[(r["advert_id"], r["nm_id"], r["placement"])].append(r["bid_after"])
        if r["bid_after"] is not None:
            assert r["bid_after"] <= max_bid_minor, f"decision above the guardrail: {dict(r)}"
    assert dict(applied_by_wb) == dict(recorded), (
        "the simulator's applied bid changes differ from the decisions recorded as applied\n"
        f"WB: {dict(applied_by_wb)}\naudit: {dict(recorded)}")
    return sum(len(v) for v in recorded.values())


def scan_for_secrets(secrets: dict[str, str], *, logs: list[Path] = (), dbs: list[Path] = (),
                     messages: list[str] = ()) -> int:
    """Search every log file, every value of every column of every table, and every message for each
    secret (and for its longest dot-separated part: a JWT's signature alone is still a secret).
    Returns how many places were searched; fails naming where a secret was found (never the secret)."""
    needles = {}
    for name, value in secrets.items():
        assert value and len(value) >= 16, name
        needles[name] = value
        part = max(value.split("."), key=len)
        if len(part) >= 16:
            needles[f"{name} (part)"] = part
    hits = []
    searched = 0
    for log in logs:
        if not Path(log).exists():
            continue
        text = Path(log).read_text(errors="replace")
        searched += 1
        hits += [f"log {log.name}: {n}" for n, v in needles.items() if v in text]
    for db in dbs:
        for table, column, value in all_text(db):
            searched += 1
            hits += [f"database {table}.{column}: {n}" for n, v in needles.items() if v in value]
    for i, m in enumerate(messages):
        searched += 1
        hits += [f"message {i}: {n}" for n, v in needles.items() if v in m]
    assert not hits, f"secrets found: {hits[:20]}"
    return searched


def client_pid(request: web.Request, pids: list[int], cache: dict[int, int | None]) -> int | None:
    """Which of ``pids`` sent ``request``: the process holding the client end of its TCP connection
    (loopback; /proc/net/tcp gives the socket's inode, /proc/<pid>/fd the process). Cached per port."""
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    if not peer:
        return None
    port = peer[1]
    if port in cache:
        return cache[port]
    inode = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            parts = line.split()  # sl, local, remote, state (01: established), ..., inode (10th)
            if int(parts[1].split(":")[1], 16) == port and parts[3] == "01" and parts[9] != "0":
                inode = parts[9]
                break
    found = None
    if inode is not None:
        for pid in pids:
            with contextlib.suppress(OSError):
                fd_dir = Path(f"/proc/{pid}/fd")
                if any(os.readlink(fd_dir / fd) == f"socket:[{inode}]" for fd in os.listdir(fd_dir)):
                    found = pid
                    break
    if found is not None:
        cache[port] = found
    return found


async def named_adverts(request: web.Request) -> set[int]:
    """The campaign ids a request to the simulator names: the query's ``id`` list and, for a PATCH of
    bids, the body's ``advert_id`` of each bid."""
    ids: set[int] = set()
    for part in str(request.query.get("id", "")).split(","):
        if part.strip().isdigit():
            ids.add(int(part))
    if request.method == "PATCH":
        body = json.loads(await request.read() or b"{}")
        ids |= {b.get("advert_id") for b in body.get("bids", [])}
    return ids


async def kill_at_point_or_after(daemon: Daemon, fired: asyncio.Event, kill: Callable[[], None],
                                 cycles_done: Callable[[], bool], mode: str) -> str:
    """Wait for the kill point (``fired``), or for the daemon's cycles to pass without one (nothing left to
    write: then kill it at that arbitrary point instead, the mode becoming ``<mode>->random``); check that it
    died of SIGKILL and return the mode."""
    idle = asyncio.create_task(daemon.wait_until(cycles_done, 60, "two cycles"))
    hit = asyncio.create_task(fired.wait())
    done, _ = await asyncio.wait({idle, hit}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    for task in (idle, hit):
        task.cancel()
    if not fired.is_set():
        assert done, "neither a kill point nor two cycles within 60 s"
        mode = f"{mode}->random"
        kill()
    rc = await daemon.wait_exit(30)
    assert rc == -signal.SIGKILL, (mode, rc)
    return mode
