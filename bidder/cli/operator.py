"""Operator commands: the kill switch (``pause-all`` / ``resume-all``) and ``rollback`` to the bids in
force at a past time. The kill switch is recorded in the store and applied by the running daemon (one
pacing authority per token), or by this process when no daemon runs (:mod:`bidder.cli.handoff`)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any

from bidder.cli.core import FAILURE, OK, USAGE, Context, arg, command, configure_logging, money, settings_for
from bidder.cli.handoff import hand_off
from bidder.durations import parse_duration
from bidder.errors import ConfigError, ConfigIssue
from bidder.settings import Settings


def _operator(args: argparse.Namespace, ctx: Context, *, pause: bool) -> int:
    from bidder.config import load_config

    settings = settings_for(args, ctx)
    config = load_config(settings.config)
    configure_logging(ctx, config, level="WARNING")
    return asyncio.run(_operator_run(settings, config, args, ctx, pause=pause))


async def _operator_run(settings: Settings, config: Any, args: argparse.Namespace, ctx: Context, *,
                        pause: bool) -> int:
    from bidder.app import build_app

    app = await build_app(settings, config=config)
    try:
        names = [args.account] if args.account else list(app.cycles) + list(app.disabled)
        if args.account and args.account not in app.cycles and args.account not in app.disabled:
            ctx.error(f"unknown account {args.account!r}")
            return USAGE
        action = app.control.pause if pause else app.control.resume
        result = await action("all", by="cli", account=args.account)
        since = app.clock.now()  # committed: every cycle that starts from now on sees it
        state = ("set" if pause else "lifted") if result.changed else ("already set" if pause else "not set")
        ctx.print(f"operator pause {state} for {', '.join(result.accounts) or 'no account'}")
        if args.no_apply:
            ctx.print("recorded; the running daemon applies it at its next cycle")
            return OK
        names = [n for n in names if n in app.cycles]
        # one pacing authority per token: a running daemon applies it (this process sends nothing), else
        # this process does (bidder/cli/handoff.py)
        within = max(60.0, 3 * app.config.intervals.evaluate.total_seconds())
        outcomes = await hand_off(app, names, since, within=within)
        for o in outcomes:
            ctx.print(o.line() + (" (dry-run)" if app.cycles[o.account].dry_run else ""))
        return OK if all(o.ok for o in outcomes) else FAILURE
    finally:
        await app.close()


_OPERATOR_ARGS = (
    arg("--config", help="default: BIDDER_CONFIG"),
    arg("--account", help="only this account (default: all)"),
    arg("--no-apply", action="store_true", help="only record it; let the running daemon apply it"),
    arg("--dry-run", action="store_true", help="record what would be sent, send nothing"),
)


@command("pause-all", "kill switch: pause every managed campaign and hold all bids until resume-all",
         *_OPERATOR_ARGS)
def cmd_pause_all(args: argparse.Namespace, ctx: Context) -> int:
    return _operator(args, ctx, pause=True)


@command("resume-all", "lift the kill switch: resume what the operator pause stopped", *_OPERATOR_ARGS)
def cmd_resume_all(args: argparse.Namespace, ctx: Context) -> int:
    return _operator(args, ctx, pause=False)


def _when(value: str) -> datetime:
    """An ISO time (naive = UTC) or a duration back from now (``2h``, ``1d``)."""
    try:
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        return datetime.now(UTC) - parse_duration(value)
    except ValueError:
        raise ConfigError([ConfigIssue("--to", None, "", f"expected an ISO time or a duration like 2h, not {value!r}")]) from None


@command(
    "rollback",
    "restore the bids in force at a past time, through the paced and audited writer",
    arg("--account", required=True),
    arg("--campaign", type=int, help="only this campaign"),
    arg("--to", required=True, type=str, help="ISO time (UTC if no offset) or a duration back, e.g. 2h"),
    arg("--config", help="default: BIDDER_CONFIG"),
    arg("--dry-run", action="store_true", help="record what would be sent, send nothing"),
)
def cmd_rollback(args: argparse.Namespace, ctx: Context) -> int:
    from bidder.config import load_config

    when = _when(args.to)
    settings = settings_for(args, ctx)
    config = load_config(settings.config)
    configure_logging(ctx, config, level="WARNING")
    return asyncio.run(_rollback(settings, config, args.account, args.campaign, when, ctx))


async def _rollback(settings: Settings, config: Any, account: str, campaign: int | None, when: datetime,
                    ctx: Context) -> int:
    from bidder.app import build_app

    app = await build_app(settings, config=config)
    try:
        cycle = app.cycles.get(account)
        if cycle is None:
            ctx.error(f"account {account}: " + app.disabled.get(account, "not in the config"))
            return USAGE
        await cycle.start()
        await cycle.reconcile(wait=True)  # a one-shot command: settle what a crash left pending first
        decisions = await cycle.rollback(when, campaign)
        if not decisions:
            ctx.print("nothing to restore: the bids already match")
        for d in decisions:
            ctx.print(f"{d.advert_id} nm {d.nm_id} {d.placement}: {money(d.bid_before)} → {money(d.bid_after)}"
                      f"{' (' + d.guard + ')' if d.guard else ''}")
        return OK
    finally:
        await app.close()
