"""Faults over real HTTP against the simulator: 5xx, timeouts on writes, auth, text bodies, null lists,
unknown enum values, schema drift, removed paths, and a redaction sweep over everything produced."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from wb_support import Recorder, validate

from bidder.clock import ScaledClock
from bidder.errors import AuthFailed, BadRequest, EndpointGone, SchemaDrift, TemporaryError
from bidder.sim.app import Simulator, create_app
from bidder.sim.faults import FaultRule
from bidder.sim.scenarios import build_scenario
from bidder.sim.testing import start_simulator
from bidder.wb.client import WBClient
from bidder.wb.models import BidChange
from bidder.wb.pacing import Pacer
from bidder.wb.tokens import load_tokens, read_token
from bidder.wb.writer import make_reader, make_writer


class Env:
    def __init__(self, speed: float, *, read_timeout: float = 60.0, write_timeout: float = 30.0) -> None:
        self.clock = ScaledClock(build_scenario("demo").start, speed=speed)
        self.read_timeout = read_timeout
        self.write_timeout = write_timeout
        self.recorder = Recorder()
        self.deliberately_invalid: set[str] = set()

    async def __aenter__(self) -> Env:
        self.sim = await start_simulator("demo", seed=1, clock=self.clock)
        self.seller = self.sim.sim.sellers["shop-a"]
        self.session = aiohttp.ClientSession(trace_configs=[self.recorder.trace_config()])
        self.control = aiohttp.ClientSession()
        self.pacer = Pacer(self.clock)
        self.tokens = load_tokens(SecretStr(self.seller.read_token), SecretStr(self.seller.write_token),
                                  now=self.clock.now())
        self.reader = make_reader(self.session, self.tokens.read, self.pacer, self.clock,
                                  base_url=self.sim.url, timeout=self.read_timeout)
        self.writer = make_writer(reader=self.reader, write_token=self.tokens.write,
                                  timeout=self.write_timeout)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.session.close()
        await self.control.close()
        await self.sim.stop()
        for sent in self.recorder.sent:
            if sent.path not in self.deliberately_invalid:
                validate(sent)

    async def faults(self, **settings) -> None:
        async with self.control.post(f"{self.sim.url}/__sim/faults", json={"settings": settings}) as r:
            assert r.status == 200, await r.text()

    async def when_injected(self, kinds: tuple[str, ...], n: int, **then) -> None:
        """Wait (real time, with a timeout) until the simulator injected ``n`` faults of ``kinds``; then
        change the fault settings."""
        async def wait() -> None:
            while sum(self.sim.sim.injected[k] for k in kinds) < n:  # noqa: ASYNC110 - a counter in the sim
                await asyncio.sleep(0.001)

        await asyncio.wait_for(wait(), timeout=20)
        await self.faults(**then)


FIVE_XX = ("500", "502", "503", "504")


async def test_5xx_then_success_on_a_read():
    async with Env(1.0) as env:
        await env.faults(error_rate=1.0)
        task = asyncio.create_task(env.reader.count())
        await env.when_injected(FIVE_XX, 1, error_rate=0.0)
        refs = await task
        assert refs
        by_status = env.sim.sim.report()["requests"]["GET /adv/v1/promotion/count"]["by_status"]
        assert by_status.get("200") == 1 and sum(v for k, v in by_status.items() if k.startswith("5")) >= 1


async def test_5xx_retried_three_times_then_a_temporary_error():
    async with Env(20.0) as env:
        await env.faults(error_rate=1.0)
        with pytest.raises(TemporaryError) as exc:
            await env.reader.config()
        assert "4 attempts" in str(exc.value)  # the first try and 3 retries (issue 14, defect 3)
        assert env.sim.sim.report()["requests"]["GET /api/advert/v1/config"]["count"] == 4


async def test_5xx_on_a_write_is_reread_then_resent_once():
    async with Env(30.0) as env:
        camp = (await env.reader.campaigns([1000002]))[0]
        cfg = await env.reader.config()
        p = camp.bid_placements[0]
        item = camp.items[0]
        target = (item.bid_for(p) or 0) + 3 * cfg.cpm_step
        await env.faults(error_rate=1.0)
        task = asyncio.create_task(env.writer.set_bids([BidChange(1000002, item.nm_id, p, target)]))
        await env.when_injected(FIVE_XX, 1, error_rate=0.0)
        (result,) = await task
        assert result.applied
        await env.clock.sleep(31)  # let the bid tick pass, then touch the campaign so the market applies it
        await env.reader.campaigns([1000002])
        report = env.sim.sim.report()
        assert report["writes_by_method"]["PATCH /api/advert/v1/bids"] == 1  # the 5xx one was not applied
        changes = [c for c in report["bid_changes"] if c["advert_id"] == 1000002 and c["nm_id"] == item.nm_id]
        assert [c["new"] for c in changes] == [target]
        # the writer re-read the bids between the failed and the second attempt
        paths = [s.path for s in env.recorder.sent]
        i = paths.index("/api/advert/v1/bids")
        assert "/api/advert/v2/adverts" in paths[i + 1 : paths.index("/api/advert/v1/bids", i + 1)]


async def test_timeout_on_a_write_rereads_and_never_applies_twice():
    """The PATCH times out; the writer re-reads the bids (after a bid tick) and resends only if the bid
    is not at the target. Whatever the server did with the timed-out request, the bid ends up applied
    exactly once. (The simulator's slow fault delays before it reads the body, so a timed-out write is
    not applied there; the re-read sees that and the writer resends once.)"""
    async with Env(30.0, read_timeout=60.0, write_timeout=3.0) as env:  # write timeout 0.1 s real
        camp = (await env.reader.campaigns([1000001]))[0]
        cfg = await env.reader.config()
        item = camp.items[0]
        target = (item.bid_for("combined") or 0) + 4 * cfg.cpm_step
        await env.faults(slow_rate=1.0, slow_seconds=0.3)  # 0.3 s real = 9 s simulated: the write times out
        task = asyncio.create_task(env.writer.set_bids([BidChange(1000001, item.nm_id, "combined", target)]))
        await env.when_injected(("slow",), 1, slow_rate=0.0)
        (result,) = await task
        assert result.applied and result.error is None
        await env.clock.sleep(31)
        await env.reader.campaigns([1000001])
        report = env.sim.sim.report()
        assert report["writes_by_method"]["PATCH /api/advert/v1/bids"] == 1
        changes = [c for c in report["bid_changes"] if c["advert_id"] == 1000001 and c["nm_id"] == item.nm_id]
        assert [c["new"] for c in changes] == [target]  # applied exactly once
        assert env.writer._client.metrics[("PATCH /api/advert/v1/bids", "timeout")] == 1
        paths = [s.path for s in env.recorder.sent]
        patches = [i for i, p in enumerate(paths) if p == "/api/advert/v1/bids"]
        assert len(patches) <= 2
        if len(patches) == 2:  # resent only after a re-read showed the bid was not there
            assert "/api/advert/v2/adverts" in paths[patches[0] + 1 : patches[1]]


async def test_write_applied_but_reply_lost_is_not_sent_again():
    """WB's dangerous case: the PATCH is applied, but its reply comes after the client's timeout. The
    writer must re-read, see the bid at the target, and never send it a second time."""
    async with Env(30.0, read_timeout=60.0, write_timeout=3.0) as env:  # write timeout 0.1 s real
        camp = (await env.reader.campaigns([1000006]))[0]
        cfg = await env.reader.config()
        item = camp.items[0]
        placement = camp.bid_placements[0]
        target = (item.bid_for(placement) or 0) + 4 * cfg.cpm_step
        await env.faults(lost_reply_rate=1.0, slow_seconds=0.3)  # applied, answered 9 s simulated later
        task = asyncio.create_task(env.writer.set_bids([BidChange(1000006, item.nm_id, placement, target)]))
        await env.when_injected(("lost_reply",), 1, lost_reply_rate=0.0)
        (result,) = await task
        assert result.applied and result.error is None
        await env.clock.sleep(31)
        await env.reader.campaigns([1000006])
        report = env.sim.sim.report()
        assert report["writes_by_method"]["PATCH /api/advert/v1/bids"] == 1  # sent once, never again
        changes = [c for c in report["bid_changes"] if c["advert_id"] == 1000006 and c["nm_id"] == item.nm_id]
        assert [c["new"] for c in changes] == [target]
        assert env.writer._client.metrics[("PATCH /api/advert/v1/bids", "timeout")] == 1
        paths = [s.path for s in env.recorder.sent]
        assert paths.count("/api/advert/v1/bids") == 1
        assert "/api/advert/v2/adverts" in paths[paths.index("/api/advert/v1/bids") + 1 :]  # the re-read


async def test_401_and_403_are_auth_failed():
    async with Env(20.0) as env:
        async with env.control.post(f"{env.sim.url}/__sim/revoke", json={"seller": "shop-a", "token": "read"}) as r:
            assert r.status == 200
        with pytest.raises(AuthFailed) as e401:
            await env.reader.count()
        assert e401.value.status == 401 and "withdrawn" in str(e401.value)
        assert env.sim.sim.report()["requests"]["GET /adv/v1/promotion/count"]["count"] == 1  # not retried
        # a token that WB treats as Base on a Personal-only method: 403
        other = WBClient(env.session, env.sim.url, env.tokens.write, env.pacer, env.clock)
        other._token = dataclasses.replace(env.tokens.write, secret=SecretStr(env.seller.base_token))  # the account's token type changed under us
        with pytest.raises(AuthFailed) as e403:
            await other.config()
        assert e403.value.status == 403 and "base token" in str(e403.value)


async def test_text_and_json_error_bodies():
    async with Env(20.0) as env:
        with pytest.raises(BadRequest) as e1:
            await env.reader.recommendations(999, 1)  # text/plain 400
        assert e1.value.detail and e1.value.status == 400
        with pytest.raises(BadRequest) as e3:
            await env.writer.start(999)  # {"error": ...}
        assert "not found" in e3.value.detail
        with pytest.raises(BadRequest) as e4:
            await env.reader.fullstats([1000013], env.clock.now().date(), env.clock.now().date())  # FullStatsError
        assert e4.value.detail == "invalid ids"
        report = env.sim.sim.report()
        assert all(v["by_status"].get("400", 0) <= 1 for v in report["requests"].values())  # 4xx never retried


async def test_null_lists_are_empty():
    async with Env(20.0) as env:
        assert await env.reader.campaigns([424242]) == []


async def test_removed_path_is_endpoint_gone():
    async with Env(20.0) as env:
        env.deliberately_invalid.add("/adv/v0/config")  # removed from WB and from the spec
        with pytest.raises(EndpointGone) as exc:
            await env.reader._request("GET", "/adv/v0/config", group="config")
        assert exc.value.status == 404


async def test_truncated_json_is_transient_not_drift():
    """Issue 14, defect 3: a 200 whose body is cut off is transport garbage: retried 3 times, then a
    TemporaryError (before: SchemaDrift, "WB API changed", on the first try)."""
    async with Env(20.0) as env:
        await env.faults(malformed_rate=1.0)
        with pytest.raises(TemporaryError) as exc:
            await env.reader.count()
        assert not isinstance(exc.value, SchemaDrift)
        assert "4 attempts" in str(exc.value) and "not JSON" in str(exc.value)
        assert env.sim.sim.report()["requests"]["GET /adv/v1/promotion/count"]["count"] == 4


async def test_an_html_page_from_a_proxy_is_retried_within_the_call():
    async with Env(20.0) as env:
        env.sim.sim.rules.add(FaultRule("html", endpoint="GET /api/advert/v2/adverts", times=2))
        camps = await env.reader.campaigns([1000001])  # two HTML pages, then the real reply
        assert [c.advert_id for c in camps] == [1000001]
        assert env.sim.sim.report()["requests"]["GET /api/advert/v2/adverts"]["count"] == 3
        assert env.reader.metrics[("GET /api/advert/v2/adverts", "not_json")] == 2


async def test_retries_are_paced_with_backoff_on_the_clock():
    async with Env(50.0) as env:
        env.sim.sim.rules.add(FaultRule("truncated", endpoint="GET /api/advert/v1/config"))
        start = env.clock.monotonic()
        with pytest.raises(TemporaryError):
            await env.reader.config()
        # back-off 0.5 + 1 + 2 s (plus jitter) of clock time, and config's bucket (burst 10) was used
        assert env.clock.monotonic() - start >= 3.5
        assert env.pacer.bucket(env.reader.seller_id, "config").sent == 4


async def test_json_that_breaks_the_schema_is_drift_with_a_redacted_sample(caplog):
    async with Env(20.0) as env:
        env.sim.sim.rules.add(FaultRule("set_field", endpoint="GET /adv/v1/promotion/count", field="adverts",
                                        value="not a list"))
        with pytest.raises(SchemaDrift) as exc:
            await env.reader.count()
        assert exc.value.sample and len(exc.value.sample) <= 600
        with pytest.raises(SchemaDrift):
            await env.reader.count()
        # drift is not retried: one request per call
        assert env.sim.sim.report()["requests"]["GET /adv/v1/promotion/count"]["count"] == 2
        drift_logs = [r for r in caplog.records if "does not parse" in r.getMessage()]
        assert len(drift_logs) == 1  # alert once per method


async def test_unknown_enum_value_is_kept(caplog):
    spec = build_scenario("demo")
    seller = spec.sellers[0]
    camps = tuple(dataclasses.replace(c, bid_type="auto") if c.advert_id == 1000013 else c for c in seller.campaigns)
    spec = dataclasses.replace(spec, sellers=(dataclasses.replace(seller, campaigns=camps),))
    clock = ScaledClock(spec.start, speed=20)
    sim = Simulator(spec, seed=1, clock=clock)
    runner = web.AppRunner(create_app(sim))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    try:
        async with aiohttp.ClientSession() as session:
            reader = make_reader(session, read_token(SecretStr(sim.sellers["shop-a"].read_token), now=clock.now()), Pacer(clock), clock, base_url=url)
            with caplog.at_level(logging.WARNING):
                camps = {c.advert_id: c for c in await reader.campaigns([1000013, 1000001])}
                await reader.campaigns([1000013])
        assert camps[1000013].bid_type == "auto" and camps[1000001].bid_type == "unified"
        assert sum("'auto'" in r.getMessage() for r in caplog.records) <= 1
    finally:
        await runner.cleanup()


async def test_no_token_in_logs_or_errors(caplog):
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    async with Env(30.0, write_timeout=3.0) as env:
        read, write = env.seller.read_token, env.seller.write_token
        texts += [repr(env.reader), repr(env.writer), repr(env.writer._client), repr(env.reader.token_info)]
        await env.faults(error_rate=0.4, malformed_rate=0.3)
        for call in (env.reader.count, lambda: env.reader.config(refresh=True), lambda: env.reader.campaigns([1000001, 1000002])):
            for _ in range(4):
                try:
                    await call()
                except Exception as exc:
                    texts += [str(exc), repr(exc), getattr(exc, "sample", ""), getattr(exc, "detail", "") or ""]
        await env.faults(error_rate=0.0, malformed_rate=0.0, slow_rate=1.0, slow_seconds=0.2)
        res = await env.writer.set_bids([BidChange(1000002, 1, "search", 12345)])
        texts += [repr(r) for r in res]
        await env.faults(slow_rate=0.0)
        async with env.control.post(f"{env.sim.url}/__sim/revoke", json={"seller": "shop-a", "token": "both"}):
            pass
        for call in (env.reader.count, lambda: env.writer.pause(1000001)):
            try:
                await call()
            except Exception as exc:
                texts += [str(exc), repr(exc)]
        texts += [r.getMessage() for r in caplog.records]
        texts += [caplog.text]
        texts += [str(e) for r in caplog.records if r.exc_info for e in r.exc_info]
    haystack = "\n".join(texts)
    assert len(caplog.records) > 5
    assert read not in haystack and write not in haystack
    for token in (read, write):
        for part in token.split("."):
            if len(part) > 20:
                assert part not in haystack


async def test_ambiguous_write_already_at_target_is_not_resent():
    """After a 5xx the re-read shows the bid already at the target (here: set by an earlier call, as if
    the failed request had been applied): the writer reports it applied and sends nothing more."""
    async with Env(30.0) as env:
        camp = (await env.reader.campaigns([1000002]))[0]
        cfg = await env.reader.config()
        p = camp.bid_placements[0]
        item = camp.items[0]
        target = (item.bid_for(p) or 0) + 2 * cfg.cpm_step
        (first,) = await env.writer.set_bids([BidChange(1000002, item.nm_id, p, target)])
        assert first.applied
        await env.clock.sleep(31)
        await env.faults(error_rate=1.0)
        task = asyncio.create_task(env.writer.set_bids([BidChange(1000002, item.nm_id, p, target)]))
        await env.when_injected(FIVE_XX, 1, error_rate=0.0)
        (result,) = await task
        assert result.applied and result.error is None
        assert [s.path for s in env.recorder.sent].count("/api/advert/v1/bids") == 2  # the first call + the 5xx one
        report = env.sim.sim.report()
        assert report["writes_by_method"]["PATCH /api/advert/v1/bids"] == 1
        changes = [c for c in report["bid_changes"] if c["advert_id"] == 1000002 and c["nm_id"] == item.nm_id]
        assert [c["new"] for c in changes] == [target]
