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


# ------------------------------------------------------------------------------------------ the daemon


def _logging(ctx: Context, config: Any | None = None, level: str = "INFO") -> None:
    import logging
    import os

    from bidder.logging import setup_logging

    setup_logging(
        os.environ.get("BIDDER_LOG_LEVEL", level),
        json_lines=os.environ.get("BIDDER_LOG_FORMAT", "") == "json",
        secrets=config.secrets() if config is not None else (),
        stream=ctx.err,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _settings_for(args: argparse.Namespace, ctx: Context) -> Settings:
    settings = ctx.settings
    changes: dict[str, Any] = {}
    if getattr(args, "config", None):
        changes["config"] = Path(args.config)
    if getattr(args, "dry_run", False):
        changes["dry_run"] = True
    return settings.model_copy(update=changes) if changes else settings


@command(
    "run",
    "run the daemon: poll, evaluate, apply, audit (until SIGTERM)",
    arg("--config", help="default: BIDDER_CONFIG"),
    arg("--once", action="store_true", help="one full cycle for every account, then exit (0 when all succeeded)"),
    arg("--dry-run", action="store_true", help="decide and record, send no write request (BIDDER_DRY_RUN)"),
)
def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    from bidder.config import load_config

    settings = _settings_for(args, ctx)
    config = load_config(settings.config)
    for warning in config.warnings:
        ctx.error(str(warning))
    _logging(ctx, config)
    return asyncio.run(_run(settings, config, once=args.once, ctx=ctx))


async def _run(settings: Settings, config: Any, *, once: bool, ctx: Context) -> int:
    from bidder.app import build_app

    app = await build_app(settings, config=config)
    try:
        if app.disabled and not app.cycles:
            for name, why in app.disabled.items():
                ctx.error(f"account {name}: {why}")
            return FAILURE
        if once:
            results = await app.run_once()
            failed = [r for r in results if not r.ok]
            for r in results:
                summary = r.summary()
                state = "ok" if r.ok else f"FAILED: {r.error}"
                ctx.print(f"{r.account}: {state}; {summary['campaigns']} campaigns, "
                          f"{summary['decisions']} changes decided, {summary['applied']} applied"
                          f"{' (dry-run)' if summary['dry_run'] else ''}, {summary['failed']} failed")
            for name, why in app.disabled.items():
                ctx.error(f"account {name}: not served: {why}")
            return FAILURE if failed or app.disabled else OK
        await app.serve()
        return OK
    finally:
        await app.close()


@command(
    "demo",
    "run the daemon against the built-in simulated WB market (no token, no network)",
    arg("--minutes", type=float, default=2.0, help="real minutes to run (default 2)"),
    arg("--speed", type=float, default=240.0, help="simulated seconds per real second (default 240)"),
    arg("--db", default="demo.db", help="SQLite file for the demo (recreated; default demo.db)"),
)
def cmd_demo(args: argparse.Namespace, ctx: Context) -> int:
    import logging

    from bidder.demo import run_demo

    _logging(ctx, level="WARNING")
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # skipped runs are expected when sped up
    return asyncio.run(run_demo(args.minutes, speed=args.speed, db_path=Path(args.db), out=ctx.out))


@command("check", "health check for Docker: GET /healthz of the running daemon (BIDDER_HTTP_PORT)")
def cmd_check(args: argparse.Namespace, ctx: Context) -> int:
    from bidder.http import check_health

    return check_health(ctx.settings.http_port, ctx.settings.http_host, out=ctx.out)


def _operator(args: argparse.Namespace, ctx: Context, *, pause: bool) -> int:
    from bidder.config import load_config

    settings = _settings_for(args, ctx)
    config = load_config(settings.config)
    _logging(ctx, config, level="WARNING")
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
        state = ("set" if pause else "lifted") if result.changed else ("already set" if pause else "not set")
        ctx.print(f"operator pause {state} for {', '.join(result.accounts) or 'no account'}")
        if args.no_apply:
            ctx.print("recorded; the running daemon applies it at its next cycle")
            return OK
        cycles = {n: c for n, c in app.cycles.items() if n in names}
        results = await app.runner().run_once() if cycles == app.cycles else \
            [await c.run_cycle() for c in cycles.values()]
        for r in results:
            ctx.print(f"{r.account}: {'applied' if r.ok else 'FAILED: ' + str(r.error)}; "
                      f"{r.applied} write(s) sent{' (dry-run)' if r.dry_run else ''}")
        return OK if all(r.ok for r in results) else FAILURE
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
    settings = _settings_for(args, ctx)
    config = load_config(settings.config)
    _logging(ctx, config, level="WARNING")
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
        decisions = await cycle.rollback(when, campaign)
        if not decisions:
            ctx.print("nothing to restore: the bids already match")
        for d in decisions:
            ctx.print(f"{d.advert_id} nm {d.nm_id} {d.placement}: {_money(d.bid_before)} → {_money(d.bid_after)}"
                      f"{' (' + d.guard + ')' if d.guard else ''}")
        return OK
    finally:
        await app.close()
