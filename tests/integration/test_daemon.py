"""The daemon end to end against the simulator's demo market over real HTTP, on a real SQLite file.

One in-process FakeClock is shared by the simulator and the daemon: the pacer's waits advance it, so a
full cycle (including WB's 20-a-minute minimum-bid calls) runs in well under a second of real time.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bidder.app import build_app
from bidder.clock import FakeClock
from bidder.config import load_config
from bidder.domain import Action, Decision
from bidder.settings import Settings
from bidder.sim.testing import start_simulator
from bidder.store import repo

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bidder.yaml"
WRITE_METHODS = ("PATCH /api/advert/v1/bids", "GET /adv/v0/pause", "GET /adv/v0/start", "GET /adv/v0/stop",
                 "POST /api/advert/v1/normquery/bids")


async def _app(sim, tmp_path: Path, clock, *, dry_run: bool = False, config_path: Path = EXAMPLE):
    seller = sim.sim.sellers["shop-a"]
    env = {"WB_READ_TOKEN": seller.read_token, "WB_WRITE_TOKEN": seller.write_token}
    config = load_config(config_path, env)
    settings = Settings(config=config_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'bidder.db'}",
                        wb_advert_url=sim.url, dry_run=dry_run, http_port=0)
    config = config.model_copy(update={"stop_file": tmp_path / "STOP"})
    return await build_app(settings, clock=clock, config=config)


def _settle(sim, clock: FakeClock, seconds: float = 31) -> dict:
    """Let WB's 30-second bid tick (and 1-minute status tick) pass and return what the server applied."""
    clock.advance(seconds)
    sim.sim.market.advance(clock.now())
    return sim.sim.report()


def _writes(report: dict) -> int:
    return sum(report["requests"].get(m, {}).get("count", 0) for m in WRITE_METHODS)


async def test_run_once_changes_exactly_the_bids_the_strategies_call_for(tmp_path: Path) -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim:
        app = await _app(sim, tmp_path, clock)
        try:
            results = await app.run_once()
            assert [r.ok for r in results] == [True], results
            report = _settle(sim, clock)
            async with app.sessions() as s:
                rows = await repo.history(s, account="shop-a", limit=10_000)
        finally:
            await app.close()

    assert report["total_429"] == 0
    assert report["rejected"] == []
    decided = Counter(
        (r.advert_id, r.nm_id, r.placement, r.bid_after)
        for r in rows
        if r.action == Action.SET_BID and r.bid_after != r.bid_before
    )
    assert decided, "the demo market gives the strategies work: some bids must change"
    assert all(r.apply_status == "applied" for r in rows if r.action == Action.SET_BID and r.bid_after != r.bid_before)
    applied = Counter((c["advert_id"], c["nm_id"], c["placement"], c["new"]) for c in report["bid_changes"])
    assert applied == decided
    # every decision carries its reason and inputs; holds are recorded too
    assert all(r.reason for r in rows)
    assert any(r.action == Action.HOLD for r in rows)
    assert max(c["new"] for c in report["bid_changes"]) <= 80_000  # guardrails.max_bid 800 rubles


async def test_dry_run_sends_no_write_and_records_what_it_would_send(tmp_path: Path) -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim:
        app = await _app(sim, tmp_path, clock, dry_run=True)
        try:
            assert all(c.live_writer is None for c in app.cycles.values()), "no write token loaded in dry-run"
            results = await app.run_once()
            assert [r.ok for r in results] == [True]
            report = sim.sim.report()
            async with app.sessions() as s:
                rows = await repo.history(s, account="shop-a", limit=10_000)
        finally:
            await app.close()
    assert _writes(report) == 0
    assert report["bid_changes"] == [] and report["writes"] == 0
    would = [r for r in rows if r.action == Action.SET_BID and r.bid_after != r.bid_before]
    assert would and all(r.dry_run and r.apply_status == "dry_run" for r in would)


async def test_second_cycle_does_not_repeat_work_and_reconcile_resolves_intents(tmp_path: Path) -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim:
        app = await _app(sim, tmp_path, clock)
        try:
            await app.run_once()
            first = sim.sim.report()["requests"]
            clock.advance(60)
            await app.run_once()
            second = sim.sim.report()["requests"]
            # statistics are not re-read before WB's 3-minute sync; config is cached
            assert second["GET /adv/v3/fullstats"]["count"] == first["GET /adv/v3/fullstats"]["count"]
            assert second["GET /api/advert/v1/config"]["count"] == 1
            # minimum bids are read lazily (the ones asked for, a few a cycle), then cached for a day
            clock.advance(60)
            await app.run_once()
            third = sim.sim.report()["requests"]
            assert third["POST /api/advert/v1/bids/min"]["count"] == second["POST /api/advert/v1/bids/min"]["count"]
            async with app.sessions() as s:
                assert await repo.pending_intents(s, "shop-a") == []
        finally:
            await app.close()


async def test_stop_file_holds_every_bid(tmp_path: Path) -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim:
        app = await _app(sim, tmp_path, clock)
        try:
            (tmp_path / "STOP").write_text("")
            await app.run_once()
            report = sim.sim.report()
        finally:
            await app.close()
    assert _writes(report) == 0


async def test_operator_pause_pauses_and_resume_restarts(tmp_path: Path) -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim:
        app = await _app(sim, tmp_path, clock)
        try:
            await app.run_once()  # the daemon learns the campaigns
            await app.control.pause(1000006, by="test")
            clock.advance(61)
            await app.run_once()
            assert _settle(sim, clock, 61)["campaigns"]["1000006"]["status"] == 11
            async with app.sessions() as s:
                rows = await repo.history(s, account="shop-a", advert_id=1000006, limit=100)
            assert any(r.action == Action.PAUSE and r.strategy == "operator" and r.apply_status == "applied"
                       for r in rows)
            await app.control.resume(1000006, by="test")
            clock.advance(timedelta(minutes=5).total_seconds())
            await app.run_once()
            assert _settle(sim, clock, 61)["campaigns"]["1000006"]["status"] == 9
        finally:
            await app.close()


@pytest.mark.parametrize("revoke_writes", [True])
async def test_revoked_write_token_stops_only_writes_and_alerts_once(tmp_path: Path, revoke_writes: bool) -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim:
        app = await _app(sim, tmp_path, clock)
        try:
            seller = sim.sim.sellers["shop-a"]
            sim.sim.revoked.add(seller.token_ids["write"])
            r1 = (await app.run_once())[0]
            clock.advance(600)
            r2 = (await app.run_once())[0]
            async with app.sessions() as s:
                alerts = [a for a in await repo.pending_events(s, 1000) if a.kind == "account_failing"]
                rows = await repo.history(s, account="shop-a", limit=10_000)
        finally:
            await app.close()
    assert r1.ok and r2.ok, "reads keep working with the read token"
    assert app.cycles["shop-a"].writes_blocked
    assert len(alerts) == 1 and "write" in alerts[0].payload["error"]
    assert any(r.apply_status in ("failed", "skipped") for r in rows)


async def test_rollback_restores_the_bids_in_force_at_a_time(tmp_path: Path) -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim:
        app = await _app(sim, tmp_path, clock)
        try:
            await app.run_once()
            # the bids read in that cycle (snapshots), before WB applied its changes on its next tick
            before_changes = clock.now()
            report = _settle(sim, clock)
            changed = {(c["advert_id"], c["nm_id"], c["placement"]): c["old"] for c in report["bid_changes"]}
            assert changed
            assert min(datetime.fromisoformat(c["time"]) for c in report["bid_changes"]) >= before_changes
            clock.advance(3600)
            cycle = app.cycles["shop-a"]
            decisions = await cycle.rollback(before_changes)
            report = _settle(sim, clock)
            async with app.sessions() as s:
                rows = await repo.history(s, account="shop-a", limit=10_000)
        finally:
            await app.close()
    # bids that were below WB's minimum cannot go back below it: those stay at (or go up to) the minimum
    restored = {(d.advert_id, d.nm_id, d.placement): d.bid_after for d in decisions
                if not (d.guard and "below WB's minimum" in d.guard and (d.advert_id, d.nm_id, d.placement) not in changed)}
    raised_to_min = {(r.advert_id, r.nm_id, r.placement) for r in rows
                     if r.strategy != "rollback" and r.guard and "minimum" in r.guard}
    expected = {k: v for k, v in changed.items() if k not in raised_to_min}
    assert restored == expected, {k: (restored.get(k), expected.get(k)) for k in set(restored) | set(expected)
                                  if restored.get(k) != expected.get(k)}
    assert all(r.apply_status == "applied" for r in rows if r.strategy == "rollback")
    state = report["campaigns"]
    for (advert_id, nm_id, placement), old in expected.items():
        bids = state[str(advert_id)]["bids"][str(nm_id)]
        assert bids["search" if placement == "combined" else placement] == old


async def test_alerts_are_written_with_the_decisions(tmp_path: Path) -> None:
    from sqlalchemy import select

    from bidder.store.models import AlertRow

    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim:
        app = await _app(sim, tmp_path, clock)
        try:
            await app.run_once()
            async with app.sessions() as s:
                alerts = (await s.scalars(select(AlertRow))).all()
        finally:
            await app.close()
    kinds = Counter(a.kind for a in alerts)
    assert kinds["bid_changes"] == 1, kinds  # one digest for the cycle
    drr = [a for a in alerts if a.kind == "drr_alert"]
    assert {a.payload["advert_id"] for a in drr} >= {1000003, 1000015}  # ДРР ~36% and ~65% over their caps
    assert all(float(a.payload["drr"]) > float(a.payload["limit"]) for a in drr)


async def test_a_campaign_is_evaluated_again_only_when_something_it_reads_changed(tmp_path: Path) -> None:
    """Skipping unchanged campaigns must never skip an action: after every cycle, evaluating everything
    afresh at the same moment gives only holds for the campaigns the cycle skipped."""
    from bidder.engine.cycle import REEVALUATE_EVERY

    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim:
        app = await _app(sim, tmp_path, clock)
        try:
            cycle = app.cycles["shop-a"]
            first = (await app.run_once())[0]
            everything = first.evaluated
            assert first.ok and everything > 0
            clocked = {i for i in cycle.managed_ids() if any(s.clock_driven for s in cycle.strategies_for(i))}
            assert clocked, "the demo config has a schedule"
            partial = 0
            for _ in range(12):
                clock.advance(60)
                result = (await app.run_once())[0]
                assert result.ok
                evaluated = {d.advert_id for d in result.decisions}
                assert clocked <= evaluated  # schedules are evaluated every cycle
                if result.evaluated == everything:
                    continue
                partial += 1
                # every campaign, leaving the evaluator's memory of what it skips as it was
                fresh = (await cycle.evaluator.run(clock.now(), everything=True)).decisions
                skipped = [d for d in fresh if d.advert_id not in evaluated]
                assert skipped and all(d.action == Action.HOLD for d in skipped), skipped
            assert partial, "some cycles skip campaigns whose inputs did not change"

            # another process (the CLI's rollback) changed a skipped campaign's bid: it is evaluated again
            idle = cycle.evaluator.holding()[0]
            item = cycle.campaigns[idle].items[0]
            placement = cycle.campaigns[idle].bid_placements[0]
            async with app.sessions.begin() as s:
                await repo.record_decision(s, "shop-a", Decision(
                    action=Action.SET_BID, advert_id=idle, nm_id=item.nm_id, placement=placement,
                    strategy="rollback", reason="test", bid_before=item.bid_for(placement),
                    bid_after=item.bid_for(placement)), at=clock.now(), dry_run=False, apply_status="applied")
            again = await cycle.evaluate(clock.now())
            assert idle in {d.advert_id for d in again}

            (tmp_path / "STOP").write_text("")  # the stop file is an input of every campaign
            stopped = await cycle.evaluate(clock.now())
            assert cycle.evaluated == everything
            assert all(d.action == Action.HOLD for d in stopped)
            (tmp_path / "STOP").unlink()
            await cycle.evaluate(clock.now())
            assert cycle.evaluated == everything  # and again when it is gone
            await cycle.evaluate(clock.now() + REEVALUATE_EVERY)
            assert cycle.evaluated == everything  # and everything after a while
        finally:
            await app.close()
