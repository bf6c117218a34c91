"""`bidder run` as a real process: SIGTERM, SIGHUP with a good and a bad config, /healthz and /metrics.

The simulator runs in the test's event loop on the real clock; the daemon is the installed CLI in a child
process talking to it over loopback.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from bidder.clock import SystemClock
from bidder.sim.testing import start_simulator

CONFIG = """
accounts:
  - name: shop-a
    read_token: ${WB_READ_TOKEN}
    write_token: ${WB_WRITE_TOKEN}
    guardrails: {max_bid: 800}
    campaigns:
      - id: 1000003
        strategies:
          - spend_cap: {max_drr_pct: 15, window: 3d}
      - id: 1000015
        strategies:
          - spend_cap: {max_drr_pct: %(cap)s, window: 3d}
intervals: {evaluate: 30s}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip())

    async def wait_for_line(self, needle: str, timeout: float = 60) -> str:
        async def look() -> str:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                if self.proc.returncode is not None:
                    raise AssertionError(f"daemon exited ({self.proc.returncode}) before {needle!r}:\n"
                                         + "\n".join(self.lines[-30:]))
                await asyncio.sleep(0.1)

        return await asyncio.wait_for(look(), timeout)

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{self.port}{path}") as r:
            return r.status, await r.text()


@pytest.fixture
async def daemon(tmp_path: Path):
    sim = await start_simulator("demo", seed=1, clock=SystemClock())
    seller = sim.sim.sellers["shop-a"]
    config = tmp_path / "bidder.yaml"
    config.write_text(CONFIG % {"cap": 20})
    port = _free_port()
    env = dict(
        os.environ,
        WB_READ_TOKEN=seller.read_token,
        WB_WRITE_TOKEN=seller.write_token,
        BIDDER_CONFIG=str(config),
        BIDDER_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bidder.db'}",
        BIDDER_WB_ADVERT_URL=sim.url,
        BIDDER_HTTP_PORT=str(port),
        BIDDER_LOG_LEVEL="INFO",
    )
    env.pop("BIDDER_TELEGRAM_BOT_TOKEN", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bidder", "run", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    d = Daemon(proc, port)
    d.config = config  # type: ignore[attr-defined]
    d.sim = sim  # type: ignore[attr-defined]
    d.tokens = (seller.read_token, seller.write_token)  # type: ignore[attr-defined]
    try:
        yield d
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await sim.stop()


async def test_health_metrics_and_sigterm(daemon: Daemon) -> None:
    await daemon.wait_for_line("health and metrics on port")

    async def first_cycle_done() -> str:
        while True:
            status, metrics = await daemon.get("/metrics")
            if status == 200 and 'bidder_last_successful_cycle_timestamp_seconds{account="shop-a"}' in metrics:
                return metrics
            await asyncio.sleep(0.2)

    # the first cycle (campaigns, statistics, WB's minimum bids) completes and is reported healthy
    metrics = await asyncio.wait_for(first_cycle_done(), 90)
    status, body = await daemon.get("/healthz")
    assert status == 200 and "shop-a" in body, body
    for name in ("bidder_api_calls_total", "bidder_decisions_total", "bidder_cycle_duration_seconds"):
        assert name in metrics, name
    assert 'method="GET /adv/v3/fullstats"' in metrics

    daemon.proc.send_signal(signal.SIGTERM)
    rc = await asyncio.wait_for(daemon.proc.wait(), 10)
    assert rc == 0
    logs = "\n".join(daemon.lines)
    for token in daemon.tokens:  # type: ignore[attr-defined]
        assert token not in logs


async def test_sighup_applies_a_good_config_and_rejects_a_bad_one(daemon: Daemon) -> None:
    await daemon.wait_for_line("bidder running")
    config: Path = daemon.config  # type: ignore[attr-defined]

    config.write_text(CONFIG % {"cap": 25})
    daemon.proc.send_signal(signal.SIGHUP)
    plan = await daemon.wait_for_line("plan for shop-a")  # what the new config would do, before it applies
    assert "decisions on the next cycle" in plan
    await daemon.wait_for_line("configuration reloaded")

    config.write_text(CONFIG % {"cap": "'lots'"} + "\nbogus_key: 1\n")
    daemon.proc.send_signal(signal.SIGHUP)
    line = await daemon.wait_for_line("reload rejected")
    await daemon.wait_for_line("max_drr_pct")
    assert daemon.proc.returncode is None, "a bad config must not stop the daemon"
    assert "old configuration keeps running" in line

    status, _ = await daemon.get("/healthz")
    assert status in (200, 503)  # still serving
    daemon.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(daemon.proc.wait(), 10) == 0
