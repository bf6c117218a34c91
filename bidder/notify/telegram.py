"""A small Telegram Bot API client on aiohttp: sendMessage, sendPhoto (multipart), getUpdates.

* One ``_request`` choke point: pacing, timeouts, error mapping, redaction.
* Pacing: at most one message per second per chat and 30 per second overall (Telegram's limits).
* 429: waits ``parameters.retry_after`` (on the injected clock) and tries again, up to ``max_retries``.
* 5xx and network errors: a few quick retries with exponential back-off, then :class:`TelegramTemporary`.
* 400/403 (chat not found, bot blocked, bad HTML): :class:`TelegramRejected`; not retried.

The bot token is part of every URL; aiohttp errors print the URL, so no aiohttp exception text ever
leaves this module: errors are rebuilt from the method name and Telegram's ``description`` only,
and :func:`bidder.notify.render.scrub` runs over them too.
"""

from __future__ import annotations

import asyncio
import json
import logging
from bisect import insort
from collections import deque
from typing import Any

import aiohttp
from pydantic import SecretStr

from bidder.clock import Clock, SystemClock
from bidder.errors import BidderError
from bidder.redact import register_secret, scrub

log = logging.getLogger(__name__)


class TelegramError(BidderError):
    def __init__(self, message: str, *, method: str = "", status: int | None = None) -> None:
        self.method = method
        self.status = status
        super().__init__(scrub(f"Telegram {method}: " + (f"HTTP {status}: " if status else "") + message))


class TelegramTemporary(TelegramError):
    """5xx, timeouts, connection errors, or 429 beyond the client's patience: retry later."""

    def __init__(self, message: str, *, method: str = "", status: int | None = None,
                 retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, method=method, status=status)


class TelegramRejected(TelegramError):
    """Telegram refused the request (400, 401, 403, 404): retrying the same request will not help."""


class ChatPacer:
    """≤ 1 message per ``per_chat`` seconds to each chat and ≤ ``overall`` messages per second in all."""

    def __init__(self, clock: Clock, *, per_chat: float = 1.0, overall: int = 30) -> None:
        self._clock = clock
        self._per_chat = per_chat
        self._overall = overall
        self._last: dict[int | str, float] = {}
        self._recent: deque[float] = deque()  # reserved send times, sorted
        self._lock = asyncio.Lock()

    async def wait(self, chat_id: int | str) -> None:
        """Reserve the earliest slot that keeps both limits, then sleep until it (outside the lock, so a
        chat that must wait does not hold up the others)."""
        async with self._lock:
            now = self._clock.monotonic()
            while self._recent and self._recent[0] <= now - 1.0:
                self._recent.popleft()
            slot = now
            last = self._last.get(chat_id)
            if last is not None:
                slot = max(slot, last + self._per_chat)
            while True:
                in_window = [x for x in self._recent if slot - 1.0 < x <= slot]
                if len(in_window) < self._overall:
                    break
                slot = in_window[0] + 1.0  # when the oldest message of that second leaves the window
            insort(self._recent, slot)
            self._last[chat_id] = slot
        if slot > now:
            await self._clock.sleep(slot - now)

    def push_back(self, chat_id: int | str, seconds: float) -> None:
        """After a 429 for this chat: no message to it for ``seconds``."""
        self._last[chat_id] = self._clock.monotonic() + seconds - self._per_chat


class TelegramClient:
    """``TelegramClient(token, base_url=settings.telegram_api_url)``; ``await close()`` when done.

    ``session``: an injected aiohttp session (not closed here); otherwise one is created and owned.
    """

    def __init__(
        self,
        token: SecretStr | str,
        *,
        base_url: str = "https://api.telegram.org",
        session: aiohttp.ClientSession | None = None,
        clock: Clock | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_after: float = 120.0,
        per_chat_interval: float = 1.0,
        overall_per_second: int = 30,
    ) -> None:
        raw = token.get_secret_value() if isinstance(token, SecretStr) else str(token)
        if not raw:
            raise BidderError("Telegram bot token is empty")
        register_secret(raw)
        self._token = SecretStr(raw)
        self._base = base_url.rstrip("/")
        self._session = session
        self._own_session = session is None
        self._clock = clock or SystemClock()
        self._timeout = timeout
        self._max_retries = max_retries
        self._max_retry_after = max_retry_after
        self.pacer = ChatPacer(self._clock, per_chat=per_chat_interval, overall=overall_per_second)

    def __repr__(self) -> str:
        return f"TelegramClient(base_url={self._base!r})"

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> TelegramClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    # ---- public methods -------------------------------------------------------------------------------

    async def get_me(self) -> dict[str, Any]:
        return await self._request("getMe", {})

    async def send_message(self, chat_id: int | str, text: str, *, parse_mode: str | None = "HTML",
                           reply_to: int | None = None, reply_markup: dict[str, Any] | None = None
                           ) -> dict[str, Any]:
        fields: dict[str, Any] = {"chat_id": chat_id, "text": scrub(text),
                                  "link_preview_options": {"is_disabled": True}}
        if reply_markup is not None:
            fields["reply_markup"] = reply_markup
        if parse_mode:
            fields["parse_mode"] = parse_mode
        if reply_to is not None:
            fields["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
        return await self._request("sendMessage", fields, chat_id=chat_id)

    async def send_photo(self, chat_id: int | str, png: bytes, *, caption: str | None = None,
                         parse_mode: str | None = "HTML", filename: str = "report.png") -> dict[str, Any]:
        fields: dict[str, Any] = {"chat_id": chat_id}
        if caption:
            fields["caption"] = scrub(caption)
            if parse_mode:
                fields["parse_mode"] = parse_mode
        return await self._request("sendPhoto", fields, chat_id=chat_id, photo=(filename, png))

    async def answer_callback_query(self, callback_query_id: str, text: str | None = None) -> Any:
        fields: dict[str, Any] = {"callback_query_id": callback_query_id}
        if text:
            fields["text"] = scrub(text)[:200]
        return await self._request("answerCallbackQuery", fields)

    async def edit_message_text(self, chat_id: int | str, message_id: int, text: str, *,
                                parse_mode: str | None = "HTML") -> Any:
        """Replaces a sent message's text (and drops its inline buttons)."""
        fields: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id, "text": scrub(text)}
        if parse_mode:
            fields["parse_mode"] = parse_mode
        return await self._request("editMessageText", fields, chat_id=chat_id)

    async def get_updates(self, offset: int | None = None, *, poll_seconds: int = 25,
                          allowed_updates: tuple[str, ...] = ("message",)) -> list[dict[str, Any]]:
        """Long polling: waits up to ``poll_seconds`` on Telegram's side for new updates."""
        fields: dict[str, Any] = {"timeout": poll_seconds, "allowed_updates": list(allowed_updates)}
        if offset is not None:
            fields["offset"] = offset
        result = await self._request("getUpdates", fields, http_timeout=poll_seconds + 15)
        return result if isinstance(result, list) else []

    # ---- the choke point ------------------------------------------------------------------------------

    async def _request(self, method: str, fields: dict[str, Any], *, chat_id: int | str | None = None,
                       photo: tuple[str, bytes] | None = None, http_timeout: float | None = None) -> Any:
        url = f"{self._base}/bot{self._token.get_secret_value()}/{method}"
        attempt = 0
        while True:
            attempt += 1
            if chat_id is not None:
                await self.pacer.wait(chat_id)
            try:
                status, body = await self._post(url, fields, photo, http_timeout or self._timeout)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                # str(exc) may contain the URL and so the token: only the exception type leaves here
                err = TelegramTemporary(f"network error ({type(exc).__name__})", method=method)
                if attempt > self._max_retries:
                    raise err from None
                log.warning("%s; retry %d", err, attempt)
                await self._clock.sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
                continue
            description = scrub(str(body.get("description") or ""))[:300] if isinstance(body, dict) else ""
            if status == 200 and isinstance(body, dict) and body.get("ok"):
                return body.get("result")
            if status == 429:
                params = body.get("parameters") if isinstance(body, dict) else None
                retry_after = 1.0
                if isinstance(params, dict):
                    try:
                        retry_after = max(0.0, float(params.get("retry_after", 1)))
                    except (TypeError, ValueError):
                        retry_after = 1.0
                if chat_id is not None:
                    self.pacer.push_back(chat_id, retry_after)
                if attempt > self._max_retries or retry_after > self._max_retry_after:
                    raise TelegramTemporary(f"rate limited, retry after {retry_after:g}s", method=method,
                                            status=429, retry_after=retry_after)
                log.warning("Telegram %s: 429, waiting %gs as asked", method, retry_after)
                await self._clock.sleep(retry_after)
                continue
            if status >= 500 or status == 0:
                err = TelegramTemporary(description or "server error", method=method, status=status)
                if attempt > self._max_retries:
                    raise err
                log.warning("%s; retry %d", err, attempt)
                await self._clock.sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
                continue
            raise TelegramRejected(description or "rejected", method=method, status=status)

    async def _post(self, url: str, fields: dict[str, Any], photo: tuple[str, bytes] | None,
                    limit_s: float) -> tuple[int, Any]:
        session = self._http()
        to = aiohttp.ClientTimeout(total=limit_s)
        if photo is None:
            kwargs: dict[str, Any] = {"json": fields}
        else:
            form = aiohttp.FormData()
            for key, value in fields.items():
                form.add_field(key, value if isinstance(value, str) else json.dumps(value))
            form.add_field("photo", photo[1], filename=photo[0], content_type="image/png")
            kwargs = {"data": form}
        async with session.post(url, timeout=to, **kwargs) as resp:
            try:
                body = await resp.json(content_type=None)
            except (ValueError, aiohttp.ContentTypeError):
                body = None
            return resp.status, body
