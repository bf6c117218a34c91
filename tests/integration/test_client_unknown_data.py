"""Unknown data fails closed at the parse (issue 14, defects 4 and 11), over real HTTP against the
simulator with targeted faults: a missing money field is missing (None), not zero; a campaign whose
request-shaping fields are missing or unknown is read but marked not writable (the others are fine);
an unknown payment type is a mapped error; plausibility of bids follows the account's currency."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest
from pydantic import SecretStr

from bidder.clock import FakeClock
from bidder.errors import BadRequest, SchemaDrift
from bidder.sim.faults import FaultRule
from bidder.sim.testing import start_simulator
from bidder.wb.pacing import Pacer
from bidder.wb.tokens import read_token
from bidder.wb.writer import make_reader
from strategies.common import totals

ADVERTS = "GET /api/advert/v2/adverts"
FULLSTATS = "GET /adv/v3/fullstats"
IDS = [1000001, 1000002, 1000003]


@pytest.fixture
async def env():
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim, aiohttp.ClientSession() as session:
        seller = sim.sim.sellers["shop-a"]
        reader = make_reader(session, read_token(SecretStr(seller.read_token), now=clock.now()), Pacer(clock),
                             clock, base_url=sim.url)
        yield sim.sim, reader, clock


@pytest.mark.parametrize("field", ["bid_type", "status", "payment_type", "placements"])
async def test_a_campaign_missing_a_shape_field_is_read_but_not_writable(env, field):
    sim, reader, _ = env
    sim.rules.add(FaultRule("drop_field", endpoint=ADVERTS, advert_id=1000002, field=field))
    camps = {c.advert_id: c for c in await reader.campaigns(IDS)}
    assert set(camps) == set(IDS)  # the account is not failed
    bad = camps[1000002]
    assert bad.unknown_fields == {field} and not bad.writable
    assert bad.bid_placements == ()  # never defaulted to manual's "search"
    assert all(camps[i].writable and camps[i].bid_placements for i in (1000001, 1000003))


async def test_unknown_values_mark_the_campaign_and_unknown_payment_type_is_a_mapped_error(env):
    sim, reader, _ = env
    sim.rules.add(FaultRule("set_field", endpoint=ADVERTS, advert_id=1000002, field="payment_type", value="cpa"))
    sim.rules.add(FaultRule("set_field", endpoint=ADVERTS, advert_id=1000003, field="bid_type", value="auto"))
    camps = {c.advert_id: c for c in await reader.campaigns(IDS)}
    assert camps[1000002].unknown_fields == {"payment_type"}
    assert camps[1000003].unknown_fields == {"bid_type"}
    with pytest.raises(BadRequest):  # before: a bare ValueError escaped run_cycle
        await reader.min_bids(1000002, [1], "cpa", ["search"])


async def test_missing_sum_price_is_missing_not_zero(env):
    sim, reader, clock = env
    sim.rules.add(FaultRule("drop_field", endpoint=FULLSTATS, advert_id=1000002, field="sum_price"))
    today = clock.now().date()
    rows = await reader.fullstats(IDS, today - timedelta(days=6), today)
    broken = [r for r in rows if r.advert_id == 1000002]
    fine = [r for r in rows if r.advert_id != 1000002]
    assert broken and all(r.revenue is None and not r.complete for r in broken)
    assert fine and all(r.complete for r in fine)
    assert totals(broken).incomplete and totals(broken).drr_pct is None
    assert not totals(fine).incomplete


async def test_absurd_bid_is_still_drift_in_rubles(env):
    sim, reader, _ = env
    sim.rules.add(FaultRule("set_field", endpoint=ADVERTS, advert_id=1000002, field="search", value=500_000_000))
    with pytest.raises(SchemaDrift):
        await reader.campaigns(IDS)


async def test_a_uzs_bid_of_150000_sum_is_plausible(env):
    """Issue 14, defect 11: 150,000 sum = 15,000,000 tiyin was above the ruble-sized ceiling and failed
    the campaign read; plausibility now follows WB's own UZS steps (cpmStep 100,000 tiyin)."""
    import dataclasses

    sim, reader, _ = env
    sim.spec = dataclasses.replace(sim.spec, currency="UZS", currency_code=860, cpm_step=100_000, cpc_step=500)
    sim.rules.add(FaultRule("set_field", endpoint=ADVERTS, advert_id=1000002, field="search", value=15_000_000))
    camps = {c.advert_id: c for c in await reader.campaigns(IDS)}
    assert max(it.bids["search"] for it in camps[1000002].items) == 15_000_000
    sim.rules.clear()  # 100,000 x the UZS step is still the ceiling
    sim.rules.add(FaultRule("set_field", endpoint=ADVERTS, advert_id=1000002, field="search", value=10**11))
    with pytest.raises(SchemaDrift):
        await reader.campaigns(IDS)


def test_default_evidence_threshold_in_the_accounts_currency():
    from decimal import Decimal

    from bidder.wb.models import WBConfig
    from bidder.wb.plausible import default_min_evidence_spend, max_plausible_bid

    rub, uzs = WBConfig("RUB", 100, 10), WBConfig("UZS", 100_000, 500)
    assert default_min_evidence_spend(rub) == Decimal(300)  # the old ruble default
    assert default_min_evidence_spend(uzs) == Decimal(300_000)  # 300 UZS CPM steps
    assert max_plausible_bid(rub) == 10_000_000 and max_plausible_bid(uzs) > 15_000_000
