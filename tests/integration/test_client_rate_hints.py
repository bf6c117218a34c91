"""Rate-limit hints from WB (issue 14, defect 8) over real HTTP against the simulator, on a FakeClock:
an absurd ``X-Ratelimit-Retry`` is capped (and recorded for the cycle's alert), malformed ones fall
back to the documented limits, and one blocked bucket never holds back the seller's other buckets."""

from __future__ import annotations

import aiohttp
import pytest
from pydantic import SecretStr

from bidder.clock import FakeClock
from bidder.errors import RateLimited
from bidder.sim.faults import FaultRule
from bidder.sim.testing import start_simulator
from bidder.wb.pacing import MAX_RETRY_HINT, Pacer
from bidder.wb.tokens import read_token
from bidder.wb.writer import make_reader

COUNT = "GET /adv/v1/promotion/count"


async def _reader(clock, sim, session):
    seller = sim.sim.sellers["shop-a"]
    pacer = Pacer(clock)
    return make_reader(session, read_token(SecretStr(seller.read_token), now=clock.now()), pacer, clock,
                       base_url=sim.url), pacer


async def test_a_day_long_retry_hint_is_capped_alerted_and_other_buckets_keep_going() -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim, aiohttp.ClientSession() as session:
        reader, pacer = await _reader(clock, sim, session)
        sim.sim.rules.add(FaultRule("rate_limit", endpoint=COUNT, header="86400", times=1))
        t0 = clock.monotonic()
        refs = await reader.count()  # the 429, a capped wait, then the real reply
        assert refs
        waited = clock.monotonic() - t0
        assert MAX_RETRY_HINT <= waited < MAX_RETRY_HINT + 10  # not 86400 s
        (long_wait,) = pacer.take_long_waits(reader.seller_id)
        assert (long_wait.group, long_wait.asked, long_wait.applied) == ("count", 86400.0, MAX_RETRY_HINT)
        assert pacer.take_long_waits(reader.seller_id) == []  # taken once
        # while count's bucket is blocked again, other endpoints go without waiting
        sim.sim.rules.add(FaultRule("rate_limit", endpoint=COUNT, header="86400"))
        with pytest.raises(RateLimited):
            await reader.count()
        t1 = clock.monotonic()
        assert await reader.campaigns([1000001])
        assert clock.monotonic() - t1 < 1.0


@pytest.mark.parametrize("header", ["nan", "inf", "-inf", "-5", "1e300", "soon"])
async def test_malformed_retry_hints_fall_back_to_the_documented_limits(header: str) -> None:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim, aiohttp.ClientSession() as session:
        reader, pacer = await _reader(clock, sim, session)
        sim.sim.rules.add(FaultRule("rate_limit", endpoint=COUNT, header=header, times=2))
        t0 = clock.monotonic()
        assert await reader.count()  # no exception escapes (before: nan/inf raised or froze forever)
        assert clock.monotonic() - t0 < 30  # back-off 1-2 s, 2-3 s, then the steady interval
        assert pacer.take_long_waits(reader.seller_id) == []


async def test_the_cycle_alerts_when_wb_asks_for_a_longer_wait(tmp_path) -> None:
    """The daemon's cycle reads the pacer's capped hints and alerts once (event ``rate_limit_wait``)."""
    from pathlib import Path

    from bidder.app import build_app
    from bidder.config import load_config
    from bidder.settings import Settings
    from bidder.store import repo

    example = Path(__file__).resolve().parents[2] / "examples" / "bidder.yaml"
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim:
        seller = sim.sim.sellers["shop-a"]
        config = load_config(example, {"WB_READ_TOKEN": seller.read_token, "WB_WRITE_TOKEN": seller.write_token})
        settings = Settings(config=example, database_url=f"sqlite+aiosqlite:///{tmp_path / 'bidder.db'}",
                            wb_advert_url=sim.url, http_port=0)
        app = await build_app(settings, clock=clock, config=config.model_copy(update={"stop_file": tmp_path / "STOP"}))
        try:
            sim.sim.rules.add(FaultRule("rate_limit", endpoint=COUNT, header="86400", times=1))
            result = (await app.run_once())[0]
            async with app.sessions() as s:
                events = [a for a in await repo.pending_events(s, 1000) if a.kind == "rate_limit_wait"]
        finally:
            await app.close()
    assert result.ok  # capped wait, then the read went through
    assert len(events) == 1 and events[0].payload["asked"] == 86400.0
    assert events[0].payload["applied"] == MAX_RETRY_HINT
