"""systemd service notifications (``Type=notify``), a thin wrapper over the ``sdnotify`` package.

Everything is a no-op when ``NOTIFY_SOCKET`` is unset (not started by systemd, Docker, tests), so the
runner calls these unconditionally::

    systemd.ready()                       # after config, store and first schedule are up
    asyncio.create_task(systemd.watchdog_loop())   # pings at half of WatchdogSec while the loop runs
    systemd.reloading(); ...; systemd.ready()      # around a SIGHUP reload
    systemd.stopping()                    # on SIGTERM, before draining

The watchdog is pinged from a task on the event loop, so a blocked loop stops the pings and systemd
restarts the service (``Restart=on-failure`` covers ``WatchdogSec`` timeouts).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

import sdnotify


class Notifier:
    """A connection to ``NOTIFY_SOCKET`` (or nothing). Reads ``os.environ`` once, when created."""

    def __init__(self) -> None:
        # sdnotify reads NOTIFY_SOCKET from os.environ itself and swallows send errors (debug=False).
        self.socket_path = os.environ.get("NOTIFY_SOCKET") or None
        self._notifier: sdnotify.SystemdNotifier | None = None
        if self.socket_path:
            self._notifier = sdnotify.SystemdNotifier()
            if self._notifier.socket is None:  # could not connect: behave as without systemd
                self._notifier = None
        self._watchdog = watchdog_interval()

    @property
    def enabled(self) -> bool:
        return self._notifier is not None

    def notify(self, state: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(state)

    def ready(self, status: str | None = None) -> None:
        self.notify("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))

    def reloading(self) -> None:
        self.notify("RELOADING=1")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def status(self, text: str) -> None:
        self.notify(f"STATUS={_one_line(text)}")

    def watchdog_interval(self) -> float | None:
        return self._watchdog

    async def watchdog_loop(self) -> None:
        """Ping the watchdog at half of ``WatchdogSec`` until cancelled; returns at once without one."""
        interval = self._watchdog
        if interval is None or not self.enabled:
            return
        while True:
            self.watchdog()
            await asyncio.sleep(interval)  # real time on purpose: systemd's watchdog is wall-clock


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings: half of ``WATCHDOG_USEC``, or None when there is no watchdog.

    Like ``sd_watchdog_enabled``: ignored when ``WATCHDOG_PID`` names another process.
    """
    env = os.environ if env is None else env
    raw = env.get("WATCHDOG_USEC")
    if not raw:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    try:
        usec = int(raw)
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 1_000_000 / 2


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


_default: Notifier | None = None


def _notifier() -> Notifier:
    global _default
    if _default is None:
        _default = Notifier()
    return _default


def reset() -> None:
    """Forget the process-wide notifier so the next call re-reads the environment (tests)."""
    global _default
    _default = None


def ready(status: str | None = None) -> None:
    _notifier().ready(status)


def reloading() -> None:
    _notifier().reloading()


def stopping() -> None:
    _notifier().stopping()


def watchdog() -> None:
    _notifier().watchdog()


def status(text: str) -> None:
    _notifier().status(text)


async def watchdog_loop() -> None:
    await _notifier().watchdog_loop()
