"""Dashboard benchmark: server render time of the Overview and Campaigns pages, and page weight.

    python -m bench.dashboard [--campaigns 10000] [--days 7] [--runs 15] [--db PATH]

Fills a SQLite file through the store's own functions (``bidder.store.repo``): one account with
``--campaigns`` campaigns of 2 items, a week of daily statistics per item, bid snapshots from three
observations, and the audit trail of ``--decisions-per-day`` decisions per campaign and day (holds and
bid changes), some operator pauses and alerts. Then serves the dashboard on a loopback port and times
``GET /``, ``GET /campaigns`` (first page, default sort), the same sorted by 7-day spend descending, and
a filtered page: the median and 90th percentile of the time from request to the last byte, measured by a
client in the same process (so it includes HTTP handling, SQL and template rendering).

Page weight: the HTML plus every stylesheet and script it references (``/static/...``), uncompressed.
Goals (issue 18): median ≤ 200 ms for each page at 10,000 campaigns, ≤ 300 KB per page.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import header, table
from bidder.clock import FakeClock
from bidder.domain import Action, Campaign, DailyStat, Decision, Item
from bidder.store import db, repo
from bidder.store.migrate import upgrade

ACCOUNT = "shop-a"
NOW = datetime(2026, 11, 9, 12, 0, tzinfo=UTC)
FIRST_ID = 1_000_001


def campaigns_at(n: int, step: int, rng: random.Random) -> list[Campaign]:
    out = []
    for i in range(n):
        adv = FIRST_ID + i
        items = tuple(
            Item(nm_id=200_000_000 + i * 2 + k, bids={"search": 20_000 + ((i * 37 + step * 1100 + k * 500) % 40_000)},
                 subject=f"товар {k + 1}")
            for k in range(2)
        )
        out.append(Campaign(
            advert_id=adv, name=f"Кампания {i:05d} {rng.choice(['платья', 'кружки', 'кабели', 'куртки'])}",
            type=9, status=11 if i % 17 == 0 else 9, bid_type="manual", payment_type="cpm", currency="RUB",
            placements=frozenset({"search"}), items=items, changed_at=NOW - timedelta(days=10)))
    return out


async def populate(url: str, campaigns: int, days: int = 7, decisions_per_day: int = 4, seed: int = 1,
                   now: datetime = NOW) -> None:
    """Fill ``url`` (migrated here) with a dashboard-sized history. Writes through bidder.store.repo."""
    await upgrade(url)
    rng = random.Random(seed)
    database = db.Database(url)
    try:
        async with database.sessions.begin() as s:
            await repo.ensure_account(s, ACCOUNT, "4242", "RUB", "Europe/Moscow")
        # three observations of the bids over the week: the bid snapshots the charts draw
        for step in range(3):
            at = now - timedelta(days=days) + timedelta(days=step * days / 3)
            batch = campaigns_at(campaigns, step, rng)
            for k in range(0, len(batch), 2000):
                async with database.sessions.begin() as s:
                    await repo.save_campaigns(s, ACCOUNT, batch[k:k + 2000], at)
        today = now.date()
        for d in range(days):
            day = today - timedelta(days=d)
            stats = []
            for i in range(campaigns):
                for k in range(2):
                    spend = Decimal(rng.randint(0, 300_000)) / 100
                    stats.append(DailyStat(
                        advert_id=FIRST_ID + i, nm_id=200_000_000 + i * 2 + k, day=day, views=rng.randint(0, 5000),
                        clicks=rng.randint(0, 200), atbs=rng.randint(0, 30), orders=rng.randint(0, 20),
                        spend=spend, revenue=spend * Decimal(rng.randint(2, 15)),
                        avg_position=round(rng.uniform(1, 40), 1)))
            for k in range(0, len(stats), 5000):
                async with database.sessions.begin() as s:
                    await repo.save_daily_stats(s, ACCOUNT, stats[k:k + 5000])
        for d in range(days):
            for j in range(decisions_per_day):
                at = now - timedelta(days=d, hours=j * 24 / max(1, decisions_per_day))
                decisions = []
                for i in range(campaigns):
                    nm = 200_000_000 + i * 2
                    if (i + j) % 3 == 0:
                        before = 20_000 + (i * 37) % 40_000
                        decisions.append(Decision(
                            action=Action.SET_BID, advert_id=FIRST_ID + i, nm_id=nm, placement="search",
                            strategy="spend_cap", reason=f"ДРР {rng.uniform(5, 40):.1f}% над потолком 20%: снижаем",
                            bid_before=before, bid_after=before - 1000, proposed_bid=before - 1000,
                            inputs={"drr_pct": 25.0, "window_days": 3}))
                    else:
                        decisions.append(Decision(
                            action=Action.HOLD, advert_id=FIRST_ID + i, nm_id=nm, placement="search",
                            strategy="spend_cap", reason="ДРР в норме", inputs={"drr_pct": 12.0}))
                for k in range(0, len(decisions), 5000):
                    async with database.sessions.begin() as s:
                        await repo.record_decisions(s, ACCOUNT, decisions[k:k + 5000], at=at, dry_run=False,
                                                    apply_status="applied")
        async with database.sessions.begin() as s:
            for i in range(0, min(campaigns, 50), 7):
                await repo.set_operator_state(s, ACCOUNT, "paused", True, advert_id=FIRST_ID + i, at=now,
                                              set_by="bench")
            await repo.enqueue_alert(s, ACCOUNT, "account_failing", {"error": "HTTP 503 from WB"},
                                     dedup_key="bench-1", severity="warning", at=now - timedelta(hours=2))
            cycle = await repo.start_cycle(s, ACCOUNT, now - timedelta(minutes=1))
            await repo.finish_cycle(s, cycle, at=now - timedelta(seconds=50), ok=True, summary={"campaigns": campaigns})
    finally:
        await database.dispose()


def bench_config(tmp: Path) -> Any:
    """A config for the bench account (fake tokens: the dashboard shows only their claims)."""
    from bidder.config import load_config

    path = tmp / "bidder.yaml"
    path.write_text(
        "accounts:\n"
        f"  - name: {ACCOUNT}\n"
        "    read_token: ${WB_READ_TOKEN}\n"
        "    guardrails: {max_bid: 800}\n"
        "    defaults:\n"
        "      strategies:\n"
        "        - spend_cap: {max_drr_pct: 20, window: 3d}\n"
        "    campaigns:\n"
        f"      - id: {FIRST_ID}\n"
        "        strategies:\n"
        "          - target_position: {position: 3, max_bid: 600}\n",
        encoding="utf-8")
    return load_config(path, {"WB_READ_TOKEN": "bench-read-token-not-a-jwt"})


async def serve(url: str, config: Any, now: datetime = NOW, password: str | None = None,
                control: Any = None) -> tuple[Any, Any]:
    """The dashboard over ``url`` on a loopback port: returns (HttpServer, Database)."""
    from bidder.dashboard import DashboardDeps, setup_dashboard
    from bidder.health import Health
    from bidder.http import start_http
    from bidder.metrics import Metrics

    database = db.Database(url)
    clock = FakeClock(now)
    deps = DashboardDeps(read_sessions=database.read_sessions, clock=clock, config=lambda: config,
                         control=control, password=password)
    server = await start_http(0, "127.0.0.1", Health(clock=clock), Metrics(), clock,
                              extra=lambda app: setup_dashboard(app, deps))
    return server, database


async def fetch(session: aiohttp.ClientSession, url: str) -> tuple[float, bytes, int]:
    t0 = time.perf_counter()
    async with session.get(url) as r:
        body = await r.read()
        status = r.status
    return (time.perf_counter() - t0) * 1000, body, status


async def page_weight(session: aiohttp.ClientSession, base: str, html: bytes) -> int:
    total = len(html)
    for ref in sorted(set(re.findall(rb'(?:src|href)="(/static/[^"]+)"', html))):
        _, body, _ = await fetch(session, base + ref.decode())
        total += len(body)
    return total


async def measure(base: str, paths: list[str], runs: int) -> list[list[Any]]:
    rows = []
    async with aiohttp.ClientSession() as session:
        for path in paths:
            await fetch(session, base + path)  # warm-up: template compilation, connection pools
            times = []
            body = b""
            for _ in range(runs):
                ms, body, status = await fetch(session, base + path)
                if status != 200:
                    raise RuntimeError(f"GET {path}: HTTP {status}")
                times.append(ms)
            weight = await page_weight(session, base, body)
            p90 = statistics.quantiles(times, n=10)[-1] if len(times) >= 2 else times[0]
            rows.append([path, runs, round(statistics.median(times), 1), round(p90, 1), round(weight / 1024, 1)])
    return rows


async def run(campaigns: int, days: int, runs: int, db_path: Path | None, decisions_per_day: int,
              out=print) -> list[list[Any]]:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        path = db_path or tmp / "dashboard.db"
        url = f"sqlite+aiosqlite:///{path}"
        t0 = time.perf_counter()
        if db_path is None or not db_path.exists():
            await populate(url, campaigns, days, decisions_per_day)
            out(f"filled {path}: {campaigns} campaigns, {days} days, {decisions_per_day} decisions per campaign "
                f"and day, in {time.perf_counter() - t0:.0f} s")
        server, database = await serve(url, bench_config(tmp))
        try:
            paths = ["/", "/campaigns", "/campaigns?sort=spend_week&dir=desc", "/campaigns?q=платья&page=3",
                     f"/campaigns/{FIRST_ID + 7}"]
            return await measure(server.url, paths, runs)
        finally:
            await server.stop()
            await database.dispose()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--campaigns", type=int, default=10_000)
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--decisions-per-day", type=int, default=4)
    p.add_argument("--db", type=Path, default=None, help="reuse (or create) this SQLite file")
    args = p.parse_args(argv)
    header("dashboard: server render time and page weight")
    rows = asyncio.run(run(args.campaigns, args.days, args.runs, args.db, args.decisions_per_day))
    table(["page", "runs", "median ms", "p90 ms", "weight KB (html+css+js)"], rows)
    print("goals: median ≤ 200 ms for / and /campaigns at 10,000 campaigns; ≤ 300 KB per page")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["ACCOUNT", "FIRST_ID", "NOW", "bench_config", "populate", "run", "serve"]
