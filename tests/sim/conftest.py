"""Fixtures for the simulator's own tests: a running simulator on a loopback port with a FakeClock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from bidder.clock import FakeClock
from bidder.sim.testing import RunningSimulator, start_simulator

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass
class Reply:
    status: int
    content_type: str
    headers: Any
    text: str

    def json(self) -> Any:
        import json

        return json.loads(self.text)


class Api:
    def __init__(self, running: RunningSimulator, session: aiohttp.ClientSession) -> None:
        self.running = running
        self.session = session
        seller = running.sim.sellers["shop-a"]
        self.read = seller.read_token
        self.write = seller.write_token
        self.base = seller.base_token

    async def call(self, method: str, path: str, token: str | None = "read", **kw: Any) -> Reply:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = {"read": self.read, "write": self.write, "base": self.base}.get(token, token)
        async with self.session.request(method, self.running.url + path, headers=headers, **kw) as resp:
            return Reply(resp.status, resp.content_type, resp.headers, await resp.text())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def running(clock: FakeClock):
    async with await start_simulator("demo", clock=clock, seed=1) as r:
        yield r


@pytest.fixture
async def api(running: RunningSimulator):
    async with aiohttp.ClientSession() as session:
        yield Api(running, session)
