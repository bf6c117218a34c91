"""Reliability suite: crashes, faults, bad input, secrets (issue 9, item 2).

The default (CI) part runs inside ``make test`` and stays short; ``--long`` runs the long trials
(tests marked ``slow``, and more SIGKILL trials); the option is registered in ``tests/conftest.py``. Everything is real: the simulator over HTTP on
loopback, SQLite files, child processes and signals.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(reason="long reliability trial: run with --long")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def long_run(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--long"))
