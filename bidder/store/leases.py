"""Leases: which worker process serves which seller account (and the one-of-a-kind jobs), on PostgreSQL.

A lease row per account (``name`` = the account's name) or job (``name`` = ``job:<what>``). A worker
claims free or expired rows with ``SELECT … FOR UPDATE SKIP LOCKED`` (two workers never wait for, nor
get, the same row), renews the rows it holds by heartbeat and releases them on shutdown. Every claim
adds one to ``epoch``: the fencing token. A worker passes ``(holder, epoch)`` as a :class:`Fence`; the
transaction that records a write intent checks it under ``FOR KEY SHARE`` (:func:`check_fence`), so it
either commits before a takeover (and the new holder reconciles that intent) or fails with
:class:`LeaseLost` and records nothing.

Times are the database server's (``clock_timestamp()``): workers on several hosts agree on them
without synchronised clocks. PostgreSQL only: SQLite is one process (see :func:`require_leasing`).

The fence of the running task is a context variable (:data:`current_fence`): the worker sets it around
an account's cycle, and :func:`bidder.store.audit.record_decisions` checks it, so the stages in between
do not carry it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, column, delete, func, or_, select, table, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bidder.errors import WBError
from bidder.store.models import LeaseRow, WorkerRow

JOB_PREFIX = "job:"


class LeaseLost(WBError):
    """This worker no longer holds the lease (taken over, expired): it must neither record nor send a write.
    A :class:`~bidder.errors.WBError` so that a refused send is recorded as a failed write, never retried."""


@dataclass(frozen=True, slots=True)
class Fence:
    name: str  # the account (or job) the lease is on
    holder: str  # the worker id
    epoch: int  # the fencing token at claim time


# The fence of the account whose cycle this task runs (set by the worker, read by record_decisions).
current_fence: contextvars.ContextVar[Fence | None] = contextvars.ContextVar("bidder_fence", default=None)


@dataclass(frozen=True, slots=True)
class Claimed:
    name: str
    epoch: int
    previous_holder: str | None  # not None: a takeover (the previous holder's lease had expired)


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    name: str
    holder: str | None
    epoch: int
    expires_at: datetime | None
    weight: int
    live: bool  # held and not expired
    seconds_left: float | None = None  # until it expires, by the database's clock (None: free)


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    http_port: int | None
    started_at: datetime
    heartbeat_at: datetime
    live: bool


def _now():  # the database's wall clock, not the transaction's start
    return func.clock_timestamp()


def _ttl(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


# --------------------------------------------------------------------------------------- workers


async def heartbeat_worker(session: AsyncSession, worker_id: str, *, host: str, pid: int, http_port: int | None,
                           ttl: float) -> None:
    """Register the worker or renew its heartbeat (it counts as live until ``ttl`` seconds from now)."""
    stmt = pg_insert(WorkerRow).values(id=worker_id, host=host, pid=pid, http_port=http_port, started_at=_now(),
                                       heartbeat_at=_now(), expires_at=_now() + _ttl(ttl))
    stmt = stmt.on_conflict_do_update(index_elements=[WorkerRow.id],
                                      set_={"heartbeat_at": _now(), "expires_at": _now() + _ttl(ttl),
                                            "http_port": http_port})
    await session.execute(stmt)


async def remove_worker(session: AsyncSession, worker_id: str) -> None:
    await session.execute(delete(WorkerRow).where(WorkerRow.id == worker_id))


async def live_workers(session: AsyncSession) -> list[str]:
    """The ids of the workers whose heartbeat is current, sorted."""
    rows = await session.scalars(select(WorkerRow.id).where(WorkerRow.expires_at > _now()).order_by(WorkerRow.id))
    return list(rows)


async def purge_workers(session: AsyncSession, older_than: float) -> int:
    """Forget workers whose heartbeat expired more than ``older_than`` seconds ago."""
    result = await session.execute(delete(WorkerRow).where(WorkerRow.expires_at < _now() - _ttl(older_than)))
    return result.rowcount or 0  # type: ignore[attr-defined]


# A worker holds a session-level advisory lock (``LIVENESS_LOCK``, hashtext(worker id)) on a connection of
# its own for its whole life. PostgreSQL drops it the moment that connection closes, which a dead process
# (SIGKILL, OOM, crash) does at once: the other workers see the death without waiting for the TTL. A frozen
# process (SIGSTOP, a stall) or one cut off from the network keeps it: those wait for the TTL as before.
LIVENESS_LOCK = 0x62696464  # the advisory locks' first key: "bidd"


async def take_liveness_lock(conn: AsyncConnection, worker_id: str) -> bool:
    """Take this worker's liveness lock on ``conn`` (held until the connection closes); False when another
    connection holds it (a previous process of the same id not gone yet, or a hash collision)."""
    return bool(await conn.scalar(select(func.pg_try_advisory_lock(LIVENESS_LOCK, func.hashtext(worker_id)))))


async def liveness(session: AsyncSession, me: str) -> dict[str, bool]:
    """For every other worker live by its heartbeat: whether its liveness lock is held (True) or free
    (False: its process is gone, or it never took one). Probes with a transaction-level try-lock, which
    the caller's transaction keeps until it ends, so a dead worker's id cannot come back meanwhile."""
    rows = await session.execute(
        select(WorkerRow.id, func.pg_try_advisory_xact_lock(LIVENESS_LOCK, func.hashtext(WorkerRow.id)))
        .where(WorkerRow.expires_at > _now(), WorkerRow.id != me).order_by(WorkerRow.id))
    return {w: not free for w, free in rows}


async def expire_worker(session: AsyncSession, worker_id: str) -> list[str]:
    """Declare a worker gone now (its liveness lock fell): its heartbeat and its leases expire at once, so
    that the next claim takes them over (the epoch grows as in any takeover). Returns its leases."""
    await session.execute(update(WorkerRow).where(WorkerRow.id == worker_id).values(expires_at=_now()))
    rows = await session.scalars(
        update(LeaseRow).where(LeaseRow.holder == worker_id, LeaseRow.expires_at > _now())
        .values(expires_at=_now()).returning(LeaseRow.name))
    return sorted(rows)


# ---------------------------------------------------------------------------------------- leases


async def ensure_leases(session: AsyncSession, weights: Mapping[str, int]) -> None:
    """Create the lease rows that do not exist yet (free, epoch 0); a positive weight replaces the stored
    one (the holder knows the campaign count; the others pass 0 and leave it)."""
    if not weights:
        return
    stmt = pg_insert(LeaseRow).values([{"name": n, "holder": None, "epoch": 0, "expires_at": None, "weight": w}
                                       for n, w in sorted(weights.items())])
    stmt = stmt.on_conflict_do_update(index_elements=[LeaseRow.name], set_={"weight": case((stmt.excluded.weight > 0, stmt.excluded.weight), else_=LeaseRow.weight)})
    await session.execute(stmt)


async def leases(session: AsyncSession, names: Iterable[str] | None = None) -> list[LeaseInfo]:
    left = func.extract("epoch", LeaseRow.expires_at - _now())
    stmt = select(LeaseRow, (LeaseRow.holder.is_not(None)) & (LeaseRow.expires_at > _now()), left) \
        .order_by(LeaseRow.name)
    if names is not None:
        stmt = stmt.where(LeaseRow.name.in_(list(names)))
    return [LeaseInfo(r.name, r.holder, r.epoch, r.expires_at, r.weight, bool(live),
                      None if secs is None or r.holder is None else float(secs))
            for r, live, secs in await session.execute(stmt)]


async def claim(session: AsyncSession, worker_id: str, names: Sequence[str], *, ttl: float) -> list[Claimed]:
    """Claim those of ``names`` that are free or expired (or already ours), skipping rows another worker
    is claiming right now. Each claimed row's epoch grows by one. Returns what was claimed."""
    if not names:
        return []
    free = or_(LeaseRow.holder.is_(None), LeaseRow.expires_at.is_(None), LeaseRow.expires_at <= _now(),
               LeaseRow.holder == worker_id)
    rows = list(await session.scalars(
        select(LeaseRow).where(LeaseRow.name.in_(list(names)), free)
        .order_by(LeaseRow.name).with_for_update(skip_locked=True)))
    out: list[Claimed] = []
    for row in rows:
        previous = row.holder if row.holder not in (None, worker_id) else None
        epoch = await session.scalar(
            update(LeaseRow).where(LeaseRow.name == row.name)
            .values(holder=worker_id, epoch=LeaseRow.epoch + 1, expires_at=_now() + _ttl(ttl))
            .returning(LeaseRow.epoch))
        out.append(Claimed(row.name, int(epoch), previous))  # type: ignore[arg-type]
    return out


async def renew(session: AsyncSession, worker_id: str, held: Mapping[str, int], *, ttl: float) -> dict[str, int]:
    """Extend the leases this worker still holds with the epoch it claimed them at; returns those (name ->
    epoch). A lease missing from the answer was taken over: the worker must stop serving it."""
    if not held:
        return {}
    conds = [and_(LeaseRow.name == n, LeaseRow.epoch == e) for n, e in held.items()]
    rows = await session.execute(
        update(LeaseRow).where(LeaseRow.holder == worker_id, or_(*conds))
        .values(expires_at=_now() + _ttl(ttl)).returning(LeaseRow.name, LeaseRow.epoch))
    return {n: int(e) for n, e in rows}


async def release(session: AsyncSession, worker_id: str, names: Iterable[str]) -> int:
    """Give up leases (shutdown, rebalancing): free at once for another worker; the epoch is kept (the
    next claim raises it)."""
    names = list(names)
    if not names:
        return 0
    result = await session.execute(
        update(LeaseRow).where(LeaseRow.holder == worker_id, LeaseRow.name.in_(names))
        .values(holder=None, expires_at=None))
    return result.rowcount or 0  # type: ignore[attr-defined]


async def check_fence(session: AsyncSession, fence: Fence) -> None:
    """Raise :class:`LeaseLost` unless ``fence`` still holds: same holder and epoch, not expired. Locks
    the lease row ``FOR KEY SHARE`` until the end of the caller's transaction: a takeover (``FOR UPDATE
    SKIP LOCKED``) skips the row meanwhile, so what this transaction records is seen by the new holder's
    reconciliation; the holder's own renewal (a plain UPDATE of ``expires_at``) does not wait for it."""
    row = (await session.execute(
        select(LeaseRow.holder, LeaseRow.epoch, LeaseRow.expires_at > _now())
        .where(LeaseRow.name == fence.name).with_for_update(read=True, key_share=True))).first()
    if row is None or row[0] != fence.holder or int(row[1]) != fence.epoch or not row[2]:
        raise LeaseLost(f"lease on {fence.name} lost (epoch {fence.epoch}): not recording or sending writes")


async def check_current_fence(session: AsyncSession, account: str | None = None) -> None:
    """The one fencing step of every store write a worker makes (called by
    :func:`bidder.store.common.require_account_id`, through which the writes of an account's data find
    the account, and by the writes that go by row id): :func:`check_fence` with the running task's fence,
    if it has one. ``account`` names whose data is written (None: a write by row id, within the task's
    own account or job); a write of another account's data than the fence's is not this fence's business.
    Checked once per transaction: the ``FOR KEY SHARE`` lock of the first check holds until it ends."""
    fence = current_fence.get()
    if fence is None or (account is not None and account != fence.name and not fence.name.startswith(JOB_PREFIX)):
        return
    txn = session.sync_session.get_transaction()
    checked = session.info.get("bidder_fence_checked")
    if txn is not None and checked is not None and checked[0] is txn and checked[1] == fence:
        return
    await check_fence(session, fence)
    session.info["bidder_fence_checked"] = (session.sync_session.get_transaction(), fence)


async def forget_leases(session: AsyncSession, keep: Iterable[str]) -> int:
    """Delete free lease rows not in ``keep`` (accounts no longer configured anywhere)."""
    keep = list(keep)
    result = await session.execute(
        delete(LeaseRow).where(LeaseRow.name.not_in(keep), or_(LeaseRow.holder.is_(None),
                                                                LeaseRow.expires_at <= _now())))
    return result.rowcount or 0  # type: ignore[attr-defined]


async def workers(session: AsyncSession) -> list[WorkerInfo]:
    """Every known worker, live or not, for the cluster view."""
    rows = await session.execute(select(WorkerRow, WorkerRow.expires_at > _now()).order_by(WorkerRow.id))
    return [WorkerInfo(w.id, w.host, w.pid, w.http_port, w.started_at, w.heartbeat_at, bool(live))
            for w, live in rows]


async def database_load(session: AsyncSession) -> dict[str, int]:
    """This database's counters since the server started (``pg_stat_database``): transactions committed,
    rows inserted, updated, fetched; for sizing (docs/SCALING.md)."""
    row = (await session.execute(select(
        column("xact_commit"), column("tup_inserted"), column("tup_updated"), column("tup_fetched"))
        .select_from(table("pg_stat_database")).where(column("datname") == func.current_database()))).first()
    if row is None:
        return {}
    return {"transactions": int(row[0]), "rows_inserted": int(row[1]), "rows_updated": int(row[2]),
            "rows_fetched": int(row[3])}


async def backend_pid(session: AsyncSession) -> int:
    """The PID of the PostgreSQL backend serving this session (benchmarks find the server's processes)."""
    return int((await session.execute(select(func.pg_backend_pid()))).scalar_one())


async def table_load(session: AsyncSession) -> dict[str, dict[str, int]]:
    """Per table (``pg_stat_user_tables``): rows read by sequential scans and fetched by index scans,
    scans, rows inserted and updated since the server started; for sizing and for the bench."""
    cols = ("seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch", "n_tup_ins", "n_tup_upd")
    rows = await session.execute(select(column("relname"), *(column(c) for c in cols))
                                 .select_from(table("pg_stat_user_tables")))
    return {r[0]: {c: int(v or 0) for c, v in zip(cols, r[1:], strict=True)} for r in rows}
