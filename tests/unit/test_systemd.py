"""sd_notify messages arrive on a real AF_UNIX datagram socket named by NOTIFY_SOCKET."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bidder import systemd


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2.0)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    systemd.reset()
    try:
        yield sock
    finally:
        sock.close()
        systemd.reset()


def recv(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def test_messages_reach_the_socket(notify_socket: socket.socket) -> None:
    systemd.ready()
    assert recv(notify_socket) == "READY=1"
    systemd.watchdog()
    assert recv(notify_socket) == "WATCHDOG=1"
    systemd.status("2 accounts, next cycle\nin 60s")
    assert recv(notify_socket) == "STATUS=2 accounts, next cycle in 60s"
    systemd.reloading()
    assert recv(notify_socket) == "RELOADING=1"
    systemd.ready("config reloaded")
    assert recv(notify_socket) == "READY=1\nSTATUS=config reloaded"
    systemd.stopping()
    assert recv(notify_socket) == "STOPPING=1"


def test_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"bidder-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2.0)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        n = systemd.Notifier()
        assert n.enabled
        n.ready()
        assert recv(sock) == "READY=1"


def test_no_op_without_notify_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    systemd.reset()
    n = systemd.Notifier()
    assert not n.enabled
    n.ready()
    n.watchdog()
    n.stopping()
    systemd.ready()
    systemd.stopping()
    systemd.reset()


def test_unreachable_socket_is_a_no_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens.sock"))
    n = systemd.Notifier()
    assert not n.enabled
    n.ready()  # must not raise


def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    assert systemd.watchdog_interval({}) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "60000000"}) == 30.0
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid() + 1)}) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "junk"}) is None
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert systemd.watchdog_interval() == 1.0


async def test_watchdog_loop_pings_until_cancelled(
    notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "40000")  # 40 ms -> a ping every 20 ms
    n = systemd.Notifier()
    assert n.watchdog_interval() == 0.02
    task = asyncio.create_task(n.watchdog_loop())
    loop = asyncio.get_running_loop()
    notify_socket.setblocking(False)
    try:
        got = [await asyncio.wait_for(loop.sock_recv(notify_socket, 4096), 2.0) for _ in range(3)]
    finally:
        task.cancel()
    assert got == [b"WATCHDOG=1"] * 3
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_watchdog_loop_returns_without_watchdog(notify_socket: socket.socket) -> None:
    n = systemd.Notifier()
    assert n.watchdog_interval() is None
    await asyncio.wait_for(n.watchdog_loop(), 1.0)
