"""Every SQL statement lives in ``bidder.store``: no module of ``bidder/`` outside it, nor of
``strategies/``, imports an SQL construct (``select``, ``insert``, ``update``, ``delete``, ``text``) from
SQLAlchemy, or reaches one through an imported SQLAlchemy module (``sa.select``, ``postgresql.insert``).

import-linter cannot say this (it sees the package ``sqlalchemy``, not the names imported from it), so
this test reads the source with :mod:`ast`. Importing the session types (``AsyncSession``,
``async_sessionmaker``) stays allowed: the engine and notify hand sessions to the store functions.
``migrations/`` and the tests may use SQL; they are not scanned.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SQL_NAMES = frozenset({"select", "insert", "update", "delete", "text"})
STORE = ROOT / "bidder" / "store"


def _is_sqlalchemy(module: str | None) -> bool:
    return module is not None and (module == "sqlalchemy" or module.startswith("sqlalchemy."))


def sql_imports(source: str, filename: str = "<string>") -> list[str]:
    """``line: what`` for every SQL construct the source imports or reaches through a SQLAlchemy module."""
    tree = ast.parse(source, filename)
    found: list[str] = []
    modules: set[str] = set()  # local names bound to SQLAlchemy modules or objects
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _is_sqlalchemy(node.module):
            for alias in node.names:
                if alias.name in SQL_NAMES or alias.name == "*":
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
                else:
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_sqlalchemy(alias.name):
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in SQL_NAMES:
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in modules:
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return sorted(set(found))


def _sources() -> list[Path]:
    paths = [*(ROOT / "bidder").rglob("*.py"), *(ROOT / "strategies").rglob("*.py")]
    return sorted(p for p in paths if STORE not in p.parents)


def test_no_sql_construct_is_imported_outside_the_store() -> None:
    sources = _sources()
    assert len(sources) > 20  # the scan found the code
    offenders = {
        str(p.relative_to(ROOT)): hits for p in sources if (hits := sql_imports(p.read_text("utf-8"), str(p)))
    }
    assert offenders == {}, "SQL belongs in bidder/store (add a store function and call it)"


def test_the_store_itself_is_where_the_sql_is() -> None:
    """The scanner recognises the store's own imports (so an empty result above means something)."""
    assert sql_imports((STORE / "alerts.py").read_text("utf-8"))


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy import select",
        "from sqlalchemy import func, text as sql_text",
        "from sqlalchemy.sql.expression import delete",
        "from sqlalchemy import *",
        "import sqlalchemy as sa\nq = sa.update(t)",
        "import sqlalchemy\nq = sqlalchemy.sql.insert(t)",
        "from sqlalchemy.dialects import postgresql\nq = postgresql.insert(t)",
        "def f():\n    from sqlalchemy import select\n    return select",
    ],
)
def test_the_scanner_catches_sql(source: str) -> None:
    assert sql_imports(source)


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker",
        "from sqlalchemy.engine import make_url",
        "async def f(session):\n    await session.delete(obj)",
        "import json\nselect = json.loads",
    ],
)
def test_the_scanner_allows_sessions(source: str) -> None:
    assert sql_imports(source) == []
