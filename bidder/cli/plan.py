"""``bidder plan``: what a config would decide on the next cycle, against the running one, writing nothing."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bidder.cli.core import OK, USAGE, Context, arg, command
from bidder.cli.replay import database_url


def _at(value: str) -> datetime | str:
    if value == "last":
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO date/time or 'last', got {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@command(
    "plan",
    "what a config would do on the next cycle compared with the running one (writes nothing)",
    arg("--config", metavar="NEW.yaml", help="the new config (default: the running one, BIDDER_CONFIG)"),
    arg("--running", metavar="FILE.yaml", help="the running config (default: BIDDER_CONFIG)"),
    arg("--account", help="only this account"),
    arg("--db", metavar="FILE", help="a SQLite file; default: BIDDER_DATABASE_URL"),
    arg("--json", action="store_true", help="print one JSON object"),
    arg("--at", type=_at, metavar="ISO", help="plan as of this time (default: now; a demo database's own time: last)"),
)
def cmd_plan(args: argparse.Namespace, ctx: Context) -> int:
    from bidder.errors import ConfigError
    from bidder.replay.run import load_candidate

    running_path = Path(args.running) if args.running else ctx.settings.config
    try:
        running = load_candidate(running_path)
        new = load_candidate(Path(args.config)) if args.config else running
    except ConfigError as exc:
        ctx.error(str(exc))
        return USAGE
    names = [a.name for a in new.accounts if args.account in (None, a.name)]
    if not names:
        ctx.error(f"account {args.account!r} is not in the config")
        return USAGE
    plans = asyncio.run(_plans(database_url(args, ctx), running, new, names, args.at))
    if args.json:
        ctx.print(json.dumps({"plans": [p.as_json() for p in plans]}, ensure_ascii=False, indent=1))
        return OK
    for p in plans:
        ctx.print(p.summary())
        for d in p.differences[:50]:
            target = "campaign" if d["nm_id"] is None else f"nm {d['nm_id']} {d['placement']}"
            ctx.print(f"  {d['advert_id']} {target}: running {_dec(d['running'])}, new {_dec(d['new'])}")
        for aid, why in sorted(p.skipped.items()):
            ctx.print(f"  {aid}: not planned ({why})")
    return OK


async def _plans(url: str, running: Any, new: Any, names: list[str], at: datetime | str | None = None) -> list[Any]:
    from bidder.replay.plan import Plan, plan_account
    from bidder.replay.run import span
    from bidder.store.db import Database

    now = at if isinstance(at, datetime) else datetime.now(UTC)
    if at == "last":  # the newest recorded evaluation of the first account (a demo database's clock)
        last = (await span(url, names[0]))[1]
        now = last if last is not None else now
    stop_file = Path(new.stop_file) if new.stop_file else None
    stopped = stop_file is not None and await asyncio.to_thread(stop_file.exists)
    out = []
    async with Database(url) as db, db.read_sessions() as s:
        for name in names:
            old = next((a for a in running.accounts if a.name == name), None)
            account = next(a for a in new.accounts if a.name == name)
            if old is None:
                out.append(Plan(name, now, skipped={0: "a new account: nothing runs for it yet"}))
                continue
            out.append(await plan_account(s, old, account, now, stopped=stopped, stop_file=stop_file))
    return out


def _dec(d: dict[str, Any] | None) -> str:
    from bidder.domain import minor_to_base

    if d is None:
        return "nothing"
    if d["action"] == "set_bid":
        before = "—" if d["bid_before"] is None else minor_to_base(d["bid_before"])
        return f"set_bid {before} → {minor_to_base(d['bid_after'])} ({d['strategy']})"
    return f"{d['action']} ({d['strategy']})"
