"""bench.position_bench on a short run: the daemon stack against the lagging, answering market, and the
``--json`` case shape (the figures are measured by ``python -m bench.strategies``, not asserted here)."""

from __future__ import annotations

import asyncio
import math

from bench import position_bench


def test_short_run_gives_every_figure_per_source() -> None:
    results = {"public_search": asyncio.run(position_bench.run_source("public_search", 0.25, 1))}
    (case,) = position_bench.cases(results)
    assert case["name"] == "target_position_public_search"
    assert set(case) == {"name", *position_bench.FIGURES}
    assert all(isinstance(case[k], int | float) and math.isfinite(case[k]) for k in position_bench.FIGURES)
    f = results["public_search"]
    assert f["intervals"] > 0 and f["spend"] > 0 and f["baseline_spend"] > 0
    # the floor of the cost ratio in this market (a policy bidding exactly the cheapest holding bid)
    assert 0 < f["oracle_cost_ratio"] < 1.2 and f["baseline_cheapest_holding_bid"] >= 520


def test_cheapest_holding_bid_counts_responders_at_their_cap() -> None:
    from bidder.sim.market import Market

    spec = position_bench.bench_spec()
    m = Market(spec, 1)
    b = position_bench.cheapest(m, spec.start)
    scores = m._scores(position_bench.QUERY, int(spec.start.timestamp() // 3600))

    def place(bid: int) -> int:
        return 1 + sum(s > bid for s in scores) + sum(c > bid for _, c in position_bench.RESPONDERS)

    assert place(b) <= position_bench.TARGET < place(b - m.step("cpm"))  # holds, and one step less does not


def test_the_search_report_case_steers_on_the_analytics_report_only() -> None:
    """The search-cluster statistics are off for the seller (WB's 403): every position the strategy acts on
    comes from the Analytics search report."""
    trace: list = []
    f = asyncio.run(position_bench.run_source("search_report", 0.5, 1, trace))
    reasons = [str(t[4]) for t in trace]
    assert any("(search_report," in r for r in reasons)
    assert not any("(clusters_today," in r or "(public_search," in r for r in reasons)
    assert f["baseline_spend"] > 0
