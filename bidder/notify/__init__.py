"""Telling sellers what the bidder does, and letting them steer it from Telegram.

* ``events``: :class:`Event`, its kinds and constructors, and ``enqueue(session, event)`` (the outbox
  write, in the caller's transaction). No module here runs SQL: the outbox's statements and its one
  de-duplication rule are in :mod:`bidder.store.alerts`.
* ``outbox``: :class:`OutboxSender` delivers the outbox (merge, per-chat order, retries, no duplicates
  beyond the one documented window).
* ``telegram``: the Bot API client; ``console``: :class:`ConsoleSink` when Telegram is not configured.
* ``commands``: :class:`CommandLoop` (long polling; every command goes through ``control.Control``).
* ``control``: :class:`Control`, the narrow operator facade used by the CLI and the command loop, and
  :class:`OperatorStateReader` (the engine's ``OperatorState`` port); ``alerts``: :class:`OutboxAlerts`
  (the engine's ``AlertSink``: engine happenings as outbox events).
* ``digest``: the daily digest; ``chart``: the PNG report; ``render`` / ``i18n``: texts (ru, en).

Attributes are imported lazily so that ``from bidder.notify import events`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Event": "events",
    "EventKind": "events",
    "enqueue": "events",
    "OutboxSender": "outbox",
    "enqueue_message": "outbox",
    "TelegramClient": "telegram",
    "ConsoleSink": "console",
    "CommandLoop": "commands",
    "build_digest": "digest",
    "DigestJob": "digest",
    "build_chart": "chart",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(name)
    return getattr(import_module(f"bidder.notify.{module}"), name)
