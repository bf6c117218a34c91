"""Position sources, cluster bids and the public-search drift fallback against real parts: the simulator's
demo market over HTTP, a real (migrated) SQLite file, one FakeClock.

* today's search-cluster statistics and the public search become stored observations
  (``bidder.store.positions``) and reach target_position's snapshot;
* a manual CPM campaign with a ``query`` gets that cluster's bid read (get-bids), set (normquery/bids) and
  read back; a unified campaign keeps one bid per item;
* a public-search shape change gives exactly one drift alert and the strategy falls back to the official
  data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bidder.clock import FakeClock
from bidder.config import load_config
from bidder.domain import Action
from bidder.engine.apply import Applier
from bidder.engine.evaluate import Evaluator
from bidder.engine.guards import GuardConfig
from bidder.engine.poll import Poller
from bidder.engine.view import AccountView
from bidder.notify.alerts import OutboxAlerts
from bidder.notify.control import OperatorStateReader
from bidder.sim.testing import start_simulator
from bidder.store import repo
from bidder.store.alerts import pending_events
from bidder.store.db import Database
from bidder.store.migrate import upgrade
from bidder.store.positions import positions_known_at
from bidder.wb.pacing import Pacer
from bidder.wb.tokens import load_tokens
from bidder.wb.writer import DryRunWriter, make_reader, make_writer

UNIFIED, MANUAL = 1000001, 1000006
Q_UNIFIED, Q_MANUAL = "платье женское", "кроссовки мужские"

CONFIG = """
accounts:
  - name: shop-a
    read_token: ${{WB_READ_TOKEN}}
    write_token: ${{WB_WRITE_TOKEN}}
    guardrails: {{max_bid: 800}}
    positions:
      public_search: {{enabled: {public}, url: "{url}", min_interval: 2s, every: 5m}}
    defaults: {{managed: false}}
    campaigns:
      - id: {unified}
        strategies: [{{target_position: {{position: 3, max_bid: 600, query: "{q_unified}"}}}}]
      - id: {manual}
        strategies: [{{target_position: {{position: 2, max_bid: 700, query: "{q_manual}"}}}}]
"""


@dataclass
class Parts:
    sim: object
    clock: FakeClock
    database: Database
    view: AccountView
    poller: Poller
    evaluator: Evaluator
    applier: Applier

    @property
    def market(self):
        return self.sim.sim.market

    async def drift_alerts(self) -> int:
        async with self.database.sessions() as s:
            return sum(1 for a in await pending_events(s, 1000) if a.kind == "api_drift")


async def _parts(tmp_path: Path, public: bool) -> AsyncIterator[Parts]:
    clock = FakeClock()
    url = f"sqlite+aiosqlite:///{tmp_path / 'bidder.db'}"
    await upgrade(url)
    database = Database(url)
    async with await start_simulator("demo", seed=1, clock=clock) as sim, aiohttp.ClientSession() as http:
        seller = sim.sim.sellers["shop-a"]
        path = tmp_path / "bidder.yaml"
        path.write_text(CONFIG.format(public="true" if public else "false", url=sim.url, unified=UNIFIED,
                                      manual=MANUAL, q_unified=Q_UNIFIED, q_manual=Q_MANUAL), "utf-8")
        config = load_config(path, {"WB_READ_TOKEN": seller.read_token, "WB_WRITE_TOKEN": seller.write_token})
        account = config.accounts[0]
        tokens = load_tokens(SecretStr(seller.read_token), SecretStr(seller.write_token), now=clock.now())
        reader = make_reader(http, tokens.read, Pacer(clock), clock, base_url=sim.url)
        view = AccountView(account, GuardConfig.from_guardrails(account.guardrails))
        alerts, operator = OutboxAlerts(), OperatorStateReader()
        async with database.sessions.begin() as s:
            await repo.ensure_account(s, "shop-a")
        try:
            yield Parts(
                sim=sim, clock=clock, database=database, view=view,
                poller=Poller(view, reader, database.sessions, clock, config.intervals, alerts=alerts),
                evaluator=Evaluator(view, sessions=database.sessions, read_sessions=database.read_sessions,
                                    alerts=alerts, operator=operator),
                applier=Applier(view, sessions=database.sessions, read_sessions=database.read_sessions, clock=clock,
                                alerts=alerts, operator=operator,
                                live_writer=make_writer(reader=reader, write_token=tokens.write),
                                dry_writer=DryRunWriter(reader=reader)),
            )
        finally:
            await database.dispose()


@pytest.fixture
async def official(tmp_path: Path) -> AsyncIterator[Parts]:
    async for p in _parts(tmp_path, public=False):
        yield p


@pytest.fixture
async def public(tmp_path: Path) -> AsyncIterator[Parts]:
    async for p in _parts(tmp_path, public=True):
        yield p


async def _poll(parts: Parts, minutes: float = 0) -> None:
    parts.clock.advance(minutes * 60)
    await parts.poller.run(parts.clock.now())


async def test_todays_cluster_stats_are_stored_observations(official: Parts) -> None:
    official.clock.advance(3 * 3600)  # some of today's statistics exist
    await _poll(official)
    obs = official.view.positions.observations
    assert set(obs) == {UNIFIED, MANUAL}
    mine = [o for o in obs[UNIFIED] if o.query == Q_UNIFIED]
    assert mine and all(o.source == "clusters_today" and o.region is None for o in mine)
    # the same numbers as the simulator's published statistics of today (from = to = today)
    today = official.view.today(official.clock.now())
    rows = {(r.nm_id, r.norm_query): r for nm in (211000101, 211000102)
            for r in official.market.cluster_stats(UNIFIED, nm, today, today, visible=True)}
    for o in mine:
        assert o.position == rows[(o.nm_id, o.query)].avg_pos and o.sample == rows[(o.nm_id, o.query)].views
        assert o.describes_at <= o.observed_at and o.bid == 330 * 100
    async with official.database.sessions() as s:
        stored = await positions_known_at(s, "shop-a", official.clock.now())
        before = await positions_known_at(s, "shop-a", official.clock.now() - timedelta(seconds=1))
    assert len(stored) == sum(len(v) for v in obs.values()) and before == []
    # not again before WB's next sync
    calls = official.sim.sim.report()["requests"]["POST /adv/v0/normquery/stats"]["count"]
    await _poll(official, 1)
    assert official.sim.sim.report()["requests"]["POST /adv/v0/normquery/stats"]["count"] == calls


async def test_cluster_bids_of_a_manual_cpm_campaign_are_read_set_and_read_back(official: Parts) -> None:
    official.clock.advance(3 * 3600)
    await _poll(official)
    bids = official.view.positions.cluster_bids
    assert MANUAL in bids and UNIFIED not in bids  # the unified campaign keeps one bid per item
    for nm in (211000601, 211000603, 211000604):
        assert bids[MANUAL][(nm, Q_MANUAL)] == official.market.cluster_bids(MANUAL, nm)[Q_MANUAL]
    decisions = (await official.evaluator.run(official.clock.now(), everything=True)).decisions
    manual = [d for d in decisions if d.advert_id == MANUAL and d.nm_id is not None]
    assert manual and all(d.norm_query == Q_MANUAL for d in manual)
    assert [d.action for d in manual if d.nm_id == 211000602] == [Action.HOLD]  # not in that cluster
    unified = [d for d in decisions if d.advert_id == UNIFIED and d.nm_id is not None]
    assert unified and all(d.norm_query is None and d.placement == "combined" for d in unified)
    moved = [d for d in manual if d.changes_bid]
    assert moved, [d.reason for d in manual]
    assert all("clusters_today" in d.reason for d in moved)
    await official.applier.run(decisions)
    official.clock.advance(31)  # WB applies bids on a 30-second tick
    await _poll(official, 3)
    for d in moved:
        assert official.market.cluster_bids(MANUAL, d.nm_id)[Q_MANUAL] == d.bid_after
        assert official.view.positions.cluster_bids[MANUAL][(d.nm_id, Q_MANUAL)] == d.bid_after


async def test_public_search_then_a_shape_change_alerts_once_and_falls_back(public: Parts) -> None:
    public.clock.advance(3 * 3600)
    await _poll(public)
    obs = public.view.positions.observations[UNIFIED]
    live = [o for o in obs if o.source == "public_search"]
    assert live and all(o.region == "-1257786" and o.describes_at == o.observed_at for o in live)
    now = public.clock.now()
    shown = {r["nm_id"]: r["promo_position"] for r in public.market.search_results(Q_UNIFIED, now)}
    for o in live:  # the place a buyer saw at that moment (our other card included)
        assert o.position == shown[o.nm_id]
    decisions = (await public.evaluator.run(now, everything=True)).decisions
    assert any("public_search" in d.reason for d in decisions if d.advert_id == UNIFIED and d.nm_id)

    public.sim.sim.faults.configure({"search_shape": 1})
    await _poll(public, 21)  # the last public reading is too old to steer on by now
    assert public.view.positions.public_off is not None
    assert await public.drift_alerts() == 1
    await _poll(public, 6)
    await _poll(public, 6)
    assert await public.drift_alerts() == 1  # one alert, and no further public-search call
    assert [o for o in public.view.positions.observations[UNIFIED]
            if o.source == "public_search" and o.observed_at > now] == []
    decisions = (await public.evaluator.run(public.clock.now(), everything=True)).decisions
    mine = [d for d in decisions if d.advert_id == UNIFIED and d.nm_id is not None]
    assert mine and all("public_search" not in d.reason for d in mine)
    assert any("clusters_today" in d.reason for d in mine), [d.reason for d in mine]


async def test_positions_survive_a_restart(official: Parts) -> None:
    official.clock.advance(3 * 3600)
    await _poll(official)
    before = official.view.positions.for_campaign(UNIFIED)
    fresh = AccountView(official.view.account, official.view.guard)
    fresh.campaigns = dict(official.view.campaigns)
    poller = Poller(fresh, official.poller.reader, official.database.sessions, official.clock,
                    official.poller.intervals)
    await poller.positions.run(official.clock.now())
    assert fresh.positions.for_campaign(UNIFIED)[: len(before)] == before


def test_a_bidding_war_on_the_daemon_stack_rolls_back_once_and_pauses_raises() -> None:
    """Competitors answer every raise within 5 minutes (up to 900 RUB, above max_bid): the raises buy
    nothing, so the bid goes back, raises pause for 2 hours, and each war alerts once."""
    import asyncio

    from bench import position_bench

    spec = position_bench.bench_spec(responders=((30000, 90000), (30000, 90000)), respond_after=300)
    trace: list = []
    # small raises (5 %, doubled two places off), so that two of them in a row buy nothing
    f = asyncio.run(position_bench.run_source("public_search", 0.2, 1, trace, spec=spec, extra=", step_up_pct: 5"))
    wars = f["war_times"]
    assert wars and f["false_war_alerts"] == 0
    assert all(b - a >= timedelta(hours=2) for a, b in zip(wars, wars[1:], strict=False))
    first = wars[0]
    rollback = [t for t in trace if t[0] == first and t[1] == "set_bid" and t[3] < t[2]]
    assert rollback, "the war decision lowers the bid"
    paused = [t for t in trace if first < t[0] < first + timedelta(hours=2) and "raises paused" in t[4]]
    raised = [t for t in trace if first < t[0] < first + timedelta(hours=2) and t[1] == "set_bid" and t[3] > t[2]]
    assert paused and not raised


async def test_public_search_goes_through_the_configured_proxy(tmp_path: Path) -> None:
    """A plain HTTP forward proxy in this process: every public-search call passes through it, paced."""
    from aiohttp import web

    from bidder.wb.positions import PublicSearch

    seen: list[str] = []

    async def forward(request: web.Request) -> web.Response:
        seen.append(str(request.url))
        async with aiohttp.ClientSession() as out, out.get(str(request.url)) as resp:
            return web.Response(status=resp.status, body=await resp.read(), content_type=resp.content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    clock = FakeClock()
    try:
        async with await start_simulator("demo", seed=1, clock=clock) as sim, aiohttp.ClientSession() as http:
            search = PublicSearch(http, sim.url, clock, proxy=f"http://127.0.0.1:{port}", min_interval=10)
            t0 = clock.monotonic()
            first = await search.place(Q_UNIFIED, "-1257786", [211000101, 211000102])
            await search.place(Q_UNIFIED, "-1257786", [211000101])
            assert set(first) == {211000101, 211000102}
            assert len(seen) == 2 and all("/exactmatch/ru/common/v18/search" in u for u in seen)
            assert clock.monotonic() - t0 >= 10  # the second call waited its turn
    finally:
        await runner.cleanup()


async def test_a_refused_public_search_is_skipped_without_an_alert(public: Parts) -> None:
    public.sim.sim.faults.configure({"search_429_rate": 1.0})
    public.clock.advance(3 * 3600)
    await _poll(public)
    obs = public.view.positions.observations[UNIFIED]
    assert obs and {o.source for o in obs} == {"clusters_today"}
    assert public.view.positions.public_off is None and await public.drift_alerts() == 0
    calls = public.sim.sim.report()["requests"]["GET /exactmatch/ru/common/v18/search"]["count"]
    await _poll(public, 6)  # the refusal pause (5 min) has passed: one more try, no more
    after = public.sim.sim.report()["requests"]["GET /exactmatch/ru/common/v18/search"]["count"]
    assert after - calls == 1
