"""The app's side of several workers (docs/SCALING.md): leases on PostgreSQL, one worker on SQLite.

:class:`WorkerLeases` ties a :class:`~bidder.engine.leasing.LeaseKeeper` to the app: the runner runs
only the accounts this worker holds (``active``), an account acquired is reconciled before its first
cycle and gets a ``/healthz`` entry, an account released or lost leaves the schedule and ``/healthz``
(its in-flight cycle is waited for), and the live writers are fenced.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bidder.engine.leasing import FencedWriter, Heartbeat, LeaseKeeper, single_worker_lock, uses_leases
from bidder.store.db import make_engine, session_factory

log = logging.getLogger("bidder.workers")

__all__ = ["WorkerLeases", "single_worker_lock", "uses_leases"]


class WorkerLeases:
    """``WorkerLeases(app)`` before the accounts are built; ``await start()`` after."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.active: dict[str, Any] = {}  # the cycles this worker serves now (the runner's dict)
        self.runner: Any = None  # set by serve(): rescheduled when accounts come and go
        settings = app.settings
        # the heartbeat has its own small pool: it must never queue behind 50 accounts' cycles for a connection
        self.engine = make_engine(settings.database_url, pool_size=2, max_overflow=2, pool_timeout=10)
        self.keeper = LeaseKeeper(session_factory(self.engine), ttl=settings.lease_ttl, weight_of=self._weight,
                                  on_acquire=self._acquired, on_release=self._released,
                                  worker_id=settings.worker_id, http_port=settings.http_port or None)
        self.heartbeat = Heartbeat(self.keeper, settings.database_url)

    def _weight(self, name: str) -> int:
        cycle = self.app.cycles.get(name)
        return len(cycle.campaigns) if cycle is not None else 0

    def fence_writer(self, writer: Any, account: str) -> Any:
        return FencedWriter(writer, self.keeper, account)

    async def start(self, jobs: tuple[str, ...] = ()) -> None:
        if self.keeper.started:
            return
        for name in list(self.app.cycles):
            self.app.health.unregister(name)  # registered again when acquired
        await self.keeper.start(list(self.app.cycles), jobs)
        self.heartbeat.start()
        log.info("worker %s serves %d of %d account(s)", self.keeper.worker_id, len(self.active),
                 len(self.app.cycles))

    def reloaded(self) -> None:
        self.keeper.set_names(list(self.app.cycles))
        for name in list(self.active):
            if name in self.app.cycles:
                self.active[name] = self.app.cycles[name]
            else:
                self.active.pop(name, None)

    async def _acquired(self, name: str) -> None:
        cycle = self.app.cycles.get(name)
        if cycle is None:
            return
        cycle.started = False  # reconcile the pending write intents (another worker's?) first
        self.active[name] = cycle
        self.app.health.register(name)
        self._reschedule()

    async def _released(self, name: str) -> None:
        self.active.pop(name, None)
        self.app.health.unregister(name)
        self._reschedule()
        cycle = self.app.cycles.get(name)
        if cycle is not None:
            # the statistics pump reads on between cycles: another worker paces this seller now
            await cycle.poller.stats.stop()

    def _reschedule(self) -> None:
        if self.runner is not None and self.runner.scheduler is not None:
            self.runner.schedule_accounts()

    def run(self, stop: asyncio.Event) -> asyncio.Task:
        return asyncio.create_task(self.keeper.run(stop), name="leases")

    def job(self, job: str, make: Any, stop: asyncio.Event) -> asyncio.Task:
        """Run a one-of-a-kind job (Telegram, the digest) only while this worker holds its lease."""
        return asyncio.create_task(self.keeper.run_job(job, make, stop), name=f"job:{job}")

    def cluster(self) -> dict[str, Any]:
        """This worker's part, for ``/healthz`` and the dashboard."""
        return {"worker": self.keeper.worker_id, "accounts": self.keeper.accounts(),
                "takeovers": self.keeper.takeovers, "lost": self.keeper.lost,
                "refused_writes": self.keeper.refused_writes}

    async def close(self) -> None:
        try:
            if self.keeper.started:
                await self.heartbeat.stop()
            await self.keeper.close()
        finally:
            await self.engine.dispose()
