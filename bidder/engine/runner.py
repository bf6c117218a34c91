"""The long-running service: APScheduler drives each account's cycle; signals, reload and watchdog.

One event loop. Jobs are coalesced and never overlap (``max_instances=1``). SIGTERM/SIGINT let the
in-flight cycles finish (bounded), flush, and exit 0. SIGHUP re-reads the YAML: a valid config takes
effect at the next cycle, an invalid one is rejected with its errors and the old one keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bidder.engine.cycle import AccountCycle, CycleResult

log = logging.getLogger("bidder.runner")

STOP_GRACE_SECONDS = 8.0
# The daemon holds a large, long-lived heap (the views of thousands of campaigns): CPython's default
# collection thresholds (700, 10, 10) made the collector scan it again and again (a sixth of the CPU of a
# cycle). Serving, the objects built before the first cycle are frozen out of the scans and the youngest
# generation is collected every GC_THRESHOLD allocations; both are restored when serving ends.
GC_THRESHOLD = 10_000


class Runner:
    def __init__(
        self,
        cycles: dict[str, AccountCycle],
        *,
        clock,
        interval: timedelta,
        reload: Callable[[], Awaitable[bool]] | None = None,
        watchdog: Callable[[], None] | None = None,
        watchdog_every: float | None = None,
        stop: asyncio.Event | None = None,
        guard: Callable[[str], contextlib.AbstractAsyncContextManager[Any]] | None = None,
    ) -> None:
        self.cycles = cycles
        self.guard = guard  # around each cycle: yields a falsy value when this worker must not run it (leases)
        self.clock = clock
        self.interval = interval
        self.reload = reload
        self.watchdog = watchdog
        self.watchdog_every = watchdog_every
        self._stop = stop or asyncio.Event()
        self._inflight: set[asyncio.Task] = set()
        self.scheduler: AsyncIOScheduler | None = None

    async def run_once(self) -> list[CycleResult]:
        """One full cycle for every account, concurrently; one account's failure does not stop another."""
        names = list(self.cycles)
        results = await asyncio.gather(*(self._cycle(n) for n in names), return_exceptions=True)
        out = []
        for name, res in zip(names, results, strict=True):
            if isinstance(res, BaseException):
                log.error("account %s: cycle crashed: %s", name, res, exc_info=res)
                out.append(CycleResult(account=name, started_at=self.clock.now(), ok=False, error=str(res)))
            else:
                out.append(res)
        return out

    async def _cycle(self, name: str) -> CycleResult:
        cycle = self.cycles.get(name)
        if cycle is None:  # removed by a reload
            raise LookupError(f"account {name} is no longer configured")
        if self.guard is None:
            return await cycle.run_cycle()
        async with self.guard(name) as allowed:
            if not allowed:
                return CycleResult(account=name, started_at=self.clock.now(), ok=False, error="not leased by this worker")
            return await cycle.run_cycle()

    def _job(self, name: str) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            if self._stop.is_set() or name not in self.cycles:
                return
            task = asyncio.current_task()
            if task is not None:
                self._inflight.add(task)
            cycle = self.cycles.get(name)
            if cycle is not None:  # serving: the statistics backlog goes on between cycles (engine/stats_pump.py)
                cycle.poller.background = True
                cycle.poller.stats.cycle_running(True)
            try:
                await self._cycle(name)
            except Exception:  # isolation: log, keep the schedule and the other accounts
                log.exception("account %s: cycle crashed", name)
            finally:
                if cycle is not None:
                    cycle.poller.stats.cycle_running(False)
                if task is not None:
                    self._inflight.discard(task)

        return job

    def schedule_accounts(self) -> None:
        assert self.scheduler is not None
        seconds = self.interval.total_seconds() / self.clock.speed
        wanted = set(self.cycles)
        for job in self.scheduler.get_jobs():
            if job.id.startswith("cycle:") and job.id[6:] not in wanted:
                job.remove()
        for name in wanted:
            job_id = f"cycle:{name}"
            if self.scheduler.get_job(job_id) is None:
                self.scheduler.add_job(
                    self._job(name),
                    IntervalTrigger(seconds=seconds),
                    id=job_id,
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=max(1, int(seconds)),
                    next_run_time=_now_local(),
                )

    def request_stop(self) -> None:
        self._stop.set()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.scheduler = AsyncIOScheduler(event_loop=loop)
        self.schedule_accounts()
        if self.watchdog is not None and self.watchdog_every:
            self.scheduler.add_job(self.watchdog, IntervalTrigger(seconds=self.watchdog_every), id="watchdog")
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self._reload()))
        self.scheduler.start()
        log.info("bidder running: %d account(s), cycle every %s", len(self.cycles), self.interval)
        thresholds = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(GC_THRESHOLD, thresholds[1], thresholds[2])
        try:
            await self._stop.wait()
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            log.info("stopping: waiting for in-flight cycles")
            self.scheduler.pause()  # no new runs; APScheduler's shutdown would cancel running coroutines
            if self._inflight:
                _, pending = await asyncio.wait(set(self._inflight), timeout=STOP_GRACE_SECONDS)
                for task in pending:
                    log.warning("a cycle did not finish within %.0fs; cancelling it", STOP_GRACE_SECONDS)
                    task.cancel()
            for cycle in list(self.cycles.values()):
                await cycle.poller.stats.stop()
            self.scheduler.shutdown(wait=False)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)

    async def _reload(self) -> None:
        if self.reload is None:
            return
        try:
            ok = await self.reload()
        except Exception:
            log.exception("reload failed; the old configuration keeps running")
            return
        if ok:
            self.schedule_accounts()


def _now_local():
    from datetime import datetime

    return datetime.now().astimezone()
