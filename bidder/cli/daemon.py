"""Running the daemon: ``run`` (until SIGTERM, or ``--once``), ``demo`` (against the simulator) and
``check`` (the Docker health check of a running daemon)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from bidder.cli.core import FAILURE, OK, Context, arg, command, configure_logging, settings_for
from bidder.settings import Settings


@command(
    "run",
    "run the daemon: poll, evaluate, apply, audit (until SIGTERM)",
    arg("--config", help="default: BIDDER_CONFIG"),
    arg("--once", action="store_true", help="one full cycle for every account, then exit (0 when all succeeded)"),
    arg("--dry-run", action="store_true", help="decide and record, send no write request (BIDDER_DRY_RUN)"),
)
def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    from bidder.config import load_config

    settings = settings_for(args, ctx)
    config = load_config(settings.config)
    for warning in config.warnings:
        ctx.error(str(warning))
    configure_logging(ctx, config)
    return asyncio.run(_run(settings, config, once=args.once, ctx=ctx))


async def _run(settings: Settings, config: Any, *, once: bool, ctx: Context) -> int:
    from bidder.app import build_app

    app = await build_app(settings, config=config)
    try:
        if app.disabled and not app.cycles:
            for name, why in app.disabled.items():
                ctx.error(f"account {name}: {why}")
            return FAILURE
        if once:
            results = await app.run_once()
            failed = [r for r in results if not r.ok]
            for r in results:
                summary = r.summary()
                state = "ok" if r.ok else f"FAILED: {r.error}"
                ctx.print(f"{r.account}: {state}; {summary['campaigns']} campaigns, "
                          f"{summary['decisions']} changes decided, {summary['applied']} applied"
                          f"{' (dry-run)' if summary['dry_run'] else ''}, {summary['failed']} failed")
            for name, why in app.disabled.items():
                ctx.error(f"account {name}: not served: {why}")
            return FAILURE if failed or app.disabled else OK
        await app.serve()
        return OK
    finally:
        await app.close()


@command(
    "demo",
    "run the daemon against the built-in simulated WB market (no token, no network)",
    arg("--minutes", type=float, default=2.0, help="real minutes to run (default 2)"),
    arg("--speed", type=float, default=240.0, help="simulated seconds per real second (default 240)"),
    arg("--db", default="demo.db", help="SQLite file for the demo (recreated; default demo.db)"),
)
def cmd_demo(args: argparse.Namespace, ctx: Context) -> int:
    import logging

    from bidder.demo import run_demo

    configure_logging(ctx, level="WARNING")
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # skipped runs are expected when sped up
    return asyncio.run(run_demo(args.minutes, speed=args.speed, db_path=Path(args.db), out=ctx.out))


@command("check", "health check for Docker: GET /healthz of the running daemon (BIDDER_HTTP_PORT)")
def cmd_check(args: argparse.Namespace, ctx: Context) -> int:
    from bidder.http import check_health

    return check_health(ctx.settings.http_port, ctx.settings.http_host, out=ctx.out)
