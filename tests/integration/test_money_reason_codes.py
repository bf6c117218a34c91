"""spend_cap and roi_floor decisions end to end in the reader's language (issue 18 item 5): a decision of
each strategy goes through the guardrails, is stored in a real SQLite file migrated by Alembic with its
code and numbers, and reads back in Russian from ``bidder history --lang ru`` (the CLI in a subprocess)
and in the Telegram messages: money in rubles, no English words, no kopecks."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bidder.domain import Action, Decision, Status, reason_record
from bidder.engine.guards import GuardConfig, decide
from bidder.notify import events as ev
from bidder.notify.render import render_group
from bidder.reasons import localised
from bidder.store import repo
from bidder.store.models import DecisionRow
from strategies.roi_floor import RoiFloor
from strategies.spend_cap import SpendCap

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from _bid_builders import NOW, campaign, day, pause_record, record, snapshot

ROOT = Path(__file__).resolve().parents[2]


def _decisions() -> dict[str, Decision]:
    """One decision per case, each through the guardrails as the engine takes it."""
    guard = GuardConfig.from_numbers(max_bid=2000)
    out: dict[str, Decision] = {}
    # spend_cap: ДРР 60 % against a 20 % cap at WB's minimum bid 100 ₽: the campaign is paused
    snap = snapshot(camp=campaign(bids={1: 10000}), stats=(day(days_ago=1, spend=600, revenue=1000, clicks=300,
                                                                orders=10),))
    cap = SpendCap(SpendCap.Params(max_drr_pct=20, window="3d"))
    (out["spend_cap.pause"],) = [d for d in decide(snap, cap.decide(snap, NOW), guard, NOW) if d.nm_id is None]
    # spend_cap: ДРР 30 % above the bid floor: the bid goes down
    snap = snapshot(camp=campaign(bids={1: 50000}), stats=(day(days_ago=1, spend=300, revenue=1000, clicks=300,
                                                                orders=10),))
    (out["spend_cap.lower"],) = decide(snap, cap.decide(snap, NOW), guard, NOW)
    # spend_cap: the daily budget reached today
    snap = snapshot(stats=(day(spend=1200, revenue=100000),), stats_age=timedelta(0))
    budget = SpendCap(SpendCap.Params(max_drr_pct=20, window="3d", daily_budget=1000))
    out["spend_cap.budget"] = [d for d in decide(snap, budget.decide(snap, NOW), guard, NOW) if d.nm_id is None][0]
    # spend_cap: a resume held back by the daily limit on pauses and resumes
    hist = (pause_record("spend_cap", ago=timedelta(hours=3)),
            record(Action.RESUME, strategy="spend_cap", ago=timedelta(hours=2), nm=None, placement=None),
            pause_record("spend_cap", ago=timedelta(hours=1)))
    snap = snapshot(camp=campaign(status=Status.PAUSED), history=hist,
                    stats=(day(days_ago=1, spend=120, revenue=1000, clicks=400, orders=40),))
    limited = SpendCap(SpendCap.Params(max_drr_pct=20, window="3d", on_breach="pause"))
    out["spend_cap.limit"] = [d for d in decide(snap, limited.decide(snap, NOW), guard, NOW) if d.nm_id is None][0]
    # roi_floor: ROI far below the floor at WB's minimum for 3 evaluations: the campaign is paused
    holds = tuple(record(Action.HOLD, strategy="roi_floor", ago=timedelta(hours=h), before=10000, after=10000)
                  for h in (7, 4))
    snap = snapshot(camp=campaign(bids={1: 10000}), history=holds,
                    stats=(day(days_ago=1, spend=400, revenue=100, clicks=300, orders=1),))
    roi = RoiFloor(RoiFloor.Params(min_roi_pct=0, margin_pct=50, window="7d"))
    out["roi_floor.pause"] = [d for d in decide(snap, roi.decide(snap, NOW), guard, NOW) if d.nm_id is None][0]
    # roi_floor: below the floor above the minimum: the bid goes down
    snap = snapshot(camp=campaign(bids={1: 50000}), stats=(day(days_ago=1, spend=400, revenue=100, clicks=300,
                                                                orders=1),))
    (out["roi_floor.lower"],) = decide(snap, roi.decide(snap, NOW), guard, NOW)
    return out


EXPECTED_RU = {
    "spend_cap.pause": "ДРР 60,0\xa0% за 3 полн. дн. (расход 600\xa0₽, выручка 1\u202f000\xa0₽) выше предела 20\xa0% с "
                       "уверенностью 99\xa0%: клики: 300, заказы: 10, ожидалось 30,0, а все товары уже на минимальной "
                       "ставке WB: ставим кампанию на паузу",
    "spend_cap.lower": "выше предела 20\xa0% с уверенностью",
    "spend_cap.budget": "дневной бюджет 1\u202f000\xa0₽ исчерпан: ставим кампанию на паузу до следующего дня",
    "spend_cap.limit": "но пауз и возобновлений сегодня уже 3 при пределе 2: кампания остаётся на паузе до завтра",
    "roi_floor.pause": "все товары на минимальной ставке WB (проверок подряд: 3): ставим кампанию на паузу",
    "roi_floor.lower": "ниже минимума 0\xa0%: снижаем ставку на 10\xa0%",
}
ENGLISH_WORDS = (" the ", "spend ", "revenue", "clicks", "orders", "pausing", "lowering", "confidence", " cap ")


def _code(reason) -> str:
    """The strategy's own code under the guardrails' composites (``guarded``, ``joined``)."""
    rec = reason_record(reason)
    while rec.get("code") in ("guarded", "joined"):
        rec = rec["args"]["reason"] if rec["code"] == "guarded" else rec["args"]["parts"][0]["reason"]
    return rec.get("code", "")


def _check_russian(text: str, name: str, *, flat: bool = False) -> None:
    expected = " ".join(EXPECTED_RU[name].split()) if flat else EXPECTED_RU[name]
    assert expected in text, (name, text)
    for word in ENGLISH_WORDS:
        assert word not in text, (name, word, text)


async def test_history_cli_renders_each_strategys_reasons_in_russian(sqlite_sessions, sqlite_url) -> None:
    decisions = _decisions()
    assert {_code(d.reason) for d in decisions.values()} >= {"spend_cap.drr_pause", "spend_cap.budget_pause",
                                                             "spend_cap.resume_limit", "roi_floor.pause"}
    async with sqlite_sessions.begin() as s:
        await repo.ensure_account(s, "shop")
        await repo.record_decisions(s, "shop", list(decisions.values()), at=NOW, dry_run=True, apply_status="held")
    async with sqlite_sessions() as s:
        codes = set(await s.scalars(select(DecisionRow.reason_code)))
    assert None not in codes
    env = {**os.environ, "BIDDER_DATABASE_URL": sqlite_url}
    run = [sys.executable, "-m", "bidder", "history", "--limit", "20", "--since", "2026-11-01"]
    ru, en = await _cli([*run, "--lang", "ru"], env), await _cli([*run, "--lang", "en"], env)
    for name in decisions:  # the table's cells collapse white space (no-break spaces included)
        _check_russian(ru, name, flat=True)
    assert "is above the cap 20% with 99% confidence: 300 clicks, 10 orders, expected 30.0" in en
    assert "10000" not in ru and "50000" not in ru  # bids in rubles, never kopecks


async def _cli(argv: list[str], env: dict[str, str]) -> str:
    """``bidder ...`` in a subprocess: its standard output (a non-zero exit fails the test)."""
    proc = await asyncio.create_subprocess_exec(*argv, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return out.decode()


def test_telegram_renders_each_strategys_reasons_in_russian() -> None:
    for name, d in _decisions().items():
        if d.action == Action.PAUSE or d.nm_id is None:
            e = ev.campaign_paused("shop", d.advert_id, "Платья", d.reason)
        else:
            e = ev.bid_changes("shop", [ev.BidChange(d.advert_id, "Платья", d.bid_before, d.bid_after or 0, d.nm_id,
                                                     d.placement, d.reason)])
        queued = ev.Event(e.kind, e.account, json.loads(json.dumps(e.to_json()))["payload"])  # as stored
        ru = render_group([queued], "ru")
        reason = localised(d.reason, "ru")
        if d.nm_id is None:  # a pause or resume: the whole reason, its action included
            _check_russian(ru, name)
            assert reason in ru, (name, ru)
        else:  # a bid change in the cycle digest: the reason cut at 160 characters
            assert reason[:150] in ru and not any(w in ru for w in ENGLISH_WORDS), (name, ru)
