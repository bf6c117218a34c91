"""A fake Telegram Bot API server (aiohttp on 127.0.0.1, port 0) with scripted faults.

    async with FakeTelegram(token) as tg:      # tg.url -> BIDDER_TELEGRAM_API_URL
        tg.fail("sendMessage", status=429, retry_after=1)   # next sendMessage answers 429
        tg.push_command(chat_id=1, text="/status")          # an update for getUpdates
        await tg.wait_sent(1)

It checks what the real one checks and we care about: the token in the path, HTML entities that
parse (only Telegram's tags, balanced), the 4096/1024-character limits, multipart photos.
"""

from __future__ import annotations

import asyncio
import html
import json
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a", "tg-spoiler",
                "blockquote", "span"}


class _EntityCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.error: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in ALLOWED_TAGS:
            self.error = self.error or f"unsupported start tag \"{tag}\""
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f"unexpected end tag \"{tag}\""
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(text: str) -> tuple[str | None, str]:
    """(error, plain text) as Telegram would see an HTML message."""
    p = _EntityCheck()
    p.feed(text)
    p.close()
    # a bare '&' not forming an entity, or a stray '<' is an error in Telegram's parser
    stripped = text
    for tag in ALLOWED_TAGS:
        stripped = stripped.replace(f"<{tag}>", "").replace(f"</{tag}>", "")
    if "<" in stripped and p.error is None:
        p.error = "unexpected '<'"
    if p.stack and p.error is None:
        p.error = f"unclosed tag \"{p.stack[-1]}\""
    return p.error, html.unescape("".join(p.text))


@dataclass
class Call:
    method: str
    fields: dict[str, Any]
    at: float
    photo: bytes | None = None


@dataclass
class Fault:
    status: int
    retry_after: float | None = None
    description: str = ""
    times: int = 1


@dataclass
class FakeTelegram:
    token: str
    calls: list[Call] = field(default_factory=list)
    sent: list[Call] = field(default_factory=list)  # successful sendMessage / sendPhoto, in order
    bot_username: str = "bidder_test_bot"

    def __post_init__(self) -> None:
        self._faults: dict[str, list[Fault]] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1000
        self._next_message_id = 1
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.down = False  # when True every request gets a connection reset
        self.max_poll = 1.0  # cap on long-polling waits, seconds
        self.accept_only: int | None = None  # after this many accepted messages every send answers 502

    # ---- scripting ----------------------------------------------------------------------------------
    def fail(self, method: str, *, status: int, retry_after: float | None = None, description: str = "",
             times: int = 1) -> None:
        self._faults.setdefault(method, []).append(Fault(status, retry_after, description, times))

    def push_command(self, chat_id: int, text: str, *, from_id: int | None = None,
                     username: str = "seller") -> int:
        self._next_update_id += 1
        self._updates.append({
            "update_id": self._next_update_id,
            "message": {"message_id": self._next_update_id, "date": int(time.time()),
                        "chat": {"id": chat_id, "type": "private"},
                        "from": {"id": from_id or chat_id, "is_bot": False, "first_name": "S", "username": username},
                        "text": text},
        })
        asyncio.get_event_loop().create_task(self._notify())
        return self._next_update_id

    def push_callback(self, chat_id: int, data: str, *, message_id: int = 1, from_id: int | None = None,
                      username: str = "seller") -> str:
        """A press on an inline button of message ``message_id`` in ``chat_id`` (a callback query)."""
        self._next_update_id += 1
        query_id = f"cq{self._next_update_id}"
        self._updates.append({
            "update_id": self._next_update_id,
            "callback_query": {
                "id": query_id, "data": data, "chat_instance": str(chat_id),
                "from": {"id": from_id or chat_id, "is_bot": False, "first_name": "S", "username": username},
                "message": {"message_id": message_id, "date": int(time.time()),
                            "chat": {"id": chat_id, "type": "private"}, "text": "..."},
            },
        })
        asyncio.get_event_loop().create_task(self._notify())
        return query_id

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_sent(self, n: int, within: float = 10.0) -> list[Call]:
        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.sent) >= n)
        await asyncio.wait_for(_wait(), within)
        return self.sent

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [c.fields.get("text") or c.fields.get("caption") or "" for c in self.sent
                if chat_id is None or int(c.fields["chat_id"]) == chat_id]

    # ---- server ---------------------------------------------------------------------------------------
    async def __aenter__(self) -> FakeTelegram:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    def _reply(status: int, body: dict[str, Any]) -> web.Response:
        return web.json_response(body, status=status)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if self.down:
            request.transport.close()  # type: ignore[union-attr]
            return web.Response(status=500)
        if request.match_info["token"] != self.token:
            return self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        fields: dict[str, Any] = {}
        photo = None
        if request.content_type == "multipart/form-data":
            form = await request.post()
            for key, value in form.items():
                if key == "photo":
                    photo = value.file.read()  # type: ignore[union-attr]
                else:
                    fields[key] = value
        else:
            fields = await request.json() if request.can_read_body else {}
        call = Call(method, fields, time.monotonic(), photo)
        self.calls.append(call)
        faults = self._faults.get(method)
        if faults:
            fault = faults[0]
            fault.times -= 1
            if fault.times <= 0:
                faults.pop(0)
            body: dict[str, Any] = {"ok": False, "error_code": fault.status,
                                    "description": fault.description or f"scripted {fault.status}"}
            if fault.retry_after is not None:
                body["parameters"] = {"retry_after": fault.retry_after}
                body["description"] = f"Too Many Requests: retry after {fault.retry_after:g}"
            return self._reply(fault.status, body)
        if method == "getMe":
            return self._reply(200, {"ok": True, "result": {"id": 1, "is_bot": True, "username": self.bot_username}})
        if method == "getUpdates":
            return await self._get_updates(fields)
        if method in ("sendMessage", "sendPhoto"):
            if self.accept_only is not None and len(self.sent) >= self.accept_only:
                return self._reply(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
            return await self._send(method, call)
        if method == "answerCallbackQuery":
            if not fields.get("callback_query_id"):
                return self._reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: query id"})
            await self._notify()
            return self._reply(200, {"ok": True, "result": True})
        if method == "editMessageText":
            if not fields.get("chat_id") or not fields.get("message_id") or not fields.get("text"):
                return self._reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: fields"})
            await self._notify()
            return self._reply(200, {"ok": True, "result": {"message_id": int(fields["message_id"]),
                                                            "chat": {"id": int(fields["chat_id"])},
                                                            "text": fields["text"]}})
        return self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    async def _get_updates(self, fields: dict[str, Any]) -> web.Response:
        offset = int(fields.get("offset") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        wait = min(float(fields.get("timeout") or 0), self.max_poll)

        def ready() -> bool:
            return any(u["update_id"] >= offset for u in self._updates)

        if not ready() and wait > 0:
            try:
                async with self._changed:
                    await asyncio.wait_for(self._changed.wait_for(ready), wait)
            except TimeoutError:
                pass
        return self._reply(200, {"ok": True, "result": [u for u in self._updates if u["update_id"] >= offset]})

    async def _send(self, method: str, call: Call) -> web.Response:
        f = call.fields
        if "chat_id" not in f:
            return self._reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat_id is empty"})
        markup = f.get("reply_markup")
        if markup is not None:
            rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
            if not isinstance(rows, list) or not all(
                isinstance(r, list) and all(isinstance(b, dict) and b.get("text")
                                            and 1 <= len(str(b.get("callback_data", "")).encode()) <= 64 for b in r)
                for r in rows
            ):
                return self._reply(400, {"ok": False, "error_code": 400,
                                         "description": "Bad Request: can't parse reply keyboard markup JSON object"})
        key = "text" if method == "sendMessage" else "caption"
        text = str(f.get(key) or "")
        if method == "sendPhoto" and not call.photo:
            return self._reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: no photo"})
        if method == "sendMessage" and not text:
            return self._reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"})
        plain = text
        if f.get("parse_mode") == "HTML":
            error, plain = parse_html(text)
            if error:
                return self._reply(400, {"ok": False, "error_code": 400,
                                         "description": f"Bad Request: can't parse entities: {error}"})
        limit = 4096 if method == "sendMessage" else 1024
        if len(plain) > limit:
            what = "message is too long" if method == "sendMessage" else "message caption is too long"
            return self._reply(400, {"ok": False, "error_code": 400, "description": f"Bad Request: {what}"})
        self._next_message_id += 1
        self.sent.append(call)
        await self._notify()
        chat = {"id": int(f["chat_id"]), "type": "private"}
        return self._reply(200, {"ok": True, "result": {"message_id": self._next_message_id, "chat": chat,
                                                        "date": int(time.time()), "text": plain}})


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
