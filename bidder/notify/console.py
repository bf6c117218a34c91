"""A sink that prints what would be sent when Telegram is not configured (``bidder demo`` uses it).

It has the same two methods the outbox uses on :class:`~bidder.notify.telegram.TelegramClient`
(``send_message`` and ``send_photo``), so the sender does not care which one it has.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Protocol, TextIO

from bidder.notify.render import plain, scrub

CONSOLE_CHAT = 0  # the one "chat" of the console


class Sink(Protocol):
    async def send_message(self, chat_id: int | str, text: str, *, parse_mode: str | None = "HTML",
                           reply_to: int | None = None) -> Any: ...

    async def send_photo(self, chat_id: int | str, png: bytes, *, caption: str | None = None,
                         parse_mode: str | None = "HTML", filename: str = "report.png") -> Any: ...


class ConsoleSink:
    """Prints messages as plain text with a small frame; photos are saved under ``photo_dir`` (when
    given) and announced by path and size."""

    def __init__(self, stream: TextIO | None = None, *, photo_dir: Path | None = None,
                 prefix: str = "telegram") -> None:
        self._stream = stream
        self._photo_dir = photo_dir
        self._prefix = prefix
        self.messages: list[str] = []  # what was "sent", as plain text (the demo summary and tests read it)
        self._n = 0

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stdout

    def _print(self, text: str) -> None:
        self.messages.append(text)
        self._n += 1
        header = f"── {self._prefix} #{self._n} " + "─" * 30
        print(f"{header}\n{text}\n", file=self.stream, flush=True)

    async def send_message(self, chat_id: int | str, text: str, *, parse_mode: str | None = "HTML",
                           reply_to: int | None = None) -> dict[str, Any]:
        body = plain(scrub(text)) if parse_mode == "HTML" else scrub(text)
        self._print(body)
        return {"message_id": self._n}

    async def send_photo(self, chat_id: int | str, png: bytes, *, caption: str | None = None,
                         parse_mode: str | None = "HTML", filename: str = "report.png") -> dict[str, Any]:
        where = f"{len(png)} bytes"
        if self._photo_dir is not None:
            self._photo_dir.mkdir(parents=True, exist_ok=True)
            path = self._photo_dir / f"{self._n + 1:04d}-{Path(filename).name}"
            path.write_bytes(png)
            where = f"{path} ({len(png)} bytes)"
        cap = plain(scrub(caption)) if caption and parse_mode == "HTML" else scrub(caption or "")
        self._print(f"[PNG {where}]\n{cap}".rstrip())
        return {"message_id": self._n}

    async def close(self) -> None:
        return None
