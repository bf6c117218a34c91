"""Store benchmark: audit and statistics write throughput on SQLite and PostgreSQL.

    python -m bench.store [--decisions 3000] [--stats 21000] [--audit-batches 1,50,500]
                          [--stats-batches 150,1050] [--no-postgres]

* audit: what the cycle does for a write: ``record_decision`` (status ``pending``) for every decision of a
  batch in one transaction, then ``set_decision_status`` (``applied``) for each in a second transaction.
  Rows per second count decisions (each decision = one INSERT + one UPDATE). Holds (no write, so no
  id needed) are recorded as the cycle records them: ``record_decisions``, one multi-row INSERT per
  batch (600 = the holds of a first cycle over 200 campaigns of 3 items); 10x as many rows.
* statistics: ``save_daily_stats`` upserts, one transaction per batch (150 = 50 campaigns x 3 items x
  1 day, one fullstats call's worth; 1050 = the same over 7 days, a first fetch). Each row is written
  twice: first as an insert, then again with new numbers as an update of the existing row.

SQLite: a file in a temp dir with the engine's settings (WAL, synchronous=NORMAL). PostgreSQL: a
throwaway server started with initdb/pg_ctl on loopback with its default durability settings (fsync on);
skipped with a line saying why when the binaries are missing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bench.common import Meter, PostgresUnavailable, header, table, throwaway_postgres
from bidder.domain import Action, DailyStat, Decision
from bidder.store import db, repo
from bidder.store.migrate import upgrade

ACCOUNT = "bench"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def make_decisions(n: int, seed: int = 1) -> list[Decision]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        before = rng.randint(150, 700) * 100
        after = before + rng.choice((-1, 1)) * rng.randint(1, 20) * 100
        out.append(Decision(
            action=Action.SET_BID, advert_id=2_000_000 + i // 3, nm_id=300_000_000 + i, placement="search",
            strategy="target_position",
            reason=f"position {rng.uniform(1, 30):.1f} (stats), target 3: worse than the target, raising",
            bid_before=before, bid_after=after, proposed_bid=after,
            inputs={"target_position": 3, "position": round(rng.uniform(1, 30), 1), "entry_bid": after,
                    "max_bid": 80000, "min_bid": 15000, "stats_as_of": T0.isoformat()},
        ))
    return out


def make_stats(n: int, seed: int = 1, bump: int = 0) -> list[DailyStat]:
    """n rows over (campaign, item, day); the same keys for the same n, numbers shifted by ``bump``."""
    rng = random.Random(seed)
    out = []
    day0 = date(2026, 11, 2)
    for i in range(n):
        advert, rest = divmod(i, 21)  # 3 items x 7 days per campaign
        nm, d = divmod(rest, 7)
        views = rng.randint(100, 20000) + bump
        clicks = views // rng.randint(20, 60)
        orders = clicks // rng.randint(10, 40)
        out.append(DailyStat(
            advert_id=2_000_000 + advert, nm_id=300_000_000 + advert * 10 + nm, day=day0 - timedelta(days=d),
            views=views, clicks=clicks, atbs=orders * 2, orders=orders,
            spend=Decimal(views) * Decimal("0.35"), revenue=Decimal(orders) * Decimal(2490),
            avg_position=rng.uniform(1, 40),
        ))
    return out


async def _sessions(url: str):
    await upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    async with sessions.begin() as s:
        await repo.ensure_account(s, ACCOUNT, "seller-uuid")
    return engine, sessions


async def bench_audit(url: str, decisions: list[Decision], batch: int) -> tuple[float, float]:
    engine, sessions = await _sessions(url)
    try:
        m = Meter()
        with m:
            for i in range(0, len(decisions), batch):
                part = decisions[i:i + batch]
                at = T0 + timedelta(minutes=i)
                async with sessions.begin() as s:
                    ids = [await repo.record_decision(s, ACCOUNT, d, at=at, dry_run=False, apply_status="pending",
                                                      evidence_at=T0) for d in part]
                async with sessions.begin() as s:
                    for did in ids:
                        await repo.set_decision_status(s, did, "applied", applied_at=at)
        return len(decisions) / m.wall, m.cpu / m.wall
    finally:
        await engine.dispose()


async def bench_holds(url: str, decisions: list[Decision], batch: int) -> tuple[float, float]:
    """Holds as the cycle records them: ``record_decisions`` (one multi-row INSERT per batch)."""
    engine, sessions = await _sessions(url)
    try:
        m = Meter()
        with m:
            for i in range(0, len(decisions), batch):
                async with sessions.begin() as s:
                    await repo.record_decisions(s, ACCOUNT, decisions[i:i + batch], at=T0 + timedelta(minutes=i),
                                                dry_run=False, apply_status="held")
        return len(decisions) / m.wall, m.cpu / m.wall
    finally:
        await engine.dispose()


async def bench_stats(url: str, n: int, batch: int) -> tuple[float, float, float]:
    engine, sessions = await _sessions(url)
    try:
        rates = []
        for bump in (0, 7):
            rows = make_stats(n, bump=bump)
            m = Meter()
            with m:
                for i in range(0, len(rows), batch):
                    async with sessions.begin() as s:
                        await repo.save_daily_stats(s, ACCOUNT, rows[i:i + batch])
            rates.append((len(rows) / m.wall, m.cpu / m.wall))
        return rates[0][0], rates[1][0], rates[1][1]
    finally:
        await engine.dispose()


async def run_backend(name: str, url_factory, args, rows: list) -> None:
    decisions = make_decisions(args.decisions)
    for batch in args.audit_batches:
        url = url_factory(f"audit{batch}")
        rate, cpu = await bench_audit(url, decisions, batch)
        rows.append([name, "audit: record_decision + set_decision_status", batch, len(decisions), rate, cpu])
    holds = make_decisions(args.decisions * 10, seed=2)
    for batch in args.hold_batches:
        url = url_factory(f"holds{batch}")
        rate, cpu = await bench_holds(url, holds, batch)
        rows.append([name, "audit holds: record_decisions (multi-row INSERT)", batch, len(holds), rate, cpu])
    for batch in args.stats_batches:
        url = url_factory(f"stats{batch}")
        ins, upd, cpu = await bench_stats(url, args.stats, batch)
        rows.append([name, "statistics: save_daily_stats, new rows", batch, args.stats, ins, None])
        rows.append([name, "statistics: save_daily_stats, upsert over existing", batch, args.stats, upd, cpu])


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


async def main_async(args) -> list[list]:
    rows: list[list] = []
    with tempfile.TemporaryDirectory(prefix="bidder-bench-store-") as tmp:
        await run_backend("SQLite", lambda tag: f"sqlite+aiosqlite:///{Path(tmp) / tag}.db", args, rows)
    if args.no_postgres:
        print("PostgreSQL: skipped (--no-postgres)")
        return rows
    try:
        with throwaway_postgres("bench") as base_url:
            import psycopg
            from sqlalchemy.engine import make_url

            u = make_url(base_url)
            created: list[str] = []

            def pg_url(tag: str) -> str:
                with psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password or None,
                                     dbname=u.database, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "bench_{tag}"')
                    conn.execute(f'CREATE DATABASE "bench_{tag}"')
                created.append(tag)
                return str(u.set(database=f"bench_{tag}"))

            await run_backend("PostgreSQL", pg_url, args, rows)
    except PostgresUnavailable as exc:
        print(f"PostgreSQL: skipped ({exc})")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__.split("\n\n")[0])
    ap.add_argument("--decisions", type=int, default=3_000, help="decisions written per audit run")
    ap.add_argument("--stats", type=int, default=21_000, help="daily-stat rows per statistics run")
    ap.add_argument("--audit-batches", type=_ints, default=[1, 50, 500], help="decisions per transaction")
    ap.add_argument("--hold-batches", type=_ints, default=[600], help="holds per transaction (a 200-campaign cycle)")
    ap.add_argument("--stats-batches", type=_ints, default=[150, 1050], help="rows per save_daily_stats call")
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args(argv)
    header("bench.store: audit and statistics write throughput")
    print("SQLite: file in a temp dir, WAL, synchronous=NORMAL. PostgreSQL: throwaway local server, default "
          "fsync/synchronous_commit, loopback TCP, asyncpg.")
    rows = asyncio.run(main_async(args))
    print()
    table(["backend", "workload", "batch", "rows", "rows/s", "CPU/wall"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
