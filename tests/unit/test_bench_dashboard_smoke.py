"""bench/dashboard.py still runs at toy size (figures are printed by ``python -m bench.dashboard``,
never asserted)."""

from __future__ import annotations

from bench import dashboard


async def test_dashboard_bench_toy() -> None:
    rows = await dashboard.run(campaigns=30, days=2, runs=2, db_path=None, decisions_per_day=2, out=lambda _: None)
    assert [r[0] for r in rows][:2] == ["/", "/campaigns"]
    assert all(r[2] > 0 and r[4] > 0 for r in rows)
