"""The ``bidder`` command line. Commands only parse, call and print; the logic lives elsewhere.

Exit codes: 0 ok, 2 config or usage errors, 1 other failures.

Adding a command is one decorated function::

    @command("pause-all", "pause every managed campaign", arg("--account"))
    def cmd_pause_all(args: argparse.Namespace, ctx: Context) -> int:
        ...
        return OK

Names with a space (``"db upgrade"``) become nested subcommands (``bidder db upgrade``).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from bidder.durations import parse_duration
from bidder.errors import BidderError, ConfigError, ConfigIssue, TokenError
from bidder.settings import Settings

OK, FAILURE, USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace, "Context"], int]


@dataclass
class Context:
    """What every command gets besides its arguments: settings (read lazily) and the output streams."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """The BIDDER_* settings; invalid ones raise ConfigError naming the variable, never its value."""
        if self._settings is None:
            try:
                self._settings = Settings()
            except ValidationError as exc:
                raise ConfigError(
                    [
                        ConfigIssue(
                            "environment", None, "BIDDER_" + "_".join(map(str, e["loc"])).upper(), e["msg"]
                        )
                        for e in exc.errors()
                    ]
                ) from None
        return self._settings

    def print(self, *parts: object) -> None:
        print(*parts, file=self.out)

    def error(self, *parts: object) -> None:
        print(*parts, file=self.err)


@dataclass(frozen=True)
class Command:
    name: tuple[str, ...]
    help: str
    args: tuple[tuple[tuple[str, ...], dict[str, Any]], ...]
    run: Handler


COMMANDS: list[Command] = []


def arg(*names: str, **kwargs: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """An argparse argument spec for :func:`command`."""
    return names, kwargs


def command(
    name: str, help: str, *args: tuple[tuple[str, ...], dict[str, Any]]
) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS.append(Command(tuple(name.split()), help, tuple(args), fn))
        return fn

    return register


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bidder",
        description="Self-hosted bid manager for Wildberries advertising.",
        epilog="Settings come from BIDDER_* environment variables and ./.env (see README).",
    )
    root = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[tuple[str, ...], argparse._SubParsersAction] = {(): root}
    for cmd in COMMANDS:
        for depth in range(1, len(cmd.name)):
            prefix = cmd.name[:depth]
            if prefix not in groups:
                children = sorted({c.name[depth] for c in COMMANDS if c.name[:depth] == prefix})
                group = groups[prefix[:-1]].add_parser(
                    prefix[-1], help=f"{' | '.join(children)} (see bidder {' '.join(prefix)} --help)"
                )
                groups[prefix] = group.add_subparsers(
                    dest="_".join(("sub", *prefix)), metavar="COMMAND", required=True
                )
        sub = groups[cmd.name[:-1]].add_parser(cmd.name[-1], help=cmd.help, description=cmd.help)
        for names, kwargs in cmd.args:
            sub.add_argument(*names, **kwargs)
        sub.set_defaults(_run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None, *, ctx: Context | None = None) -> int:
    ctx = ctx or Context()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else USAGE
    try:
        return args._run(args, ctx)
    except ConfigError as exc:
        for issue in exc.issues:
            ctx.error(str(issue))
        return USAGE
    except BidderError as exc:
        ctx.error(f"error: {_clean(str(exc))}")
        return FAILURE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a failure outside the taxonomy: one line, no traceback, nothing secret
        ctx.error(f"error: {type(exc).__name__}: {_clean(str(exc))}")
        return FAILURE


_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def _clean(text: str) -> str:
    """Redact tokens, JWT-shaped strings and database URL passwords; keep the first line."""
    from bidder.wb.redact import redact

    first = (text.strip().splitlines() or [""])[0]
    return redact(_URL_PASSWORD.sub(r"\1***@", first))


# ------------------------------------------------------------------------------------------ commands


def _config_path(args: argparse.Namespace, ctx: Context) -> Path:
    return Path(args.config) if getattr(args, "config", None) else ctx.settings.config


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
            f"{path}: {_plural(len(result.errors), 'error')}, {_plural(len(result.warnings), 'warning')}"
        )
        return USAGE
    cfg = result.config
    assert cfg is not None
    campaigns = sum(len(a.campaigns) for a in cfg.accounts)
    ctx.print(
        f"{path}: OK ({_plural(len(cfg.accounts), 'account')}, {_plural(campaigns, 'listed campaign')}, "
        f"{_plural(len(result.warnings), 'warning')})"
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

    cfg = load_config(_config_path(args, ctx))
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
                f"read-only: {_yes(info.read_only)}; sandbox: {_yes(info.sandbox)}; "
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
        ctx.print(_plural(errors, "token error"))
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
)
def cmd_history(args: argparse.Namespace, ctx: Context) -> int:
    rows = asyncio.run(_history(ctx.settings.database_url, args))
    ctx.print(format_history(rows))
    return OK


async def _history(url: str, args: argparse.Namespace) -> list[Any]:
    from bidder.store import repo
    from bidder.store.db import make_engine, session_factory

    engine = make_engine(url)
    try:
        async with session_factory(engine)() as session:
            return list(
                await repo.history(
                    session, account=args.account, advert_id=args.campaign, since=args.since, limit=args.limit
                )
            )
    finally:
        await engine.dispose()


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


def format_history(rows: Sequence[Any]) -> str:
    """A plain-text table of audit rows; bids shown in base units (before→after)."""
    if not rows:
        return "no decisions found"
    table = [HISTORY_COLUMNS]
    for r in rows:
        at = _field(r, "at", "created_at", "time")
        if isinstance(at, datetime):
            at = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        before, after = _field(r, "bid_before"), _field(r, "bid_after")
        bid = f"{_money(before)}→{_money(after)}" if before is not None or after is not None else ""
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
                    _field(r, "reason"),
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


def _money(minor: int | None) -> str:
    if minor is None:
        return "-"
    from bidder.domain import minor_to_base

    value = minor_to_base(int(minor))
    return format(value.normalize(), "f") if value == value.to_integral() else str(value)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "value") and not isinstance(value, Decimal | int | str):
        value = value.value  # enums
    if isinstance(value, date | datetime):
        return value.isoformat()
    return " ".join(str(value).split())


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
