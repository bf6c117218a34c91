"""``bidder sweep``: one parameter swept over a range in the embedded simulator's market (a named scenario,
or one calibrated from the account's recorded statistics); spend, orders, ДРР and position side by side."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import timedelta
from pathlib import Path

from bidder.cli.core import FAILURE, OK, USAGE, Context, arg, command
from bidder.cli.replay import database_url
from bidder.durations import parse_duration


def _every(value: str) -> timedelta:
    try:
        d = parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not timedelta(minutes=1) <= d <= timedelta(hours=1):
        raise argparse.ArgumentTypeError("--every must be between 1m and 1h")
    return d


def _days(value: str) -> float:
    try:
        d = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {value!r}") from None
    if not 0 < d <= 90:
        raise argparse.ArgumentTypeError("--days must be more than 0 and at most 90")
    return d


@command(
    "sweep",
    "run the simulator's market once per value of one parameter and compare spend, orders, ДРР, position",
    arg("--param", required=True, metavar="KIND.FIELD=LO:HI:STEP",
        help="e.g. spend_cap.max_drr_pct=10:30:5 (a strategy's or guardrails' field)"),
    arg("--scenario", metavar="NAME", help="a simulator scenario (default: demo)"),
    arg("--calibrate-from-db", action="store_true",
        help="a market fitted to the account's recorded statistics and WB recommendations"),
    arg("--config", metavar="FILE.yaml", help="the strategies and guardrails to run (tokens not needed); "
        "default: the swept strategy alone on every campaign"),
    arg("--account", help="the account (calibration; default: the config's or the database's only account)"),
    arg("--db", metavar="FILE", help="a SQLite file (e.g. the demo's); default: BIDDER_DATABASE_URL"),
    arg("--days", type=_days, default=14.0, help="simulated days per value (default 14)"),
    arg("--every", type=_every, default=timedelta(minutes=10), help="decide every (default 10m)"),
    arg("--seed", type=int, default=1, help="the market's seed (default 1)"),
    arg("--json", action="store_true", help="print one JSON object"),
    arg("--chart", metavar="FILE.png", help="draw spend, orders, ДРР and position against the value"),
)
def cmd_sweep(args: argparse.Namespace, ctx: Context) -> int:
    from bidder.errors import ConfigError
    from bidder.replay.run import load_candidate
    from bidder.sim.scenarios import SCENARIOS, build_scenario
    from bidder.sweep.params import SweepError, parse_param
    from bidder.sweep.report import build_report, draw, format_report
    from bidder.sweep.run import SweepSetup, run_sweep

    if args.scenario and args.calibrate_from_db:
        ctx.error("--scenario and --calibrate-from-db exclude each other")
        return USAGE
    try:
        param = parse_param(args.param)
    except SweepError as exc:
        ctx.error(str(exc))
        return USAGE
    config = None
    if args.config:
        try:
            config = load_candidate(Path(args.config))
        except ConfigError as exc:
            ctx.error(str(exc))
            return USAGE
    account_name = args.account
    if config is not None:
        names = [a.name for a in config.accounts]
        account_name = account_name or (names[0] if len(names) == 1 else None)
        if account_name not in names:
            ctx.error(f"--account: one of {', '.join(names)}" if account_name is None
                      else f"account {account_name!r} is not in {args.config}")
            return USAGE
    source: dict = {}
    if args.calibrate_from_db:
        from bidder.sweep.calibrate import load_calibration

        url = database_url(args, ctx)
        if account_name is None:
            accounts = asyncio.run(_accounts(url))
            if len(accounts) != 1:
                ctx.error("--account: one of " + ", ".join(accounts) if accounts
                          else "no account with stored statistics in the database: nothing to calibrate from")
                return USAGE if accounts else FAILURE
            account_name = accounts[0]
        try:
            cal = asyncio.run(load_calibration(url, account_name, days=14))
        except LookupError as exc:
            ctx.error(str(exc))
            return FAILURE
        spec = cal.spec
        source = {"market": f"calibrated from account {account_name!r}", "calibration": cal.as_json()}
    else:
        name = args.scenario or "demo"
        try:
            spec = build_scenario(name, args.seed)
        except (ValueError, OSError) as exc:
            msg = str(exc) if "unknown scenario" in str(exc) else f"scenario {name!r}: {exc}"
            ctx.error(f"--scenario: {msg}" + ("" if "known:" in msg else f" (known: {', '.join(SCENARIOS)})"))
            return USAGE
        source = {"market": f"scenario {name!r}", "scenario": name}
    account = next((a for a in config.accounts if a.name == account_name), None) if config is not None else None
    setup = SweepSetup(spec, param, account, args.days, args.every, args.seed)
    try:
        results = run_sweep(setup)
    except SweepError as exc:
        ctx.error(str(exc))
        return USAGE
    report = build_report(results, param=param.path, source=source, days=args.days,
                          every_minutes=args.every.total_seconds() / 60, seed=args.seed)
    if args.chart:
        Path(args.chart).write_bytes(draw(report))
    ctx.print(json.dumps(report, ensure_ascii=False, indent=1) if args.json else format_report(report))
    return OK


async def _accounts(url: str) -> list[str]:
    from bidder.store import observations as obs
    from bidder.store.db import Database

    async with Database(url) as db, db.read_sessions() as s:
        return await obs.recorded_accounts(s)
