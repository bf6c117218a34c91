"""The WB client against the simulator over real HTTP: every endpoint's happy path, the writers, and
every request checked against WB's promotion.yaml."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest
from pydantic import SecretStr
from wb_support import SPEC, Recorder, validate

from bidder.clock import ScaledClock
from bidder.domain import Status
from bidder.errors import TokenError
from bidder.sim.scenarios import build_scenario
from bidder.sim.testing import start_simulator
from bidder.wb.client import WBClient
from bidder.wb.models import BidChange, ClusterBidChange
from bidder.wb.pacing import Pacer
from bidder.wb.tokens import mint_token, read_token, write_token
from bidder.wb.writer import DryRunWriter, LiveWriter, make_reader, make_writer

SPEED = 600.0
TIMEOUT = 1200.0  # clock seconds: 2 s real at SPEED


@pytest.fixture
def clock():
    return ScaledClock(build_scenario("demo").start, speed=SPEED)


@pytest.fixture
async def sim(clock):
    s = await start_simulator("demo", seed=1, clock=clock)
    yield s
    await s.stop()


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
async def session(recorder):
    async with aiohttp.ClientSession(trace_configs=[recorder.trace_config()]) as s:
        yield s


@pytest.fixture
def pacer(clock):
    return Pacer(clock)


@pytest.fixture
def seller(sim):
    return sim.sim.sellers["shop-a"]


@pytest.fixture
def reader(sim, session, pacer, clock, seller):
    return make_reader(session, read_token(SecretStr(seller.read_token), now=clock.now()), pacer, clock, base_url=sim.url, timeout=TIMEOUT)


@pytest.fixture
def writer(reader, seller, clock):
    token = write_token(SecretStr(seller.write_token), now=clock.now(), reader=reader.token)
    return make_writer(reader=reader, write_token=token, timeout=TIMEOUT)


@pytest.fixture(autouse=True)
def _requests_fit_the_spec(recorder):
    yield
    if not SPEC.exists():  # the endpoint assertions above still ran; only the official-spec check is skipped
        print(f"promotion.yaml not found at {SPEC}: request validation against the official spec skipped")
        return
    skipped = set()
    for sent in recorder.sent:
        if sent.path.startswith("/__sim"):
            continue
        reason = validate(sent)  # raises on a violation
        if reason:
            skipped.add((sent.method, sent.path, reason))
    for method, path, reason in sorted(skipped):
        print(f"spec validation skipped for {method} {path}: {reason}")


IDS = list(range(1000001, 1000016))


async def test_count(reader):
    refs = await reader.count()
    assert sorted(r.advert_id for r in refs) == IDS
    assert {r.status for r in refs} >= {Status.ACTIVE, Status.PAUSED, Status.READY, Status.COMPLETED}
    assert all(r.changed_at is not None and r.changed_at.tzinfo for r in refs)


async def test_campaigns_batches_of_50(reader, recorder):
    camps = await reader.campaigns(IDS + IDS[:3])
    assert sorted(c.advert_id for c in camps) == IDS
    c1 = next(c for c in camps if c.advert_id == 1000001)
    assert c1.bid_type == "unified" and c1.currency == "RUB" and c1.items
    assert c1.bid_placements == ("combined",)
    assert all(isinstance(v, int) for it in c1.items for v in it.bids.values())
    c2 = next(c for c in camps if c.advert_id == 1000002)
    assert c2.bid_type == "manual" and c2.bid_placements
    assert [s.path for s in recorder.sent].count("/api/advert/v2/adverts") == 1


async def test_fullstats_splits_long_ranges(reader, clock, recorder):
    today = clock.now().date()
    stats = await reader.fullstats(IDS, today - timedelta(days=40), today)
    calls = [s for s in recorder.sent if s.path == "/adv/v3/fullstats"]
    assert len(calls) == 2  # 41 days -> 31 + 10
    assert stats
    days = {s.day for s in stats}
    assert today - timedelta(days=1) in days
    assert all(s.spend >= 0 and s.views >= s.clicks for s in stats)
    assert any(s.avg_position is not None for s in stats if s.advert_id == 1000001)  # unified: boosterStats
    assert all(s.avg_position is None for s in stats if s.advert_id == 1000002)  # manual: none


async def test_min_bids_and_recommendations(reader):
    camp = (await reader.campaigns([1000002]))[0]
    nms = [it.nm_id for it in camp.items]
    mins = await reader.min_bids(1000002, nms, camp.payment_type, ["search", "recommendations"])
    assert set(mins) == {(nm, p) for nm in nms for p in ("search", "recommendations")}
    assert all(v > 0 for v in mins.values())
    rec = await reader.recommendations(1000002, nms[0])
    assert rec.payment_type == "cpm" and rec.competitive_bid and rec.clusters
    cpc = (await reader.campaigns([1000005]))[0]
    rec2 = await reader.recommendations(1000005, cpc.items[0].nm_id)
    assert rec2.payment_type == "cpc" and [(b.first, b.last) for b in rec2.bands] == [(1, 2), (3, 10), (11, 34)]


async def test_config_is_cached(reader, recorder):
    cfg = await reader.config()
    again = await reader.config()
    assert cfg is again and cfg.currency == "RUB" and cfg.cpm_step > 0 and cfg.cpc_step > 0
    assert [s.path for s in recorder.sent].count("/api/advert/v1/config") == 1


async def test_clusters(reader, clock):
    camp = (await reader.campaigns([1000002]))[0]
    pairs = [(1000002, it.nm_id) for it in camp.items]
    today = clock.now().date()
    stats = await reader.cluster_stats(pairs, today - timedelta(days=2), today)
    assert stats and all(s.advert_id == 1000002 and s.norm_query for s in stats)
    bids = await reader.cluster_bids(pairs)
    assert bids and all(b.bid > 0 and b.currency == "RUB" for b in bids)


async def test_set_bids_live(writer, reader, clock, sim):
    assert isinstance(writer, LiveWriter)
    c1, c2 = await reader.campaigns([1000001, 1000002])
    cfg = await reader.config()
    nm1 = c1.items[0]
    new1 = (nm1.bid_for("combined") or 0) + 5 * cfg.cpm_step
    changes = [BidChange(1000001, nm1.nm_id, "combined", new1)]
    for p in c2.bid_placements:
        cur = c2.items[0].bid_for(p) or 0
        changes.append(BidChange(1000002, c2.items[0].nm_id, p, cur + 2 * cfg.cpm_step))
    results = await writer.set_bids(changes)
    assert all(r.applied for r in results), results
    await clock.sleep(31)  # WB applies bids on 30-second ticks
    after = {c.advert_id: c for c in await reader.campaigns([1000001, 1000002])}
    assert after[1000001].item(nm1.nm_id).bid_for("combined") == new1
    assert sim.sim.report()["writes_by_method"]["PATCH /api/advert/v1/bids"] == 1


async def test_set_bids_isolates_the_bad_element(writer, reader, clock, sim):
    c2 = (await reader.campaigns([1000002]))[0]
    cfg = await reader.config()
    good = BidChange(1000002, c2.items[0].nm_id, c2.bid_placements[0], (c2.items[0].bid_for(c2.bid_placements[0]) or 0) + cfg.cpm_step)
    bad = BidChange(1000002, c2.items[-1].nm_id, c2.bid_placements[0], 1)  # below the minimum
    results = {(r.nm_id, r.bid): r for r in await writer.set_bids([good, bad])}
    assert results[(good.nm_id, good.bid)].applied
    r = results[(bad.nm_id, bad.bid)]
    assert not r.applied and "wrong bid value" in r.error


async def test_cluster_bids_partial_failure(writer, reader):
    camp = (await reader.campaigns([1000002]))[0]
    current = await reader.cluster_bids([(1000002, it.nm_id) for it in camp.items])
    cfg = await reader.config()
    target = current[0]
    ok = ClusterBidChange(1000002, target.nm_id, target.norm_query, target.bid + cfg.cpm_step)
    unknown = ClusterBidChange(1000002, target.nm_id, "no such cluster", target.bid)
    results = await writer.set_cluster_bids([ok, unknown])
    by_q = {r.norm_query: r for r in results}
    assert by_q[target.norm_query].applied
    assert not by_q["no such cluster"].applied and "not found" in by_q["no such cluster"].reason


async def test_start_pause_and_already_there(writer, clock):
    r = await writer.pause(1000002)
    assert r.changed
    await clock.sleep(61)  # status changes take effect on the next whole minute
    again = await writer.pause(1000002)
    assert again.changed is False  # 422 "status not changed" = already done
    started = await writer.start(1000002)
    assert started.changed


async def test_dry_run_writer_sends_nothing(reader, sim):
    w = make_writer(reader=reader, write_token=None, dry_run=True)
    assert isinstance(w, DryRunWriter)
    res = await w.set_bids([BidChange(1000001, 1, "combined", 50000), BidChange(1000002, 2, "search", 30000)])
    assert all(r.applied and r.dry_run for r in res)
    st = await w.pause(1000010)  # already paused
    assert st.changed is False and st.dry_run
    assert w.sent[0][0] == "PATCH /api/advert/v1/bids"
    assert sim.sim.report()["writes"] == 0


async def test_token_rules(sim, session, pacer, clock, seller, reader):
    with pytest.raises(TokenError, match="read-only"):
        make_writer(reader=reader, write_token=write_token(SecretStr(seller.read_token), now=clock.now()))
    with pytest.raises(TokenError, match="Promotion"):
        make_writer(reader=reader, write_token=write_token(SecretStr(mint_token(seller.seller_id, categories=(1,))), now=clock.now()))
    with pytest.raises(TokenError, match="Base"):
        WBClient(session, sim.url, read_token(SecretStr(seller.base_token), now=clock.now()), pacer, clock)
    with pytest.raises(TokenError, match="no write token"):
        make_writer(reader=reader, write_token=None)
    with pytest.raises(TokenError, match="another seller"):
        make_writer(reader=reader, write_token=write_token(SecretStr(mint_token("someone-else")), now=clock.now(),
                                                        reader=reader.token))
    with pytest.raises(TokenError, match="read-only"):
        await reader.patch_bids([(1000001, [BidChange(1000001, 1, "combined", 50000)])])
    assert seller.read_token not in repr(reader) and "Authorization" not in repr(reader)
