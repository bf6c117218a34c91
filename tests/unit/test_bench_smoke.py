"""The benchmarks still run: each one's core at toy size. No timing assertions (figures are printed by
``python -m bench.<name>``, never asserted)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bench import common, scale, store, strategy_throughput


def test_table_and_facts(capsys) -> None:
    text = common.table(["name", "n", "rate"], [["a", 1234, 0.5], ["bb", None, 12345.6]])
    assert "1 234" in text and "—" in text and "12 346" in text
    assert "cores" in common.machine_facts()
    assert common.peak_rss_mb() > 0 and common.cpu_seconds() > 0


def test_strategy_throughput_toy() -> None:
    rows = strategy_throughput.run(snapshots=20, seed=3, chunk=7, out=lambda _: None)
    names = [r[0] for r in rows]
    assert names == ["target_position", "roi_floor", "spend_cap", "schedule", "combined (all four)"]
    assert all(r[1] == 20 and r[2] >= 20 for r in rows)


def test_store_toy_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}"
    rate, _ = asyncio.run(store.bench_audit(url, store.make_decisions(12), batch=5))
    assert rate > 0
    hrate, _ = asyncio.run(store.bench_holds(f"sqlite+aiosqlite:///{tmp_path / 'holds.db'}",
                                             store.make_decisions(12), batch=5))
    assert hrate > 0
    url2 = f"sqlite+aiosqlite:///{tmp_path / 'bench2.db'}"
    ins, upd, _ = asyncio.run(store.bench_stats(url2, 42, batch=20))
    assert ins > 0 and upd > 0


def test_scale_minimum_and_refresh_arithmetic() -> None:
    calls = [scale.Call(t=20.0 * i, seller="s", key="GET /adv/v3/fullstats", status=200,
                        units=tuple(range(i * 50, min(i * 50 + 50, 120))), group="d") for i in range(3)]
    calls += [scale.Call(t=100.0 + 20 * i, seller="s", key="GET /adv/v3/fullstats", status=200,
                         units=tuple(range(i * 50, min(i * 50 + 50, 120))), group="d") for i in range(3)]
    assert scale.minimum_calls(calls, "GET /adv/v3/fullstats", 300, 600) == 6
    sellers = [{"name": "s", "stats_ids": list(range(120)), "ids": list(range(130))}]
    times, ratios, not_done = scale.first_refresh(calls, sellers)
    assert times == [40.0] and not_done == 0 and ratios == [pytest.approx(1.0)]
    assert scale.floor_seconds(sellers) == 40.0


def test_scale_config_generation() -> None:
    sellers = [{"name": "seller-001", "read": _token(), "write": _token(write=True), "ids": [1, 2, 3, 4, 5],
                "stats_ids": [1, 2]}]
    cfg = scale.make_config(sellers, target_share=0.5)
    acc = cfg.accounts[0]
    assert [s.kind for s in acc.strategies_for(1)] == ["target_position"]
    assert [s.kind for s in acc.strategies_for(2)] == ["spend_cap"]


def _token(write: bool = False) -> str:
    from bidder.wb.tokens import mint_token

    return mint_token("6f1c3d4e-9b1a-4c55-8e0f-2a7b5c9d0e11", read_only=not write)


def test_scale_toy_run(tmp_path: Path) -> None:
    """The daemon against a 2 x 4 x 1 simulator for 3 simulated minutes, in this process (the benchmark
    puts the simulator in a child process; the measured stack is the same)."""
    from bidder.config import Intervals

    async def run() -> tuple[scale.DaemonStats, list[scale.Call], list[dict]]:
        from bidder.clock import ScaledClock
        from bidder.sim.scenarios import build_scenario

        spec = build_scenario("scale:2x4x1", 1)
        clock = ScaledClock(spec.start, 120.0)
        log: list[scale.Call] = []
        running = await scale._start_sim("scale:2x4x1", 1, clock, log)
        try:
            info = {"url": running.url, "sellers": scale._sellers(running.sim)}
            stats = await scale.run_daemon(info, clock, 3 / 60, f"sqlite+aiosqlite:///{tmp_path / 'bidder.db'}",
                                           tmp_path, 0.5)
        finally:
            await running.stop()
        return stats, log, info["sellers"]

    stats, log, sellers = asyncio.run(run())
    assert stats.cycles >= 2 and stats.failed == 0
    assert any(c.key == "GET /adv/v3/fullstats" and c.status == 200 for c in log)
    assert not [c for c in log if c.status == 429]
    assert scale.minimum_calls(log, "GET /adv/v3/fullstats", Intervals().campaigns.total_seconds(),
                               timedelta(minutes=3).total_seconds()) >= 1
    times, _, not_done = scale.first_refresh(log, sellers)
    assert not_done == 0 and len(times) == 2


def test_spend_cases_toy() -> None:
    """The issue-15 spend cases run (one simulated day each); figures are printed by the bench, not asserted."""
    from bench import spend_cases

    cases = [fn(1, 1, 30) for fn, _ in spend_cases.CASES]
    names = [c["name"] for c in cases]
    assert names == ["near_cap_healthy", "over_cap_at_min", "roi_healthy_low_conversion", "roi_bad",
                     "daily_budget_cpc", "daily_budget_cpm"]
    keys = {"near_cap_healthy": ("pauses", "bid_cuts_per_day"), "over_cap_at_min": ("hours_to_pause",),
            "roi_healthy_low_conversion": ("pauses",), "roi_bad": ("hours_to_pause",),
            "daily_budget_cpc": ("overspend_pct",), "daily_budget_cpm": ("overspend_pct",)}
    for c in cases:
        for k in keys[c["name"]]:
            assert isinstance(c[k], int | float) and not isinstance(c[k], bool), (c["name"], k)
            assert k in c["previous"] and k in c["fixed_bid"]
