"""The outbox against the fake Bot API and a real SQLite file: order, merging, de-duplication across a
restart, 429 and 5xx, permanent refusals, the daily digest, and the console sink."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from fakes.notify_store import BOT_TOKEN, CHATS, HOSTILE, NOW, open_store, populate, yesterday
from fakes.telegram_api import FakeTelegram, parse_html
from sqlalchemy import select

from bidder.clock import FakeClock
from bidder.domain import DailyStat
from bidder.notify import events as ev
from bidder.notify.console import ConsoleSink
from bidder.notify.digest import DigestJob
from bidder.notify.outbox import DELIVERY_KIND, OutboxSender
from bidder.notify.telegram import TelegramClient
from bidder.store import repo
from bidder.store.models import AlertRow
from bidder.wb.tokens import mint_token


@pytest.fixture
async def tg():
    async with FakeTelegram(BOT_TOKEN) as fake:
        yield fake


@pytest.fixture
async def store(store_url: str):
    """SQLite always, PostgreSQL too (marked ``postgres``): the outbox queries must work on both."""
    engine, sessions = await open_store(store_url)
    async with sessions.begin() as s:
        await repo.ensure_account(s, "shop")
        await repo.ensure_account(s, "other")
    yield sessions
    await engine.dispose()


def sender(sessions, sink, clock, **kw) -> OutboxSender:
    return OutboxSender(sessions, sink, CHATS, clock=clock, merge_window=kw.pop("merge_window", 60), **kw)


_clients: list[TelegramClient] = []


@pytest.fixture(autouse=True)
async def _close_clients():
    yield
    while _clients:
        await _clients.pop().close()


def client(tg: FakeTelegram, clock, **kw) -> TelegramClient:
    kw.setdefault("max_retries", 0)  # the outbox, not the client, retries in these tests
    c = TelegramClient(BOT_TOKEN, base_url=tg.url, clock=clock, **kw)
    _clients.append(c)
    return c


async def _enqueue(sessions, events, clock) -> list[int | None]:
    async with sessions.begin() as s:
        return [await ev.enqueue(s, e, at=clock.now()) for e in events]


def op(i: int) -> ev.Event:
    return ev.operator_action("shop", "pause", str(i), by=f"op{i}")


async def test_order_and_no_duplicates_across_a_restart(sqlite_url: str, tg: FakeTelegram) -> None:
    clock = FakeClock(NOW)
    engine, sessions = await open_store(sqlite_url)
    async with sessions.begin() as s:
        await repo.ensure_account(s, "shop")
    await _enqueue(sessions, [op(i) for i in range(6)], clock)
    # first process: Telegram accepts 5 messages, then fails; the process then "dies" (engine dropped)
    tg.accept_only = 5
    first = sender(sessions, client(tg, clock), clock)
    await first.run_once()
    assert len(tg.sent) == 5
    await engine.dispose()

    # second process over the same file; more events meanwhile
    tg.accept_only = None
    clock.advance(3600)
    engine2, sessions2 = await open_store(sqlite_url, migrate=False)
    await _enqueue(sessions2, [op(i) for i in range(6, 8)], clock)
    second = sender(sessions2, client(tg, clock), clock)
    await second.run_once()
    await second.run_once()  # nothing left: a second pass sends nothing
    for chat in CHATS:
        texts = tg.texts(chat)
        numbers = [int(t.split("кампания ")[1].split(" ")[0]) for t in texts]
        assert numbers == list(range(8)), (chat, texts)  # every event once, in order, per chat
    async with sessions2() as s:
        states = (await s.scalars(select(AlertRow.status))).all()
    assert set(states) == {"sent", "merged"}
    await engine2.dispose()


async def test_duplicate_window_is_only_send_then_crash(store, tg: FakeTelegram) -> None:
    """The documented window: Telegram accepted the message but the row was not marked sent."""
    clock = FakeClock(NOW)

    class CrashAfterSend(TelegramClient):
        async def send_message(self, *a, **kw):  # the process dies right after Telegram's answer
            await super().send_message(*a, **kw)
            raise KeyboardInterrupt

    await _enqueue(store, [op(1)], clock)
    crashing = CrashAfterSend(BOT_TOKEN, base_url=tg.url, clock=clock)
    _clients.append(crashing)
    s1 = OutboxSender(store, crashing, CHATS[:1], clock=clock)
    with pytest.raises(KeyboardInterrupt):
        await s1.run_once()
    s2 = OutboxSender(store, client(tg, clock), CHATS[:1], clock=clock)
    await s2.run_once()
    assert len(tg.texts(CHATS[0])) == 2  # exactly one duplicate, of that one message, to that one chat


async def test_similar_events_merge_within_the_window(store, tg: FakeTelegram) -> None:
    clock = FakeClock(NOW)
    events = [ev.bid_changes("shop", [ev.BidChange(i, f"c{i}", 100, 200)], cycle_id=i) for i in range(3)]
    events.append(ev.bid_changes("other", [ev.BidChange(9, "c9", 100, 90)], cycle_id=1))
    await _enqueue(store, events, clock)
    out = sender(store, client(tg, clock), clock)
    assert await out.run_once() == 0  # still inside the merge window
    clock.advance(30)
    await _enqueue(store, [ev.bid_changes("shop", [ev.BidChange(3, "c3", 100, 300)], cycle_id=3)], clock)
    clock.advance(31)
    assert await out.run_once() == 4  # 2 groups x 2 chats
    texts = tg.texts(CHATS[0])
    assert len(texts) == 2 and texts[0].count("•") == 4 and "other" in texts[1]


async def test_dedup_key_keeps_one_pending_alert(store, tg: FakeTelegram) -> None:
    clock = FakeClock(NOW)
    e = ev.drr_alert("shop", 1, "n", drr=30, limit=25, day=NOW.date())
    ids = await _enqueue(store, [e, e, e], clock)
    assert ids[0] is not None and ids[1:] == [None, None]
    clock.advance(61)
    await sender(store, client(tg, clock), clock).run_once()
    assert len(tg.texts(CHATS[0])) == 1


async def test_429_retry_after_is_honoured_by_the_outbox(store, tg: FakeTelegram) -> None:
    clock = FakeClock(NOW)
    tg.fail("sendMessage", status=429, retry_after=30)
    await _enqueue(store, [op(1), op(2)], clock)
    out = OutboxSender(store, client(tg, clock), CHATS[:1], clock=clock)
    assert await out.run_once() == 0
    async with store() as s:
        row = await s.scalar(select(AlertRow).where(AlertRow.kind == DELIVERY_KIND).order_by(AlertRow.id))
    assert row.attempts == 1 and row.next_attempt_at - clock.now() >= timedelta(seconds=30)
    assert BOT_TOKEN not in (row.last_error or "")
    clock.advance(10)
    assert await out.run_once() == 0  # not yet: op(2) must not overtake op(1) either
    clock.advance(25)
    assert await out.run_once() == 2
    assert ["1" in t.split("кампания ")[1][:2] for t in tg.texts()] == [True, False]


async def test_5xx_backs_off_exponentially_then_delivers_once(store, tg: FakeTelegram) -> None:
    clock = FakeClock(NOW)
    tg.fail("sendMessage", status=502, times=3)
    await _enqueue(store, [op(1)], clock)
    out = OutboxSender(store, client(tg, clock), CHATS[:1], clock=clock)
    waits = []
    for _ in range(3):
        assert await out.run_once() == 0
        async with store() as s:
            row = await s.scalar(select(AlertRow).where(AlertRow.kind == DELIVERY_KIND))
        waits.append((row.next_attempt_at - clock.now()).total_seconds())
        clock.advance(waits[-1])
    assert waits == [5, 10, 20]
    assert await out.run_once() == 1 and len(tg.texts()) == 1


async def test_refused_chat_does_not_block_the_others(store, tg: FakeTelegram) -> None:
    clock = FakeClock(NOW)
    tg.fail("sendMessage", status=403, description="Forbidden: bot was blocked by the user")
    await _enqueue(store, [op(1)], clock)
    await sender(store, client(tg, clock), clock).run_once()
    assert len(tg.texts()) == 1
    async with store() as s:
        statuses = sorted((await s.scalars(select(AlertRow.status).where(AlertRow.kind == DELIVERY_KIND))).all())
    assert statuses == ["failed", "sent"]


async def test_hostile_names_are_escaped_and_tokens_never_sent(store, tg: FakeTelegram) -> None:
    clock = FakeClock(NOW)
    wb = mint_token("42")
    await _enqueue(store, [
        ev.campaign_paused("shop", 1, HOSTILE + " " + "я" * 500, f"token {wb}", numbers={"drr": 40}),
        ev.account_failing("shop", f"AuthFailed with bot{BOT_TOKEN} and {wb}"),
    ], clock)
    clock.advance(61)
    await sender(store, client(tg, clock), clock).run_once()
    assert len(tg.sent) == 4  # the fake refuses HTML that does not parse: all four were accepted
    for call in tg.sent:
        text = call.fields["text"]
        assert parse_html(text)[0] is None
        assert BOT_TOKEN not in text and wb not in text
    assert "&lt;script&gt;" in tg.texts(CHATS[0])[0] or "&lt;script&gt;" in tg.texts(CHATS[0])[1]


async def test_daily_digest_once_with_chart(store, tg: FakeTelegram) -> None:
    clock = FakeClock(NOW)  # 12:00 Moscow; the digest is due after 09:00
    await populate(store)
    job = DigestJob(store, clock, accounts=["shop"], digest_time="09:00")
    assert await job.maybe_run() is True
    assert await job.maybe_run() is False  # already made for yesterday, even after a restart
    assert await DigestJob(store, clock, accounts=["shop"], digest_time="09:00").maybe_run() is False
    await sender(store, client(tg, clock), clock).run_once()
    texts = [c for c in tg.sent if c.method == "sendMessage" and int(c.fields["chat_id"]) == CHATS[0]]
    photos = [c for c in tg.sent if c.method == "sendPhoto" and int(c.fields["chat_id"]) == CHATS[0]]
    assert len(texts) == 1 and len(photos) == 1
    text = texts[0].fields["text"]
    assert "Итоги за 01.11.2026" in text and "Куртки" in text and "300\xa0₽ → 240\xa0₽" in text
    assert "&lt;b&gt;Платья" in text  # the hostile name, escaped
    assert photos[0].photo.startswith(b"\x89PNG\r\n\x1a\n")


async def test_first_digest_waits_for_the_days_statistics(store, tg: FakeTelegram) -> None:
    """A daemon started after digest_time has read no statistics yet: its first digest used to say
    «расход 0 ₽» for a day that had spend. It now waits until a cycle read the statistics after the day
    ended, then reports the day's real spend."""
    clock = FakeClock(NOW)  # 12:00 Moscow, 2026-11-02: the digest of 01.11 is due
    job = DigestJob(store, clock, accounts=["shop"], digest_time="09:00")
    async with store.begin() as s:  # a cycle before the day ended read statistics: not enough
        cid = await repo.start_cycle(s, "shop", NOW - timedelta(hours=13))
        await repo.finish_cycle(s, cid, at=NOW - timedelta(hours=13), ok=True,
                                summary={"campaigns": 1, "stats_refreshed": 1})
        cid = await repo.start_cycle(s, "shop", NOW - timedelta(minutes=5))  # after: read nothing
        await repo.finish_cycle(s, cid, at=NOW - timedelta(minutes=4), ok=True,
                                summary={"campaigns": 1, "stats_refreshed": 0})
    assert await job.maybe_run() is False
    async with store.begin() as s:  # the first statistics read of the day arrives
        await repo.save_daily_stats(s, "shop", [DailyStat(7, 70, yesterday(), 100, 10, 1, 2, Decimal("1234.5"),
                                                          Decimal("9000"))])
        cid = await repo.start_cycle(s, "shop", NOW - timedelta(minutes=2))
        await repo.finish_cycle(s, cid, at=NOW - timedelta(minutes=1), ok=True,
                                summary={"campaigns": 1, "stats_refreshed": 1})
    assert await job.maybe_run() is True
    await sender(store, client(tg, clock), clock).run_once()
    text = next(c.fields["text"] for c in tg.sent if c.method == "sendMessage")
    assert "расход 1\u202f235\xa0₽" in text


async def test_a_digest_whose_statistics_never_come_goes_out_six_hours_late(store) -> None:
    """An account with nothing to read never records a statistics read: the digest waits STATS_WAIT."""
    clock = FakeClock(NOW)  # 12:00 Moscow: 3 hours after digest_time
    job = DigestJob(store, clock, accounts=["other"], digest_time="09:00")
    assert await job.maybe_run() is False
    clock.advance(3 * 3600 + 1)  # 15:00:01 Moscow: more than 6 hours after digest_time
    assert await job.maybe_run() is True


async def test_console_sink_prints_what_would_be_sent(store) -> None:
    clock = FakeClock(NOW)
    out = io.StringIO()
    sink = ConsoleSink(out)
    await _enqueue(store, [ev.account_failing("shop", "HTTP 401"), op(5)], clock)
    sent = await OutboxSender(store, sink, [0], clock=clock).run_once()
    assert sent == 2
    printed = out.getvalue()
    assert "Аккаунт не работает · shop" in printed and "<b>" not in printed and "кампания 5" in printed


async def test_a_dedup_key_alerts_once_per_day_even_after_sending(store, tg: FakeTelegram) -> None:
    clock = FakeClock(NOW)
    out = sender(store, client(tg, clock), clock)
    expiring = NOW + timedelta(days=5)
    assert (await _enqueue(store, [ev.token_expiring("shop", "read", expiring, now=clock.now())], clock))[0]
    await out.run_once()
    clock.advance(3600)  # the engine checks again an hour later: already told today
    assert await _enqueue(store, [ev.token_expiring("shop", "read", expiring, now=clock.now())], clock) == [None]
    await out.run_once()
    clock.advance(86400)  # the next day: tell again
    assert (await _enqueue(store, [ev.token_expiring("shop", "read", expiring, now=clock.now())], clock))[0]
    await out.run_once()
    assert len(tg.texts(CHATS[0])) == 2


async def test_no_chats_keeps_events_pending(store) -> None:
    clock = FakeClock(NOW)
    await _enqueue(store, [op(1)], clock)
    assert await OutboxSender(store, ConsoleSink(io.StringIO()), [], clock=clock).run_once() == 0
    async with store() as s:
        assert (await s.scalars(select(AlertRow.status))).all() == ["pending"]


async def test_purge_keeps_pending_and_recent_rows(store, tg: FakeTelegram) -> None:
    clock = FakeClock(NOW)
    out = sender(store, client(tg, clock), clock)
    await _enqueue(store, [op(1)], clock)
    await out.run_once()
    tg.accept_only = len(tg.sent)  # Telegram down from now on
    await _enqueue(store, [op(2)], clock)
    await out.run_once()
    clock.advance(31 * 86400)
    # op(1) and its two deliveries, and op(2) (merged: its deliveries carry the text); they stay pending
    assert await out.purge() == 4
    async with store() as s:
        left = (await s.scalars(select(AlertRow.status).order_by(AlertRow.id))).all()
    assert left == ["pending", "pending"]
