"""WB's scarce quotas spent where they buy decisions (issue 16), against the simulator over real HTTP and a
real SQLite file, one FakeClock shared by both (the pacer's waits advance it). Call counts are what the
simulator saw (every request recorded with the ids it carried).

1. finished campaigns (status 7): details and statistics read once after they finish, never again, across
   a restart;
2. minimum bids read lazily: a cold start does not read them for every campaign, a cut near the minimum
   waits for its own, a "bid below minimum" rejection re-reads it;
3. a cold start decides the campaigns whose statistics arrived in its first cycle.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import aiohttp

from bidder.app import build_app
from bidder.clock import FakeClock
from bidder.config import BidderConfig
from bidder.domain import Action, Decision
from bidder.engine.min_bids import MIN_BIDS_IN_CYCLE, MinBids, hold_without_minimum, note_rejection
from bidder.settings import Settings
from bidder.sim.testing import start_simulator

FULLSTATS = "GET /adv/v3/fullstats"
ADVERTS = "GET /api/advert/v2/adverts"
MIN_BIDS = "POST /api/advert/v1/bids/min"


@dataclass
class Recorder:
    """Every request the simulator answers: method key and the campaign ids in its ``ids`` query."""

    calls: list[tuple[str, int, tuple[int, ...]]] = field(default_factory=list)

    def install(self, sim) -> None:
        original = sim.handle

        async def handle(ep, request):
            resp = await original(ep, request)
            ids = request.query.get("ids", "")
            self.calls.append((ep.key, resp.status, tuple(int(x) for x in ids.split(",") if x)))
            return resp

        sim.handle = handle

    def count(self, key: str) -> int:
        return sum(1 for k, _, _ in self.calls if k == key)

    def ids(self, key: str) -> Counter[int]:
        return Counter(i for k, status, ids in self.calls if k == key and status == 200 for i in ids)


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


def _finished(running) -> set[int]:
    return {c.advert_id for s in running.sim.spec.sellers for c in s.campaigns if c.status == 7}


def _live_stats(running) -> set[int]:
    return {c.advert_id for s in running.sim.spec.sellers for c in s.campaigns if c.status in (9, 11)}


def cycle_of(app):
    return next(iter(app.cycles.values()))


async def _cycles(app, clock: FakeClock, n: int) -> list:
    results = []
    for _ in range(n):
        results += await app.run_once()
        clock.advance(60)
    return results


async def test_finished_campaigns_are_read_once_then_never_again(tmp_path: Path) -> None:
    clock = FakeClock()
    rec = Recorder()
    async with await start_simulator("scale:1x40x1x150", seed=1, clock=clock) as running:
        rec.install(running.sim)
        finished = _finished(running)
        assert len(finished) >= 150
        app = await _app(running, tmp_path, clock)
        try:
            results = await _cycles(app, clock, 10)
            assert all(r.ok for r in results)
            # they finished weeks ago, before the statistics window: no detail and no statistics is read
            assert not set(rec.ids(ADVERTS)) & finished
            assert not set(rec.ids(FULLSTATS)) & finished
            view = cycle_of(app).view
            assert view.finished.done == finished
            # the view keeps their ids only: no details or times (issue 16, peak RSS)
            for held in (view.campaigns, view.stats_at, view.details_at, view.changed_at, view.listed):
                assert not set(held) & finished
            # one fullstats call a statistics round covers the live campaigns (not 4, as for 190 ids)
            assert set(rec.ids(FULLSTATS)) == _live_stats(running)
            assert rec.count(FULLSTATS) == 4  # rounds at 0, 3, 6 and 9 simulated minutes

            # a live campaign finishes: its details once more and its last days once, then never again
            seller = next(iter(running.sim.sellers.values()))
            stopped = sorted(_live_stats(running))[0]
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{running.url}/adv/v0/stop", params={"id": stopped},
                                    headers={"Authorization": seller.write_token}) as resp:
                    assert resp.status == 200
            clock.advance(300)  # the campaign list is re-read every 5 minutes
            adverts_before, stats_before = rec.ids(ADVERTS)[stopped], rec.ids(FULLSTATS)[stopped]
            assert all(r.ok for r in await _cycles(app, clock, 12))
            assert rec.ids(ADVERTS)[stopped] > adverts_before  # (its changeTime moved too while it was live)
            assert rec.ids(FULLSTATS)[stopped] == stats_before + 1
            assert stopped in cycle_of(app).view.finished.done
            final = rec.ids(ADVERTS)[stopped], rec.ids(FULLSTATS)[stopped]
            assert all(r.ok for r in await _cycles(app, clock, 12))
            assert (rec.ids(ADVERTS)[stopped], rec.ids(FULLSTATS)[stopped]) == final
        finally:
            await app.close()

        # a restart remembers it: no finished campaign is read again
        calls_before = len(rec.calls)
        clock.advance(600)
        app = await _app(running, tmp_path, clock)
        try:
            assert all(r.ok for r in await _cycles(app, clock, 4))
        finally:
            await app.close()
        after = rec.calls[calls_before:]
        touched = {i for k, _, ids in after if k in (ADVERTS, FULLSTATS) for i in ids}
        assert touched and not touched & (finished | {stopped})


async def test_a_cold_start_decides_in_its_first_cycle_without_reading_every_minimum(tmp_path: Path) -> None:
    """300 live and 1,000 finished campaigns: the first cycle asks fullstats only the calls that start
    within one cycle interval (live campaigns first), reads the minimum bids of two campaigns (one per payment type: the
    plausible ceiling) and of at most WB's burst of campaigns whose decisions wait for theirs, and decides."""
    clock = FakeClock()
    rec = Recorder()
    async with await start_simulator("scale:1x300x1x1000", seed=1, clock=clock) as running:
        rec.install(running.sim)
        app = await _app(running, tmp_path, clock)
        try:
            start = clock.now()
            [first] = await app.run_once()
            took = clock.now() - start
            assert first.ok and first.evaluated > 0 and first.stats_refreshed > 0
            assert first.applied > 0, "campaigns whose statistics arrived were decided and their bids changed"
            assert took < timedelta(seconds=75), took  # not the 6 fullstats calls (100 s) nor 300 minimums
            assert rec.count(FULLSTATS) == 4  # the calls that start within a 1-minute cycle: 0, 20, 40, 60 s
            assert not set(rec.ids(FULLSTATS)) & _finished(running)
            assert rec.count(MIN_BIDS) <= 2 + MIN_BIDS_IN_CYCLE

            # the backlog carries on at WB's rate in the next cycle; minimums stay cached
            clock.advance(max(0.0, 120 - took.total_seconds()))  # the next scheduled minute
            [second] = await app.run_once()
            assert second.ok and rec.count(FULLSTATS) == 6
            assert set(rec.ids(FULLSTATS)) == _live_stats(running)
        finally:
            await app.close()
    assert not [c for c in rec.calls if c[1] == 429]


async def test_a_bid_below_minimum_rejection_rereads_the_minimum(tmp_path: Path) -> None:
    clock = FakeClock()
    rec = Recorder()
    async with await start_simulator("scale:1x20x1", seed=1, clock=clock) as running:
        rec.install(running.sim)
        app = await _app(running, tmp_path, clock)
        try:
            await app.run_once()
            cycle = next(iter(app.cycles.values()))
            view = cycle.view
            camp = next(c for c in view.campaigns.values() if c.status in (9, 11) and c.items
                        and c.advert_id in view.min_bids.known)
            item, placement = camp.items[0], camp.bid_placements[0]
            minimum = view.min_bids.for_campaign(camp.advert_id)[(item.nm_id, placement)]
            before_reads = rec.count(MIN_BIDS)
            # a bid under WB's minimum (as if WB had raised it since it was read): WB rejects it
            low = Decision(action=Action.SET_BID, advert_id=camp.advert_id, nm_id=item.nm_id, placement=placement,
                           strategy="test", reason="test", bid_before=item.bid_for(placement), bid_after=minimum - 100)
            applied, failed = await cycle.applier.run([low])
            assert (applied, failed) == (0, 1)
            assert (item.nm_id, placement) not in view.min_bids.for_campaign(camp.advert_id)
            assert (item.nm_id, placement) in view.min_bids.wanted[camp.advert_id]
            clock.advance(60)
            await app.run_once()
            assert rec.count(MIN_BIDS) >= before_reads + 1
            assert view.min_bids.for_campaign(camp.advert_id)[(item.nm_id, placement)] == minimum
        finally:
            await app.close()
    assert running.sim.report()["rejected"], "the simulator saw the rejected bid"


def test_which_decisions_wait_for_a_minimum() -> None:
    """Pure: a change to a bid near the minimum waits for it (and asks for it); far above it does not."""
    mins = MinBids()

    def change(before: int, after: int) -> Decision:
        return Decision(action=Action.SET_BID, advert_id=1, nm_id=10, placement="search", strategy="s",
                        reason="r", bid_before=before, bid_after=after)

    far = change(60_000, 50_000)
    assert hold_without_minimum(far, mins, {}, ceiling=40_000) is far  # a cut far above any minimum
    near = hold_without_minimum(change(30_000, 25_000), mins, {}, ceiling=40_000)
    assert near.action == Action.HOLD and near.bid_after == 30_000 and mins.wanted == {1: {(10, "search")}}
    unknown = hold_without_minimum(change(90_000, 95_000), MinBids(), {}, ceiling=None)
    assert unknown.action == Action.HOLD, "no ceiling yet: every change waits (fail closed)"
    known = change(30_000, 25_000)
    assert hold_without_minimum(known, mins, {(10, "search"): 20_000}, ceiling=40_000) is known
    # a rejection that names the minimum drops the cached value; other rejections do not
    mins.store(1, {(10, "search"): 20_000}, [(10, "search")], clock_now := FakeClock().now(), "cpm")
    assert mins.ceiling("cpm") == 40_000 and not mins.wanted
    note_rejection(mins, known, "bids are being processed, try later")
    assert mins.for_campaign(1, clock_now) == {(10, "search"): 20_000}
    note_rejection(mins, known, "wrong bid value: 25000; min: 27000")
    assert mins.for_campaign(1, clock_now) == {} and mins.wanted == {1: {(10, "search")}}
