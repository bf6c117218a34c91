"""WB's daily limits end to end over real HTTP: the client against the simulator (the shapes of
REFERENCE-2026-10 §3.11), and the engine's daily-limit step keeping a CPC campaign's limit at its budget."""

from __future__ import annotations

import json
from decimal import Decimal

import aiohttp
import pytest
from pydantic import SecretStr
from wb_support import Recorder

from bidder.clock import ScaledClock
from bidder.engine.limits import DailyLimitStep, budget_of
from bidder.errors import BadRequest, TokenError
from bidder.sim.scenarios import build_scenario
from bidder.sim.testing import start_simulator
from bidder.wb.models import DailyLimit
from bidder.wb.pacing import Pacer
from bidder.wb.tokens import read_token, write_token
from bidder.wb.writer import make_reader, make_writer
from strategies.spend_cap import SpendCap

SPEED = 600.0
CPC, CPC2, CPM = 1000007, 1000008, 1000001
PATH = "/api/advert/v0/daily-limits"


@pytest.fixture
def clock():
    return ScaledClock(build_scenario("demo").start, speed=SPEED)


@pytest.fixture
async def sim(clock):
    s = await start_simulator("demo", seed=1, clock=clock)
    yield s
    await s.stop()


@pytest.fixture
async def parts(sim, clock):
    rec = Recorder()
    async with aiohttp.ClientSession(trace_configs=[rec.trace_config()]) as session:
        seller = sim.sim.sellers["shop-a"]
        pacer = Pacer(clock)
        reader = make_reader(session, read_token(SecretStr(seller.read_token), now=clock.now()), pacer, clock,
                             base_url=sim.url, timeout=1200.0)
        writer = make_writer(reader=reader, write_token=write_token(SecretStr(seller.write_token), now=clock.now(),
                                                                    reader=reader.token), timeout=1200.0)
        yield reader, writer, rec


async def test_client_sets_and_reads_back(parts) -> None:
    reader, writer, rec = parts
    res = await writer.set_daily_limits([CPC, CPC2], enabled=True, daily_limit=150_000, carry_over=False)
    assert {r.advert_id for r in res} == {CPC, CPC2} and all(not r.below_min for r in res)
    rows = {r.advert_id: r for r in await reader.daily_limits([CPC, CPC2, CPM])}
    assert rows[CPC].enabled and rows[CPC].daily_limit == 150_000 and rows[CPC].valid
    assert rows[CPC].required_limit >= 100_000 and rows[CPC].currency == "RUB" and not rows[CPC].carry_over
    assert not rows[CPM].enabled
    # the wire shapes of REFERENCE-2026-10 §3.11: ids comma-separated in the query, the PUT body
    put = next(s for s in rec.sent if s.method == "PUT")
    assert put.path == PATH and json.loads(put.body) == {"advertIds": [CPC, CPC2], "enabled": True,
                                                          "dailyLimit": 150_000, "carryOverEnabled": False}
    get = next(s for s in rec.sent if s.method == "GET" and s.path == PATH)
    assert get.query == {"advertIds": f"{CPC},{CPC2},{CPM}"}
    await writer.set_daily_limits([CPC], enabled=False)
    assert json.loads([s for s in rec.sent if s.method == "PUT"][-1].body) == {"advertIds": [CPC], "enabled": False}
    assert not (await reader.daily_limits([CPC]))[0].enabled


async def test_client_errors(parts) -> None:
    reader, writer, _ = parts
    with pytest.raises(BadRequest, match="at least 100000"):
        await writer.set_daily_limits([CPC], enabled=True, daily_limit=50_000)
    with pytest.raises(ValueError):
        await writer.set_daily_limits([], enabled=False)
    with pytest.raises(TokenError):  # the read-only client refuses to write before sending
        await reader.set_daily_limits([CPC], enabled=False)


async def test_engine_step_keeps_the_limit_at_the_budget_and_alerts_when_invalid(parts, sim, clock) -> None:
    reader, writer, _ = parts
    campaigns = {c.advert_id: c for c in await reader.campaigns([CPC, CPM])}
    strategies = [SpendCap(SpendCap.Params(max_drr_pct=30, daily_budget=1200))]
    budgets = {CPC: budget_of(strategies), CPM: Decimal(1200)}
    alerts: list[tuple[int, DailyLimit]] = []

    async def alert(advert_id: int, r: DailyLimit) -> None:
        alerts.append((advert_id, r))

    step = DailyLimitStep(reader)
    cfg = await reader.config()
    (out,) = await step.run(campaigns, budgets, writer, cfg.min_daily_limit, clock.now(), alert)
    assert out.advert_id == CPC and out.ok and out.want == 120_000 and out.valid  # CPM: no native limit
    assert sim.sim.market.daily_limit(CPC, clock.now())["dailyLimit"] == 120_000
    # someone switches it off on WB's side: the next pass writes it again
    await writer.set_daily_limits([CPC], enabled=False)
    (out,) = await step.run(campaigns, budgets, writer, cfg.min_daily_limit, clock.now(), alert)
    assert out.ok and out.read_back is not None and out.read_back.enabled
    # bids rise: WB calls the limit too small -> one alert with WB's requiredLimit, the limit stays the budget
    m = sim.sim.market
    for it in m.campaign(CPC).spec.items:
        m.set_bid(CPC, it.nm_id, "combined", 3000, clock.now())
    await clock.sleep(60)
    (out,) = await step.run(campaigns, budgets, writer, cfg.min_daily_limit, clock.now(), alert)
    assert out.valid is False and out.read_back is not None and out.read_back.daily_limit == 120_000
    assert [a for a, _ in alerts] == [CPC] and alerts[0][1].required_limit == 300_000
    await step.run(campaigns, budgets, writer, cfg.min_daily_limit, clock.now(), alert)
    assert len(alerts) == 1  # alerted on the change, not every pass


async def test_budget_under_wb_minimum_sets_the_minimum(parts, clock) -> None:
    reader, writer, _ = parts
    campaigns = {c.advert_id: c for c in await reader.campaigns([CPC])}
    (out,) = await DailyLimitStep(reader).run(campaigns, {CPC: Decimal(500)}, writer, 100_000, clock.now())
    assert out.ok and out.want == 100_000 and "under WB's minimum" in out.note
