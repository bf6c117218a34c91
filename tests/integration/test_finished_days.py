"""A finished campaign's last days read once, on demand, for a report (issue 16, defect 1: "fetched once
after it finishes, and on demand for reports"): against the simulator over real HTTP and a real SQLite file.
Call counts are what the simulator saw."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bidder.app import build_app
from bidder.cli import Context, main
from bidder.clock import FakeClock
from bidder.config import BidderConfig
from bidder.engine.finished_days import finished_days
from bidder.settings import Settings
from bidder.sim.testing import start_simulator
from bidder.store import finished as finished_store
from bidder.store.db import Database
from bidder.store.migrate import upgrade
from bidder.wb.pacing import Pacer
from bidder.wb.tokens import read_token
from bidder.wb.writer import make_reader

FULLSTATS = "GET /adv/v3/fullstats"
ADVERTS = "GET /api/advert/v2/adverts"
TZ = "Europe/Moscow"


def _record(sim) -> list[tuple[str, tuple[int, ...]]]:
    calls: list[tuple[str, tuple[int, ...]]] = []
    original = sim.handle

    async def handle(ep, request):
        resp = await original(ep, request)
        calls.append((ep.key, tuple(int(x) for x in request.query.get("ids", "").split(",") if x)))
        return resp

    sim.handle = handle
    return calls


def _count(calls, key: str, advert_id: int) -> int:
    return sum(1 for k, ids in calls if k == key and advert_id in ids)


async def _stop(running, seller, advert_id: int) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{running.url}/adv/v0/stop", params={"id": advert_id},
                            headers={"Authorization": seller.write_token}) as resp:
            assert resp.status == 200


async def test_a_report_reads_a_finished_campaigns_days_once(tmp_path: Path) -> None:
    clock = FakeClock()
    async with await start_simulator("scale:1x10x1x20", seed=1, clock=clock) as running:
        calls = _record(running.sim)
        spec = running.sim.spec.sellers[0]
        seller = running.sim.sellers[spec.name]
        live = [c.advert_id for c in spec.campaigns if c.status in (9, 11)]
        long_finished = next(c.advert_id for c in spec.campaigns if c.status == 7)
        clock.advance(6 * 3600)  # the live campaigns spend for a few hours
        stopped = live[0]
        await _stop(running, seller, stopped)  # it finishes now, with statistics
        url = f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
        await upgrade(url)
        async with aiohttp.ClientSession() as http, Database(url) as db:
            reader = make_reader(http, read_token(_secret(seller.read_token), now=clock.now()), Pacer(clock), clock,
                                 base_url=running.url)

            async def report(advert_id: int):
                return await finished_days(reader, db.sessions, spec.name, advert_id, now=clock.now(), timezone=TZ,
                                           seller_id="1", days=7)

            # the daemon never ran: the stopped campaign's last days come from WB, once
            first = await report(stopped)
            assert first.read_now and first.finished and first.rows
            assert {r.advert_id for r in first.rows} == {stopped}
            assert max(r.day for r in first.rows) <= clock.now().date()
            assert (_count(calls, ADVERTS, stopped), _count(calls, FULLSTATS, stopped)) == (1, 1)
            again = await report(stopped)
            assert not again.read_now and again.rows == first.rows
            assert (_count(calls, ADVERTS, stopped), _count(calls, FULLSTATS, stopped)) == (1, 1)

            # finished weeks ago, no statistics: read once all the same, remembered, never asked again
            old = await report(long_finished)
            assert old.read_now and old.rows == []
            assert await report(long_finished) == type(old)(long_finished, [], read_now=False, finished=None)
            assert (_count(calls, ADVERTS, long_finished), _count(calls, FULLSTATS, long_finished)) == (1, 1)

            # a live campaign's statistics are the daemon's: no fullstats call here
            running_one = await report(live[1])
            assert running_one.finished is False and not running_one.read_now
            assert _count(calls, FULLSTATS, live[1]) == 0

        # the daemon runs on that database: its final-read bookkeeping keeps the report's read
        settings = Settings(config=tmp_path / "bidder.yaml", database_url=url, wb_advert_url=running.url,
                            dry_run=True, http_port=0, telegram_bot_token=None)
        config = BidderConfig.model_validate({"accounts": [{
            "name": spec.name, "read_token": seller.read_token, "guardrails": {"max_bid": 800},
            "defaults": {"strategies": [{"spend_cap": {"max_drr_pct": 20, "window": "3d"}}]}}],
            "stop_file": "/nonexistent/bidder-test-STOP"})
        app = await build_app(settings, clock=clock, config=config)
        try:
            for _ in range(2):
                assert all(r.ok for r in await app.run_once())
                clock.advance(300)
            async with app.sessions() as s:
                assert await finished_store.days_read_at(s, spec.name, long_finished) is not None
        finally:
            await app.close()
        assert _count(calls, FULLSTATS, long_finished) == 1


def _secret(token: str):
    from pydantic import SecretStr

    return SecretStr(token)


# ------------------------------------------------------------------ the command


@pytest.fixture
def sim_thread() -> Iterator[tuple[object, FakeClock]]:
    """The simulator on its own event loop in a thread (the command runs its own asyncio.run)."""
    clock = FakeClock()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        holder["running"] = loop.run_until_complete(start_simulator("scale:1x5x1x5", seed=1, clock=clock))
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


def test_bidder_report_prints_the_days_and_reads_once(tmp_path: Path, sim_thread) -> None:
    running, clock = sim_thread
    spec = running.sim.spec.sellers[0]
    seller = running.sim.sellers[spec.name]
    clock.advance(4 * 3600)
    stopped = next(c.advert_id for c in spec.campaigns if c.status in (9, 11))
    asyncio.run(_stop(running, seller, stopped))
    calls = []
    original = running.sim.handle

    async def handle(ep, request):
        calls.append(ep.key)
        return await original(ep, request)

    running.sim.handle = handle
    cfg = tmp_path / "bidder.yaml"
    cfg.write_text(f"accounts:\n  - name: shop-a\n    read_token: {seller.read_token}\n    guardrails: {{max_bid: 800}}\n")
    settings = Settings(config=cfg, database_url=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}",
                        wb_advert_url=running.url, http_port=0)

    def run(*args: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(["report", "--campaign", str(stopped), "--config", str(cfg), *args],
                    ctx=Context(out=out, err=err, _settings=settings))
        return code, out.getvalue() + err.getvalue()

    code, text = run()
    assert code == 0 and "read from WB now" in text and "ДРР" in text, text
    assert calls.count(FULLSTATS) == 1
    code, text = run("--json")
    got = json.loads(text)
    assert code == 0 and got["read_now"] is False and got["days"] and got["campaign"] == stopped
    assert calls.count(FULLSTATS) == 1, "read once"
    assert main(["report", "--campaign", "1", "--account", "nobody", "--config", str(cfg)],
                ctx=Context(out=io.StringIO(), err=io.StringIO(), _settings=settings)) == 2
