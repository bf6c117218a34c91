"""How a ``bidder`` command is declared and run: :func:`command`, :class:`Context`, :func:`main`, and the
helpers the command groups share (settings from flags, logging, plain-text formatting).

Exit codes: 0 ok, 2 config or usage errors, 1 other failures.

Adding a command is one decorated function in the module of its group::

    @command("pause-all", "pause every managed campaign", arg("--account"))
    def cmd_pause_all(args: argparse.Namespace, ctx: Context) -> int:
        ...
        return OK

Names with a space (``"db upgrade"``) become nested subcommands (``bidder db upgrade``).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from bidder.errors import BidderError, ConfigError, ConfigIssue
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
    from bidder.redact import redact

    first = (text.strip().splitlines() or [""])[0]
    return redact(_URL_PASSWORD.sub(r"\1***@", first))


# ------------------------------------------------------------------------------------------ shared helpers


def config_path(args: argparse.Namespace, ctx: Context) -> Path:
    return Path(args.config) if getattr(args, "config", None) else ctx.settings.config


def settings_for(args: argparse.Namespace, ctx: Context) -> Settings:
    settings = ctx.settings
    changes: dict[str, Any] = {}
    if getattr(args, "config", None):
        changes["config"] = Path(args.config)
    if getattr(args, "dry_run", False):
        changes["dry_run"] = True
    return settings.model_copy(update=changes) if changes else settings


def configure_logging(ctx: Context, config: Any | None = None, level: str = "INFO") -> None:
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


def money(minor: int | None) -> str:
    if minor is None:
        return "-"
    from bidder.domain import minor_to_base

    value = minor_to_base(int(minor))
    return format(value.normalize(), "f") if value == value.to_integral() else str(value)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"
