"""The Bot API client against the fake server: 429 retry_after, 5xx, network errors, pacing, redaction."""

from __future__ import annotations

import time

import pytest
from fakes.notify_store import BOT_TOKEN
from fakes.telegram_api import FakeTelegram

from bidder.clock import FakeClock
from bidder.notify.telegram import TelegramClient, TelegramRejected, TelegramTemporary


@pytest.fixture
async def tg():
    async with FakeTelegram(BOT_TOKEN) as fake:
        yield fake


async def test_429_waits_retry_after_then_sends(tg: FakeTelegram) -> None:
    tg.fail("sendMessage", status=429, retry_after=1)
    async with TelegramClient(BOT_TOKEN, base_url=tg.url) as client:
        started = time.monotonic()
        await client.send_message(111, "hello")
        elapsed = time.monotonic() - started
    sends = [c for c in tg.calls if c.method == "sendMessage"]
    assert len(sends) == 2 and tg.texts() == ["hello"]
    assert elapsed >= 1.0 and sends[1].at - sends[0].at >= 1.0


async def test_429_beyond_patience_raises_with_retry_after(tg: FakeTelegram) -> None:
    tg.fail("sendMessage", status=429, retry_after=600)
    clock = FakeClock()
    async with TelegramClient(BOT_TOKEN, base_url=tg.url, clock=clock, max_retry_after=60) as client:
        with pytest.raises(TelegramTemporary) as err:
            await client.send_message(111, "x")
    assert err.value.retry_after == 600 and err.value.status == 429
    assert BOT_TOKEN not in str(err.value)


async def test_5xx_is_retried_with_backoff(tg: FakeTelegram) -> None:
    tg.fail("sendMessage", status=502, times=2)
    clock = FakeClock()
    async with TelegramClient(BOT_TOKEN, base_url=tg.url, clock=clock) as client:
        await client.send_message(111, "after two 502s")
    assert tg.texts() == ["after two 502s"]
    assert clock.monotonic() >= 1.5  # 0.5 s then 1 s of back-off


async def test_persistent_5xx_raises_temporary_without_token(tg: FakeTelegram) -> None:
    tg.fail("sendMessage", status=500, times=10, description=f"Internal error for bot{BOT_TOKEN}")
    async with TelegramClient(BOT_TOKEN, base_url=tg.url, clock=FakeClock(), max_retries=2) as client:
        with pytest.raises(TelegramTemporary) as err:
            await client.send_message(111, "x")
    assert len(tg.calls) == 3
    assert BOT_TOKEN not in str(err.value) and "TEST-bot-token" not in repr(err.value)


async def test_network_error_text_has_no_url_or_token() -> None:
    async with FakeTelegram(BOT_TOKEN) as fake:
        url = fake.url
    # the server is gone: connection refused, whose aiohttp text would include the URL with the token
    async with TelegramClient(BOT_TOKEN, base_url=url, clock=FakeClock(), max_retries=1) as client:
        with pytest.raises(TelegramTemporary) as err:
            await client.send_message(111, "x")
    text = f"{err.value} {err.value!r} {err.value.__cause__!r} {err.value.__context__!r}"
    assert BOT_TOKEN not in text and "127.0.0.1" not in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


async def test_4xx_is_rejected_not_retried(tg: FakeTelegram) -> None:
    async with TelegramClient(BOT_TOKEN, base_url=tg.url, clock=FakeClock()) as client:
        with pytest.raises(TelegramRejected) as err:
            await client.send_message(111, "<b>unclosed")
    assert len(tg.calls) == 1 and "parse entities" in str(err.value)
    async with TelegramClient("987654321:WRONG-token-abcdefghijklmnopqrstuvwxyz", base_url=tg.url) as bad:
        with pytest.raises(TelegramRejected) as err:
            await bad.get_me()
    assert "WRONG-token" not in str(err.value) and err.value.status == 401


async def test_pacing_one_per_second_per_chat_and_30_overall(tg: FakeTelegram) -> None:
    clock = FakeClock()
    async with TelegramClient(BOT_TOKEN, base_url=tg.url, clock=clock) as client:
        for i in range(3):
            await client.send_message(111, f"m{i}")
        assert clock.monotonic() >= 2.0  # three messages to one chat need two seconds
        clock.advance(1.0)  # let the last second's message leave the overall window
        before = clock.monotonic()
        for chat in range(1000, 1030):
            await client.send_message(chat, "fan")
        assert clock.monotonic() - before < 1.0  # 30 different chats fit in one second
        await client.send_message(2000, "31st")
        assert clock.monotonic() - before >= 1.0  # the 31st waits for the next second


async def test_send_photo_is_multipart_and_get_updates_long_polls(tg: FakeTelegram) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"x" * 100
    async with TelegramClient(BOT_TOKEN, base_url=tg.url) as client:
        await client.send_photo(111, png, caption="<b>Отчёт</b>")
        assert tg.sent[-1].photo == png and tg.sent[-1].fields["caption"] == "<b>Отчёт</b>"
        assert await client.get_updates(None, poll_seconds=0) == []
        tg.push_command(111, "/status")
        updates = await client.get_updates(None, poll_seconds=1)
        assert updates[0]["message"]["text"] == "/status"
        assert await client.get_updates(updates[-1]["update_id"] + 1, poll_seconds=0) == []
    assert "TelegramClient(base_url=" in repr(client) and BOT_TOKEN not in repr(client)


async def test_a_chat_that_must_wait_does_not_hold_up_the_others(tg: FakeTelegram) -> None:
    import asyncio

    async with TelegramClient(BOT_TOKEN, base_url=tg.url) as client:
        client.pacer.push_back(111, 5.0)  # as after a 429 with retry_after=5 for chat 111
        slow = asyncio.create_task(client.send_message(111, "later"))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await client.send_message(222, "now")
        assert time.monotonic() - started < 4.5 and tg.texts() == ["now"]  # well before 111's 5 s wait
        slow.cancel()
