"""Reliability suite: crashes, faults, bad input, secrets (issue 9, item 2).

The default (CI) part runs inside ``make test`` and stays short; ``--long`` runs the long trials
(tests marked ``slow``, and more SIGKILL trials); the option is registered in ``tests/conftest.py``. Everything is real: the simulator over HTTP on
loopback, SQLite files, child processes and signals.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mine = [item for item in items if HERE in Path(str(item.path)).parents]
    if config.getoption("--long"):
        for item in mine:  # 200+ SIGKILL trials take longer than the suite's default 300 s timeout
            item.add_marker(pytest.mark.timeout(3600))
        return
    skip = pytest.mark.skip(reason="long reliability trial: run with --long")
    for item in mine:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def long_run(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--long"))
