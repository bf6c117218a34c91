"""``bidder replay``: a candidate config's strategies and guardrails over the recorded history (what it
would have decided at each past evaluation, against what was decided)."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bidder.cli.core import FAILURE, OK, USAGE, Context, arg, command
from bidder.cli.history import _positive
from bidder.durations import parse_duration


def _since(value: str) -> timedelta | datetime:
    """``7d`` (that long before the newest recorded evaluation) or an ISO date/time (naive = UTC)."""
    try:
        return parse_duration(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration like 7d or an ISO date/time, got {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def database_url(args: argparse.Namespace, ctx: Context) -> str:
    if args.db:
        return f"sqlite+aiosqlite:///{Path(args.db)}"
    return ctx.settings.database_url


@command(
    "replay",
    "replay a candidate config over the recorded history and compare with what was decided",
    arg("--config", required=True, metavar="CANDIDATE.yaml", help="the config to replay (tokens not needed)"),
    arg("--account", help="the account (default: the config's only account)"),
    arg("--campaign", type=_positive, metavar="ID", action="append", help="only this campaign (repeatable)"),
    arg("--since", type=_since, default=timedelta(days=7),
        help="a duration before the newest recorded evaluation (default 7d) or an ISO date/time"),
    arg("--db", metavar="FILE", help="a SQLite file (e.g. the demo's); default: BIDDER_DATABASE_URL"),
    arg("--json", action="store_true", help="print one JSON object"),
    arg("--chart", metavar="FILE.png", help="draw bid changes per day and time pinned, recorded vs replayed"),
    arg("--gate", action="store_true",
        help="exit 1 unless the reproducibility gate passes (for the config that ran)"),
    arg("--workers", type=int, default=None, help="worker processes (default: the CPU count, at most 4)"),
)
def cmd_replay(args: argparse.Namespace, ctx: Context) -> int:
    from bidder.errors import ConfigError
    from bidder.replay.report import build_report, format_report
    from bidder.replay.run import ReplayRequest, load_candidate, replay_account, span

    try:
        config = load_candidate(Path(args.config))
    except ConfigError as exc:
        ctx.error(str(exc))
        return USAGE
    names = [a.name for a in config.accounts]
    account = args.account or (names[0] if len(names) == 1 else None)
    if account is None or account not in names:
        ctx.error(f"--account: one of {', '.join(names)}" if account is None else
                  f"account {account!r} is not in {args.config}")
        return USAGE
    url = database_url(args, ctx)
    first, last = asyncio.run(span(url, account))
    if last is None or first is None:
        ctx.error(f"no recorded evaluation of account {account!r} in the database: nothing to replay "
                  "(evaluations are recorded by this version of the daemon from its first cycle)")
        return FAILURE
    since = last - args.since if isinstance(args.since, timedelta) else args.since
    request = ReplayRequest(Path(args.config), url, account, tuple(args.campaign) if args.campaign else None,
                            max(since, first), last)
    results = replay_account(request, workers=args.workers)
    report = build_report(results, account=account, since=request.since.isoformat(timespec="minutes"),
                          until=request.until.isoformat(timespec="minutes"), config=str(args.config))
    if args.chart:
        from bidder.replay.chart import draw

        Path(args.chart).write_bytes(draw(results, report))
    ctx.print(json.dumps(report, ensure_ascii=False, indent=1) if args.json else format_report(report))
    if args.gate and not report["gate"]["passed"]:
        return FAILURE
    return OK
