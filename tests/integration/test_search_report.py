"""WB's Analytics search report as a position source (issue 17), against the simulator over HTTP, a real
SQLite file and one FakeClock: the client's request and strict parsing, the Analytics token, the poll at
WB's 2-hour refresh, the stored observations, and target_position steering on it when the search-cluster
statistics are not available (WB's 403 "norm_query API not available")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bidder.clock import FakeClock
from bidder.config import load_config
from bidder.domain import PositionSource
from bidder.engine.evaluate import Evaluator
from bidder.engine.guards import GuardConfig
from bidder.engine.poll import Poller
from bidder.engine.view import AccountView
from bidder.errors import AuthFailed, BadRequest, TokenError
from bidder.notify.alerts import OutboxAlerts
from bidder.notify.control import OperatorStateReader
from bidder.sim.market import msk_day
from bidder.sim.testing import start_simulator
from bidder.store import repo
from bidder.store.db import Database
from bidder.store.migrate import upgrade
from bidder.store.positions import positions_known_at
from bidder.wb.pacing import Pacer
from bidder.wb.search_report import PATH, SearchReport, request_body
from bidder.wb.tokens import analytics_token, load_tokens, read_token
from bidder.wb.writer import make_reader

UNIFIED, NM, Q = 1000001, 211000101, "платье женское"
KEY = f"POST {PATH}"

CONFIG = """
accounts:
  - name: shop-a
    read_token: ${{WB_READ_TOKEN}}
    write_token: ${{WB_WRITE_TOKEN}}
    guardrails: {{max_bid: 800}}
    positions:
      search_report: {{enabled: true, token: "${{WB_ANALYTICS_TOKEN}}", url: "{url}"}}
    defaults: {{managed: false}}
    campaigns:
      - id: {unified}
        strategies: [{{target_position: {{position: 3, max_bid: 600, query: "{q}"}}}}]
"""


@pytest.fixture
async def running() -> AsyncIterator:
    clock = FakeClock()
    async with await start_simulator("demo", seed=1, clock=clock) as sim:
        yield sim, clock


async def test_the_client_reads_the_report_with_an_analytics_token_only(running) -> None:
    sim, clock = running
    seller = sim.sim.sellers["shop-a"]
    today = msk_day(clock.now())
    clock.advance(3 * 3600)  # past a 2-hour refresh
    async with aiohttp.ClientSession() as http:
        token = analytics_token(SecretStr(seller.analytics_token), now=clock.now())
        report = SearchReport(http, sim.url, token, Pacer(clock), clock)
        rows = await report.orders(NM, [Q, "нет такого запроса"], today - timedelta(days=2), today)
        days = {r.day for r in rows if r.text == Q}
        assert days == {today - timedelta(days=2), today - timedelta(days=1), today}
        assert all(r.avg_position >= 1 and r.frequency > 0 for r in rows)
        assert all(r.text == Q for r in rows)  # a text the card was never shown for has no item
        # the simulated position: the market's own place of the card in that cluster, as of the refresh
        market_now = sim.sim.market.position(UNIFIED, NM, Q, clock.now())
        assert abs([r for r in rows if r.day == today][0].avg_position - market_now) <= 2
        with pytest.raises(BadRequest):  # WB's bound: at most 7 days (checked by the simulator)
            await report.client._read("POST", PATH, dict, json={
                "period": {"start": (today - timedelta(days=7)).isoformat(), "end": today.isoformat()},
                "nmId": NM, "searchTexts": [Q]})
        promo = SearchReport(http, sim.url, read_token(SecretStr(seller.read_token), now=clock.now()),
                             Pacer(clock), clock)
        with pytest.raises(AuthFailed):  # a Promotion token lacks the Analytics category
            await promo.orders(NM, [Q], today, today)
    with pytest.raises(TokenError):
        analytics_token(SecretStr(seller.read_token), now=clock.now())
    with pytest.raises(ValueError):
        request_body(NM, [], today, today)
    with pytest.raises(ValueError):
        request_body(NM, [Q], today - timedelta(days=7), today)


async def test_polled_at_the_refresh_stored_and_steered_on_without_cluster_stats(running, tmp_path: Path) -> None:
    sim, clock = running
    seller = sim.sim.sellers["shop-a"]
    sim.sim.faults.configure({"normquery_forbidden_rate": 1.0})  # WB: the search-cluster feature is off
    url = f"sqlite+aiosqlite:///{tmp_path / 'bidder.db'}"
    await upgrade(url)
    database = Database(url)
    path = tmp_path / "bidder.yaml"
    path.write_text(CONFIG.format(url=sim.url, unified=UNIFIED, q=Q), "utf-8")
    config = load_config(path, {"WB_READ_TOKEN": seller.read_token, "WB_WRITE_TOKEN": seller.write_token,
                                "WB_ANALYTICS_TOKEN": seller.analytics_token})
    account = config.accounts[0]
    try:
        async with aiohttp.ClientSession() as http:
            tokens = load_tokens(SecretStr(seller.read_token), SecretStr(seller.write_token), now=clock.now())
            reader = make_reader(http, tokens.read, Pacer(clock), clock, base_url=sim.url)
            view = AccountView(account, GuardConfig.from_guardrails(account.guardrails))
            alerts, operator = OutboxAlerts(), OperatorStateReader()
            async with database.sessions.begin() as s:
                await repo.ensure_account(s, "shop-a")
            poller = Poller(view, reader, database.sessions, clock, config.intervals, alerts=alerts)
            evaluator = Evaluator(view, sessions=database.sessions, read_sessions=database.read_sessions,
                                  alerts=alerts, operator=operator)
            clock.advance(3 * 3600)
            calls = []
            for _ in range(7):  # 3 hours in 30-minute cycles
                await poller.run(clock.now())
                calls.append(sum(sim.sim.requests[KEY].values()))
                clock.advance(1800)
            assert "clusters" in view.features_off
            # one call per item (two items) per 2 hours, not per cycle
            assert calls[0] == 2 and calls[3] == 2 and calls[4] == 4
            async with database.sessions() as s:
                stored = await positions_known_at(s, "shop-a", clock.now())
            mine = [o for o in stored if o.source == PositionSource.SEARCH_REPORT and o.nm_id == NM]
            assert len(mine) == 2 and all(o.query == Q and o.sample for o in mine)
            assert view.positions.for_campaign(UNIFIED)[-1].source == PositionSource.SEARCH_REPORT
            result = await evaluator.run(clock.now(), everything=True)
            d = [d for d in result.decisions if d.nm_id == NM][0]
            assert d.inputs.get("position_source") == PositionSource.SEARCH_REPORT
            assert "search_report" in d.reason
    finally:
        await database.dispose()
