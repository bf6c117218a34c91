"""``bidder report --campaign ID``: one campaign's last days (views, clicks, orders, spend, revenue, ДРР).

From the store; a finished campaign whose days the daemon never read (it finished before the statistics
window) has them read from WB once, with the account's read token, paced, and stored
(:mod:`bidder.engine.finished_days`). Exit 0; 1 when WB does not know the campaign or it has no days; 2 on
a usage error (several accounts and no ``--account``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

from bidder.cli.core import FAILURE, OK, USAGE, Context, arg, command, config_path
from bidder.cli.history import _positive


@command(
    "report",
    "one campaign's last days; a finished one's are read from WB once if the daemon never read them",
    arg("--campaign", type=_positive, metavar="ID", required=True, help="the campaign (advert id)"),
    arg("--account", help="the account (required when several are configured)"),
    arg("--days", type=_positive, default=7, help="the last N days it has (default 7, at most 31)"),
    arg("--config", help="default: BIDDER_CONFIG"),
    arg("--json", action="store_true", help="one JSON object instead of the table"),
)
def cmd_report(args: argparse.Namespace, ctx: Context) -> int:
    from bidder.config import load_config

    cfg = load_config(config_path(args, ctx))
    accounts = [a for a in cfg.accounts if args.account in (None, a.name)]
    if len(accounts) != 1:
        ctx.error("report: name the account with --account" if accounts
                  else f"report: no account {args.account!r} in the config")
        return USAGE
    got = asyncio.run(_report(accounts[0], args, ctx))
    days = _by_day(got.rows)
    if args.json:
        ctx.print(json.dumps({"account": accounts[0].name, "campaign": got.advert_id, "read_now": got.read_now,
                              "known": got.known, "finished": got.finished,
                              "days": [{"day": d, **v} for d, v in days.items()]}, default=str))
    else:
        if not got.known:
            ctx.print(f"campaign {got.advert_id}: WB does not know it for account {accounts[0].name}")
        elif not days:
            ctx.print(f"campaign {got.advert_id}: no statistics" + (
                " stored yet (a live campaign's statistics are read by the daemon)" if got.finished is False else ""))
        else:
            source = "read from WB now (once; stored)" if got.read_now else "from the store"
            ctx.print(f"campaign {got.advert_id} ({accounts[0].name}), {source}:")
            ctx.print(_table(days))
    return OK if days else FAILURE


async def _report(account: Any, args: argparse.Namespace, ctx: Context):
    import aiohttp

    from bidder.clock import SystemClock
    from bidder.engine.finished_days import finished_days
    from bidder.store.db import Database
    from bidder.store.migrate import upgrade
    from bidder.wb.pacing import Pacer
    from bidder.wb.tokens import read_token
    from bidder.wb.writer import make_reader

    settings = ctx.settings
    clock = SystemClock()
    token = read_token(account.read_token, now=clock.now())
    await upgrade(settings.database_url)
    async with aiohttp.ClientSession() as http, Database(settings.database_url) as database:
        reader = make_reader(http, token, Pacer(clock), clock, base_url=settings.advert_url(token.sandbox))
        return await finished_days(reader, database.sessions, account.name, args.campaign, now=clock.now(),
                                   timezone=account.timezone, seller_id=token.seller_id, days=args.days)


def _by_day(rows: list) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"views": 0, "clicks": 0, "orders": 0,
                                                          "spend": Decimal(0), "revenue": Decimal(0)})
    for r in rows:
        d = out[r.day.isoformat()]
        d["views"] += r.views
        d["clicks"] += r.clicks
        d["orders"] += r.orders
        d["spend"] += r.spend or 0  # a missing amount adds nothing (reports show what is known)
        d["revenue"] += r.revenue or 0
    for d in out.values():
        d["drr_pct"] = round(d["spend"] / d["revenue"] * 100, 1) if d["revenue"] else None
    return dict(out)


def _table(days: dict[str, dict[str, Any]]) -> str:
    from bidder.cli.doctor import render_table

    rows = [[day, str(v["views"]), str(v["clicks"]), str(v["orders"]), f"{v['spend']:.2f}", f"{v['revenue']:.2f}",
             "—" if v["drr_pct"] is None else f"{v['drr_pct']}%"] for day, v in days.items()]
    return render_table(["day", "views", "clicks", "orders", "spend", "revenue", "ДРР"], rows)
