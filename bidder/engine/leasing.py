"""Several worker processes on one PostgreSQL: who serves which seller account, and fencing.

:class:`LeaseKeeper` is this process's side of :mod:`bidder.store.leases`. Every ``ttl / 3`` seconds
(:meth:`LeaseKeeper.tick`) it renews its worker heartbeat and its leases, drops the accounts whose lease
was taken over, computes the balanced plan (:func:`plan`: accounts spread by campaign count over the
live workers, sticky to their current holder) and releases what the plan gives to another worker,
then claims what the plan gives to it (``FOR UPDATE SKIP LOCKED``). A claimed account starts with a
reconciliation of its pending write intents (``AccountCycle.start``) before its first cycle.

Fencing, twice: the runner runs an account's cycle inside :meth:`LeaseKeeper.serving`, which refuses
once the lease may have expired by this process's monotonic clock (a paused process wakes up past its
deadline) and sets the task's :class:`~bidder.store.leases.Fence`, checked by the transaction that
records write intents; :class:`FencedWriter` checks the fence against the database again right before
each write request. What is left is the time between that check and the request reaching WB
(milliseconds, versus a lease of ``ttl`` seconds with a safety margin).

One-of-a-kind jobs (the Telegram sender, the daily digest) are leases named ``job:<what>``:
:meth:`LeaseKeeper.run_job` runs a job only while this worker holds its lease.

SQLite is one process: :func:`single_worker_lock` refuses a second worker on the same file.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.errors import BidderError
from bidder.store import leases as store
from bidder.store.leases import JOB_PREFIX, Fence, LeaseLost

log = logging.getLogger("bidder.leasing")

RELEASE_GRACE_SECONDS = 8.0  # how long a released account's in-flight cycle may run on (shutdown)
# A hand-over to another worker waits this long for the in-flight cycle: every store write checks the lease,
# so a cycle still running after the release records nothing (refused at its next write) and stops there,
# instead of a cold first cycle running on for minutes while the new holder waits.
HAND_OVER_GRACE_SECONDS = 2.0
# Workers started together (a deployment, ``docker compose up``) reach their first claim seconds apart:
# the first one alone would claim every account, start their (long, cold) first cycles and hand half of
# them over at its next tick, cutting those cycles (refused by the fence: failed cycles, work thrown
# away). A worker therefore registers and waits this long (at most; a sixth of the TTL when shorter)
# before its first claim, so that peers starting with it are counted in the first plan.
START_JOIN_SECONDS = 5.0


class SecondWorkerRefused(BidderError):
    """A second worker on a SQLite database."""


def uses_leases(database_url: str) -> bool:
    """Leases coordinate workers on PostgreSQL; SQLite is one process."""
    return make_url(database_url).get_backend_name() == "postgresql"


def single_worker_lock(database_url: str) -> Callable[[], None] | None:
    """On a SQLite file, take an exclusive lock next to it for the life of this worker; raise
    :class:`SecondWorkerRefused` when another worker holds it. Returns the release function (None for
    databases that need no lock)."""
    u = make_url(database_url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:" \
            or u.database.startswith("file:"):
        return None
    path = Path(u.database).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".worker-lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SecondWorkerRefused(
            f"another bidder worker already runs on the SQLite database {path}: SQLite serves one worker "
            "process. Stop it, or run several workers on PostgreSQL (BIDDER_DATABASE_URL="
            "postgresql+asyncpg://...), see docs/SCALING.md") from None

    def unlock() -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    return unlock


def plan(weights: Mapping[str, int], holders: Mapping[str, str | None], workers: Sequence[str]) -> dict[str, str]:
    """Which live worker should serve each account: accounts by campaign count (heaviest first) stay with
    their live holder while it is under its fair share plus half the heaviest account, the others go to
    the least loaded worker (ties by id). Every worker computes the same plan from the same facts."""
    live = sorted(set(workers))
    if not live:
        return {}
    known = [w for w in weights.values() if w > 0]
    unknown = round(sum(known) / len(known)) if known else 1  # not counted yet: like the average account
    weights = {n: (w if w > 0 else unknown) for n, w in weights.items()}
    loads = dict.fromkeys(live, 0)
    total = sum(weights.values())
    heaviest = max(weights.values(), default=1)
    cap = total / len(live) + heaviest / 2  # sticky: an account moves only when its holder is over
    out: dict[str, str] = {}
    for name in sorted(weights, key=lambda n: (-weights[n], n)):
        w = weights[name]
        holder = holders.get(name)
        if holder in loads and loads[holder] + w <= cap:
            target = holder
        else:
            target = min(live, key=lambda k: (loads[k], k))
        loads[target] += w
        out[name] = target
    return out


@dataclass
class _Held:
    epoch: int
    deadline: float  # monotonic: the lease is certainly ours before this


class LeaseKeeper:
    """``LeaseKeeper(sessions, ttl=, weight_of=, on_acquire=, on_release=)``; ``await start(names)`` claims
    this worker's share, ``await run(stop)`` keeps it up to date, ``await close()`` releases everything."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, ttl: float,
                 weight_of: Callable[[str], int],
                 on_acquire: Callable[[str], Awaitable[None]],
                 on_release: Callable[[str], Awaitable[None]],
                 worker_id: str | None = None, http_port: int | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.sessions = sessions
        self.ttl = float(ttl)
        self.margin = min(self.ttl * 0.2, 5.0)
        self.weight_of = weight_of
        self.on_acquire = on_acquire
        self.on_release = on_release
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.http_port = http_port
        self.monotonic = monotonic
        self.names: list[str] = []
        self.jobs: set[str] = set()
        self.held: dict[str, _Held] = {}
        self.inflight: dict[str, int] = {}
        self._cycle_tasks: dict[str, set[asyncio.Task]] = {}  # the tasks running a cycle of the account
        self.takeovers = 0
        self.lost = 0
        self.refused_writes = 0  # sends refused because the lease was lost (never sent)
        self._lock = asyncio.Lock()
        self._held_lock = threading.Lock()  # the heartbeat thread reads ``held`` (see Heartbeat)
        self._closed = False
        self._handing: set[str] = set()  # given up, their in-flight cycles not finished yet (not claimed again)
        self._hand_overs: set[asyncio.Task] = set()
        self._wake: asyncio.Event | None = None  # set (from the heartbeat thread too) to tick at once
        self._loop: asyncio.AbstractEventLoop | None = None
        self.next_expiry: float | None = None  # seconds until another worker's lease runs out (last tick)
        self.started = False  # a worker: start() done; before it (an operator command's App) nothing is fenced

    # ------------------------------------------------------------------ what is held

    def holds(self, name: str) -> bool:
        h = self.held.get(name)
        return h is not None and self.monotonic() < h.deadline

    def fence(self, name: str) -> Fence | None:
        h = self.held.get(name)
        if h is None or self.monotonic() >= h.deadline:
            return None
        return Fence(name, self.worker_id, h.epoch)

    def accounts(self) -> list[str]:
        return sorted(n for n in self.held if not n.startswith(JOB_PREFIX))

    @contextlib.asynccontextmanager
    async def serving(self, name: str) -> AsyncIterator[Fence | None]:
        """Around one cycle of ``name``: yields its fence (None: not ours, do not run), which the store
        checks when the cycle records write intents."""
        fence = self.fence(name)
        if fence is None:
            yield None
            return
        token = store.current_fence.set(fence)
        self.inflight[name] = self.inflight.get(name, 0) + 1
        task = asyncio.current_task()
        if task is not None:
            self._cycle_tasks.setdefault(name, set()).add(task)
        try:
            yield fence
        finally:
            self.inflight[name] -= 1
            if task is not None:
                self._cycle_tasks.get(name, set()).discard(task)
            store.current_fence.reset(token)

    async def _stop_cycles(self, name: str, within: float = 2.0) -> None:
        """Cancel the cycles of ``name`` still running here (the account went to another worker) and wait
        for them to end, up to ``within`` seconds. Fencing stops their writes, not their reads: a cycle left
        running would go on calling WB for a seller another worker now paces (two pacers, one WB limit).
        A cancelled cycle is like a crash: its recorded intents stay pending for the new holder."""
        tasks = [t for t in self._cycle_tasks.get(name, set()) if not t.done() and t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=within)
            log.info("account %s: its cycle in progress was stopped (the account went to another worker)", name)

    async def check_write(self, name: str) -> None:
        """Right before a write request: raise :class:`LeaseLost` unless the lease on ``name`` still
        holds, by the local deadline and in the database."""
        if not self.started:  # not a worker (an operator command next to the workers): nothing to fence
            return
        h = self.held.get(name)
        # the request may wait for the pacer after this check: keep a margin before the local deadline
        if h is None or self.monotonic() >= h.deadline - self.margin:
            self.refused_writes += 1
            raise LeaseLost(f"lease on {name} lost or about to expire: not sending writes")
        fence = Fence(name, self.worker_id, h.epoch)
        try:
            async with self.sessions.begin() as s:
                await store.check_fence(s, fence)
        except LeaseLost:
            self.refused_writes += 1
            raise

    # ------------------------------------------------------------------ the loop

    async def start(self, names: Sequence[str], jobs: Sequence[str] = ()) -> None:
        self.started = True
        self.names = list(names)
        self.jobs = {JOB_PREFIX + j for j in jobs}
        async with self.sessions.begin() as s:
            await store.heartbeat_worker(s, self.worker_id, host=socket.gethostname(), pid=os.getpid(),
                                         http_port=self.http_port, ttl=self.ttl)
            await store.ensure_leases(s, {**dict.fromkeys(self.names, 0), **dict.fromkeys(self.jobs, 0)})
        await self._join_window()
        await self.tick()

    async def _join_window(self) -> None:
        """Before the first claim: wait for peers starting with this worker (``START_JOIN_SECONDS``), unless
        other workers already serve every account (joining a running cluster: the plan already counts
        this worker once it registered) or there is nothing to claim."""
        wait = min(START_JOIN_SECONDS, self.ttl / 6)
        if wait <= 0 or not self.names:
            return
        async with self.sessions.begin() as s:
            infos = await store.leases(s, self.names)
        if infos and all(i.live and i.holder not in (None, self.worker_id) for i in infos):
            return
        await asyncio.sleep(wait)

    def set_names(self, names: Sequence[str]) -> None:
        """The configured accounts changed (reload); the next tick registers and balances them."""
        self.names = list(names)

    def poke(self) -> None:
        """Tick now (thread-safe): the heartbeat thread saw a worker die."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to wake
                loop.call_soon_threadsafe(wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every ``ttl / 3``; sooner when another worker's lease runs out before that (a worker that
        stopped renewing: claimed the moment it expires) or when :meth:`poke` says a worker died."""
        every = max(self.ttl / 3, 0.2)
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        while not stop.is_set():
            wait = every if self.next_expiry is None else min(every, max(self.next_expiry + 0.05, 0.05))
            waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
            _, pending = await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            for w in pending:
                w.cancel()
            self._wake.clear()
            if stop.is_set():
                break
            try:
                await self.tick()
            except Exception:  # the database is away: the leases run out, the local deadline fences us
                log.exception("lease heartbeat failed")

    async def tick(self) -> None:
        async with self._lock:
            if self._closed:
                return
            await self._tick()

    async def _tick(self) -> None:
        began = self.monotonic()
        known = {n: (self.weight_of(n) if self.holds(n) else 0) for n in self.names}
        async with self.sessions.begin() as s:
            await store.heartbeat_worker(s, self.worker_id, host=socket.gethostname(), pid=os.getpid(),
                                         http_port=self.http_port, ttl=self.ttl)
            await store.ensure_leases(s, {**known, **dict.fromkeys(self.jobs, 0)})
            renewed = await store.renew(s, self.worker_id, {n: h.epoch for n, h in self.held.items()}, ttl=self.ttl)
            live = await store.live_workers(s)
            infos = await store.leases(s, list(known))
        weights = {i.name: i.weight for i in infos}
        others = [i.seconds_left for i in infos if i.live and i.holder != self.worker_id and i.seconds_left is not None]
        self.next_expiry = min(others, default=None)
        deadline = began + self.ttl - self.margin
        for name in list(self.held):
            if name in renewed:
                self.held[name].deadline = deadline
            else:
                log.warning("lease on %s lost (taken over or expired): no longer serving it", name)
                self.lost += 1
                with self._held_lock:
                    del self.held[name]
                await self._released(name)
                stopping = asyncio.create_task(self._stop_cycles(name), name="lease-lost-stop")
                self._hand_overs.add(stopping)
                stopping.add_done_callback(self._hand_overs.discard)
        holders = {i.name: (i.holder if i.live else None) for i in infos}
        mine = {n for n, w in plan(weights, holders, live or [self.worker_id]).items() if w == self.worker_id}
        gone = [n for n in self.held if not n.startswith(JOB_PREFIX) and n not in mine]
        if gone:
            await self._give_up(gone)
        wanted = sorted(((mine - set(self.held)) | (self.jobs - set(self.held))) - self._handing)
        if not wanted:
            return
        began = self.monotonic()
        async with self.sessions.begin() as s:
            claimed = await store.claim(s, self.worker_id, wanted, ttl=self.ttl)
        for c in claimed:
            with self._held_lock:
                self.held[c.name] = _Held(c.epoch, began + self.ttl - self.margin)
            if c.previous_holder is not None:
                self.takeovers += 1
                log.warning("took over %s from %s (epoch %d)", c.name, c.previous_holder, c.epoch)
            else:
                log.info("claimed %s (epoch %d)", c.name, c.epoch)
            if not c.name.startswith(JOB_PREFIX):
                await self.on_acquire(c.name)

    async def _released(self, name: str) -> None:
        if not name.startswith(JOB_PREFIX):
            await self.on_release(name)

    async def _give_up(self, names: list[str]) -> None:
        """Hand accounts to the worker the plan names: stop serving them now; in the background wait for
        their in-flight cycles (all at once, bounded) and release them in one transaction. The tick goes
        on meanwhile (a dead worker's accounts are claimed without waiting for a hand-over)."""
        epochs = {}
        with self._held_lock:
            for name in names:
                epochs[name] = self.held.pop(name).epoch
        for name in names:
            await self.on_release(name)
        self._handing.update(names)
        task = asyncio.create_task(self._hand_over(names, epochs), name="lease-hand-over")
        self._hand_overs.add(task)
        task.add_done_callback(self._hand_overs.discard)

    async def _hand_over(self, names: list[str], epochs: dict[str, int]) -> None:
        try:
            await asyncio.gather(*(self._drain(n, HAND_OVER_GRACE_SECONDS) for n in names))
            await asyncio.gather(*(self._stop_cycles(n) for n in names))  # before the next holder can start
            async with self.sessions.begin() as s:
                await store.release(s, self.worker_id, names)
            log.info("released %s for another worker", ", ".join(f"{n} (epoch {epochs[n]})" for n in names))
        except Exception:  # the database is away: the leases run out instead
            log.exception("releasing %s failed", names)
        finally:
            self._handing.difference_update(names)

    async def _drain(self, name: str, limit: float | None = None) -> None:
        # let this worker's in-flight cycle finish before the lease is released, up to ``limit`` (default:
        # half a TTL); what it would write after the release is refused by the fence anyway
        waited, limit = 0.0, max(RELEASE_GRACE_SECONDS, self.ttl / 2) if limit is None else limit
        while self.inflight.get(name, 0) > 0 and waited < limit:
            await asyncio.sleep(0.05)
            waited += 0.05

    async def close(self) -> None:
        """Release every lease (SIGTERM): the other workers take them over at their next tick."""
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            if not self.started:
                return
            names = list(self.held)
            if self._hand_overs:
                await asyncio.wait(set(self._hand_overs), timeout=max(RELEASE_GRACE_SECONDS, self.ttl / 2) + 5)
            await asyncio.gather(*(self._drain(n) for n in names))
            with self._held_lock:
                self.held.clear()
            with contextlib.suppress(Exception):
                async with self.sessions.begin() as s:
                    await store.release(s, self.worker_id, names)
                    await store.remove_worker(s, self.worker_id)
            log.info("released %d lease(s)", len(names))

    async def renew_now(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Renew the worker's heartbeat and every lease held (from the :class:`Heartbeat` thread)."""
        if self._closed:
            return
        began = self.monotonic()
        with self._held_lock:
            snapshot = {n: h.epoch for n, h in self.held.items()}
        async with sessions.begin() as s:
            await store.heartbeat_worker(s, self.worker_id, host=socket.gethostname(), pid=os.getpid(),
                                         http_port=self.http_port, ttl=self.ttl)
            renewed = await store.renew(s, self.worker_id, snapshot, ttl=self.ttl)
        deadline = began + self.ttl - self.margin
        with self._held_lock:
            for name, epoch in renewed.items():
                h = self.held.get(name)
                if h is not None and h.epoch == epoch:
                    h.deadline = max(h.deadline, deadline)

    # ------------------------------------------------------------------ one-of-a-kind jobs

    async def run_job(self, job: str, make: Callable[[asyncio.Event], Awaitable[Any]], stop: asyncio.Event) -> None:
        """Run ``make(job_stop)`` while this worker holds the lease ``job:<job>`` (claimed by :meth:`tick`);
        stop it when the lease is lost, start it again when it comes back."""
        name = JOB_PREFIX + job
        self.jobs.add(name)
        poll = max(self.ttl / 6, 0.1)
        while not stop.is_set():
            if not self.holds(name):
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll)
                continue
            job_stop = asyncio.Event()
            token = store.current_fence.set(self.fence(name))  # the job's writes are fenced by its lease
            try:
                task = asyncio.create_task(make(job_stop), name=job)
            finally:
                store.current_fence.reset(token)
            while not stop.is_set() and self.holds(name) and not task.done():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll)
            job_stop.set()
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 3)


class Heartbeat:
    """Renews the worker's heartbeat and leases every ``ttl / 3`` from a thread with its own event loop
    and its own database connections, so that CPU-bound cycles holding the main event loop (or a starved
    process on a busy host) do not let the leases lapse. Balancing and claiming stay on the main loop.

    It also holds this worker's liveness lock (:func:`bidder.store.leases.take_liveness_lock`) on a
    connection of its own, and every ``WATCH_SECONDS`` looks for workers whose lock fell (a dead process:
    PostgreSQL drops the lock with its connection): it expires their heartbeat and leases at once and
    wakes the main loop, which claims their accounts without waiting for the TTL. Only a worker seen
    holding its lock is ever declared dead this way; a frozen or cut-off worker keeps its lock (and its
    connection) and is taken over when its leases expire."""

    WATCH_SECONDS = 1.0

    def __init__(self, keeper: LeaseKeeper, database_url: str) -> None:
        self.keeper = keeper
        self.database_url = database_url
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="lease-heartbeat",
                                        daemon=True)
        self._thread.start()

    async def _run(self) -> None:
        from bidder.store.db import make_engine, session_factory

        engine = make_engine(self.database_url, pool_size=2, max_overflow=1, pool_timeout=10)
        sessions = session_factory(engine)
        every = max(self.keeper.ttl / 3, 0.2)
        watch_every = min(self.WATCH_SECONDS, every)
        lock_conn = None
        seen_locked: set[str] = set()
        next_renew = 0.0
        try:
            while not self._stop.is_set():
                if lock_conn is None:
                    lock_conn = await self._take_lock(engine)
                if time.monotonic() >= next_renew:
                    next_renew = time.monotonic() + every
                    try:
                        await self.keeper.renew_now(sessions)
                    except Exception:
                        log.exception("lease heartbeat (thread) failed")
                    if lock_conn is not None and not await self._lock_alive(lock_conn):
                        lock_conn = None  # the lock went with its connection: take it again next round
                try:
                    await self._watch(sessions, seen_locked)
                except Exception:
                    log.exception("watching for dead workers failed")
                waited = 0.0
                while waited < watch_every and not self._stop.is_set():
                    await asyncio.sleep(0.05)
                    waited += 0.05
        finally:
            if lock_conn is not None:
                with contextlib.suppress(Exception):
                    await lock_conn.close()
            await engine.dispose()

    async def _take_lock(self, engine):
        try:
            conn = await engine.connect()
        except Exception:
            log.exception("liveness lock: no connection")
            return None
        try:
            ok = await store.take_liveness_lock(conn, self.keeper.worker_id)
            await conn.commit()
        except Exception:
            log.exception("liveness lock failed")
            ok = False
        if not ok:  # a previous process of this id still holds it: try again next round
            await conn.close()
            return None
        return conn

    @staticmethod
    async def _lock_alive(conn) -> bool:
        try:
            await conn.exec_driver_sql("SELECT 1")
            await conn.commit()
            return True
        except Exception:
            with contextlib.suppress(Exception):
                await conn.close()
            return False

    async def _watch(self, sessions: async_sessionmaker[AsyncSession], seen_locked: set[str]) -> None:
        if self.keeper._closed or not self.keeper.started:
            return
        dead: dict[str, list[str]] = {}
        async with sessions.begin() as s:
            for worker, locked in (await store.liveness(s, self.keeper.worker_id)).items():
                if locked:
                    seen_locked.add(worker)
                elif worker in seen_locked:  # it held its lock and the lock fell: the process is gone
                    seen_locked.discard(worker)
                    dead[worker] = await store.expire_worker(s, worker)
        for worker, names in dead.items():
            log.warning("worker %s is gone (its connection closed): its %d lease(s) expire now", worker, len(names))
        if dead:
            self.keeper.poke()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)


class FencedWriter:
    """A live writer that checks the account's lease right before each write request (see the module
    docstring). Everything else is the wrapped writer's."""

    def __init__(self, writer: Any, keeper: LeaseKeeper, account: str) -> None:
        self._writer = writer
        self._keeper = keeper
        self._account = account

    def __getattr__(self, item: str) -> Any:
        return getattr(self._writer, item)

    async def set_bids(self, changes):
        await self._keeper.check_write(self._account)
        return await self._writer.set_bids(changes)

    async def set_cluster_bids(self, changes):
        await self._keeper.check_write(self._account)
        return await self._writer.set_cluster_bids(changes)

    async def start(self, advert_id: int):
        await self._keeper.check_write(self._account)
        return await self._writer.start(advert_id)

    async def pause(self, advert_id: int):
        await self._keeper.check_write(self._account)
        return await self._writer.pause(advert_id)


def fair_share(total: int, workers: int) -> int:
    return math.ceil(total / max(workers, 1))
