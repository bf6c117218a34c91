"""The statistics backlog goes on between cycles at WB's pace (issue 16, engine/stats_pump.py), against the
simulator over real HTTP and a real SQLite file, one FakeClock shared by both (the pacer's waits advance it).
Call counts and times are what the simulator saw.

A seller with more live campaigns than one cycle's fullstats calls cover used to wait for the next cycle
(and every cycle waited for its fullstats calls); served by the runner, the poller's pump keeps calling at
WB's 3 a minute between cycles, and the cycles take what arrived.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bidder.app import build_app
from bidder.clock import FakeClock
from bidder.config import BidderConfig
from bidder.engine.runner import Runner
from bidder.engine.stats_pump import IDLE_CYCLES
from bidder.settings import Settings
from bidder.sim.faults import FaultRule
from bidder.sim.testing import start_simulator
from bidder.store import repo

FULLSTATS = "GET /adv/v3/fullstats"
WB_INTERVAL = 20.0  # WB: 3 fullstats a minute per seller


@dataclass
class Recorder:
    """Every fullstats request the simulator answers: (simulated time, status, ids)."""

    clock: FakeClock
    calls: list[tuple[float, int, tuple[int, ...]]] = field(default_factory=list)

    def install(self, sim) -> None:
        original = sim.handle

        async def handle(ep, request):
            resp = await original(ep, request)
            if ep.key == FULLSTATS:
                ids = tuple(int(x) for x in request.query.get("ids", "").split(",") if x)
                self.calls.append((self.clock.monotonic(), resp.status, ids))
            return resp

        sim.handle = handle

    def ok_ids(self) -> set[int]:
        return {i for _, status, ids in self.calls if status == 200 for i in ids}


def _config(sim) -> BidderConfig:
    accounts = [{
        "name": name, "read_token": s.read_token, "write_token": s.write_token,
        "guardrails": {"max_bid": 800},
        "defaults": {"strategies": [{"spend_cap": {"max_drr_pct": 20, "window": "3d"}}]},
    } for name, s in sim.sellers.items()]
    return BidderConfig.model_validate({"accounts": accounts, "stop_file": "/nonexistent/bidder-test-STOP"})


async def _app(running, tmp_path: Path, clock):
    settings = Settings(config=tmp_path / "bidder.yaml", database_url=f"sqlite+aiosqlite:///{tmp_path / 'bidder.db'}",
                        wb_advert_url=running.url, dry_run=False, http_port=0, telegram_bot_token=None)
    return await build_app(settings, clock=clock, config=_config(running.sim))


def _live_stats(running) -> set[int]:
    return {c.advert_id for s in running.sim.spec.sellers for c in s.campaigns if c.status in (9, 11)}


async def _until_idle(pump, limit: float = 60.0) -> None:
    """Let the background pump run (no cycle meanwhile) until it stops on its own."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while pump.running:
        assert loop.time() < end, "the background pump did not stop"
        await asyncio.sleep(0.01)


async def test_the_backlog_goes_on_between_cycles_at_wbs_pace(tmp_path: Path) -> None:
    clock = FakeClock()
    async with await start_simulator("scale:1x300x1x100", seed=1, clock=clock) as running:
        rec = Recorder(clock)
        rec.install(running.sim)
        live = _live_stats(running)
        assert len(live) > 200, "more than one cycle's fullstats calls"
        app = await _app(running, tmp_path, clock)
        try:
            cycle = next(iter(app.cycles.values()))
            cycle.poller.background = True  # as Runner.serve sets it
            [first] = await app.run_once()
            # a cold start waits for its first batch only, and decides on it
            assert first.ok and first.evaluated > 0 and first.stats_refreshed == 50
            await _until_idle(cycle.poller.stats)  # no cycle runs meanwhile
            calls = rec.calls
            assert rec.ok_ids() == live and len(calls) == -(-len(live) // 50)  # every live campaign once
            assert all(status == 200 for _, status, _ in calls)
            times = [t for t, _, _ in calls]
            gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
            assert min(gaps) >= WB_INTERVAL  # within WB's limit
            rate = (len(times) - 1) / (times[-1] - times[0]) / (1 / WB_INTERVAL)
            assert rate >= 0.9, f"the backlog was read at {rate:.2f} of WB's rate"
            assert len(cycle.view.stats_at) == 50, "what arrived waits for a cycle: the view changes in cycles"
            async with app.sessions() as s:  # ...but it is saved to the store as it arrives
                saved = await repo.load_daily_stats(s, cycle.name, None, clock.now().date() - timedelta(days=31))
            assert {r.advert_id for r in saved} == {i for i in live if running.sim.market.daily_stats(
                i, clock.now().date() - timedelta(days=31), clock.now().date(), visible=True)}

            [second] = await app.run_once()  # takes what arrived; nothing is due yet
            assert second.ok and second.stats_refreshed == len(live) - 50
            assert set(cycle.view.stats_at) == live and len(rec.calls) == len(calls)
        finally:
            await app.close()
        assert not cycle.poller.stats.running


async def test_the_pump_stops_when_no_cycle_renews_it(tmp_path: Path) -> None:
    """A worker that lost the account (or a stopped runner) stops spending the seller's quota: the pump
    runs IDLE_CYCLES cycle intervals after the last cycle, then waits for the next one."""
    clock = FakeClock()
    async with await start_simulator("scale:1x700x1", seed=1, clock=clock) as running:
        rec = Recorder(clock)
        rec.install(running.sim)
        live = _live_stats(running)
        needed = -(-len(live) // 50)
        app = await _app(running, tmp_path, clock)
        try:
            cycle = next(iter(app.cycles.values()))
            cycle.poller.background = True
            await app.run_once()
            renewed_by_cycle = rec.calls[0][0]  # the cycle started the pump right before its first call
            await _until_idle(cycle.poller.stats)
            idle = IDLE_CYCLES * app.config.intervals.evaluate.total_seconds()
            made = len(rec.calls)
            assert made < needed, "it stopped before the backlog was read"
            assert rec.calls[-1][0] <= renewed_by_cycle + idle + WB_INTERVAL * 1.05  # its last call started in time
            assert made >= idle // (WB_INTERVAL * 1.05), "it kept WB's pace until then"
            # while a cycle of the account runs (however slow: the runner's job marks it), the pump goes on
            pump = cycle.poller.stats
            pump.cycle_running(True)
            clock.advance(idle * 2)
            assert pump.start()
            await _until_idle(pump, limit=120)
            assert rec.ok_ids() == live, "the whole backlog, though no cycle ended meanwhile"
            assert rec.calls[-1][0] > clock.monotonic() - WB_INTERVAL * 2 and len(rec.calls) >= needed
            pump.cycle_running(False)
            await app.run_once()
            assert set(cycle.view.stats_at) == live and all(status == 200 for _, status, _ in rec.calls)
        finally:
            await app.close()


async def test_a_background_read_failure_fails_the_next_cycle(tmp_path: Path) -> None:
    clock = FakeClock()
    async with await start_simulator("scale:1x300x1", seed=1, clock=clock) as running:
        rec = Recorder(clock)
        rec.install(running.sim)
        live = sorted(_live_stats(running))
        # WB fails every fullstats call that carries a campaign of the second batch, until the rule goes
        running.sim.rules.add(FaultRule("status", endpoint=FULLSTATS, status=502, advert_id=live[60]))
        app = await _app(running, tmp_path, clock)
        try:
            cycle = next(iter(app.cycles.values()))
            cycle.poller.background = True
            results = await app.run_once()
            await _until_idle(cycle.poller.stats)  # it stops on the failure
            if cycle.poller.stats.error is not None:  # (not yet reported by the first cycle)
                results += await app.run_once()
            assert [r.ok for r in results][-1] is False and "fullstats" in results[-1].error, \
                "the cycle after the failure reports it"
            assert cycle.poller.stats.error is None
            assert len(cycle.view.stats_at) >= 50, "what arrived before the failure was taken"
            running.sim.rules.clear()
            clock.advance(60)
            [recovered] = await app.run_once()  # starts the pump again
            assert recovered.ok
            await _until_idle(cycle.poller.stats)
            await app.run_once()
            assert set(cycle.view.stats_at) == set(live)
        finally:
            await app.close()


async def test_the_runner_turns_the_pump_on_and_stops_it(tmp_path: Path) -> None:
    """``Runner.serve``'s jobs run the cycles with the backlog going on between them; stopping the runner
    stops the pumps (``run_once``, a cron run, reads inline and leaves nothing running)."""
    clock = FakeClock()
    async with await start_simulator("scale:1x300x1", seed=1, clock=clock) as running:
        app = await _app(running, tmp_path, clock)
        try:
            cycle = next(iter(app.cycles.values()))
            pump = cycle.poller.stats
            await app.run_once()
            assert not cycle.poller.background and not pump.running
            runner = Runner(app.cycles, clock=clock, interval=app.config.intervals.evaluate)
            await runner._job(cycle.name)()
            assert cycle.poller.background
            clock.advance(200)  # the first batches are due again
            assert pump.start() and pump.running
            runner.request_stop()
            await runner.serve()  # returns at once (stop requested): stops the pumps on its way out
            assert not pump.running
        finally:
            await app.close()
