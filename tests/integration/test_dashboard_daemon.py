"""The dashboard where operators meet it: mounted by ``App.serve`` on the daemon's HTTP server next to
/healthz and /metrics, and served by ``bidder demo``, which prints its address."""

from __future__ import annotations

import asyncio
import io
import re
import socket
from pathlib import Path

import aiohttp

from bidder.app import build_app
from bidder.config import load_config
from bidder.demo import example_config, run_demo
from bidder.settings import Settings
from bidder.sim.testing import start_simulator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_daemon_serves_the_dashboard_next_to_healthz(tmp_path: Path) -> None:
    async with await start_simulator("demo", seed=1, speed=240.0) as sim:
        seller = sim.sim.sellers["shop-a"]
        env = {"WB_READ_TOKEN": seller.read_token, "WB_WRITE_TOKEN": seller.write_token}
        port = free_port()
        settings = Settings(_env_file=None, config=example_config(), http_port=port, wb_advert_url=sim.url,
                            database_url=f"sqlite+aiosqlite:///{tmp_path / 'd.db'}", telegram_bot_token=None)
        app = await build_app(settings, clock=sim.sim.clock, config=load_config(example_config(), env))
        stop = asyncio.Event()
        served = asyncio.create_task(app.serve(stop=stop))
        try:
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:
                for _ in range(100):
                    try:
                        async with http.get(base + "/healthz") as r:
                            await r.read()
                        break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.1)
                async with http.get(base + "/") as r:
                    assert r.status == 200
                    html = await r.text()
                assert "Кабинет shop-a" in html and "Только просмотр" in html
                async with http.get(base + "/metrics") as r:
                    assert r.status == 200
                async with http.post(base + "/actions/pause-all", data={"csrf": "x"}) as r:
                    assert r.status == 403  # no password configured: read-only
                for secret in (seller.read_token, seller.write_token):
                    async with http.get(base + "/config") as r:
                        assert secret not in await r.text()
        finally:
            stop.set()
            await asyncio.wait_for(served, 30)
            await app.close()


async def test_demo_prints_the_dashboard_address_and_serves_it(tmp_path: Path) -> None:
    out = io.StringIO()
    port = free_port()
    task = asyncio.create_task(run_demo(0.08, db_path=tmp_path / "demo.db", out=out, dashboard_port=port))
    seen = None
    for _ in range(200):
        m = re.search(r"dashboard: (http://127\.0\.0\.1:\d+)/", out.getvalue())
        if m:
            seen = m.group(1)
            break
        await asyncio.sleep(0.05)
    assert seen == f"http://127.0.0.1:{port}", out.getvalue()
    # the address is printed before the first cycle has stored the campaigns: wait for them to show
    html = ""
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            async with http.get(seen + "/campaigns") as r:
                assert r.status == 200
                html = await r.text()
            if "1000001" in html:
                break
            await asyncio.sleep(0.1)
    assert "1000001" in html
    assert await asyncio.wait_for(task, 60) == 0
