"""Default evidence thresholds in the account's own currency (issue 14, defect 11;
``bidder/engine/currency_defaults.py``): the daemon against the simulator serving a UZS account over HTTP
(WB's config: ``currency: UZS``, ``cpmStep`` 100,000 tiyin), on a real SQLite file.

The guardrails' ``min_evidence_spend`` default (300) was rubles: on a UZS account it meant 300 sum (about
2 ₽), and a performance pause went out on almost no spend. Unless the config sets it, it is now 300 of
WB's CPM bid steps in the account's currency: 300 ₽ on RUB, 300,000 sum on UZS.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from engine_faults import EXAMPLE, app_for, faulty_sim

from bidder.clock import FakeClock
from bidder.domain import Action, CampaignSnapshot, DailyStat, Proposal
from bidder.engine.guards import decide
from bidder.reasons import render

UZS = {"currency": "UZS", "currency_code": 860, "cpm_step": 100_000, "cpc_step": 500}


async def _first_cycle(tmp_path: Path, *, uzs: bool, config: Path = EXAMPLE):
    clock = FakeClock()
    fs = await faulty_sim(clock)
    if uzs:
        fs.sim.spec = dataclasses.replace(fs.sim.spec, **UZS)
    app = await app_for(fs, tmp_path, clock, config_path=config)
    [result] = await app.run_once()
    assert result.ok, result.error
    return fs, app, clock


def _weak_pause(app, clock) -> tuple:
    """A performance pause (spend without orders) on 5,000 of the account's base units and 3 clicks, decided
    by the guardrails the evaluation applies."""
    cycle = app.cycles["shop-a"]
    view = cycle.view
    aid = next(i for i in view.editable_ids() if view.campaigns[i].items)
    camp = view.campaigns[aid]
    now = clock.now()
    day = view.today(now) - timedelta(days=1)
    stats = (DailyStat(aid, camp.items[0].nm_id, day, views=900, clicks=3, atbs=0, orders=0, spend=Decimal(5000),
                       revenue=Decimal(0)),)
    snap = CampaignSnapshot(account="shop-a", campaign=camp, rules=view.rules_for(camp), daily_stats=stats,
                            stats_as_of=now)
    pause = Proposal(strategy="spend_cap", action=Action.PAUSE, advert_id=aid, reason="spend without revenue")
    [d] = decide(snap, [pause], view.decision_guard(), now)
    return d, view


async def test_a_uzs_account_needs_300_steps_of_its_own_currency_before_a_performance_pause(tmp_path: Path) -> None:
    fs, app, clock = await _first_cycle(tmp_path, uzs=True)
    try:
        d, view = _weak_pause(app, clock)
        assert view.currency == "UZS" and view.steps is not None and view.steps.cpm_step == 100_000
        assert view.decision_guard().min_evidence_spend == Decimal(300_000)
        # 5,000 sum (about 33 ₽) and 3 clicks are not evidence on a UZS account: held, the threshold named in sum
        assert d.action == Action.HOLD, d.reason
        assert d.guard is not None and d.guard.code == "guard.no_evidence"
        shown = render(d.guard.code, d.guard.args, "ru", "UZS")
        assert "300" in shown and "000" in shown and "₽" not in shown, shown
    finally:
        await app.close()
        await fs.stop()


async def test_a_ruble_account_keeps_300_rubles_and_the_same_numbers_pause(tmp_path: Path) -> None:
    fs, app, clock = await _first_cycle(tmp_path, uzs=False)
    try:
        d, view = _weak_pause(app, clock)
        assert view.decision_guard().min_evidence_spend == Decimal(300)
        assert d.action == Action.PAUSE  # 5,000 ₽ spent without an order is evidence
    finally:
        await app.close()
        await fs.stop()


async def test_a_threshold_the_seller_wrote_is_kept_on_a_uzs_account(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "      max_bid: 800                   # never bid above this\n",
        "      max_bid: 800                   # never bid above this\n      min_evidence_spend: 1000\n", 1)
    assert "min_evidence_spend: 1000" in text
    config = tmp_path / "bidder.yaml"
    config.write_text(text, encoding="utf-8")
    fs, app, clock = await _first_cycle(tmp_path, uzs=True, config=config)
    try:
        d, view = _weak_pause(app, clock)
        assert view.decision_guard().min_evidence_spend == Decimal(1000)
        assert d.action == Action.PAUSE  # the seller's 1,000 sum: 5,000 sum is evidence
    finally:
        await app.close()
        await fs.stop()


def _spend_caps(view) -> list:
    return [s for i in view.editable_ids() for s in view.strategies_for(i) if type(s).__name__ == "SpendCap"]


async def test_the_strategies_money_defaults_follow_the_account_currency(tmp_path: Path) -> None:
    """spend_cap's ``min_spend_without_revenue`` default (500, spend with no revenue that counts as a
    breach) is 500 of WB's CPM steps: 500 ₽ on RUB, 500,000 sum on UZS, unless the config sets it."""
    fs, app, clock = await _first_cycle(tmp_path, uzs=True)
    try:
        caps = _spend_caps(app.cycles["shop-a"].view)
        assert caps and {s.params.min_spend_without_revenue for s in caps} == {Decimal(500_000)}
    finally:
        await app.close()
        await fs.stop()
    fs, app, clock = await _first_cycle(tmp_path / "rub", uzs=False)
    try:
        caps = _spend_caps(app.cycles["shop-a"].view)
        assert caps and {s.params.min_spend_without_revenue for s in caps} == {Decimal(500)}
    finally:
        await app.close()
        await fs.stop()
