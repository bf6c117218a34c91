"""``bidder demo``: the simulator's demo market and the daemon in one process, sped up, with a
readable account of what happens. Needs no token and no network: the simulator mints its own tokens
and listens on loopback; the data goes to a fresh SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from bidder.app import App, build_app
from bidder.config import load_config
from bidder.domain import Action, Decision, minor_to_base
from bidder.settings import Settings
from bidder.store import repo

DEFAULT_SPEED = 240.0  # one real second = four simulated minutes


def example_config() -> Path:
    for candidate in (Path(__file__).resolve().parents[1] / "examples" / "bidder.yaml", Path("examples/bidder.yaml")):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("examples/bidder.yaml not found: run the demo from the repository checkout")


def _money(v: Decimal | int | None) -> str:
    if v is None:
        return "—"
    return f"{Decimal(v):,.0f}".replace(",", " ")


def _drr(spend: Decimal, revenue: Decimal) -> str:
    if revenue > 0:
        return f"{spend / revenue * 100:.1f}%"
    return "∞" if spend > 0 else "—"


def _fresh_database(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{db_path}{suffix}").unlink()


def _pos(values: list[float]) -> str:
    return f"{sum(values) / len(values):.1f}" if values else "—"


class DemoPrinter:
    def __init__(self, out: TextIO, clock) -> None:
        self.out = out
        self.clock = clock
        self.changes = 0
        self.pauses = 0
        self.resumes = 0
        self.holds = 0

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def on_decisions(self, account: str, decisions: list[Decision]) -> None:
        stamp = self.clock.now().strftime("%a %H:%M")
        for d in decisions:
            if d.action == Action.HOLD:
                self.holds += 1
                continue
            target = f"{d.advert_id}" + (f" nm {d.nm_id} {d.placement}" if d.nm_id else "")
            guard = f" [{d.guard}]" if d.guard and d.guard not in d.reason else ""
            if d.action == Action.SET_BID:
                if not d.changes_bid:
                    continue
                self.changes += 1
                what = f"bid {minor_to_base(d.bid_before or 0)} → {minor_to_base(d.bid_after or 0)}"
            elif d.action == Action.PAUSE:
                self.pauses += 1
                what = "PAUSE"
            else:
                self.resumes += 1
                what = "RESUME"
            self.line(f"  [sim {stamp}] {account} {target}: {what} ({d.strategy}: {d.reason}){guard}")


async def run_demo(minutes: float = 2.0, *, speed: float = DEFAULT_SPEED, db_path: Path = Path("demo.db"),
                   out: TextIO = sys.stdout, seed: int = 1, dashboard_port: int | None = None) -> int:
    from bidder.notify.console import ConsoleSink
    from bidder.sim.testing import start_simulator

    _fresh_database(db_path)
    sim = await start_simulator("demo", seed=seed, speed=speed)
    clock = sim.sim.clock
    printer = DemoPrinter(out, clock)
    app: App | None = None
    dashboard = None
    try:
        seller = sim.sim.sellers["shop-a"]
        env = dict(os.environ, WB_READ_TOKEN=seller.read_token, WB_WRITE_TOKEN=seller.write_token)
        cfg_path = example_config()
        config = load_config(cfg_path, env)
        settings = Settings(
            config=cfg_path,
            database_url=f"sqlite+aiosqlite:///{db_path}",
            wb_advert_url=sim.url,
            dry_run=False,
            http_port=0,
            telegram_bot_token=None,
        )
        start = clock.now()
        printer.line(f"bidder demo: the simulated WB market at {sim.url}, {speed:g}× real time "
                     f"({minutes:g} real minutes ≈ {minutes * speed / 60:.1f} simulated hours)")
        printer.line(f"config {cfg_path}, database {db_path} (SQLite); no Telegram configured: messages are printed")
        app = await build_app(settings, clock=clock, config=config, on_decisions=printer.on_decisions)
        dashboard = await _start_dashboard(app, dashboard_port)
        printer.line(f"dashboard: {dashboard.url}/" + ("" if settings.dashboard_password else
                     "  (read-only; set BIDDER_DASHBOARD_PASSWORD to enable its actions)"))
        sink = ConsoleSink(out)
        await _show_campaigns(app, printer)
        printer.line("")
        printer.line("Decisions as they happen (holds are recorded but not shown):")
        stop = asyncio.Event()
        served = asyncio.create_task(app.serve(telegram_sink=sink, stop=stop))
        await asyncio.sleep(minutes * 60)
        stop.set()
        await asyncio.wait_for(served, 30)
        await _summary(app, printer, start, sim)
        return 0
    finally:
        if dashboard is not None:
            await dashboard.stop()
        if app is not None:
            await app.close()
        await sim.stop()


async def _start_dashboard(app: App, port: int | None):
    """The dashboard on 127.0.0.1: ``port`` (None: BIDDER_HTTP_PORT, else 8080), any free port if taken."""
    from bidder.dashboard import serve_dashboard

    if port is None:
        port = int(os.environ.get("BIDDER_HTTP_PORT") or 8080)
    try:
        return await serve_dashboard(app, port, "127.0.0.1")
    except OSError:
        return await serve_dashboard(app, 0, "127.0.0.1")


async def _show_campaigns(app: App, printer: DemoPrinter) -> None:
    for cycle in app.cycles.values():
        await cycle.start()
        await cycle.poller.refresh_campaigns(app.clock.now())
    async with app.sessions() as s:
        for account in app.config.accounts:
            campaigns = await repo.load_campaigns(s, account.name)
            printer.line(f"\nAccount {account.name}: {len(campaigns)} campaigns")
            printer.line(f"  {'id':>8}  {'status':>6}  {'bid':>7}  {'pay':>3}  {'items':>5}  strategies")
            for c in campaigns:
                kinds = ", ".join(s.kind for s in account.strategies_for(c.advert_id)) or "—"
                printer.line(f"  {c.advert_id:>8}  {c.status:>6}  {c.bid_type:>7}  {c.payment_type:>3}  "
                             f"{len(c.items):>5}  {kinds}  {c.name}")


async def _summary(app: App, printer: DemoPrinter, start, sim) -> None:
    end = app.clock.now()
    printer.line("")
    printer.line(f"Summary after {(end - start) / timedelta(hours=1):.1f} simulated hours:")
    printer.line(f"  bid changes {printer.changes}, pauses {printer.pauses}, resumes {printer.resumes}, "
                 f"holds {printer.holds}")
    tz_day = start.date()
    async with app.sessions() as s:
        for account in app.config.accounts:
            stats = await repo.load_daily_stats(s, account.name, None, tz_day - timedelta(days=7))
            before: dict[int, list] = {}
            after: dict[int, list] = {}
            for st in stats:
                bucket = before if st.day < tz_day else after
                acc = bucket.setdefault(st.advert_id, [Decimal(0), Decimal(0), []])
                acc[0] += st.spend
                acc[1] += st.revenue
                if st.avg_position:
                    acc[2].append(st.avg_position)
            printer.line(f"  {account.name}: per campaign, the days before the demo → the demo's days")
            printer.line(f"  {'id':>8}  {'spend before':>12}  {'ДРР before':>10}  {'position':>8}  "
                         f"{'spend during':>12}  {'ДРР during':>10}  {'position':>8}")
            for advert_id in sorted(set(before) | set(after)):
                b = before.get(advert_id, [Decimal(0), Decimal(0), []])
                a = after.get(advert_id, [Decimal(0), Decimal(0), []])
                printer.line(f"  {advert_id:>8}  {_money(b[0]):>12}  {_drr(b[0], b[1]):>10}  {_pos(b[2]):>8}  "
                             f"{_money(a[0]):>12}  {_drr(a[0], a[1]):>10}  {_pos(a[2]):>8}")
    report = sim.sim.report()
    printer.line(f"  the simulator saw: {report.get('total_requests', '?')} requests, "
                 f"{report.get('total_429', '?')} answered 429, {len(report.get('rejected', []))} rejected, "
                 f"{len(report.get('bid_changes', []))} bid changes applied")


def main(minutes: float, speed: float = DEFAULT_SPEED, echo: Callable[[str], None] | None = None) -> int:
    return asyncio.run(run_demo(minutes, speed=speed))
