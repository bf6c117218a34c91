"""``bidder cluster``: the workers on this database and which worker holds which account (PostgreSQL).

:func:`cluster_lines` is the section ``bidder status`` can show as well."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime

from bidder.cli.core import OK, Context, command


def _t(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "-"


async def cluster_lines(url: str) -> list[str]:
    """The cluster view as text lines: one worker process on SQLite; on PostgreSQL every known worker
    (live or not, its heartbeat and /healthz port) and every lease (holder, fencing epoch, expiry)."""
    from bidder.engine.leasing import uses_leases

    if not uses_leases(url):
        return ["Cluster: SQLite database, one worker process (several workers need PostgreSQL)."]
    from bidder.store import leases
    from bidder.store.db import Database

    async with Database(url) as database, database.read_sessions() as s:
        workers = await leases.workers(s)
        rows = await leases.leases(s)
    out = [f"Workers ({sum(w.live for w in workers)} live):"]
    held: dict[str, list[str]] = {}
    for r in rows:
        if r.live and r.holder is not None:
            held.setdefault(r.holder, []).append(r.name)
    for w in workers:
        state = "live" if w.live else "gone"
        port = f", /healthz on port {w.http_port}" if w.http_port else ""
        names = [n for n in held.get(w.id, []) if not n.startswith(leases.JOB_PREFIX)]
        jobs = [n[len(leases.JOB_PREFIX):] for n in held.get(w.id, []) if n.startswith(leases.JOB_PREFIX)]
        out.append(f"  {w.id} ({state}; {w.host} pid {w.pid}{port}; heartbeat {_t(w.heartbeat_at)}): "
                   f"{len(names)} account(s){'; jobs: ' + ', '.join(jobs) if jobs else ''}")
    out.append("Leases:")
    for r in rows:
        holder = r.holder if r.live else f"free (last {r.holder or '-'})"
        out.append(f"  {r.name:<32} {holder:<40} epoch {r.epoch:<6} campaigns {r.weight:<6} "
                   f"expires {_t(r.expires_at) if r.live else '-'}")
    return out


@command("cluster", "show the workers and which of them holds which account (several workers on PostgreSQL)")
def cmd_cluster(args: argparse.Namespace, ctx: Context) -> int:
    for line in asyncio.run(cluster_lines(ctx.settings.database_url)):
        ctx.print(line)
    return OK
