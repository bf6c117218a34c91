"""SQLite stays one worker process: a second worker on the same file is refused with a clear message."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bidder.engine.leasing import SecondWorkerRefused, single_worker_lock, uses_leases


def test_a_second_worker_on_the_same_sqlite_file_is_refused(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'bidder.db'}"
    unlock = single_worker_lock(url)
    assert unlock is not None
    # another process (a real second worker) is refused while this one runs
    probe = ("import sys; from bidder.engine.leasing import single_worker_lock, SecondWorkerRefused\n"
             "try:\n    single_worker_lock(sys.argv[1])\nexcept SecondWorkerRefused as e:\n"
             "    print(e); sys.exit(3)\n")
    r = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, r.stderr
    assert "SQLite serves one worker process" in r.stdout and "PostgreSQL" in r.stdout
    with pytest.raises(SecondWorkerRefused):
        single_worker_lock(url)
    unlock()
    again = single_worker_lock(url)  # free once the first worker is gone
    assert again is not None
    again()


def test_leases_only_on_postgresql():
    assert uses_leases("postgresql+asyncpg://u@h/db")
    assert not uses_leases("sqlite+aiosqlite:///x.db")
    assert single_worker_lock("postgresql+asyncpg://u@h/db") is None
    assert single_worker_lock("sqlite+aiosqlite:///:memory:") is None
