"""Reason codes end to end against a real SQLite file migrated by Alembic: a decision of the guardrails is
stored with its code and numbers and read back in Russian (default) or English by ``bidder history``, the
Telegram messages and the dashboard; an old row without a code and a strategy's plain-string reason show
their stored text."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from bidder.domain import Action, Decision, Proposal
from bidder.engine.guards import GuardConfig, decide
from bidder.notify import events as ev
from bidder.notify.render import render_group
from bidder.store import repo
from bidder.store.models import DecisionRow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from _bid_builders import ADVERT, NOW, campaign, snapshot

from bidder.cli.history import format_history


def _raised_to_minimum() -> Decision:
    """20000 kopecks is below WB's minimum 22200: the guardrails raise it, in their own words."""
    snap = snapshot(camp=campaign(bids={1: 20000}), min_bids={(1, "combined"): 22200})
    p = Proposal("spend_cap", Action.HOLD, ADVERT, 1, "combined", reason="spend 10 of 100: nothing to do")
    (d,) = decide(snap, [p], GuardConfig.from_numbers(max_bid=500), NOW)
    assert d.bid_after == 22200
    return d


async def test_history_renders_codes_per_locale_and_old_rows_as_stored(db_sessions) -> None:  # SQLite and PostgreSQL
    coded = _raised_to_minimum()
    old = Decision(action=Action.HOLD, advert_id=ADVERT, strategy="roi_floor", reason="ROI 80% < 120% (old row)")
    async with db_sessions.begin() as s:
        await repo.ensure_account(s, "shop")
        await repo.record_decisions(s, "shop", [coded, old], at=NOW, dry_run=True, apply_status="held")
        await repo.record_decision(s, "shop", coded, at=NOW + timedelta(seconds=1), dry_run=True,
                                   apply_status="pending")
    async with db_sessions() as s:
        rows = await repo.history(s, account="shop")
        stored = set(await s.scalars(select(DecisionRow.reason_code)))
    assert stored == {"guarded", None}
    ru, en = format_history(rows), format_history(rows, locale="en")
    assert "текущая ставка 200 ₽ ниже минимальной ставки WB 222 ₽: поднята до неё" in ru
    assert "spend_cap: spend 10 of 100: nothing to do" in ru  # the strategy's plain string, as written
    assert "current bid 200 ₽ is below WB's minimum 222 ₽: raised to it" in en
    assert "ROI 80% < 120% (old row)" in ru and "ROI 80% < 120% (old row)" in en
    assert "20000" not in ru and "22200" not in ru  # no kopecks next to rubles


def test_telegram_renders_the_reason_in_the_readers_language() -> None:
    d = _raised_to_minimum()
    change = ev.bid_changes("shop", [ev.BidChange(ADVERT, "Платья", d.bid_before, d.bid_after, 1, "combined",
                                                  d.reason)])
    paused = ev.campaign_paused("shop", ADVERT, "Платья", d.reason)
    for e in (change, paused):
        queued = ev.Event(e.kind, e.account, json.loads(json.dumps(e.to_json()))["payload"])  # as stored
        ru, en = render_group([queued], "ru"), render_group([queued], "en")
        assert "ниже минимальной ставки WB 222\xa0₽" in ru and "22200" not in ru
        assert "below WB's minimum 222\xa0₽" in en
    plain = ev.bid_changes("shop", [ev.BidChange(ADVERT, "x", 100, 200, reason="position 9.0: raising")])
    assert "position 9.0: raising" in render_group([plain], "ru")


async def test_dashboard_shows_reasons_per_locale(aiohttp_client, sqlite_sessions, sqlite_url, tmp_path) -> None:
    from test_dashboard import make_deps

    from bidder.dashboard import setup_dashboard
    from bidder.store import db

    coded = _raised_to_minimum()
    async with sqlite_sessions.begin() as s:
        await repo.ensure_account(s, "shop")
        await repo.record_decisions(s, "shop", [coded], at=NOW, dry_run=True, apply_status="held")
    database = db.Database(sqlite_url)
    try:
        app = web.Application()
        setup_dashboard(app, make_deps(database, tmp_path, None))
        client = await aiohttp_client(app)
        ru = await (await client.get("/audit")).text()
        en = await (await client.get("/audit?lang=en")).text()
        csv_ru = await (await client.get("/audit.csv?lang=ru")).text()
    finally:
        await database.dispose()
    assert "ниже минимальной ставки WB 222\xa0₽" in ru and "below WB&#39;s minimum 222\xa0₽" in en
    assert "ниже минимальной ставки WB 222\xa0₽" in csv_ru
