"""Keep secrets out of text: logs, exception messages, raw samples and chat messages.

One registry of secrets (:func:`register_secret`: the WB tokens a client holds, the Telegram bot token)
serves both scrubbers:

* :func:`redact` (logs, exception texts, raw samples) removes every registered secret, anything that
  looks like a JWT and ``Authorization`` values, writing ``[REDACTED]``. :class:`RedactingFilter` does
  the same to log records (message, arguments and exception text); :func:`install` puts it on the root
  logger's handlers (and any handlers given).
* :func:`scrub` (Telegram messages) removes every registered secret, JWT-shaped strings, Telegram
  bot tokens and bearer values, writing ``[redacted]``.
"""

from __future__ import annotations

import logging
import re
import threading

REPLACEMENT = "[REDACTED]"
MESSAGE_REPLACEMENT = "[redacted]"
# Three base64url segments, the first starting with '{"' encoded (eyJ): a JWT / JWS.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:bearer\s+)?)([^\s'\",}]+)")

# chat messages (scrub): the same kinds of things, plus bot tokens
_MSG_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_MSG_BOT_TOKEN = re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}\b")
_MSG_BEARER = re.compile(r"(?i)(bearer\s+|authorization[:=]\s*)[^\s,;]+")

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret string so :func:`redact` removes it wherever it appears."""
    if value and len(value) >= 8:
        with _lock:
            _secrets.add(value)


def redact(text: object, *, extra: tuple[str, ...] = ()) -> str:
    s = text if isinstance(text, str) else str(text)
    with _lock:
        secrets = sorted(_secrets | {e for e in extra if e}, key=len, reverse=True)
    for secret in secrets:
        if secret in s:
            s = s.replace(secret, REPLACEMENT)
    s = _JWT.sub(REPLACEMENT, s)
    s = _BEARER.sub(lambda m: m.group(1) + REPLACEMENT, s)
    return s


def scrub(text: str) -> str:
    """A chat message without secrets (registered ones, JWTs, bot tokens, bearer values)."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MESSAGE_REPLACEMENT)
    text = _MSG_JWT.sub(MESSAGE_REPLACEMENT, text)
    text = _MSG_BOT_TOKEN.sub(MESSAGE_REPLACEMENT, text)
    return _MSG_BEARER.sub(lambda m: m.group(1) + MESSAGE_REPLACEMENT, text)


def truncate(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


def sample(body: bytes | str, limit: int = 500) -> str:
    """A redacted, truncated raw sample of a response body for SchemaDrift and logs."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return truncate(redact(text), limit)


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites records so no secret or JWT-looking string reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw template
            message = str(record.msg)
        cleaned = redact(message)
        record.msg = cleaned
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(exc_text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(*handlers: logging.Handler, logger: logging.Logger | None = None) -> RedactingFilter:
    """Attach one RedactingFilter to the given handlers (default: the root logger's handlers) and to
    the logger itself, so records are cleaned before any handler formats them."""
    flt = RedactingFilter()
    target = logger or logging.getLogger()
    target.addFilter(flt)
    for h in handlers or tuple(target.handlers):
        h.addFilter(flt)
    return flt
