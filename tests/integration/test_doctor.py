"""``bidder doctor`` against the simulator over real HTTP: a healthy account, a seller without the
search-cluster feature (403 "norm_query API not available"), an expired token, and a reply with a field
the client does not know (drift). One paced call per read endpoint, never a write."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bidder.cli import main
from bidder.cli.core import Context
from bidder.clock import FakeClock
from bidder.settings import Settings
from bidder.sim.testing import start_simulator
from bidder.sim.tokens import issue
from bidder.wb.doctor import FEATURE_OFF, OK, READS, check_account, exit_code
from bidder.wb.pacing import Pacer

WRITES = ("PATCH", "GET /adv/v0/pause", "GET /adv/v0/start", "GET /adv/v0/stop", "POST /api/advert/v1/normquery/bids")


async def _check(running, clock: FakeClock, token: str, *, needs_clusters=None):
    async with aiohttp.ClientSession() as http:
        return await check_account("shop-a", SecretStr(token), http=http, base_url=running.url,
                                   pacer=Pacer(clock), clock=clock, needs_clusters=needs_clusters)


def _requests(running) -> dict[str, int]:
    return {k: v.get("count", 0) for k, v in running.sim.report()["requests"].items()}


async def test_a_healthy_account_answers_every_endpoint_once() -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as running:
        seller = running.sim.sellers["shop-a"]
        report = await _check(running, clock, seller.read_token)
        seen = _requests(running)
    assert exit_code([report]) == 0 and not report.problems
    assert [c.endpoint for c in report.endpoints] == list(READS)
    assert all(c.status == OK and not c.unknown_fields for c in report.endpoints)
    assert report.currency == "RUB" and report.steps == {"cpm": 100, "cpc": 10}
    assert report.token["type"] == "Personal" and report.token["days_left"] > 0
    assert report.deprecated == []
    assert {k: n for k, n in seen.items() if k in READS} == dict.fromkeys(READS, 1), "one call per endpoint"
    assert not [k for k in seen if k.startswith(WRITES)], "never a write"


async def test_a_seller_without_the_search_cluster_feature() -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as running:
        running.sim.faults.configure({"normquery_forbidden_rate": 1.0})
        seller = running.sim.sellers["shop-a"]
        report = await _check(running, clock, seller.read_token)
        needed = await _check(running, clock, seller.read_token, needs_clusters=lambda advert_id: True)
    states = {c.endpoint: c.status for c in report.endpoints}
    assert states["POST /adv/v0/normquery/stats"] == FEATURE_OFF
    assert states["POST /adv/v0/normquery/get-bids"] == FEATURE_OFF
    assert states["GET /adv/v3/fullstats"] == OK
    # a warning while no configured strategy reads clusters; a problem when one does
    assert exit_code([report]) == 0 and any(FEATURE_OFF in w for w in report.warnings)
    assert exit_code([needed]) == 1 and any(FEATURE_OFF in p for p in needed.problems)


async def test_an_expired_token_is_reported_and_no_call_is_made() -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as running:
        seller = running.sim.sellers["shop-a"]
        expired = issue(seller.seller_id, read_only=True, expires_at=clock.now() - timedelta(days=2))
        report = await _check(running, clock, expired)
        seen = _requests(running)
    assert exit_code([report]) == 1
    assert report.token["days_left"] < 0
    assert any("expired" in p for p in report.problems)
    assert not any(n for n in seen.values()), "nothing is sent with a token that cannot be used"
    assert expired not in json.dumps(report.as_dict()), "the token itself never appears"


async def test_a_reply_with_a_field_the_client_does_not_know_is_drift() -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as running:
        running.sim.faults.configure({"extra_field_rate": 1.0})
        report = await _check(running, clock, running.sim.sellers["shop-a"].read_token)
    drift = {c.endpoint: c.unknown_fields for c in report.endpoints if c.unknown_fields}
    assert drift["GET /adv/v1/promotion/count"] == ["simNewField"]
    assert drift["GET /adv/v3/fullstats"] == ["[].simNewField"]
    assert exit_code([report]) == 1 and any("does not know" in p for p in report.problems)


# ------------------------------------------------------------------ the command: table, --json, exit codes


@pytest.fixture
def sim_thread() -> Iterator[tuple[object, FakeClock]]:
    """The simulator on its own event loop in a thread (the command runs its own asyncio.run)."""
    clock = FakeClock()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        holder["running"] = loop.run_until_complete(start_simulator("demo", seed=1, clock=clock))
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(30)
    try:
        yield holder["running"], clock
    finally:
        asyncio.run_coroutine_threadsafe(holder["running"].stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


def _run_cli(tmp_path: Path, running, token: str, *args: str) -> tuple[int, str]:
    cfg = tmp_path / "bidder.yaml"
    cfg.write_text(f"accounts:\n  - name: shop-a\n    read_token: {token}\n    guardrails: {{max_bid: 800}}\n"
                   f"    defaults: {{strategies: [{{spend_cap: {{max_drr_pct: 20, window: 3d}}}}]}}\n")
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(config=cfg, database_url=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}",
                        wb_advert_url=running.url, http_port=0)
    code = main(["doctor", "--config", str(cfg), *args], ctx=Context(out=out, err=err, _settings=settings))
    return code, out.getvalue() + err.getvalue()


def test_the_command_prints_a_table_or_json_and_exits_by_outcome(tmp_path: Path, sim_thread) -> None:
    running, _ = sim_thread
    token = running.sim.sellers["shop-a"].read_token
    code, text = _run_cli(tmp_path, running, token)
    assert code == 0, text
    assert "GET /adv/v3/fullstats" in text and "no problem found" in text and token not in text
    running.sim.faults.configure({"extra_field_rate": 1.0})
    code, text = _run_cli(tmp_path, running, token, "--json")
    data = json.loads(text)
    assert code == 1 and data["ok"] is False
    assert data["accounts"][0]["endpoints"][0]["unknown_fields"] == ["simNewField"]


def test_the_command_cannot_run_without_a_valid_config(tmp_path: Path) -> None:
    cfg = tmp_path / "bidder.yaml"
    cfg.write_text("accounts: [{name: 1}\n")
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(config=cfg, database_url=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", http_port=0)
    assert main(["doctor", "--config", str(cfg)], ctx=Context(out=out, err=err, _settings=settings)) == 2
