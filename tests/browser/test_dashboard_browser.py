"""The dashboard in a real headless Chromium (Debian's ``chromium`` package, driven by Playwright for
Python pointed at that executable; Playwright's own browsers are never downloaded), against the demo:
the simulator's demo market and the daemon on a fresh SQLite file, sped up, with a dashboard password.

Every page loads with no console error, the campaign page's charts draw (non-empty canvases), a campaign
paused from its page reaches the simulator as a pause, and a POST without the CSRF token is refused.
Screenshots of the pages go to ``docs/screenshots/`` when ``BIDDER_SCREENSHOTS=docs`` is set (that is how the
README's pictures are refreshed), otherwise to a temporary folder, so a test run leaves the tree as it was.

Skipped, with the reason, when chromium or the playwright package is missing (``make test`` installs
both: ``apt-get install chromium`` and the ``dev`` extras).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("BIDDER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = (ROOT / "docs" / "screenshots" if os.environ.get("BIDDER_SCREENSHOTS") == "docs"
         else Path(os.environ.get("TMPDIR", "/tmp")) / "bidder-screenshots")
PASSWORD = "browser-test-password"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

try:
    from playwright.async_api import async_playwright
except ImportError:  # pragma: no cover - depends on the machine
    async_playwright = None

pytestmark = [
    pytest.mark.skipif(async_playwright is None,
                       reason="the playwright Python package is not installed (pip install -e '.[dev]')"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"no chromium at {CHROMIUM} (Debian: apt-get install chromium; `make test` does it)"),
]

SPEED = 240.0


@pytest.fixture
async def demo(tmp_path: Path):
    """The demo, running: yields (dashboard url, simulator, app)."""
    from bidder.app import build_app
    from bidder.config import load_config
    from bidder.dashboard import serve_dashboard
    from bidder.demo import example_config
    from bidder.settings import Settings
    from bidder.sim.testing import start_simulator

    sim = await start_simulator("demo", seed=1, speed=SPEED)
    app = None
    server = None
    stop = asyncio.Event()
    served = None
    try:
        seller = sim.sim.sellers["shop-a"]
        env = dict(os.environ, WB_READ_TOKEN=seller.read_token, WB_WRITE_TOKEN=seller.write_token)
        cfg_path = example_config()
        settings = Settings(_env_file=None, config=cfg_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
                            wb_advert_url=sim.url, dry_run=False, http_port=0, telegram_bot_token=None,
                            dashboard_password=PASSWORD)
        app = await build_app(settings, clock=sim.sim.clock, config=load_config(cfg_path, env))
        server = await serve_dashboard(app, 0, "127.0.0.1")
        served = asyncio.create_task(app.serve(stop=stop))
        await _wait_for_decisions(app)
        yield server.url, sim, app
    finally:
        stop.set()
        if served is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(served, 30)
        if server is not None:
            await server.stop()
        if app is not None:
            await app.close()
        await sim.stop()


async def _wait_for_decisions(app, timeout: float = 60.0) -> None:
    from bidder.store import dashboard as q

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        async with app.read_sessions() as s:
            rows, _ = await q.decisions(s, q.AuditFilter(), limit=5)
            if len(rows) >= 5:
                return
        await asyncio.sleep(0.5)
    raise AssertionError("the demo recorded no decisions in time")


@pytest.fixture
async def browser(tmp_path: Path):
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1360, "height": 900}, locale="ru-RU")
        try:
            yield context
        finally:
            await context.close()


async def _open(context, url: str, errors: list[str]):
    page = await context.new_page()
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    response = await page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, (url, response and response.status)
    return page


async def _canvas_has_ink(page, selector: str) -> bool:
    return await page.evaluate(
        """(sel) => { const c = document.querySelector(sel); if (!c) return false;
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             for (let i = 3; i < d.length; i += 4) { if (d[i] !== 0) return true; } return false; }""",
        selector)


async def _active_campaign(sim) -> int:
    report = sim.sim.report()
    for adv in ("1000001", "1000003", "1000002"):
        if report["campaigns"].get(adv, {}).get("status") == 9:
            return int(adv)
    return int(next(k for k, v in report["campaigns"].items() if v["status"] == 9))


async def test_every_page_loads_without_console_errors_and_charts_draw(demo, browser) -> None:
    url, sim, _ = demo
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    pages = [("overview", "/"), ("campaigns", "/campaigns"), ("campaign", "/campaigns/1000001"),
             ("audit", "/audit"), ("config", "/config"), ("overview-en", "/?lang=en"), ("cluster", "/cluster?lang=ru")]
    for name, path in pages:
        page = await _open(browser, url + path, errors)
        assert await page.locator("main h1").count() == 1
        if name == "campaign":
            await page.wait_for_function("document.body.dataset.charts !== undefined", timeout=10_000)
            drawn = int(await page.evaluate("document.body.dataset.charts"))
            assert drawn >= 3, drawn
            for chart in ("bids", "money", "drr"):
                box = f'.chart[data-chart="{chart}"]'
                assert await page.locator(f"{box} canvas").count() == 1, chart
                assert await _canvas_has_ink(page, f"{box} canvas"), f"the {chart} chart is blank"
            legend = await page.locator('.chart[data-chart="money"] .u-legend').inner_text()
            assert "Расход" in legend and "Выручка" in legend
            series = int(await page.get_attribute('.chart[data-chart="bids"]', "data-drawn"))
            assert series >= 1
        if name == "campaigns":
            assert await page.locator("#campaigns tbody tr[data-advert-id]").count() >= 4
        if name == "cluster":  # SQLite: one worker process, said in Russian
            assert "один рабочий процесс" in await page.locator("#single-worker").inner_text()
        await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=name in ("overview", "campaign"))
        await page.close()
    assert errors == [], errors


async def test_pause_from_the_campaign_page_reaches_the_simulator(demo, browser) -> None:
    url, sim, _ = demo
    errors: list[str] = []
    advert_id = await _active_campaign(sim)
    page = await _open(browser, url + "/login", errors)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click("form.login button")
    await page.wait_for_url(url + "/")
    assert await page.locator("#global-actions").count() == 1
    await page.goto(f"{url}/campaigns/{advert_id}")
    await page.click("#pause")
    await page.wait_for_url(f"{url}/campaigns/{advert_id}?done=pause")
    assert await page.locator("#operator-paused").count() == 1
    assert await page.locator("#resume").count() == 1
    # the engine pauses it on WB at its next cycle: wait for the simulator to see the pause
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    seen = []
    while loop.time() < deadline:
        seen = [c for c in sim.sim.report()["status_changes"] if int(c["advert_id"]) == advert_id]
        if any(int(c["new"]) == 11 for c in seen):
            break
        await asyncio.sleep(0.5)
    assert any(int(c["new"]) == 11 for c in seen), f"the simulator saw no pause of {advert_id}: {seen}"
    await page.reload()
    await page.screenshot(path=str(SHOTS / "campaign-paused.png"))
    assert errors == [], errors


async def test_a_post_without_the_csrf_token_is_refused(demo, browser) -> None:
    url, sim, _ = demo
    errors: list[str] = []
    advert_id = await _active_campaign(sim)
    page = await _open(browser, url + "/login", errors)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click("form.login button")
    await page.wait_for_url(url + "/")
    statuses = await page.evaluate(
        """async (id) => {
             const a = await fetch(`/campaigns/${id}/pause`, {method: 'POST', body: new URLSearchParams()});
             const b = await fetch('/actions/pause-all', {method: 'POST',
                                   body: new URLSearchParams({csrf: 'forged'})});
             return [a.status, b.status]; }""", advert_id)
    assert statuses == [403, 403]
    # and nothing was paused
    await page.goto(f"{url}/campaigns/{advert_id}")
    assert await page.locator("#operator-paused").count() == 0
    assert [e for e in errors if "403" not in e] == []


@pytest.mark.postgres
async def test_the_cluster_page_shows_two_workers_on_postgresql_and_who_holds_what(tmp_path, postgres_url, browser):
    """Issue 20: two workers (two real Apps with their leases, heartbeat threads and liveness locks) on
    the throwaway PostgreSQL against the simulator's demo; the dashboard of one of them shows, in
    Russian by default, both workers live with a fresh heartbeat, every account's holder and epoch as in
    the leases table, and the same in English."""
    import psycopg

    from bidder.app import build_app
    from bidder.config import load_config
    from bidder.dashboard import serve_dashboard
    from bidder.demo import example_config
    from bidder.settings import Settings
    from bidder.sim.testing import start_simulator

    sim = await start_simulator("demo", seed=1, speed=SPEED)
    apps, served, server = [], [], None
    stop = asyncio.Event()
    try:
        seller = sim.sim.sellers["shop-a"]
        env = dict(os.environ, WB_READ_TOKEN=seller.read_token, WB_WRITE_TOKEN=seller.write_token)
        cfg_path = example_config()
        for wid in ("worker-a", "worker-b"):
            settings = Settings(_env_file=None, config=cfg_path, database_url=postgres_url, wb_advert_url=sim.url,
                                dry_run=False, http_port=0, telegram_bot_token=None, worker_id=wid, lease_ttl=6)
            app = await build_app(settings, clock=sim.sim.clock, config=load_config(cfg_path, env))
            apps.append(app)
            served.append(asyncio.create_task(app.serve(stop=stop)))
        server = await serve_dashboard(apps[0], 0, "127.0.0.1")
        pg = postgres_url.replace("postgresql+asyncpg://", "postgresql://")

        def leases() -> dict[str, tuple[str, int]]:
            with psycopg.connect(pg) as conn:
                return {n: (h, e) for n, h, e in conn.execute(
                    "SELECT name, holder, epoch FROM leases WHERE expires_at > now() AND name NOT LIKE 'job:%'")}

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while loop.time() < deadline:
            if leases() and sum(a.leases.keeper.started for a in apps) == 2:
                break
            await asyncio.sleep(0.3)
        held = leases()
        assert held, "no account was leased"
        errors: list[str] = []
        page = await _open(browser, server.url + "/cluster", errors)
        assert await page.locator("main h1").inner_text() == "Кластер: рабочие процессы и аренды"
        assert await page.locator("#live-workers").inner_text() == "2"
        for wid in ("worker-a", "worker-b"):
            row = page.locator(f'#workers tr[data-worker="{wid}"]')
            assert await row.locator(".state").inner_text() == "работает"
            assert "назад" in await row.locator(".heartbeat").inner_text()
            mine = sorted(n for n, (h, _) in held.items() if h == wid)
            assert (await row.locator(".accounts b").inner_text()) == str(len(mine))
        for name, (holder, epoch) in held.items():
            row = page.locator(f'#leases tr[data-lease="{name}"]')
            assert await row.locator(".holder").inner_text() == holder
            assert int(await row.locator(".epoch").inner_text()) == epoch >= 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "cluster.png"), full_page=True)
        await page.goto(server.url + "/cluster?lang=en")
        assert await page.locator("main h1").inner_text() == "Cluster: workers and leases"
        assert await page.locator('#workers tr[data-worker="worker-b"] .state').inner_text() == "live"
        assert errors == [], errors
    finally:
        stop.set()
        for task in served:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)
        if server is not None:
            await server.stop()
        for app in apps:
            await app.close()
        await sim.stop()
