"""``bidder doctor``: a read-only check of every account against WB (logic in :mod:`bidder.wb.doctor`).

Exit codes: 0 nothing wrong, 1 problems found (a table or ``--json`` says which), 2 cannot run (no valid
config, WB unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bidder.cli.core import FAILURE, OK, USAGE, Context, arg, command, config_path


@command(
    "doctor",
    "read-only check against WB: token claims, which features answer, currency and steps, drift",
    arg("--config", help="default: BIDDER_CONFIG"),
    arg("--json", action="store_true", help="one JSON object instead of the table"),
)
def cmd_doctor(args: argparse.Namespace, ctx: Context) -> int:
    from bidder.config import load_config

    cfg = load_config(config_path(args, ctx))
    if not cfg.accounts:
        ctx.error("doctor: no account configured")
        return USAGE
    try:
        reports = asyncio.run(_doctor(cfg, ctx))
    except OSError as exc:  # WB (or the configured URL) unreachable: nothing could be checked
        ctx.error(f"doctor: cannot reach WB: {type(exc).__name__}")
        return USAGE
    from bidder.wb.doctor import as_json, exit_code, table_rows

    if args.json:
        ctx.print(as_json(reports))
    else:
        ctx.print(render_table(["account", "check", "state", "detail"], table_rows(reports)))
        code = exit_code(reports)
        ctx.print("doctor: " + ("no problem found" if code == 0 else "problems found (see PROBLEM rows)"))
    return FAILURE if exit_code(reports) else OK


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    cells = [headers, *rows]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


async def _doctor(cfg: Any, ctx: Context) -> list:
    import aiohttp

    from bidder.clock import SystemClock
    from bidder.wb.doctor import check_account
    from bidder.wb.pacing import Pacer
    from bidder.wb.tokens import decode_token

    clock = SystemClock()
    pacer = Pacer(clock)
    settings = ctx.settings
    reports = []
    async with aiohttp.ClientSession() as http:
        for account in cfg.accounts:
            try:
                sandbox = decode_token(account.read_token.get_secret_value()).sandbox
            except Exception:  # the report names the token problem
                sandbox = False

            def needs_clusters(advert_id: int, account=account) -> bool:
                if not account.is_managed(advert_id):
                    return False
                return any(getattr(s, "needs_clusters", False) for s in account.strategies_for(advert_id))

            reports.append(await check_account(
                account.name, account.read_token, http=http, base_url=settings.advert_url(sandbox),
                pacer=pacer, clock=clock, needs_clusters=needs_clusters))
    return reports
