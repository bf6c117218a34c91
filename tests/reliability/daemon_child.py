"""The daemon in a child process, on a simulated clock shared with the test process.

    python tests/reliability/daemon_child.py --config C --db URL --sim URL --start ISO --speed K --t0 T

It is ``bidder run`` (the same :func:`bidder.app.build_app` and :meth:`App.serve`: APScheduler, signal
handlers for SIGTERM/SIGINT/SIGHUP, the Telegram outbox when ``BIDDER_TELEGRAM_*`` are set, redacted
logging to stderr) with one difference: the clock is a :class:`bidder.clock.ScaledClock` anchored to
the simulator's in the parent (``ScaledClock.anchored``), so a sped-up market and the daemon agree on
the time and a trial takes seconds. Tokens come from the environment through the YAML (``${VAR}``).

Markers on stdout (one line each, flushed) let the parent wait for events instead of sleeping:
``READY`` after the app is built (accounts registered, write tokens loaded), ``CYCLE <account> ok|failed
<applied>`` after each cycle, ``RELOAD ok|rejected`` after each SIGHUP, ``STOPPED`` after a clean shutdown.

``--zygote``: import everything once, then fork one daemon per request read from stdin (a JSON line
``{"argv": [...], "env": {...}, "stdout": path, "stderr": path}``), answering ``PID <pid>`` and, when
a daemon ends, ``EXIT <pid> <returncode>`` (negative: killed by that signal). The forked daemon is a
real process (SIGKILL, SIGTERM and SIGHUP reach it as usual); only the 2-3 s of imports are saved,
which is what makes hundreds of kill-and-restart trials affordable.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from datetime import datetime
from pathlib import Path


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--sim", required=True)
    p.add_argument("--start", required=True, help="the simulated clock's start (ISO, aware)")
    p.add_argument("--speed", type=float, required=True)
    p.add_argument("--t0", type=float, required=True, help="the parent clock's time.monotonic() anchor")
    p.add_argument("--dry-run", action="store_true")
    return p.parse_args(argv)


async def _main(args: argparse.Namespace) -> int:
    from bidder.app import build_app
    from bidder.clock import ScaledClock
    from bidder.config import load_config
    from bidder.logging import setup_logging
    from bidder.settings import Settings

    clock = ScaledClock.anchored(datetime.fromisoformat(args.start), args.speed, args.t0)
    settings = Settings(config=Path(args.config), database_url=args.db, wb_advert_url=args.sim,
                        dry_run=args.dry_run, http_port=0)
    config = load_config(settings.config)
    secrets = list(config.secrets())
    if settings.telegram_bot_token is not None:
        secrets.append(settings.telegram_bot_token.get_secret_value())
    setup_logging(os.environ.get("CHILD_LOG","INFO"), secrets=secrets, stream=sys.stderr)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # skipped runs are expected when sped up

    app = await build_app(settings, config=config, clock=clock)
    try:
        for cycle in app.cycles.values():
            _announce_cycles(cycle)
        reload = app.reload

        async def reload_and_announce() -> bool:
            ok = await reload()
            print(f"RELOAD {'ok' if ok else 'rejected'}", flush=True)
            return ok

        app.reload = reload_and_announce
        print("READY", flush=True)
        await app.serve()
    finally:
        await app.close()
    print("STOPPED", flush=True)
    return 0


def _announce_cycles(cycle) -> None:
    """Print a marker after each cycle of this account (the cycle itself is untouched)."""
    run = cycle.run_cycle

    async def run_and_announce():
        result = await run()
        print(f"CYCLE {result.account} {'ok' if result.ok else 'failed'} {result.applied}", flush=True)
        return result

    cycle.run_cycle = run_and_announce


def _zygote() -> None:
    import json
    import os
    import select
    import signal

    import apscheduler.schedulers.asyncio
    import tzlocal

    import bidder.app
    import bidder.config
    import bidder.engine.runner
    import bidder.http
    import bidder.logging
    import bidder.notify.chart
    import bidder.notify.commands
    import bidder.notify.digest
    import bidder.notify.outbox
    import bidder.notify.telegram  # noqa: F401

    tzlocal.get_localzone()  # APScheduler asks for it at start-up (cached)
    del apscheduler

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            print(f"EXIT {pid} {os.waitstatus_to_exitcode(status)}", flush=True)

    # one thread, no work in signal handlers: SIGCHLD only wakes the select() below
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    print("ZYGOTE", flush=True)
    stdin = sys.stdin.fileno()
    pending = b""
    while True:
        ready, _, _ = select.select([stdin, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
            reap()
        if stdin not in ready:
            continue
        chunk = os.read(stdin, 65536)
        if not chunk:
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            _fork(json.loads(line))


def _fork(req: dict) -> None:
    import os
    import signal

    pid = os.fork()
    if pid == 0:  # the daemon
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        code = 1
        try:
            os.environ.clear()
            os.environ.update(req["env"])
            out = os.open(req["stdout"], os.O_WRONLY)
            err = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(out, 1)
            os.dup2(err, 2)
            os.close(out)
            os.close(err)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            code = asyncio.run(_main(_parse(req["argv"])))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    print(f"PID {pid}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--zygote"]:
        _zygote()
    else:
        sys.exit(asyncio.run(_main(_parse(sys.argv[1:]))))
