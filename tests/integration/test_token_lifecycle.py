"""Token expiry checked while the daemon runs, and new tokens picked up by a reload (issue 14, defect 10).
The real app over the simulator on a FakeClock and a real SQLite file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bidder.app import build_app
from bidder.clock import FakeClock
from bidder.config import load_config
from bidder.settings import Settings
from bidder.sim.testing import start_simulator
from bidder.sim.tokens import issue
from bidder.store import repo
from bidder.wb.tokens import expiry_alert_due

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bidder.yaml"


def test_expiry_thresholds_alert_once_each():
    assert expiry_alert_due(20, None) is None
    assert expiry_alert_due(14, None) == 14
    assert expiry_alert_due(10, 14) is None
    assert expiry_alert_due(3, 14) == 3
    assert expiry_alert_due(2.5, 3) is None
    assert expiry_alert_due(0.9, 3) == 1
    assert expiry_alert_due(0.5, 1) is None
    assert expiry_alert_due(2, None) == 3  # found late: one alert, not three
    assert expiry_alert_due(None, None) is None


async def _app(sim, tmp_path: Path, clock, env: dict[str, str]):
    config = load_config(EXAMPLE, env)
    settings = Settings(config=EXAMPLE, database_url=f"sqlite+aiosqlite:///{tmp_path / 'bidder.db'}",
                        wb_advert_url=sim.url, http_port=0)
    return await build_app(settings, clock=clock, config=config.model_copy(update={"stop_file": tmp_path / "STOP"}))


async def _events(app, kind: str):
    async with app.sessions() as s:
        return [a for a in await repo.pending_events(s, 10_000) if a.kind == kind]


async def test_expiry_is_checked_daily_alerted_at_14_3_1_days_and_shown_on_healthz(tmp_path: Path) -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim:
        seller = sim.sim.sellers["shop-a"]
        expires = clock.now() + timedelta(days=20, hours=1)
        env = {"WB_READ_TOKEN": issue(seller.seller_id, read_only=True, expires_at=expires),
               "WB_WRITE_TOKEN": issue(seller.seller_id, expires_at=expires)}
        app = await _app(sim, tmp_path, clock, env)
        try:
            assert await _events(app, "token_expiring") == []  # 20 days: nothing yet
            for _ in range(20):  # a daemon running for 20 days, checked once a day
                clock.advance(86400)
                await app.check_token_expiry()
            alerts = await _events(app, "token_expiring")
            health = app.health.report(clock.now())["accounts"]["shop-a"]["token_days_left"]
        finally:
            await app.close()
    by_token = sorted((a.payload["which"], a.payload["days_left"]) for a in alerts)
    # before: one alert at start-up only (and none here, since the daemon started 20 days out)
    # one alert per threshold (14, 3, 1 days), each within a day of crossing it (the check runs daily)
    assert by_token == [("read", 0), ("read", 2), ("read", 13), ("write", 0), ("write", 2), ("write", 13)]
    assert set(health) == {"read", "write"} and 0 <= health["write"] < 1


async def test_writes_resume_after_a_401_when_a_new_token_is_loaded_by_reload(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim:
        seller = sim.sim.sellers["shop-a"]
        app = await _app(sim, tmp_path, clock, {"WB_READ_TOKEN": seller.read_token,
                                                 "WB_WRITE_TOKEN": seller.write_token})
        try:
            sim.sim.revoked.add(seller.token_ids["write"])  # WB answers 401 to every write
            await app.run_once()
            assert app.cycles["shop-a"].writes_blocked
            writes_before = sum(sim.sim.writes.values())
            fresh = issue(seller.seller_id)
            monkeypatch.setenv("WB_READ_TOKEN", seller.read_token)
            monkeypatch.setenv("WB_WRITE_TOKEN", fresh)
            assert await app.reload()  # what SIGHUP runs
            assert not app.cycles["shop-a"].writes_blocked
            clock.advance(600)
            sim.sim.market.advance(clock.now())
            result = (await app.run_once())[0]
        finally:
            await app.close()
    assert result.ok and result.applied > 0
    assert sum(sim.sim.writes.values()) > writes_before  # before: blocked until a restart
    assert fresh not in repr(app.cycles) and fresh not in str(result)
