"""The spend view (issue 15): ``bidder status`` and Telegram ``/status`` read today's spend from a real
SQLite store and set it against the config's daily budgets, ДРР caps and ROI floors."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bidder.cli import Context, main
from bidder.config import load_config
from bidder.domain import Campaign, DailyStat, Item
from bidder.notify.spend_view import account_spend, render_spend
from bidder.store import repo
from bidder.store.spend import campaign_spend

CONFIG = """\
accounts:
  - name: shop-a
    read_token: ${SPEND_READ_TOKEN}
    guardrails: {max_bid: 800}
    campaigns:
      - id: 501
        strategies:
          - spend_cap: {max_drr_pct: 20, daily_budget: 1000, window: 3d}
      - id: 502
        strategies:
          - roi_floor: {min_roi_pct: 10, margin_pct: 40, window: 3d}
"""


def camp(advert_id: int, payment: str) -> Campaign:
    return Campaign(advert_id, f"кампания <{advert_id}>", 9, 9, "unified", payment, "RUB",
                    frozenset({"search", "recommendations"}), (Item(advert_id * 10, {"search": 1000}),))


@pytest.fixture
async def stored(sqlite_sessions):
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Europe/Moscow")).date()
    async with sqlite_sessions() as s:
        await repo.ensure_account(s, "shop-a", "12345", "RUB", "Europe/Moscow")
        await repo.save_campaigns(s, "shop-a", [camp(501, "cpc"), camp(502, "cpm")], now)
        rows = [DailyStat(501, 5010, today, 1000, 100, 0, 2, Decimal("1100.50"), Decimal("4000"))]
        for back in (1, 2, 3):
            day = today - timedelta(days=back)
            rows.append(DailyStat(501, 5010, day, 1000, 100, 0, 10, Decimal("300"), Decimal("2000")))
            rows.append(DailyStat(502, 5020, day, 1000, 100, 0, 3, Decimal("100"), Decimal("300")))
        rows.append(DailyStat(501, 5010, today - timedelta(days=9), 1, 1, 0, 0, Decimal("999"), Decimal("0")))
        await repo.save_daily_stats(s, "shop-a", rows)
        await s.commit()
    return sqlite_sessions


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SPEND_READ_TOKEN", "not-used-by-status")
    path = tmp_path / "bidder.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


async def test_store_function_splits_today_from_complete_days(stored) -> None:
    today = datetime.now(UTC).astimezone(ZoneInfo("Europe/Moscow")).date()
    async with stored() as s:
        rows = {c.advert_id: c for c in await campaign_spend(s, "shop-a", today, 3)}
    assert rows[501].spent_today == Decimal("1100.50") and rows[501].window_spend == Decimal("900")
    assert rows[501].window_revenue == Decimal("6000") and rows[501].window_orders == 30
    assert rows[502].spent_today == 0 and rows[502].window_spend == Decimal("300")


async def test_view_and_russian_text(stored, config_file) -> None:
    account = load_config(config_file).accounts[0]
    async with stored() as s:
        view = await account_spend(s, account, datetime.now(UTC))
    line = {x.advert_id: x for x in view.lines}
    assert line[501].daily_budget == Decimal(1000) and line[501].drr_pct == pytest.approx(15.0)
    assert line[502].roi_pct == pytest.approx((900 * 0.4 - 300) / 300 * 100)
    text = render_spend(view)
    assert "Расход сегодня · shop-a" in text and "Итого сегодня: 1\u202f100.50 ₽" in text
    assert "бюджет 1\u202f000.00 ₽ (110 %) ПРЕВЫШЕН" in text and "ДРР за 3 полн. дн. 15.0 % (порог 20 %)" in text
    assert "ROI 20.0 % (минимум 10 %)" in text
    assert "budget 1\u202f000.00 ₽ (110 %) OVER" in render_spend(view, "en")


def test_cli_status(stored, config_file, sqlite_url, monkeypatch) -> None:
    monkeypatch.setenv("BIDDER_DATABASE_URL", sqlite_url)
    out, err = io.StringIO(), io.StringIO()
    assert main(["status", "--config", str(config_file)], ctx=Context(out=out, err=err)) == 0, err.getvalue()
    assert "Расход сегодня · shop-a" in out.getvalue() and "ПРЕВЫШЕН" in out.getvalue()
    assert "Кластер: база SQLite: один рабочий процесс" in out.getvalue()  # the cluster view (issue 20)
    assert main(["status", "--config", str(config_file), "--account", "nope"], ctx=Context(out=out, err=err)) == 2


async def test_telegram_status_carries_the_spend_view(stored, config_file) -> None:
    from fakes.telegram_api import FakeTelegram, parse_html

    from bidder.clock import FakeClock
    from bidder.notify.commands import CommandLoop
    from bidder.notify.control import Control
    from bidder.notify.telegram import TelegramClient

    token, chat = "123456:spend-status-test-token", 4242
    account = load_config(config_file).accounts[0]
    clock = FakeClock(datetime.now(UTC))
    async with FakeTelegram(token) as tg:
        client = TelegramClient(token, base_url=tg.url, clock=clock)
        control = Control(stored, clock, accounts=lambda: [account], locale="ru")
        loop = CommandLoop(client, control, [chat], clock=clock, poll_seconds=1)
        tg.push_command(chat, "/status")
        await loop.poll_once()
        body = tg.sent[-1].fields.get("text") or ""
        await client.close()
    assert parse_html(body)[0] is None, body
    assert "Расход сегодня · shop-a" in body and "ПРЕВЫШЕН" in body and "кампания &lt;501&gt;" in body
