"""The outbox sender: due events -> merged messages -> one delivery per chat -> Telegram -> marked sent.

Delivery state lives in the ``alerts`` table itself (its statements are in :mod:`bidder.store.alerts`,
which also states the one de-duplication rule), in two stages:

1. **Fan-out** (one transaction). Pending *event* alerts are grouped by (kind, account). A group is ready
   when its oldest event has waited the kind's merge window (0 for operator confirmations and account
   state flips). A ready group is rendered once into one message, and for every allowed chat a
   *delivery* alert (kind ``tg_delivery``: chat id, the finished text, the source event ids) is enqueued,
   while the source events are marked ``merged`` — all in the same commit. A crash before the commit
   changes nothing; after it, the deliveries exist and the events are gone from the queue.
2. **Delivery.** Each delivery row is one Bot API call. Rows of one chat go strictly in id order (a row
   that must wait for a retry holds the rows behind it). After a successful call the row is marked
   ``sent`` in its own short transaction. 5xx / network / 429 beyond the client's patience: the row gets
   ``next_attempt_at`` with exponential back-off (at least Telegram's ``retry_after``). 4xx: the row
   fails (logged); an HTML parse error is retried once as plain text first.

The only window for a duplicate is a crash (or a lost reply) after Telegram accepted a message and
before its row was marked sent: that one message may be sent again to that one chat on restart.
Nothing is lost: a row leaves ``pending`` only as ``sent``, ``merged`` (into a delivery that exists), or
``failed`` after a permanent refusal or ``max_attempts`` (≈ days of back-off).

No session is held open across an HTTP call.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.clock import Clock
from bidder.notify.console import Sink
from bidder.notify.events import MERGE_WINDOW, EventKind, from_stored
from bidder.notify.render import esc, plain, render_group, scrub
from bidder.notify.telegram import TelegramRejected, TelegramTemporary
from bidder.store import alerts
from bidder.store.alerts import DELIVERY_KIND, StoredAlert

log = logging.getLogger(__name__)

__all__ = ["DELIVERY_KIND", "DIGEST_KIND", "Delivery", "OutboxSender", "backoff", "enqueue_message"]

DIGEST_KIND = "digest"  # a pre-rendered message (text + optional PNG), e.g. the daily digest
_EVENT_KINDS = frozenset(k.value for k in EventKind)


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    chat_id: int
    text: str
    photo: bytes | None
    parse_mode: str | None
    attempts: int
    next_attempt_at: datetime | None


def backoff(attempts: int, *, base: float = 5.0, cap: float = 3600.0) -> float:
    """Seconds to wait after the ``attempts``-th failure: 5, 10, 20, ... up to an hour."""
    return min(cap, base * 2 ** max(0, attempts - 1))


class OutboxSender:
    """Delivers the outbox to ``chat_ids`` through ``sink`` (a TelegramClient or a ConsoleSink).

    ``merge_window``: seconds similar events wait to be merged (the config's ``telegram.merge_window``);
    kinds that must go at once (operator confirmations, account failing/recovered, token expiry) ignore it.
    Run :meth:`run` as a task; :meth:`kick` after committing something urgent; :meth:`run_once` in tests.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sink: Sink,
        chat_ids: Iterable[int],
        *,
        clock: Clock,
        locale: str = "ru",
        timezone: str = "Europe/Moscow",
        merge_window: float | timedelta = 60.0,
        poll_interval: float = 2.0,
        max_attempts: int = 100,
        batch: int = 500,
    ) -> None:
        self._sessions = sessions
        self._sink = sink
        self.chat_ids = tuple(int(c) for c in chat_ids)
        self._clock = clock
        self._locale = locale
        self._tz = timezone
        mw = merge_window.total_seconds() if isinstance(merge_window, timedelta) else float(merge_window)
        self._merge_window = max(0.0, mw)
        self._poll = poll_interval
        self._max_attempts = max_attempts
        self._batch = batch
        self._wake = asyncio.Event()
        self.sent = 0  # messages delivered by this sender (for the demo summary and metrics)

    def window(self, kind: str) -> float:
        try:
            default = MERGE_WINDOW[EventKind(kind)]
        except ValueError:
            return 0.0
        return 0.0 if default == 0 else self._merge_window

    def _poll_real(self) -> float:
        """The poll interval in real seconds: clock seconds scaled by a sped-up clock, but never a busy loop."""
        return max(0.2, self._poll / max(self._clock.speed, 1e-9))

    def kick(self) -> None:
        """Wake the loop now (e.g. after an operator command was committed)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Until ``stop`` is set or the task is cancelled. Errors are logged, never raised."""
        stop = stop or asyncio.Event()
        next_purge = self._clock.monotonic()
        while not stop.is_set():
            try:
                await self.run_once()
                if self._clock.monotonic() >= next_purge:
                    next_purge = self._clock.monotonic() + 3600
                    await self.purge()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broken sender must not take the daemon down
                log.error("outbox: %s", scrub(f"{type(exc).__name__}: {exc}")[:300])
            self._wake.clear()
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waiter, stopper}, timeout=self._poll_real(),
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                stopper.cancel()

    async def purge(self, keep: timedelta = timedelta(days=30)) -> int:
        """Delete finished outbox rows (sent, merged, failed) older than ``keep``; pending rows stay.
        Returns the number deleted. ``run`` calls it about once an hour."""
        cutoff = self._clock.now() - keep
        async with self._sessions.begin() as s:
            return await alerts.purge_alerts(s, before=cutoff)

    async def run_once(self) -> int:
        """One pass: fan out what is ready, then deliver what is due. Returns messages delivered."""
        await self.fan_out()
        return await self.deliver()

    # ---- stage 1 ------------------------------------------------------------------------------------

    async def fan_out(self) -> int:
        """Turn ready event groups into per-chat deliveries. Returns the number of groups fanned out."""
        if not self.chat_ids:
            return 0  # nowhere to send: keep the events pending rather than merge them into nothing
        now = self._clock.now()
        async with self._sessions.begin() as s:
            groups: dict[tuple[str, str, int], list[StoredAlert]] = {}
            for row in await alerts.pending_events(s, self._batch):
                if row.next_attempt_at is not None and row.next_attempt_at > now:
                    continue
                # kinds without a merge window (and pre-rendered messages) are never merged
                merge = row.kind != DIGEST_KIND and self.window(row.kind) > 0
                key = (row.kind, row.account or "", 0 if merge else row.id)
                groups.setdefault(key, []).append(row)
            done = 0
            for (kind, _account, _one), rows in groups.items():
                oldest = min(r.created_at for r in rows)
                window = self.window(kind)
                # an event stamped ahead of this clock (another time base) is treated as due
                if window and oldest <= now and (now - oldest).total_seconds() < window:
                    continue
                await self._fan_out_group(s, rows, now)
                done += 1
        return done

    async def _fan_out_group(self, s: AsyncSession, rows: Sequence[StoredAlert], now: datetime) -> None:
        first = rows[0]
        account = first.account
        ids = [r.id for r in rows]
        photo_b64 = None
        if first.kind == DIGEST_KIND:
            text = str(first.payload.get("text") or "")
            photo_b64 = first.payload.get("png_b64")
            caption = str(first.payload.get("caption") or "")
        elif first.kind in _EVENT_KINDS:
            events = [from_stored(r.kind, r.account, r.payload, r.dedup_key) for r in rows]
            text = render_group(events, self._locale, tz=self._tz)
        else:  # a kind this version does not know: deliver it readably rather than drop it
            text = "\n".join(f"<b>{esc(r.kind, 60)}</b> · {esc(r.account or '', 60)}\n"
                             f"{esc(json.dumps(r.payload, ensure_ascii=False), 1000)}" for r in rows)
        origins = {r.payload.get("origin_chat") for r in rows}
        skip = origins.pop() if len(origins) == 1 else None
        for chat in self.chat_ids:
            if skip is not None and chat == skip:
                continue  # the operator who gave the command already got the answer
            if text:
                await alerts.enqueue_alert(s, account, DELIVERY_KIND,
                                           {"chat_id": chat, "text": text, "events": ids, "of": first.kind},
                                           dedup_key=f"dlv:{chat}:{first.id}", at=now)
            if photo_b64:
                await alerts.enqueue_alert(s, account, DELIVERY_KIND,
                                           {"chat_id": chat, "photo_b64": photo_b64, "caption": caption,
                                            "events": ids, "of": first.kind},
                                           dedup_key=f"dlv:{chat}:{first.id}:photo", at=now)
        await alerts.mark_alerts_merged(s, ids)

    # ---- stage 2 ------------------------------------------------------------------------------------

    async def _queue(self) -> list[Delivery]:
        async with self._sessions() as s:
            out = []
            for row in await alerts.pending_deliveries(s, self._batch):
                p = row.payload or {}
                photo = base64.b64decode(p["photo_b64"]) if p.get("photo_b64") else None
                out.append(Delivery(row.id, int(p.get("chat_id", 0)), str(p.get("text") or p.get("caption") or ""),
                                    photo, p.get("parse_mode", "HTML"), row.attempts, row.next_attempt_at))
            return out

    async def deliver(self) -> int:
        """Send due deliveries, each chat's in order. Returns how many were sent."""
        sent = 0
        blocked: set[int] = set()  # chats whose head row is waiting: nothing behind it may overtake
        while True:
            queue = await self._queue()
            now = self._clock.now()
            heads: dict[int, Delivery] = {}
            for d in queue:
                heads.setdefault(d.chat_id, d)
            ready = [d for c, d in heads.items() if c not in blocked
                     and (d.next_attempt_at is None or d.next_attempt_at <= now)]
            if not ready:
                return sent
            for d in sorted(ready, key=lambda x: x.id):
                if await self._send_one(d):
                    sent += 1
                else:
                    blocked.add(d.chat_id)

    async def _send_one(self, d: Delivery) -> bool:
        if d.chat_id not in self.chat_ids:
            await self._finish(d, error="the chat is no longer in BIDDER_TELEGRAM_CHAT_IDS")
            return False
        try:
            try:
                await self._call(d, d.parse_mode)
            except TelegramRejected as exc:
                if d.parse_mode == "HTML" and "parse" in str(exc).lower():
                    log.warning("outbox: delivery %d: HTML refused, sending as plain text", d.id)
                    await self._call(d, None)
                else:
                    raise
        except TelegramTemporary as exc:
            attempts = d.attempts + 1
            if attempts >= self._max_attempts:
                await self._finish(d, error=f"gave up after {attempts} attempts: {exc}")
                return False
            wait = max(backoff(attempts), exc.retry_after or 0.0)
            log.warning("outbox: delivery %d to chat %d failed (%s); retry in %.0fs", d.id, d.chat_id, exc, wait)
            async with self._sessions.begin() as s:
                await alerts.mark_alert_retry(s, d.id, scrub(str(exc))[:500],
                                              self._clock.now() + timedelta(seconds=wait))
            return False
        except TelegramRejected as exc:
            await self._finish(d, error=str(exc))
            return False
        except Exception as exc:  # an unexpected sink error: treat as temporary
            attempts = d.attempts + 1
            async with self._sessions.begin() as s:
                await alerts.mark_alert_retry(s, d.id, scrub(f"{type(exc).__name__}: {exc}")[:500],
                                              self._clock.now() + timedelta(seconds=backoff(attempts)))
            return False
        async with self._sessions.begin() as s:
            await alerts.mark_alert_sent(s, d.id, at=self._clock.now())
        self.sent += 1
        return True

    async def _call(self, d: Delivery, parse_mode: str | None) -> None:
        text = d.text if parse_mode else plain(d.text)
        if d.photo is not None:
            await self._sink.send_photo(d.chat_id, d.photo, caption=text or None, parse_mode=parse_mode)
        else:
            await self._sink.send_message(d.chat_id, text, parse_mode=parse_mode)

    async def _finish(self, d: Delivery, *, error: str) -> None:
        log.error("outbox: delivery %d to chat %d dropped: %s", d.id, d.chat_id, scrub(error)[:300])
        async with self._sessions.begin() as s:
            await alerts.mark_alert_retry(s, d.id, scrub(error)[:500], None)


async def enqueue_message(session: AsyncSession, text: str, *, at: datetime, account: str | None = None,
                          png: bytes | None = None, caption: str = "", dedup_key: str | None = None,
                          since: datetime | None = None) -> int | None:
    """Put a pre-rendered HTML message (and optionally a PNG with ``caption``) in the outbox, in the
    caller's transaction; the sender fans it out to every chat like any event. Returns None for a
    duplicate (:mod:`bidder.store.alerts` states the rule; ``since`` starts the key's period)."""
    payload: dict[str, Any] = {"text": text, "caption": caption}
    if png is not None:
        payload["png_b64"] = base64.b64encode(png).decode("ascii")
    return await alerts.enqueue_alert(session, account, DIGEST_KIND, payload, dedup_key=dedup_key, at=at,
                                      since=since)
