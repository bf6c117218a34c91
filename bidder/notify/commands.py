"""Telegram commands by long polling, in the daemon's event loop.

Only chats in BIDDER_TELEGRAM_CHAT_IDS are served; anything else is ignored and logged with the chat id
and the command name only (never the rest of the text). Every command goes through
:class:`bidder.notify.control.Control`. Bad arguments get a short usage answer.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from typing import Any

from bidder.clock import Clock, SystemClock
from bidder.notify.i18n import t
from bidder.notify.render import esc, render_history, render_result, render_status, scrub
from bidder.notify.spend_view import render_spend
from bidder.notify.telegram import TelegramClient, TelegramError, TelegramRejected

log = logging.getLogger(__name__)

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?$")
MAX_ARGS = 4
_ON = {"on", "1", "true", "yes", "вкл", "да", "включить"}
_OFF = {"off", "0", "false", "no", "выкл", "нет", "выключить"}


def parse_command(text: Any) -> tuple[str, str | None, list[str]] | None:
    """'/pause@bot 123' -> ('pause', 'bot', ['123']); None when this is not a command."""
    if not isinstance(text, str) or not text.startswith("/"):
        return None
    parts = text[:1024].split()
    if not parts:
        return None
    m = _COMMAND.match(parts[0])
    if not m:
        return ("?", None, [])
    return (m.group(1).lower(), m.group(2), parts[1 : 1 + MAX_ARGS])


class CommandLoop:
    """``CommandLoop(client, control, chat_ids)``; run :meth:`run` as a task next to the outbox sender."""

    def __init__(self, client: TelegramClient, control: Any, chat_ids: Iterable[int], *,
                 clock: Clock | None = None, locale: str | None = None, poll_seconds: int = 25,
                 timezone: str = "Europe/Moscow", callbacks: Any = None) -> None:
        self._client = client
        self._callbacks = callbacks  # approval mode: handles inline-button presses (notify.approvals)
        self._control = control
        self._chats = frozenset(int(c) for c in chat_ids)
        self._clock = clock or SystemClock()
        self._locale = locale or getattr(control, "locale", "ru")
        self._poll = poll_seconds
        self._tz = timezone
        self._offset: int | None = None
        self._bot_username: str | None = None
        self.handled = 0
        self.ignored = 0

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        failures = 0
        try:
            me = await self._client.get_me()
            self._bot_username = str(me.get("username") or "") or None
        except TelegramError as exc:
            log.warning("telegram: getMe failed: %s", exc)
        while not stop.is_set():
            try:
                await self.poll_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except TelegramRejected as exc:  # 401 bad token, 409 another poller or a webhook
                failures += 1
                log.error("telegram: getUpdates refused: %s", exc)
                await self._pause(stop, min(300.0, 15.0 * failures))
            except Exception as exc:
                failures += 1
                log.warning("telegram: getUpdates failed: %s", scrub(f"{type(exc).__name__}: {exc}")[:300])
                await self._pause(stop, min(60.0, 2.0 ** failures))
        await self._confirm()

    async def _confirm(self) -> None:
        """Tell Telegram which updates were handled, so a restart does not run them again."""
        if self._offset is None:
            return
        try:
            await asyncio.wait_for(self._client.get_updates(self._offset, poll_seconds=0), 3)
        except (TelegramError, TimeoutError) as exc:
            log.info("telegram: could not confirm the last updates: %s", exc)

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        try:
            await asyncio.wait_for(stop.wait(), seconds / max(self._clock.speed, 1e-9))
        except TimeoutError:
            pass

    async def poll_once(self) -> int:
        kinds = ("message", "callback_query") if self._callbacks is not None else ("message",)
        updates = await self._client.get_updates(self._offset, poll_seconds=self._poll, allowed_updates=kinds)
        for update in updates:
            uid = update.get("update_id")
            if isinstance(uid, int):
                self._offset = max(self._offset or 0, uid + 1)
            try:
                await self.handle(update)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one bad update must not stop the loop
                log.error("telegram: update %s failed: %s", uid, scrub(f"{type(exc).__name__}: {exc}")[:300])
        return len(updates)

    async def handle(self, update: dict[str, Any]) -> str | None:
        """Answer one update; returns the command name handled (None when ignored)."""
        query = update.get("callback_query")
        if isinstance(query, dict) and self._callbacks is not None:
            return "approval" if await self._callbacks.handle(query) else None
        msg = update.get("message")  # not edited messages: editing an old /pause must not run it again
        if not isinstance(msg, dict):
            return None
        chat = msg.get("chat") or {}
        chat_id = chat.get("id")
        parsed = parse_command(msg.get("text"))
        if parsed is None:
            return None
        name, addressed_to, args = parsed
        if not isinstance(chat_id, int) or chat_id not in self._chats:
            self.ignored += 1
            log.warning("telegram: ignored /%s from chat %s (not in BIDDER_TELEGRAM_CHAT_IDS)",
                        name if name != "?" else "<invalid>", chat_id if isinstance(chat_id, int) else "?")
            return None
        if addressed_to and self._bot_username and addressed_to.lower() != self._bot_username.lower():
            return None  # a command for another bot in a group
        sender = msg.get("from") or {}
        who = sender.get("username") or sender.get("id") or chat_id
        by = f"telegram:{str(who)[:64]}"
        reply_to = msg.get("message_id") if isinstance(msg.get("message_id"), int) else None
        log.info("telegram: /%s from chat %s", name, chat_id)
        try:
            await self._dispatch(name, args, chat_id, by, reply_to)
        except TelegramError as exc:
            log.warning("telegram: answering /%s failed: %s", name, exc)
        self.handled += 1
        return name

    async def _answer(self, chat_id: int, text: str, reply_to: int | None) -> None:
        await self._client.send_message(chat_id, text, reply_to=reply_to)

    async def _dispatch(self, name: str, args: list[str], chat_id: int, by: str, reply_to: int | None) -> None:
        loc = self._locale
        try:
            if name in ("help", "start"):
                text = t(loc, "help")
            elif name == "status":
                text = render_status(await self._control.status(), loc, tz=self._tz)
                spend = getattr(self._control, "spend", None)  # issue 15: today's spend vs budgets and caps
                if spend is not None:
                    views = [render_spend(v, loc) for v in await spend()]
                    text = "\n\n".join([text, *(esc(v, 3000) for v in views)])
            elif name in ("pause", "resume"):
                target = _target(args)
                if target is None:
                    text = t(loc, f"usage.{name}")
                else:
                    method = self._control.pause if name == "pause" else self._control.resume
                    text = render_result(await method(target, by, chat_id=chat_id), loc)
            elif name == "dryrun":
                on = args[0].lower() in _ON if len(args) == 1 and args[0].lower() in _ON | _OFF else None
                if on is None:
                    text = t(loc, "usage.dryrun")
                else:
                    text = render_result(await self._control.set_dry_run(on, by, chat_id=chat_id), loc)
            elif name == "history":
                advert_id = _campaign_id(args[0]) if len(args) in (1, 2) else None
                limit = 10
                if len(args) == 2:
                    limit = int(args[1]) if args[1].isdigit() and 0 < int(args[1]) <= 50 else -1
                if advert_id is None or limit < 0:
                    text = t(loc, "usage.history")
                else:
                    text = render_history(advert_id, await self._control.history(advert_id, limit), loc, tz=self._tz)
            elif name == "report":
                result = await self._control.report(7)
                await self._client.send_photo(chat_id, result.png, caption=t(loc, "report.caption", days=7))
                return
            else:
                text = t(loc, "unknown")
        except LookupError as exc:  # control.UnknownCampaign
            text = t(loc, "unknown_campaign", id=esc(getattr(exc, "advert_id", "?")))
        except TelegramError:
            raise
        except Exception as exc:
            log.error("telegram: /%s failed: %s", name, scrub(f"{type(exc).__name__}: {exc}")[:300])
            text = t(loc, "error")
        await self._answer(chat_id, text, reply_to)


def _campaign_id(arg: str) -> int | None:
    arg = arg.strip().lstrip("№#")
    if arg.isascii() and arg.isdigit() and 0 < len(arg) <= 12:
        return int(arg)
    return None


def _target(args: list[str]) -> int | str | None:
    if len(args) != 1:
        return None
    if args[0].lower() in ("all", "все", "всё", "*"):
        return "all"
    return _campaign_id(args[0])
