"""Shared fixtures.

Databases
---------
* ``sqlite_url``: a fresh SQLite file under ``tmp_path`` (``sqlite+aiosqlite:///...``).
* ``postgres_server`` (session): a throwaway PostgreSQL server, started once per test session with
  initdb/pg_ctl (as the ``postgres`` system user when running as root) and stopped at the end.
  ``BIDDER_TEST_POSTGRES_URL`` (a ``postgresql://user@host:port/db`` URL of a server you own) is used
  instead when set. Without server binaries the PostgreSQL tests are skipped with the reason.
* ``postgres_url``: a fresh database on that server for one test (``postgresql+asyncpg://...``),
  dropped afterwards.
* ``store_url``: parametrized over ``sqlite`` and ``postgres`` (the latter marked ``postgres``), so one
  contract suite runs on both backends: ``-m "not postgres"`` runs SQLite only.
* ``db_sessions``: ``store_url`` migrated to head (Alembic), as an ``async_sessionmaker``;
  ``sqlite_sessions``: the same on SQLite only.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    # here, not in tests/reliability/conftest.py, so that `pytest --long` works from the repository root
    parser.addoption("--long", action="store_true", default=False,
                     help="run the long reliability trials (tests/reliability: 200+ SIGKILL trials, long storms)")


# --------------------------------------------------------------------------------------------- databases


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str = ""
    admin_db: str = "postgres"

    def url(self, dbname: str, driver: str = "asyncpg") -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"postgresql+{driver}://{auth}@{self.host}:{self.port}/{dbname}"

    def admin_connect(self):  # -> psycopg.Connection
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=self.admin_db,
            autocommit=True,
            connect_timeout=10,
        )


def _find_pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_pg_version_key, reverse=True)
    return candidates[0] if candidates else None


def _pg_version_key(path: str) -> tuple[int, ...]:
    parts = Path(path).parts
    try:
        return tuple(int(p) for p in parts[parts.index("postgresql") + 1].split("."))
    except (ValueError, IndexError):
        return (0,)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_pg(cmd: list[str], *, as_postgres: bool, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    if as_postgres:
        cmd = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(cmd)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    external = os.environ.get("BIDDER_TEST_POSTGRES_URL")
    if external:
        from sqlalchemy.engine import make_url

        u = make_url(external)
        yield PostgresServer(
            host=u.host or "127.0.0.1",
            port=u.port or 5432,
            user=u.username or "postgres",
            password=u.password or "",
            admin_db=u.database or "postgres",
        )
        return

    initdb, pg_ctl = _find_pg_bin("initdb"), _find_pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found; `make test` installs them")
    as_postgres = os.geteuid() == 0
    if as_postgres:
        try:
            import pwd

            pg_user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root but there is no `postgres` system user to run the server as")

    base = Path(tempfile.mkdtemp(prefix="bidder-pg-"))
    data = base / "data"
    if as_postgres:
        os.chown(base, pg_user.pw_uid, pg_user.pw_gid)
    base.chmod(0o700)

    result = _run_pg(
        [initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"],
        as_postgres=as_postgres,
    )
    if result.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    port = 0
    started = False
    last_error = ""
    for _attempt in range(3):  # the free port may be taken between probing and binding
        port = _free_port()
        opts = (
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        result = _run_pg(
            [pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "-t", "60", "start"],
            as_postgres=as_postgres,
        )
        if result.returncode == 0:
            started = True
            break
        last_error = result.stdout + result.stderr + _tail(base / "log")
    if not started:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed:\n{last_error}")

    try:
        yield PostgresServer(host="127.0.0.1", port=port, user="postgres")
    finally:
        _run_pg([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], as_postgres=as_postgres)
        shutil.rmtree(base, ignore_errors=True)


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    name = f"bidder_test_{uuid.uuid4().hex[:12]}"
    with postgres_server.admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.url(name)
    finally:
        with postgres_server.admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bidder.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """An empty database URL, once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


async def _migrated_sessions(url: str) -> AsyncIterator[object]:
    from bidder.store.db import make_engine, session_factory
    from bidder.store.migrate import upgrade

    await upgrade(url)
    engine = make_engine(url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def db_sessions(store_url: str) -> AsyncIterator[object]:
    """``store_url`` migrated to head, as an ``async_sessionmaker`` (the engine is disposed afterwards)."""
    async for sessions in _migrated_sessions(store_url):
        yield sessions


@pytest.fixture
async def sqlite_sessions(sqlite_url: str) -> AsyncIterator[object]:
    """A migrated SQLite database only, as an ``async_sessionmaker``: for tests that need a store but
    are not about the store (engine, notify, CLI)."""
    async for sessions in _migrated_sessions(sqlite_url):
        yield sessions


# ------------------------------------------------------------------------- two workers on PostgreSQL

CONTRACT_ACCOUNT = "shop-a"  # the account the store contract tests write (tests/integration/test_store_repo.py)


@pytest.fixture
def two_workers_url(postgres_url: str) -> Iterator[str]:
    """``postgres_url`` shared by two worker processes for the length of a test (issue 20). This test
    process is a worker holding the lease on ``shop-a`` (its fence is set for the test, so every store
    write of shop-a's data, and every write by row id, checks that lease in its own transaction), and a
    second OS process (``tests/integration/store_peer.py``), a worker with its own lease, liveness lock and
    account, writes campaigns, statistics, intents and outcomes, alerts, operator state and cycles in a
    loop the whole time. At the end the peer must have done at least one round with no error and no
    refused write."""
    import asyncio
    import json
    import sys

    from bidder.store import leases
    from bidder.store.db import Database
    from bidder.store.migrate import upgrade

    async def claim() -> int:
        await upgrade(postgres_url)
        async with Database(postgres_url) as database, database.sessions.begin() as s:
            await leases.heartbeat_worker(s, "contract", host="test", pid=os.getpid(), http_port=None, ttl=600)
            await leases.ensure_leases(s, {CONTRACT_ACCOUNT: 1})
            (claimed,) = await leases.claim(s, "contract", [CONTRACT_ACCOUNT], ttl=600)
            return claimed.epoch

    epoch = asyncio.run(claim())
    peer = subprocess.Popen([sys.executable, str(Path(__file__).parent / "integration" / "store_peer.py"),
                             postgres_url, "peer-shop"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=str(Path(__file__).parents[1]))
    try:
        ready = peer.stdout.readline().strip() if peer.stdout else ""
        assert ready == "READY", f"the peer worker did not start: {ready!r}"
        token = leases.current_fence.set(leases.Fence(CONTRACT_ACCOUNT, "contract", epoch))
        try:
            yield postgres_url
        finally:
            leases.current_fence.reset(token)
        assert peer.stdin is not None and peer.stdout is not None
        peer.stdin.close()
        report = json.loads(peer.stdout.readline())
        assert peer.wait(30) == 0
        assert report["errors"] == [] and report["refused"] == 0 and report["rounds"] > 0, report
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait(10)
