"""Issue 14 defect 12: one pacing authority per token. ``bidder pause-all`` records the operator's
command; a running daemon (its cycle heartbeat in the store) applies it and the CLI process sends
nothing to WB, waiting for and reporting the outcome; with no daemon the CLI applies it itself, even
while WB's statistics fail. Two apps on one SQLite file and one simulator over HTTP, one FakeClock."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine_faults import Rule, adverts_in, app_for, faulty_sim

from bidder.cli.handoff import hand_off
from bidder.clock import FakeClock
from bidder.domain import Status

PAUSE = ("GET", "/adv/v0/pause")


def _calls(app) -> int:
    """WB calls this process made (its read and write clients)."""
    cycle = app.cycles["shop-a"]
    clients = [cycle.reader, getattr(cycle.live_writer, "_client", None)]
    return sum(sum(c.metrics.values()) for c in clients if c is not None)


async def test_pause_all_is_handed_to_the_running_daemon(tmp_path: Path) -> None:
    clock = FakeClock()
    fs = await faulty_sim(clock)
    try:
        daemon = await app_for(fs, tmp_path, clock)
        cli = await app_for(fs, tmp_path, clock)
        try:
            [first] = await daemon.run_once()  # the daemon's heartbeat
            assert first.ok, first.error
            active = sorted(i for i in daemon.cycles["shop-a"].managed_ids()
                            if daemon.cycles["shop-a"].campaigns[i].status == Status.ACTIVE)
            fs.add(Rule("GET", "/adv/v3/fullstats", status=502))  # WB's statistics are down meanwhile
            clock.advance(30)
            await cli.control.pause("all", by="cli")
            since = clock.now()
            waiting = asyncio.create_task(hand_off(cli, ["shop-a"], since, within=30))
            await asyncio.sleep(1.0)  # the CLI is waiting on the store; the daemon's next cycle comes
            assert not waiting.done()
            clock.advance(30)
            [cycle] = await daemon.run_once()
            [outcome] = await waiting
        finally:
            await cli.close()
            await daemon.close()
        assert _calls(cli) == 0, "the CLI process sent nothing to WB: the daemon is the one pacer"
        assert outcome.by == "daemon" and outcome.ok, outcome
        assert outcome.counts["applied"] == len(active)
        paused = {a for r in fs.requests(*PAUSE) for a in adverts_in(r)}
        assert set(active) <= paused
    finally:
        await fs.stop()


async def test_pause_all_applies_itself_when_no_daemon_runs_even_while_statistics_fail(tmp_path: Path) -> None:
    clock = FakeClock()
    fs = await faulty_sim(clock)
    try:
        earlier = await app_for(fs, tmp_path, clock)
        try:
            await earlier.run_once()  # a daemon ran once, long ago
            active = sorted(i for i in earlier.cycles["shop-a"].managed_ids()
                            if earlier.cycles["shop-a"].campaigns[i].status == Status.ACTIVE)
        finally:
            await earlier.close()
        clock.advance(3600)
        fs.add(Rule("GET", "/adv/v3/fullstats", status=502))
        stats_reads = len(fs.requests("GET", "/adv/v3/fullstats"))
        cli = await app_for(fs, tmp_path, clock)
        try:
            await cli.control.pause("all", by="cli")
            [outcome] = await hand_off(cli, ["shop-a"], clock.now(), within=5)
        finally:
            await cli.close()
        assert outcome.by == "cli" and outcome.ok, outcome
        assert outcome.counts["applied"] == len(active)
        assert len(fs.requests("GET", "/adv/v3/fullstats")) == stats_reads, "no statistics read is needed"
        assert set(active) <= {a for r in fs.requests(*PAUSE) for a in adverts_in(r)}
    finally:
        await fs.stop()
