"""Process-wide logging: one stderr handler, text or JSON lines, with secrets redacted.

Redaction happens twice: :class:`bidder.redact.RedactingFilter` cleans each record (message,
arguments, exception text) before any handler sees it, and :class:`RedactingFormatter` cleans the final
line (so fields passed through ``extra=`` cannot leak either). Every configured token is registered with
:func:`bidder.redact.register_secret`; anything JWT-shaped is removed even when not registered.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO

from bidder.redact import RedactingFilter, redact, register_secret

__all__ = ["JsonFormatter", "RedactingFormatter", "add_secrets", "setup_logging"]

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
    | {"message", "asctime", "taskName"}
)
_HANDLER_MARK = "_bidder_handler"


class RedactingFormatter(logging.Formatter):
    """Formats with the wrapped formatter, then redacts the whole line."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC ISO), level, logger, msg, exc (if any) and the ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                plain = isinstance(value, int | float | bool | type(None))
                out[key] = value if plain else redact(value)  # before JSON escaping can hide a secret
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exc"] = redact(record.exc_text)
        return json.dumps(out, ensure_ascii=False)


def add_secrets(secrets: Iterable[str]) -> None:
    """Register more strings (e.g. tokens after a config reload) for redaction."""
    for s in secrets:
        register_secret(s)


def setup_logging(
    level: str | int = "INFO",
    *,
    json_lines: bool = False,
    secrets: Iterable[str] = (),
    stream: IO[str] | None = None,
) -> logging.Handler:
    """(Re)configure the root logger with one redacting handler; idempotent (replaces its own handler)."""
    add_secrets(secrets)
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _HANDLER_MARK, False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    inner = JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(RedactingFormatter(inner))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # Chatty libraries stay at WARNING unless debugging.
    if root.level > logging.DEBUG:
        for name in ("aiohttp.access", "sqlalchemy.engine", "apscheduler", "asyncio"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return handler
