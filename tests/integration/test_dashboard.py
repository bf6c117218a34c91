"""The web dashboard with aiohttp's test client against a real SQLite file filled through the store:
page structure, pagination, sorting and filters, locale, audit filters and CSV, auth, CSRF refusal,
read-only mode, and secrets never rendered."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from bench.dashboard import ACCOUNT, FIRST_ID, NOW, bench_config, populate
from bidder.clock import FakeClock
from bidder.dashboard import DashboardDeps, setup_dashboard
from bidder.metrics import Metrics
from bidder.notify.control import Control
from bidder.settings import Settings
from bidder.store import db, repo
from bidder.store.models import AlertRow

N = 120
PASSWORD = "correct horse battery staple"
READ_TOKEN = "bench-read-token-not-a-jwt"
TG_TOKEN = "123456:telegram-bot-token-secret"


@pytest.fixture(scope="module")
def filled_db(tmp_path_factory) -> Path:
    import asyncio

    path = tmp_path_factory.mktemp("dash") / "dash.db"
    asyncio.run(populate(f"sqlite+aiosqlite:///{path}", N, days=7, decisions_per_day=3))
    return path


@pytest.fixture
async def database(filled_db: Path, tmp_path: Path):
    copy = tmp_path / "dash.db"
    copy.write_bytes(filled_db.read_bytes())
    database = db.Database(f"sqlite+aiosqlite:///{copy}")
    try:
        yield database
    finally:
        await database.dispose()


def make_deps(database, tmp_path: Path, password: str | None) -> DashboardDeps:
    config = bench_config(tmp_path)
    clock = FakeClock(NOW)
    control = Control(database.sessions, clock, accounts=lambda: config)
    settings = Settings(_env_file=None, config=tmp_path / "bidder.yaml", database_url="sqlite+aiosqlite:///x.db",
                        telegram_bot_token=TG_TOKEN, dashboard_password=password)
    metrics = Metrics()
    metrics.api_call("fullstats", 200, 7)
    metrics.api_call("fullstats", 429, 2)
    return DashboardDeps(read_sessions=database.read_sessions, clock=clock, config=lambda: config, control=control,
                         password=settings.dashboard_password, settings=settings, metrics=metrics,
                         reload_error=lambda: f"bidder.yaml:3: accounts.0.read_token: bad {READ_TOKEN}")


@pytest.fixture
async def client(aiohttp_client, database, tmp_path: Path):
    app = web.Application()
    setup_dashboard(app, make_deps(database, tmp_path, None))
    return await aiohttp_client(app)


@pytest.fixture
async def auth_client(aiohttp_client, database, tmp_path: Path):
    app = web.Application()
    setup_dashboard(app, make_deps(database, tmp_path, PASSWORD))
    return await aiohttp_client(app)


async def text(client, path: str, status: int = 200) -> str:
    r = await client.get(path)
    body = await r.text()
    assert r.status == status, (path, r.status, body[:500])
    return body


def rows(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-advert-id="(\d+)"', html)]


async def login(client) -> str:
    html = await text(client, "/login")
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    r = await client.post("/login", data={"csrf": token, "password": PASSWORD}, allow_redirects=False)
    assert r.status == 303, await r.text()
    page = await text(client, "/")
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


# ------------------------------------------------------------------------------------------ pages


async def test_overview_russian_by_default_with_the_accounts_figures(client) -> None:
    html = await text(client, "/")
    assert '<html lang="ru">' in html
    assert "Обзор" in html and f"Кабинет {ACCOUNT}" in html
    assert "Только просмотр" in html  # no password: read-only
    assert 'id="global-actions"' not in html  # no action buttons without a session
    assert "Расход" in html and "ДРР" in html and "Сэкономлено" in html
    assert f">{N}</a>" in html  # the campaigns count links to the table
    assert "account_failing" in html  # the open alert
    assert 'id="quota"' in html and "fullstats" in html  # WB calls per endpoint
    assert "в порядке" in html  # last cycle ok


async def test_english_by_query_then_by_cookie(client) -> None:
    r = await client.get("/?lang=en")
    html = await r.text()
    assert '<html lang="en">' in html and "Overview" in html and "Read-only" in html
    cookie = r.cookies.get("bidder_lang")
    assert cookie is not None and cookie.value == "en"
    html = await text(client, "/campaigns")
    assert '<html lang="en">' in html and "Campaigns" in html
    html = await text(client, "/campaigns?lang=ru")
    assert '<html lang="ru">' in html


async def test_campaigns_paginated_in_pages_of_50(client) -> None:
    html = await text(client, "/campaigns")
    assert rows(html) == list(range(FIRST_ID, FIRST_ID + 50))
    assert f'id="total">{N}<' in html
    assert "Страница 1 из 3" in html and 'rel="next"' in html and 'rel="prev"' not in html
    last = await text(client, "/campaigns?page=3")
    assert rows(last) == list(range(FIRST_ID + 100, FIRST_ID + N))
    assert 'rel="next"' not in last
    beyond = await text(client, "/campaigns?page=99")
    assert rows(beyond) == []


async def test_campaigns_sorting(client) -> None:
    html = await text(client, "/campaigns?sort=advert_id&dir=desc")
    assert rows(html)[:3] == [FIRST_ID + N - 1, FIRST_ID + N - 2, FIRST_ID + N - 3]
    spend = await text(client, "/campaigns?sort=spend_week&dir=desc")
    ids = rows(spend)
    assert len(ids) == 50 and ids != list(range(FIRST_ID, FIRST_ID + 50))
    # the last page of the ascending sort is the top of the descending one, read backwards (random
    # spends: no ties)
    asc = rows(await text(client, "/campaigns?sort=spend_week&dir=asc&page=3"))
    assert asc[::-1] == ids[:20]
    for key in ("name", "status", "items", "bid", "position", "spend_today", "drr_week", "nonsense"):
        assert len(rows(await text(client, f"/campaigns?sort={key}&dir=desc"))) == 50


async def test_campaigns_filters(client) -> None:
    paused_on_wb = [FIRST_ID + i for i in range(N) if i % 17 == 0]
    assert rows(await text(client, "/campaigns?status=11")) == paused_on_wb
    assert rows(await text(client, f"/campaigns?q={FIRST_ID + 5}")) == [FIRST_ID + 5]
    by_name = await text(client, "/campaigns?q=Кампания 0004")
    assert rows(by_name) == [FIRST_ID + i for i in range(40, 50)]
    operator = rows(await text(client, "/campaigns?paused=1"))
    assert operator == [FIRST_ID + i for i in range(0, 50, 7)]
    assert rows(await text(client, "/campaigns?q=<script>")) == []


async def test_campaign_page_has_chart_data_and_the_timeline(client) -> None:
    html = await text(client, f"/campaigns/{FIRST_ID}")
    assert f"Кампания {FIRST_ID}" in html
    assert 'src="/static/uplot.iife.min.js"' in html
    data = json.loads(re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html, re.S).group(1))
    assert len(data["bids"]["series"]) == 2  # two items, search placement
    assert all(len(s["data"]) == len(data["bids"]["x"]) for s in data["bids"]["series"])
    assert len(data["position"]["x"]) == 7 and len(data["position"]["series"]) == 2
    assert [s["label"] for s in data["money"]["series"]] == ["spend", "revenue"]
    assert any(v is not None for v in data["drr"]["series"][0]["data"])
    assert "target_position" in html  # the campaign's own strategy from the config
    # what the strategies would do now, evaluated (the campaign is under an operator pause: it holds)
    decided = html.split('id="preview-decisions"', 1)[1].split("</table>", 1)[0]
    assert decided.count("<tr>") == 1 + 1 and "действует пауза оператора" in decided
    assert 'id="decisions"' in html and "ставка" in html and "над потолком" in html
    month = await text(client, f"/campaigns/{FIRST_ID}?days=30")
    data30 = json.loads(re.search(r'id="chart-data">(.*?)</script>', month, re.S).group(1))
    assert len(data30["position"]["x"]) == 30
    await text(client, "/campaigns/999", status=404)


async def test_audit_filters_and_csv(client) -> None:
    html = await text(client, f"/audit?campaign={FIRST_ID + 3}&action=set_bid")
    assert html.count('class="act-set_bid"') > 0 and 'class="act-hold"' not in html
    assert f'href="/campaigns/{FIRST_ID + 3}"' in html
    r = await client.get(f"/audit.csv?campaign={FIRST_ID + 3}")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    body = await r.text()
    table = list(csv.DictReader(io.StringIO(body)))
    assert len(table) == 7 * 3  # a week of 3 decisions a day
    assert {row["advert_id"] for row in table} == {str(FIRST_ID + 3)}
    assert {row["action"] for row in table} == {"set_bid", "hold"}
    day = NOW.date().isoformat()
    today = list(csv.DictReader(io.StringIO(await (await client.get(f"/audit.csv?since={day}")).text())))
    assert today and all(row["at"].startswith(day) for row in today)
    paged = await text(client, "/audit?offset=50")
    assert 'rel="prev"' in paged


async def test_config_redacts_secrets(client) -> None:
    html = await text(client, "/config")
    assert "spend_cap" in html and "max_drr_pct" in html
    assert "**********" in html
    assert "Последняя перезагрузка отклонена" in html  # the refused reload's error, redacted too
    assert READ_TOKEN not in html and TG_TOKEN not in html


async def test_secrets_never_rendered_anywhere(auth_client) -> None:
    await login(auth_client)
    for path in ("/", "/campaigns", f"/campaigns/{FIRST_ID}", "/audit", "/config", "/audit.csv", "/login",
                 "/?lang=en", "/config?lang=en"):
        body = await (await auth_client.get(path)).text()
        for secret in (READ_TOKEN, TG_TOKEN, PASSWORD):
            assert secret not in body, (path, secret)


async def test_security_headers_and_static(client) -> None:
    r = await client.get("/")
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"
    js = await client.get("/static/uplot.iife.min.js")
    assert js.status == 200 and len(await js.read()) > 40_000
    assert (await client.get("/static/../app.py")).status == 404
    assert (await client.get("/static/VENDORED.md")).status == 404


# ------------------------------------------------------------------------------------------ read-only


async def test_read_only_refuses_every_action(client, database) -> None:
    for path in ("/actions/pause-all", "/actions/resume-all", "/actions/dry-run", f"/campaigns/{FIRST_ID}/pause"):
        r = await client.post(path, data={"csrf": "x", "on": "1"})
        assert r.status == 403, path
    r = await client.post("/login", data={"password": "anything"})
    assert r.status == 403
    r = await client.get("/login", allow_redirects=False)
    assert r.status == 303
    async with database.read_sessions() as s:
        assert await repo.operator_states(s, ACCOUNT, "paused") != []  # only the bench's own pauses
        assert all(st.set_by == "bench" for st in await repo.operator_states(s, ACCOUNT))


# ------------------------------------------------------------------------------------------ auth and actions


async def test_login_sets_a_strict_httponly_session_cookie(auth_client) -> None:
    html = await text(auth_client, "/")
    assert "войдите" in html and 'href="/login"' in html
    login_page = await auth_client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', await login_page.text()).group(1)
    r = await auth_client.post("/login", data={"csrf": token, "password": PASSWORD}, allow_redirects=False)
    assert r.status == 303
    raw = r.headers.getall("Set-Cookie")
    session = next(c for c in raw if c.startswith("bidder_session="))
    assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/" in session
    page = await text(auth_client, "/")
    assert 'id="global-actions"' in page and "Выйти" in page


async def test_login_needs_its_csrf_token_and_is_rate_limited(auth_client) -> None:
    r = await auth_client.post("/login", data={"password": PASSWORD}, allow_redirects=False)
    assert r.status == 403  # no login CSRF token
    html = await text(auth_client, "/login")
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    for _ in range(5):
        r = await auth_client.post("/login", data={"csrf": token, "password": "wrong"}, allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/login?error=bad"
    r = await auth_client.post("/login", data={"csrf": token, "password": PASSWORD}, allow_redirects=False)
    assert r.status == 429  # even the right password waits out the window
    assert "bidder_session" not in r.cookies


async def test_actions_need_a_session_and_the_csrf_token(auth_client, database) -> None:
    target = FIRST_ID + 1
    r = await auth_client.post(f"/campaigns/{target}/pause", data={}, allow_redirects=False)
    assert r.status == 403  # not logged in
    csrf = await login(auth_client)
    r = await auth_client.post(f"/campaigns/{target}/pause", data={}, allow_redirects=False)
    assert r.status == 403  # logged in, no CSRF token
    r = await auth_client.post(f"/campaigns/{target}/pause", data={"csrf": "forged"}, allow_redirects=False)
    assert r.status == 403
    async with database.read_sessions() as s:
        assert target not in {st.advert_id for st in await repo.operator_states(s, ACCOUNT, "paused")}
    r = await auth_client.post(f"/campaigns/{target}/pause", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == f"/campaigns/{target}?done=pause"
    async with database.read_sessions() as s:
        states = {st.advert_id: st for st in await repo.operator_states(s, ACCOUNT, "paused")}
        alerts = await s.execute(select(AlertRow.payload).where(AlertRow.kind == "operator_action"))
        payloads = [p for (p,) in alerts]
    assert states[target].set_by == "dashboard"
    assert any(p.get("by") == "dashboard" and p.get("target") == str(target) for p in payloads), payloads
    page = await text(auth_client, f"/campaigns/{target}?done=pause")
    assert 'id="operator-paused"' in page and 'id="resume"' in page and "Пауза поставлена" in page
    r = await auth_client.post(f"/campaigns/{target}/resume", headers={"X-CSRF-Token": csrf}, allow_redirects=False)
    assert r.status == 303
    async with database.read_sessions() as s:
        assert target not in {st.advert_id for st in await repo.operator_states(s, ACCOUNT, "paused")}
    r = await auth_client.post("/campaigns/999/pause", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 404


async def test_pause_all_and_dry_run_toggle(auth_client, database) -> None:
    csrf = await login(auth_client)
    r = await auth_client.post("/actions/pause-all", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/?done=pause"
    r = await auth_client.post("/actions/dry-run", data={"csrf": csrf, "on": "1"}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/?done=dryrun_on"
    async with database.read_sessions() as s:
        whole = [st for st in await repo.operator_states(s, ACCOUNT, "paused") if st.advert_id is None]
        dry = await repo.get_operator_state(s, ACCOUNT, "dry_run")
    assert whole and whole[0].set_by == "dashboard"
    assert dry is not None and dry.value is True and dry.set_by == "dashboard"
    html = await text(auth_client, "/")
    assert "всё на паузе" in html
    r = await auth_client.post("/actions/resume-all", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303
    r = await auth_client.post("/actions/dry-run", data={"csrf": csrf, "on": "0"}, allow_redirects=False)
    assert r.headers["Location"] == "/?done=dryrun_off"
    r = await auth_client.post("/logout", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303
    r = await auth_client.post("/actions/pause-all", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 403  # the session is gone
