"""``python -m bidder.sim`` prints the URL and tokens and serves; ``scale`` starts fast over HTTP."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bidder.clock import FakeClock
from bidder.sim.testing import start_simulator
from bidder.wb.tokens import decode_token

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # as the FakeClock in conftest.py

REPO = Path(__file__).resolve().parents[2]


def test_module_entry_point_prints_url_and_tokens() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bidder.sim", "--port", "0", "--scenario", "demo", "--speed", "60", "--seed", "2"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    try:
        lines = [proc.stdout.readline() for _ in range(4)]  # type: ignore[union-attr]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert lines[0].startswith("simulator demo (seed 2) at http://127.0.0.1:"), lines
    assert lines[1].startswith("seller shop-a sid=")
    read = lines[2].strip().removeprefix("read_token=")
    write = lines[3].strip().removeprefix("write_token=")
    assert decode_token(read).read_only and decode_token(read).promotion
    assert not decode_token(write).read_only


async def test_scale_scenario_over_http() -> None:
    async with await start_simulator("scale:20x50", clock=FakeClock(START), seed=4) as running:
        assert len(running.sim.sellers) == 20
        seller = running.sim.sellers["seller-003"]
        async with aiohttp.ClientSession(headers={"Authorization": seller.read_token}) as s:
            async with s.get(running.url + "/adv/v1/promotion/count") as r:
                body = await r.json()
            assert body["all"] == 50
            ids = [a["advertId"] for g in body["adverts"] for a in g["advert_list"]]
            async with s.get(running.url + "/api/advert/v2/adverts", params={"ids": ",".join(map(str, ids))}) as r:
                assert r.status == 200 and len((await r.json())["adverts"]) == 50
            # another seller's campaign is invisible
            other = running.sim.market.advert_ids("seller-004")[0]
            async with s.get(running.url + "/api/advert/v2/adverts", params={"ids": str(other)}) as r:
                assert (await r.json())["adverts"] == []
