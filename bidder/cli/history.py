"""``bidder history``: the audit trail as a plain-text table."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bidder.cli.core import OK, Context, arg, command, money
from bidder.durations import parse_duration
from bidder.reasons import LOCALES, localised


def _since(value: str) -> datetime:
    """``2d`` / ``6h`` (that long ago), or an ISO date / datetime (naive = UTC)."""
    try:
        return datetime.now(UTC) - parse_duration(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a duration like 2d or an ISO date/time, got {value!r}"
        ) from None
    if isinstance(parsed, datetime) and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return n


@command(
    "history",
    "show recent decisions from the audit trail",
    arg("--account", help="only this account"),
    arg("--campaign", type=_positive, metavar="ID", help="only this campaign (advert id)"),
    arg("--since", type=_since, help="a duration like 2d or an ISO date/time"),
    arg("--limit", type=_positive, default=50, help="at most this many rows (default 50)"),
    arg("--lang", choices=LOCALES, default="ru", help="language of the reasons (default ru)"),
)
def cmd_history(args: argparse.Namespace, ctx: Context) -> int:
    rows = asyncio.run(_history(ctx.settings.database_url, args))
    ctx.print(format_history(rows, locale=getattr(args, "lang", "ru")))
    return OK


async def _history(url: str, args: argparse.Namespace) -> list[Any]:
    from bidder.store import repo
    from bidder.store.db import Database

    async with Database(url) as database, database.read_sessions() as session:
        return list(
            await repo.history(
                session, account=args.account, advert_id=args.campaign, since=args.since, limit=args.limit
            )
        )


HISTORY_COLUMNS = (
    "time",
    "account",
    "campaign",
    "nm",
    "placement",
    "strategy",
    "action",
    "bid",
    "status",
    "reason",
)


def format_history(rows: Sequence[Any], locale: str = "ru") -> str:
    """A plain-text table of audit rows; bids shown in base units (before→after), reasons in ``locale``
    (a reason with no code, from before the codes or a strategy not converted yet, as stored)."""
    if not rows:
        return "no decisions found"
    table = [HISTORY_COLUMNS]
    for r in rows:
        at = _field(r, "at", "created_at", "time")
        if isinstance(at, datetime):
            at = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        before, after = _field(r, "bid_before"), _field(r, "bid_after")
        bid = f"{money(before)}→{money(after)}" if before is not None or after is not None else ""
        status = _field(r, "apply_status", "status")
        if _field(r, "dry_run"):
            status = f"{status} (dry-run)" if status else "dry-run"
        table.append(
            tuple(
                _cell(v)
                for v in (
                    at,
                    _field(r, "account"),
                    _field(r, "advert_id", "campaign"),
                    _field(r, "nm_id", "nm"),
                    _field(r, "placement"),
                    _field(r, "strategy"),
                    _field(r, "action"),
                    bid,
                    status,
                    localised(_field(r, "reason"), locale),
                )
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(HISTORY_COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
    return "\n".join(lines)


def _field(row: Any, *names: str) -> Any:
    for name in names:
        if isinstance(row, dict) and name in row:
            return row[name]
        if hasattr(row, name):
            return getattr(row, name)
    return None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "value") and not isinstance(value, Decimal | int | str):
        value = value.value  # enums
    if isinstance(value, date | datetime):
        return value.isoformat()
    return " ".join(str(value).split())
