"""The cluster view: which worker holds which account, the fencing epochs and the heartbeats' age, for
``bidder status`` and the dashboard. Ages and expiries are measured by the database's clock, so workers
on several hosts need no synchronised clocks. On SQLite there is one worker process: :func:`cluster_view`
returns None."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.store.leases import JOB_PREFIX
from bidder.store.models import LeaseRow, WorkerRow


@dataclass(frozen=True, slots=True)
class LeaseView:
    name: str  # an account, or a job without its "job:" prefix
    job: bool
    holder: str | None  # None: free (or expired)
    last_holder: str | None  # who held it last (an expired lease's holder)
    epoch: int
    campaigns: int
    expires_in_s: float | None  # None: free


@dataclass(frozen=True, slots=True)
class WorkerView:
    id: str
    host: str
    pid: int
    http_port: int | None
    live: bool
    heartbeat_age_s: float
    accounts: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ClusterView:
    workers: list[WorkerView]
    leases: list[LeaseView]  # accounts first, then jobs

    @property
    def live_workers(self) -> int:
        return sum(w.live for w in self.workers)


async def cluster_view(session: AsyncSession) -> ClusterView | None:
    """The workers (live first, then gone) and every lease; None on SQLite (one worker process)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    now = func.clock_timestamp()
    lease_rows = (await session.execute(select(
        LeaseRow.name, LeaseRow.holder, LeaseRow.epoch, LeaseRow.weight,
        func.extract("epoch", LeaseRow.expires_at - now), LeaseRow.expires_at > now).order_by(LeaseRow.name))).all()
    leases: list[LeaseView] = []
    for name, holder, epoch, weight, left, live in lease_rows:
        live = bool(live) and holder is not None
        job = name.startswith(JOB_PREFIX)
        leases.append(LeaseView(name[len(JOB_PREFIX):] if job else name, job, holder if live else None, holder,
                                int(epoch), int(weight or 0), float(left) if live and left is not None else None))
    leases.sort(key=lambda x: (x.job, x.name))
    worker_rows = (await session.execute(select(
        WorkerRow.id, WorkerRow.host, WorkerRow.pid, WorkerRow.http_port, WorkerRow.expires_at > now,
        func.extract("epoch", now - WorkerRow.heartbeat_at)))).all()
    workers = []
    for wid, host, pid, port, live, age in worker_rows:
        workers.append(WorkerView(wid, host, int(pid), port, bool(live), max(float(age), 0.0),
                                  [x.name for x in leases if x.holder == wid and not x.job],
                                  [x.name for x in leases if x.holder == wid and x.job]))
    workers.sort(key=lambda w: (not w.live, w.id))
    return ClusterView(workers, leases)
