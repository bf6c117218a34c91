"""bench.replay still runs at toy size (figures are printed by ``python -m bench.replay``, never asserted)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from bench import replay as bench


def test_bench_replay_toy(tmp_path: Path) -> None:
    db = tmp_path / "bench.db"
    cfg = tmp_path / "bench.yaml"
    cfg.write_text(bench.config_text(3))
    url = f"sqlite+aiosqlite:///{db}"
    asyncio.run(bench.generate(url, 3, 1, lambda _: None))
    from bidder.replay.report import build_report
    from bidder.replay.run import ReplayRequest, replay_account, span

    first, last = asyncio.run(span(url, bench.ACCOUNT))
    assert first is not None and last is not None and last - first > timedelta(hours=23)
    results = replay_account(ReplayRequest(cfg, url, bench.ACCOUNT, None, first, last), workers=1)
    report = build_report(results, account=bench.ACCOUNT, since="", until="", config=str(cfg))
    assert report["campaigns"] == 3 and report["evaluations"] == 3 * 480
    assert report["decisions_total"] >= report["evaluations"]
