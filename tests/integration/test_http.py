"""/healthz and /metrics over a real loopback socket, and `bidder check`'s check_health against it."""

from __future__ import annotations

import io
import socket
from datetime import timedelta

import aiohttp
import pytest

from bidder.clock import FakeClock
from bidder.health import Health
from bidder.http import check_health, start_http
from bidder.metrics import Metrics


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def health(clock: FakeClock) -> Health:
    return Health.for_interval(timedelta(minutes=1), clock.now(), accounts=["shop-a", "shop-b"])


@pytest.fixture
async def server(health: Health, clock: FakeClock):
    metrics = Metrics()
    srv = await start_http(0, "127.0.0.1", health, metrics, clock)
    srv.metrics = metrics  # type: ignore[attr-defined]
    try:
        yield srv
    finally:
        await srv.stop()


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.text()


async def get_json(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, await r.json()


async def test_binds_a_real_port(server) -> None:
    assert server.port > 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=2):
        pass


async def test_healthz_ok_during_grace_then_503_when_no_cycle_completed(server, clock: FakeClock) -> None:
    status, body = await get_json(f"{server.url}/healthz")
    assert status == 200
    assert body["status"] == "ok"
    assert set(body["accounts"]) == {"shop-a", "shop-b"}

    clock.advance(6 * 60)  # past the 5-minute grace
    status, body = await get_json(f"{server.url}/healthz")
    assert status == 503
    assert body["status"] == "unhealthy"
    assert len(body["reasons"]) == 2
    assert all("no cycle completed" in r for r in body["reasons"])


async def test_healthz_follows_cycles(server, health: Health, clock: FakeClock) -> None:
    for name in ("shop-a", "shop-b"):
        health.cycle_started(name, clock.now())
        clock.advance(2)
        health.cycle_finished(name, clock.now(), ok=True)
    status, body = await get_json(f"{server.url}/healthz")
    assert (status, body["status"]) == (200, "ok")
    assert "reasons" not in body
    assert body["accounts"]["shop-a"]["last_ok"] is True

    health.cycle_started("shop-b", clock.now())
    health.cycle_finished("shop-b", clock.now(), ok=False, error="AuthFailed: 401 from /adv/v1/promotion/count")
    status, body = await get_json(f"{server.url}/healthz")
    assert status == 503
    assert body["reasons"] == ["account shop-b: last cycle failed: AuthFailed: 401 from /adv/v1/promotion/count"]

    health.cycle_finished("shop-b", clock.now(), ok=True)
    clock.advance(6 * 60)  # both last successes older than max(3 x 1 min, 5 min)
    status, body = await get_json(f"{server.url}/healthz")
    assert status == 503
    assert len(body["reasons"]) == 2
    assert all("last successful cycle" in r and "limit 5m00s" in r for r in body["reasons"])


async def test_metrics_text(server, clock: FakeClock) -> None:
    m: Metrics = server.metrics
    m.api_call("fullstats", 200)
    m.api_call("fullstats", 429)
    m.rate_limited("fullstats")
    m.api_call("count", 200, 5)
    m.api_call("set_bids", "timeout")
    m.decision("raise")
    m.decision("hold", 3)
    m.bid_changed("shop-a", 2)
    m.write_intent("applied")
    m.cycle("shop-a", 1.5, True, clock.now())
    m.cycle("shop-b", 0.2, False, clock.now())
    m.alert_sent()
    m.alert_failed()

    status, ctype, text = await get(f"{server.url}/metrics")
    assert status == 200
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype
    for line in (
        'bidder_api_calls_total{method="fullstats",status="200"} 1.0',
        'bidder_api_calls_total{method="fullstats",status="429"} 1.0',
        'bidder_api_calls_total{method="set_bids",status="timeout"} 1.0',
        'bidder_api_rate_limited_total{method="fullstats"} 1.0',
        'bidder_api_calls_total{method="count",status="200"} 5.0',
        'bidder_decisions_total{action="raise"} 1.0',
        'bidder_decisions_total{action="hold"} 3.0',
        'bidder_bid_changes_total{account="shop-a"} 2.0',
        'bidder_write_intents_total{status="applied"} 1.0',
        'bidder_cycle_duration_seconds_count{account="shop-a"} 1.0',
        'bidder_cycle_duration_seconds_bucket{account="shop-a",le="2.5"} 1.0',
        'bidder_cycles_total{account="shop-b",result="error"} 1.0',
        'bidder_alerts_total{outcome="sent"} 1.0',
        'bidder_alerts_total{outcome="failed"} 1.0',
    ):
        assert line in text, line
    gauge = 'bidder_last_successful_cycle_timestamp_seconds{account="shop-a"} '
    value = next(line for line in text.splitlines() if line.startswith(gauge)).removeprefix(gauge)
    assert float(value) == clock.now().timestamp()
    assert 'bidder_last_successful_cycle_timestamp_seconds{account="shop-b"}' not in text


async def test_two_metrics_registries_are_independent() -> None:
    a, b = Metrics(), Metrics()
    a.decision("raise")
    assert b'bidder_decisions_total{action="raise"}' in a.render()
    assert b'bidder_decisions_total{action="raise"}' not in b.render()


async def test_unknown_path_404(server) -> None:
    status, _, _ = await get(f"{server.url}/nope")
    assert status == 404


async def test_check_health_exit_codes(server, health: Health, clock: FakeClock) -> None:
    # check_health is blocking (it is the CLI's body): run it off the loop that serves the request.
    import asyncio

    out = io.StringIO()
    assert await asyncio.to_thread(check_health, server.port, out=out) == 0
    assert out.getvalue().strip() == "ok"

    health.cycle_finished("shop-a", clock.now(), ok=False, error="TemporaryError: 502")
    out = io.StringIO()
    assert await asyncio.to_thread(check_health, server.port, out=out) == 1
    assert "unhealthy: account shop-a: last cycle failed: TemporaryError: 502" in out.getvalue()


async def test_check_health_when_nothing_listens() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        out = io.StringIO()
        assert check_health(port, out=out, timeout=2) == 1
    assert "cannot reach" in out.getvalue()
    out = io.StringIO()
    assert check_health(0, out=out) == 1
    assert "BIDDER_HTTP_PORT=0" in out.getvalue()


async def test_stop_releases_the_port(health: Health, clock: FakeClock) -> None:
    srv = await start_http(0, None, health, Metrics(), clock)
    port = srv.port
    assert srv.host == "127.0.0.1"
    await srv.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


async def test_check_health_probes_loopback_for_wildcard_binds(health: Health, clock: FakeClock) -> None:
    import asyncio

    from bidder.http import probe_host

    assert probe_host(None) == probe_host("0.0.0.0") == "127.0.0.1"
    assert probe_host("::") == "::1"
    assert probe_host("10.0.0.5") == "10.0.0.5"
    srv = await start_http(0, "0.0.0.0", health, Metrics(), clock)
    try:
        out = io.StringIO()
        assert await asyncio.to_thread(check_health, srv.port, "0.0.0.0", out=out) == 0
    finally:
        await srv.stop()


async def test_bidder_check_command_against_a_running_server(server, health: Health, clock: FakeClock) -> None:
    """The Docker HEALTHCHECK path: `bidder check` with BIDDER_HTTP_PORT pointing at the server."""
    import asyncio

    from bidder.cli import Context, main
    from bidder.settings import Settings

    def run() -> tuple[int, str]:
        out = io.StringIO()
        code = main(["check"], ctx=Context(out=out, err=out, _settings=Settings(http_port=server.port)))
        return code, out.getvalue()

    assert await asyncio.to_thread(run) == (0, "ok\n")
    clock.advance(6 * 60)
    code, text = await asyncio.to_thread(run)
    assert code == 1 and text.startswith("unhealthy: account shop-a: no cycle completed")
