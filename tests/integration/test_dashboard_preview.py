"""The campaign page's "what each strategy would propose right now": a real evaluation through the engine's
decision path (pure strategies, the guardrails, the operator's pause, the wait for WB's minimum bids) over
the stored inputs, against a real SQLite file, writing nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from bidder.config import load_config
from bidder.domain import Action, Campaign, DailyStat, Item, Status
from bidder.engine.guards import GuardConfig
from bidder.engine.preview import preview_campaign
from bidder.engine.view import AccountView, WBSteps
from bidder.reasons import localised
from bidder.store import repo
from bidder.store.models import DecisionRow

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
AID = 555


def _config(tmp_path: Path):
    path = tmp_path / "bidder.yaml"
    path.write_text(
        "accounts:\n"
        "  - name: shop\n"
        "    read_token: ${WB_READ_TOKEN}\n"
        "    guardrails: {max_bid: 800, max_step_pct: 50, min_evidence_spend: 1}\n"
        "    defaults:\n"
        "      strategies:\n"
        "        - spend_cap: {max_drr_pct: 20, window: 3d}\n", encoding="utf-8")
    return load_config(path, {"WB_READ_TOKEN": "read-token-not-a-jwt"}).accounts[0]


async def _store(sessions) -> None:
    camp = Campaign(AID, "Платья", 9, Status.ACTIVE, "unified", "cpm", "RUB", frozenset({"search", "recommendations"}),
                    (Item(1, {"search": 40000, "recommendations": 40000}),))
    async with sessions.begin() as s:
        await repo.ensure_account(s, "shop")
        await repo.save_campaigns(s, "shop", [camp], NOW - timedelta(minutes=5))
        await repo.save_daily_stats(s, "shop", [
            DailyStat(AID, 1, (NOW - timedelta(days=d)).date(), 1000, 50, 5, 2, Decimal("900"), Decimal("1000"))
            for d in range(3)])


async def _count(sessions) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(DecisionRow)))


async def test_without_the_engine_the_preview_fails_closed_and_writes_nothing(sqlite_sessions, tmp_path) -> None:
    account = _config(tmp_path)
    await _store(sqlite_sessions)
    async with sqlite_sessions() as s:
        pv = await preview_campaign(s, account, AID, NOW)
        assert await preview_campaign(s, account, 999, NOW) is None
    assert pv is not None and pv.managed and not pv.rules_known
    (p,) = pv.proposals
    assert p.strategy == "spend_cap" and p.action == Action.SET_BID and p.bid < 40000  # ДРР 90% > 20%: cut
    (d,) = pv.decisions
    assert d.action == Action.HOLD and d.bid_after == 40000  # WB's bid rules unknown: no change
    assert "шаг ставки WB ещё не прочитан" in localised(d.reason, "ru")
    assert await _count(sqlite_sessions) == 0


async def test_with_the_engines_view_the_guardrails_decide_as_in_a_cycle(sqlite_sessions, tmp_path) -> None:
    account = _config(tmp_path)
    await _store(sqlite_sessions)
    view = AccountView(account, GuardConfig.from_guardrails(account.guardrails))
    view.steps = WBSteps(NOW, 100, 100)
    view.min_bids.store(AID, {(1, "combined"): 10000}, [(1, "combined")], NOW, "cpm")
    view.stats_at[AID] = NOW - timedelta(minutes=3)
    async with sqlite_sessions() as s:
        pv = await preview_campaign(s, account, AID, NOW, view=view)
    assert pv is not None and pv.rules_known and pv.stats_as_of == view.stats_at[AID]
    (d,) = pv.decisions
    assert d.action == Action.SET_BID and d.bid_before == 40000 and 20000 <= d.bid_after < 40000
    assert d.strategy == "spend_cap" and d.proposed_bid == pv.proposals[0].bid
    # the stop file and an operator pause take precedence, as in the engine
    async with sqlite_sessions() as s:
        stopped = await preview_campaign(s, account, AID, NOW, view=view, stop_file=Path("/run/stop"), stopped=True)
    assert [x.action for x in stopped.decisions] == [Action.HOLD] and "/run/stop" in stopped.decisions[0].reason
    async with sqlite_sessions.begin() as s:
        await repo.set_operator_state(s, "shop", "paused", True, advert_id=AID, at=NOW)
    before = await _count(sqlite_sessions)
    async with sqlite_sessions() as s:
        held = await preview_campaign(s, account, AID, NOW, view=view)
    assert [x.action for x in held.decisions] == [Action.PAUSE] and held.proposals == ()
    assert await _count(sqlite_sessions) == before  # nothing is written
