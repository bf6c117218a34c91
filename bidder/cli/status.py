"""``bidder status``: today's spend per account against daily budgets, and ДРР / ROI of the complete
days against the caps and floors of the config (the same view as Telegram ``/status``); then the cluster
view (which worker holds which account, epochs, heartbeats: :mod:`bidder.notify.cluster_text`)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any

from bidder.cli.core import OK, USAGE, Context, arg, command, settings_for


@command(
    "status",
    "today's spend per campaign against budgets and caps",
    arg("--config", help="default: BIDDER_CONFIG"),
    arg("--account", help="only this account"),
    arg("--locale", choices=["ru", "en"], default="ru", help="language of the text (default ru)"),
)
def cmd_status(args: argparse.Namespace, ctx: Context) -> int:
    from bidder.config import load_config

    settings = settings_for(args, ctx)
    config = load_config(settings.config)
    accounts = [a for a in config.accounts if not args.account or a.name == args.account]
    if args.account and not accounts:
        ctx.error(f"unknown account {args.account!r}")
        return USAGE
    for text in asyncio.run(_status(settings.database_url, accounts, args.locale)):
        ctx.print(text)
        ctx.print()
    ctx.print(asyncio.run(_cluster(settings.database_url, args.locale)))  # which worker serves which account
    return OK


async def _cluster(url: str, locale: str) -> str:
    from bidder.notify.cluster_text import render_cluster
    from bidder.store.cluster import cluster_view
    from bidder.store.db import Database

    async with Database(url) as database, database.read_sessions() as s:
        return render_cluster(await cluster_view(s), locale)


async def _status(url: str, accounts: list[Any], locale: str) -> list[str]:
    from bidder.notify.spend_view import account_spend, render_spend
    from bidder.store import repo
    from bidder.store.db import Database

    out = []
    async with Database(url) as database, database.read_sessions() as s:
        for a in accounts:
            info = await repo.get_account(s, a.name)
            view = await account_spend(s, a, datetime.now(UTC), currency=info.currency if info else "RUB")
            out.append(render_spend(view, locale))
    return out
