"""Helpers shared by the benchmarks: machine facts, table printing, CPU and RSS measurement, and a
throwaway PostgreSQL server (a small copy of the one in ``tests/conftest.py``, which is a pytest fixture
and cannot be imported outside pytest)."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import platform
import resource
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

# ----------------------------------------------------------------------------------- facts and output


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_facts() -> str:
    cores = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    return (f"machine: {usable} usable cores ({cores} online), {cpu_model()}; Python {platform.python_version()} "
            f"({platform.python_implementation()}), {platform.system()} {platform.release()}")


def header(title: str, out: TextIO = sys.stdout) -> None:
    print(f"== {title}", file=out)
    print("command: python -m " + " ".join([_module_name(), *map(shlex.quote, sys.argv[1:])]), file=out)
    print(machine_facts(), file=out)
    print(f"started: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}", file=out, flush=True)


def _module_name() -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        return spec.name
    return Path(sys.argv[0]).stem


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}".replace(",", " ")
    if isinstance(value, float):
        if value != value:  # NaN
            return "—"
        if abs(value) >= 1000:
            return f"{value:,.0f}".replace(",", " ")
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 0.01 and value else f"{value:.2f}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO = sys.stdout) -> str:
    """Print a plain-text table (first column left-aligned, the others right-aligned); returns it."""
    cells = [[str(h) for h in headers]] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        parts = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    text = "\n".join(lines)
    print(text, file=out, flush=True)
    return text


# ----------------------------------------------------------------------------------- resources


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def peak_rss_mb() -> float:
    """Peak resident set size of this process (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Meter:
    """Wall time and CPU seconds of a stretch of code: ``with Meter() as m: ...; m.wall, m.cpu``."""

    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> Meter:
        self._w = time.perf_counter()
        self._c = cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._w
        self.cpu += cpu_seconds() - self._c


# ----------------------------------------------------------------------------------- PostgreSQL


def _find_pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_pg(cmd: list[str], *, as_postgres: bool, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    if as_postgres:
        cmd = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(cmd)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


class PostgresUnavailable(RuntimeError):
    pass


@contextlib.contextmanager
def throwaway_postgres(dbname: str = "bench", *, durable: bool = True) -> Iterator[str]:
    """A throwaway PostgreSQL server on loopback (initdb + pg_ctl; fsync off, as in the tests) with one
    database; yields its ``postgresql+asyncpg://`` URL. ``durable``: PostgreSQL's default fsync and
    synchronous_commit (what a deployment runs); otherwise both off, as in the tests. ``BIDDER_TEST_POSTGRES_URL`` (a server you own)
    is used instead when set. Raises :class:`PostgresUnavailable` when no server can be had."""
    external = os.environ.get("BIDDER_TEST_POSTGRES_URL")
    if external:
        from sqlalchemy.engine import make_url

        u = make_url(external)
        yield str(u.set(drivername="postgresql+asyncpg"))
        return
    initdb, pg_ctl = _find_pg_bin("initdb"), _find_pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
    as_postgres = os.geteuid() == 0
    pg_user = None
    if as_postgres:
        import pwd

        try:
            pg_user = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable("running as root but there is no `postgres` system user") from None
    base = Path(tempfile.mkdtemp(prefix="bidder-bench-pg-"))
    data = base / "data"
    if pg_user is not None:
        os.chown(base, pg_user.pw_uid, pg_user.pw_gid)
    base.chmod(0o700)
    try:
        r = _run_pg([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
                     "--no-sync"], as_postgres=as_postgres)
        if r.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {r.stderr.strip()[-500:]}")
        port, started, last = 0, False, ""
        for _ in range(3):
            port = _free_port()
            opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
            if not durable:
                opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            r = _run_pg([pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "-t", "60", "start"],
                        as_postgres=as_postgres)
            if r.returncode == 0:
                started = True
                break
            last = r.stdout + r.stderr
        if not started:
            raise PostgresUnavailable(f"pg_ctl start failed: {last.strip()[-500:]}")
        try:
            import psycopg

            with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                                 autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'CREATE DATABASE "{dbname}"')
            yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{dbname}"
        finally:
            _run_pg([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], as_postgres=as_postgres)
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def serve_for(app, clock, hours: float) -> None:
    """Run ``app.serve`` for ``hours`` of the simulated clock, then stop it and close the app."""
    stop = asyncio.Event()
    served = asyncio.create_task(app.serve(stop=stop))
    end = clock.monotonic() + hours * 3600
    try:
        await asyncio.wait({served}, timeout=max(0.0, end - clock.monotonic()) / clock.speed)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(served, 60)
        await app.close()
