"""Commands for setting up: check the config, inspect the tokens, create or migrate the database."""

from __future__ import annotations

import argparse
import asyncio
import inspect
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bidder.cli.core import FAILURE, OK, USAGE, Context, arg, command, config_path, plural, yes_no
from bidder.errors import TokenError


@command(
    "check-config", "validate the YAML strategy config", arg("path", nargs="?", help="default: BIDDER_CONFIG")
)
def cmd_check_config(args: argparse.Namespace, ctx: Context) -> int:
    from bidder.config import check_config

    path = Path(args.path) if args.path else ctx.settings.config
    result = check_config(path)
    for issue in result.warnings:
        ctx.print(str(issue))
    for issue in result.errors:
        ctx.print(str(issue))
    if result.errors:
        ctx.print(
            f"{path}: {plural(len(result.errors), 'error')}, {plural(len(result.warnings), 'warning')}"
        )
        return USAGE
    cfg = result.config
    assert cfg is not None
    campaigns = sum(len(a.campaigns) for a in cfg.accounts)
    ctx.print(
        f"{path}: OK ({plural(len(cfg.accounts), 'account')}, {plural(campaigns, 'listed campaign')}, "
        f"{plural(len(result.warnings), 'warning')})"
    )
    return OK


@command(
    "token-info",
    "show what each account's WB tokens allow (never the tokens)",
    arg("--config", help="default: BIDDER_CONFIG"),
)
def cmd_token_info(args: argparse.Namespace, ctx: Context) -> int:
    from bidder.config import load_config
    from bidder.wb.tokens import EXPIRY_WARNING_DAYS, decode_token

    cfg = load_config(config_path(args, ctx))
    now = datetime.now(UTC)
    errors = 0
    for account in cfg.accounts:
        ctx.print(f"account {account.name}")
        infos = {}
        for key, secret in (("read_token", account.read_token), ("write_token", account.write_token)):
            if secret is None:
                ctx.print(f"  {key}: not set (the account runs read-only: decisions are recorded, none sent)")
                continue
            try:
                info = decode_token(secret.get_secret_value())
            except TokenError as exc:
                ctx.print(f"  {key}: error: {exc}")
                errors += 1
                continue
            infos[key] = info
            left = info.days_left(now)
            expiry = (
                "never" if info.expires_at is None else f"{info.expires_at:%Y-%m-%d} ({left:.0f} days left)"
            )
            ctx.print(
                f"  {key}: type {info.type}; categories: {', '.join(info.categories) or 'none'}; "
                f"read-only: {yes_no(info.read_only)}; sandbox: {yes_no(info.sandbox)}; "
                f"seller: {info.seller_id or 'unknown'}; expires: {expiry}"
            )
            for problem in info.problems_for(write=key == "write_token", now=now):
                ctx.print(f"  {key}: error: {problem}")
                errors += 1
            if left is not None and 0 < left < EXPIRY_WARNING_DAYS:
                ctx.print(
                    f"  {key}: warning: expires in {left:.0f} days; create a new token in the seller cabinet"
                )
        if len(infos) == 2:
            r, w = infos["read_token"], infos["write_token"]
            if r.seller_id != w.seller_id:
                ctx.print("  error: the read and write tokens belong to different sellers")
                errors += 1
            if r.sandbox != w.sandbox:
                ctx.print("  error: one token is for the sandbox and the other is not")
                errors += 1
    if errors:
        ctx.print(plural(errors, "token error"))
        return USAGE
    return OK


@command("db upgrade", "create or migrate the database schema (BIDDER_DATABASE_URL)")
def cmd_db_upgrade(args: argparse.Namespace, ctx: Context) -> int:
    try:
        from bidder.store.migrate import upgrade
    except ModuleNotFoundError as exc:
        ctx.error(f"error: the database layer is not available ({exc.name})")
        return FAILURE

    url = ctx.settings.database_url
    result = upgrade(url)
    if inspect.isawaitable(result):
        asyncio.run(_await(result))
    ctx.print("database schema is up to date")
    return OK


async def _await(awaitable: Any) -> Any:
    return await awaitable
