"""The dashboard's Host-header check against DNS rebinding, over a real loopback HTTP server (raw requests
with chosen Host headers): loopback names and the configured bind host pass, any other name is refused
(421) before a page or an action runs; /healthz and /metrics stay open to any name."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_dashboard import database, filled_db, make_deps  # noqa: F401  (fixtures)

from bidder.dashboard import setup_dashboard
from bidder.dashboard.hosts import allowed_hosts, host_name
from bidder.health import Health
from bidder.http import start_http
from bidder.metrics import Metrics


async def _raw(port: int, path: str, host: str | None, method: str = "GET") -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"{method} {path} HTTP/1.1\r\n" + (f"Host: {host}\r\n" if host is not None else "")
    writer.write((head + "Content-Length: 0\r\nConnection: close\r\n\r\n").encode())
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    await writer.wait_closed()
    return status


@pytest.fixture
async def server(database, tmp_path: Path):  # noqa: F811  (the fixture of test_dashboard)
    deps = make_deps(database, tmp_path, None)
    deps.bind_host = "bidder.lan"
    deps.extra_hosts = ("dash.example.org",)
    srv = await start_http(0, "127.0.0.1", Health(clock=deps.clock), Metrics(), deps.clock, extra=lambda app: setup_dashboard(app, deps))
    try:
        yield srv
    finally:
        await srv.stop()


async def test_loopback_and_configured_names_pass_others_are_refused(server) -> None:
    port = server.port
    for host in (f"127.0.0.1:{port}", "localhost", f"LOCALHOST:{port}", f"[::1]:{port}", "bidder.lan:8080",
                 "dash.example.org"):
        assert await _raw(port, "/", host) == 200, host
    for host in ("evil.example.com", f"evil.example.com:{port}", "127.0.0.1.evil.example.com", "localhost:abc",
                 "bidder.lan.evil.com", "0.0.0.0"):
        assert await _raw(port, "/", host) == 421, host
        assert await _raw(port, "/campaigns", host) == 421, host
        assert await _raw(port, "/actions/pause", host, "POST") == 421, host
    for host in ("", None):  # no name at all: refused (by aiohttp's parser or by the check)
        assert await _raw(port, "/", host) in (400, 421), host
    assert await _raw(port, "/healthz", "prometheus-target:8080") in (200, 503)
    assert await _raw(port, "/metrics", "prometheus-target:8080") == 200


def test_allowed_hosts_skip_wildcards() -> None:
    assert allowed_hosts("0.0.0.0") == {"127.0.0.1", "localhost", "::1"}
    assert allowed_hosts("::", "a.lan, B.lan ,") == {"127.0.0.1", "localhost", "::1", "a.lan", "b.lan"}


@given(st.text(max_size=40))
def test_host_name_never_lets_a_foreign_name_through(header: str) -> None:
    name = host_name(header)
    allowed = allowed_hosts("127.0.0.1")
    if name in allowed:  # only a loopback name, optionally with a numeric port, gets through
        bare = header.strip().lower()
        assert bare.split("]")[0].strip("[") in allowed or bare.rsplit(":", 1)[0] in allowed or \
            bare.rstrip(".") in allowed
