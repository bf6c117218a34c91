"""The ``bidder`` command line. Commands only parse, call and print; the logic lives elsewhere.

Exit codes: 0 ok, 2 config or usage errors, 1 other failures. The console script is ``bidder.cli:main``.

Commands by group (each module registers its commands with :func:`bidder.cli.core.command`):

* ``prepare``: ``check-config``, ``token-info``, ``db upgrade``
* ``history``: ``history``
* ``status``: ``status`` (today's spend vs budgets and caps)
* ``daemon``: ``run``, ``demo``, ``check``
* ``operator``: ``pause-all``, ``resume-all``, ``rollback``
* ``doctor``: ``doctor`` (a read-only check against WB); ``report``: ``report`` (one campaign's last days)
* ``replay``: ``replay``; ``plan``: ``plan``; ``sweep``: ``sweep``

``core`` holds the command registry, :class:`Context`, :func:`main` and the helpers they share.
"""

from __future__ import annotations

# Imported for their side effect: each registers its commands, in this order (the order of --help).
# isort: off
from bidder.cli import (  # noqa: F401
    prepare, history, daemon, operator, cluster, status, doctor, report, replay, plan, sweep,
)
# isort: on
from bidder.cli.core import (
    COMMANDS,
    FAILURE,
    OK,
    USAGE,
    Command,
    Context,
    arg,
    build_parser,
    command,
    main,
)
from bidder.cli.history import HISTORY_COLUMNS, _since, format_history

__all__ = [
    "COMMANDS",
    "FAILURE",
    "HISTORY_COLUMNS",
    "OK",
    "USAGE",
    "Command",
    "Context",
    "arg",
    "build_parser",
    "command",
    "format_history",
    "main",
    "_since",
]
