"""The daemon keeps WB's daily limit of a CPC campaign at its ``daily_budget`` (issue 15), end to end:
``run_once`` against the simulator over real HTTP, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from bidder.app import build_app
from bidder.clock import FakeClock
from bidder.config import load_config
from bidder.settings import Settings
from bidder.sim.testing import start_simulator
from bidder.store import alerts as stored_alerts

CPC = 1000007
CONFIG = """\
accounts:
  - name: shop-a
    read_token: ${WB_READ_TOKEN}
    write_token: ${WB_WRITE_TOKEN}
    guardrails: {max_bid: 800}
    defaults: {managed: false}
    campaigns:
      - id: 1000007
        strategies:
          - spend_cap: {max_drr_pct: 60, daily_budget: 1500, window: 3d}
"""


async def _app(sim, tmp_path: Path, clock, *, dry_run: bool = False):
    seller = sim.sim.sellers["shop-a"]
    path = tmp_path / "bidder.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    config = load_config(path, {"WB_READ_TOKEN": seller.read_token, "WB_WRITE_TOKEN": seller.write_token})
    settings = Settings(config=path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'bidder.db'}",
                        wb_advert_url=sim.url, dry_run=dry_run, http_port=0)
    return await build_app(settings, clock=clock, config=config.model_copy(update={"stop_file": tmp_path / "STOP"}))


def _puts(sim) -> int:
    return sim.sim.report()["requests"].get("PUT /api/advert/v0/daily-limits", {}).get("count", 0)


async def test_cycle_sets_the_limit_and_alerts_when_bids_make_it_invalid(tmp_path: Path) -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim:
        app = await _app(sim, tmp_path, clock)
        try:
            assert [r.ok for r in await app.run_once()] == [True]
            m = sim.sim.market
            row = m.daily_limit(CPC, clock.now())
            assert row["enabled"] and row["dailyLimit"] == 150_000 and not row["carryOverEnabled"]
            assert _puts(sim) == 1
            # the bids rise (another tool, or the seller): WB calls the limit too small -> one alert
            for it in m.campaign(CPC).spec.items:
                m.set_bid(CPC, it.nm_id, "combined", 3000, clock.now())
            clock.advance(6 * 60)
            assert [r.ok for r in await app.run_once()] == [True]
            assert _puts(sim) == 1  # the limit was right: not written again
            async with app.sessions() as s:
                kinds = [a.kind for a in await stored_alerts.pending_events(s, 1000)]
            assert "daily_limit" in kinds
        finally:
            await app.close()


async def test_dry_run_reads_but_sets_no_limit(tmp_path: Path) -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim:
        app = await _app(sim, tmp_path, clock, dry_run=True)
        try:
            assert [r.ok for r in await app.run_once()] == [True]
            assert _puts(sim) == 0 and not sim.sim.market.daily_limit(CPC, clock.now())["enabled"]
            assert sim.sim.report()["requests"].get("GET /api/advert/v0/daily-limits", {}).get("count", 0) >= 1
        finally:
            await app.close()
