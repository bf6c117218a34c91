"""Commands over long polling against the fake Bot API, with a real SQLite store populated through the
repo functions; every command goes through notify.control.Control."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from fakes.notify_store import BOT_TOKEN, CHATS, FOREIGN_CHAT, NOW, open_store, populate
from fakes.telegram_api import FakeTelegram, parse_html

from bidder.clock import FakeClock
from bidder.notify.chart import PNG_SIGNATURE
from bidder.notify.commands import CommandLoop, parse_command
from bidder.notify.control import Control, dry_run_override, operator_paused
from bidder.notify.outbox import OutboxSender
from bidder.notify.telegram import TelegramClient

CHAT = CHATS[0]


@pytest.fixture
async def env(sqlite_url: str):
    engine, sessions = await open_store(sqlite_url)
    await populate(sessions)
    clock = FakeClock(NOW)
    async with FakeTelegram(BOT_TOKEN) as tg:
        client = TelegramClient(BOT_TOKEN, base_url=tg.url, clock=clock)
        control = Control(sessions, clock, accounts=lambda: ["shop"], locale="ru")
        loop = CommandLoop(client, control, CHATS, clock=clock, poll_seconds=1)
        yield tg, loop, control, sessions, clock, client
        await client.close()
    await engine.dispose()


async def ask(tg: FakeTelegram, loop: CommandLoop, text: str, chat: int = CHAT) -> str | None:
    before = len(tg.sent)
    tg.push_command(chat, text)
    await loop.poll_once()
    if len(tg.sent) == before:
        return None
    answer = tg.sent[-1]
    body = answer.fields.get("text") or answer.fields.get("caption") or ""
    assert parse_html(body)[0] is None, body
    assert BOT_TOKEN not in body
    return body


async def test_help_and_unknown(env) -> None:
    tg, loop, *_ = env
    assert "/pause" in await ask(tg, loop, "/help") and "/dryrun" in await ask(tg, loop, "/start")
    assert "Неизвестная команда" in await ask(tg, loop, "/frobnicate")


async def test_status(env) -> None:
    tg, loop, *_ = env
    text = await ask(tg, loop, "/status")
    assert "<b>shop</b>: работает, кампаний под управлением: 2" in text
    assert "расход 1\u202f301\u00a0₽" in text and "выручка 6\u202f000\u00a0₽" in text and "ДРР 21,7%" in text
    assert "Последний цикл: 02.11 11:59 МСК (работает)" in text and "Режим: боевой" in text


async def test_pause_and_resume_a_campaign(env) -> None:
    tg, loop, control, sessions, clock, client = env
    assert "Остановлено: кампания 101" in await ask(tg, loop, "/pause 101")
    async with sessions() as s:
        assert await operator_paused(s, "shop") == {101}
    assert "Остановлено оператором: 101" in await ask(tg, loop, "/status")
    # the confirmation goes to the other operators, not back to the chat that asked
    await OutboxSender(sessions, client, CHATS, clock=clock).run_once()
    assert [t for t in tg.texts(CHATS[1]) if "Команда оператора" in t]
    assert not [t for t in tg.texts(CHAT) if "Команда оператора" in t]
    assert "Остановка снята: кампания 101" in await ask(tg, loop, "/resume 101")
    async with sessions() as s:
        assert await operator_paused(s, "shop") == set()


async def test_pause_all_holds_until_resume_all(env) -> None:
    tg, loop, _control, sessions, *_ = env
    assert "все кампании" in await ask(tg, loop, "/pause all")
    await ask(tg, loop, "/resume 101")  # a single resume does not lift the account-wide pause
    async with sessions() as s:
        assert await operator_paused(s, "shop") is True
    await ask(tg, loop, "/pause 202")
    await ask(tg, loop, "/resume all")
    async with sessions() as s:
        assert await operator_paused(s, "shop") == set()


async def test_dryrun_toggle(env) -> None:
    tg, loop, _control, sessions, *_ = env
    assert "Пробный режим включён" in await ask(tg, loop, "/dryrun on")
    async with sessions() as s:
        assert await dry_run_override(s, "shop") is True
    assert "Режим: пробный" in await ask(tg, loop, "/status")
    assert "Пробный режим выключен" in await ask(tg, loop, "/dryrun off")
    async with sessions() as s:
        assert await dry_run_override(s, "shop") is False


async def test_history(env) -> None:
    tg, loop, *_ = env
    text = await ask(tg, loop, "/history 101")
    assert "История кампании 101" in text and text.count("\n") == 10  # title + the last 10 decisions
    assert "позиция 17 &gt; 5 &lt;raise&gt;" in text.split("\n")[1]  # newest first, escaped
    assert "Решений по кампании 555 нет" in await ask(tg, loop, "/history 555")
    assert (await ask(tg, loop, "/history 101 3")).count("\n") == 3


@pytest.mark.parametrize("text, usage", [
    ("/pause", "/pause &lt;номер кампании|all&gt;"),
    ("/pause abc", "/pause &lt;номер кампании|all&gt;"),
    ("/pause 1 2", "/pause &lt;номер кампании|all&gt;"),
    ("/resume -5", "/resume &lt;номер кампании|all&gt;"),
    ("/dryrun maybe", "/dryrun on|off"),
    ("/dryrun", "/dryrun on|off"),
    ("/history", "/history &lt;номер кампании&gt;"),
    ("/history <script>alert(1)</script>", "/history &lt;номер кампании&gt;"),
    ("/history 101 1000", "/history &lt;номер кампании&gt;"),
    ("/pause " + "9" * 5000, "/pause &lt;номер кампании|all&gt;"),
    ("/pause １２３", "/pause &lt;номер кампании|all&gt;"),  # full-width digits are not a campaign id
])
async def test_bad_arguments_get_a_usage_answer(env, text: str, usage: str) -> None:
    tg, loop, *_ = env
    assert usage in await ask(tg, loop, text)


async def test_unknown_campaign(env) -> None:
    tg, loop, *_ = env
    assert "Кампания 987654 не найдена" in await ask(tg, loop, "/pause 987654")


async def test_report_is_a_png_with_the_expected_series(env) -> None:
    tg, loop, control, *_ = env
    assert await ask(tg, loop, "/report") is not None
    photo = tg.sent[-1]
    assert photo.method == "sendPhoto" and photo.photo.startswith(PNG_SIGNATURE)
    result = await control.report(7)
    assert result.png.startswith(PNG_SIGNATURE)
    assert set(result.series) == {f"{m}:{c}" for m in ("spend", "revenue", "drr", "bid") for c in (101, 202)}
    assert any("Куртки" in label for label in result.labels)
    assert any("<b>Платья</b>" in label for label in result.labels)
    assert not [x for x in result.labels if re.search(r"(?<!\\)\$", x)]  # '$' cannot start mathtext


async def test_foreign_chat_is_ignored_and_logged_without_text(env, caplog) -> None:
    tg, loop, _control, sessions, *_ = env
    caplog.set_level(logging.INFO, logger="bidder.notify.commands")
    assert await ask(tg, loop, "/pause all secret-argument-text", chat=FOREIGN_CHAT) is None
    assert await ask(tg, loop, "/status", chat=FOREIGN_CHAT) is None
    async with sessions() as s:
        assert await operator_paused(s, "shop") == set()
    assert loop.ignored == 2 and not [c for c in tg.sent if int(c.fields["chat_id"]) == FOREIGN_CHAT]
    logged = caplog.text
    assert "ignored /pause from chat 999" in logged and "ignored /status from chat 999" in logged
    assert "secret-argument-text" not in logged


async def test_hostile_input_is_handled(env) -> None:
    tg, loop, *_ = env
    assert await ask(tg, loop, "just text, not a command") is None
    assert "Неизвестная команда" in await ask(tg, loop, "/" + "x" * 10000)
    assert "Неизвестная команда" in await ask(tg, loop, "/pаuse 101")  # a Cyrillic 'а'
    assert "Неизвестная команда" in await ask(tg, loop, "/<b>status</b>")
    assert "Неизвестная команда" in await ask(tg, loop, "/\u202estatus\x00")


async def test_long_polling_loop_in_the_same_event_loop(env) -> None:
    tg, loop, *_ = env
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        tg.push_command(CHAT, "/status@other_bot")  # addressed to another bot in a group: ignored
        tg.push_command(CHAT, "/help@bidder_test_bot")
        tg.push_command(CHAT, "/status")
        await tg.wait_sent(2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert "Команды bidder" in tg.texts()[0] and "Состояние" in tg.texts()[1] and len(tg.sent) == 2


def test_parse_command() -> None:
    assert parse_command("/Pause@Bot 1 2") == ("pause", "Bot", ["1", "2"])
    assert parse_command("hello") is None and parse_command(None) is None
    assert parse_command("/") == ("?", None, [])


async def test_handled_updates_are_confirmed_on_stop(env) -> None:
    tg, loop, *_ = env
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    uid = tg.push_command(CHAT, "/help")
    await tg.wait_sent(1)
    stop.set()
    await asyncio.wait_for(task, 5)
    last = [c for c in tg.calls if c.method == "getUpdates"][-1]
    assert int(last.fields["offset"]) == uid + 1  # a restart will not run /help again


async def test_control_with_the_yaml_config(sqlite_url: str, tmp_path) -> None:
    """Control reads accounts and 'managed' from a BidderConfig (the CLI's and the daemon's case)."""
    from bidder.config import load_config
    from bidder.wb.tokens import mint_token

    cfg_path = tmp_path / "bidder.yaml"
    cfg_path.write_text(
        "accounts:\n"
        "  - name: shop\n"
        "    read_token: ${T}\n"
        "    guardrails: {max_bid: 800}\n"
        "    defaults: {managed: false}\n"
        "    campaigns:\n"
        "      - id: 101\n"
        "        strategies: [{target_position: {position: 3, max_bid: 600}}]\n"
        "      - id: 303\n"
        "        strategies: [{target_position: {position: 3, max_bid: 600}}]\n",
        encoding="utf-8",
    )
    config = load_config(cfg_path, env={"T": mint_token("42", read_only=True)})
    engine, sessions = await open_store(sqlite_url)
    await populate(sessions)
    control = Control(sessions, FakeClock(NOW), accounts=config, locale="en")
    status = await control.status()
    assert [a.managed for a in status.accounts] == [1]  # 101 is managed, 202 is not listed
    with pytest.raises(LookupError):
        await control.pause(202, "cli")  # on WB, but not managed
    result = await control.pause(303, "cli")  # configured, not seen on WB yet
    assert result.accounts == ("shop",) and result.changed
    async with sessions() as s:
        assert await operator_paused(s, "shop") == {303}
    assert (await control.resume(303, "cli")).changed and not (await control.resume(303, "cli")).changed
    await engine.dispose()


async def test_english_locale_answers_and_digest(sqlite_url: str) -> None:
    from fakes.notify_store import yesterday

    from bidder.notify.digest import build_digest

    engine, sessions = await open_store(sqlite_url)
    await populate(sessions)
    clock = FakeClock(NOW)
    async with FakeTelegram(BOT_TOKEN) as tg, TelegramClient(BOT_TOKEN, base_url=tg.url, clock=clock) as client:
        control = Control(sessions, clock, accounts=["shop"], locale="en")
        loop = CommandLoop(client, control, CHATS, clock=clock, poll_seconds=1)
        assert "managed campaigns: 2" in await ask(tg, loop, "/status")
        assert "spend 1,301\u00a0₽" in tg.texts()[-1]
        assert "Usage: /pause" in await ask(tg, loop, "/pause")
        assert "Dry run on" in await ask(tg, loop, "/dryrun on")
    async with sessions() as s:
        digest = await build_digest(s, ["shop"], yesterday(), locale="en", with_chart=False)
    assert "Summary for 2026-11-01" in digest.text and "orders 5" in digest.text
    assert "Biggest bid changes" in digest.text and "Paused: «Куртки» (202)" in digest.text
    assert digest.png is None and parse_html(digest.text)[0] is None
    await engine.dispose()


async def test_pause_all_of_one_account(sqlite_url: str) -> None:
    from bidder.store import repo

    engine, sessions = await open_store(sqlite_url)
    await populate(sessions)
    async with sessions.begin() as s:
        await repo.ensure_account(s, "second")
    control = Control(sessions, FakeClock(NOW), accounts=["shop", "second"])
    result = await control.pause("all", "cli", account="second")
    assert result.accounts == ("second",) and result.changed
    async with sessions() as s:
        assert await operator_paused(s, "second") is True and await operator_paused(s, "shop") == set()
    with pytest.raises(LookupError):
        await control.pause("all", "cli", account="nope")
    assert (await control.resume("all", "cli", account="second")).changed
    await engine.dispose()
