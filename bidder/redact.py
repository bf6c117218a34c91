"""Keep token strings out of text: logs, exception messages, raw samples.

:func:`redact` removes every registered secret and anything that looks like a JWT. :class:`RedactingFilter`
does the same to log records (message, arguments and exception text); :func:`install` puts it on the
root logger's handlers (and any handlers given). Clients register the tokens they hold with
:func:`register_secret` so that even a token that is not JWT-shaped is caught.
"""

from __future__ import annotations

import logging
import re
import threading

REPLACEMENT = "[REDACTED]"
# Three base64url segments, the first starting with '{"' encoded (eyJ): a JWT / JWS.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:bearer\s+)?)([^\s'\",}]+)")

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
