"""Migrations produce exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from bidder.store.db import make_engine
from bidder.store.migrate import check_schema, current_revision, downgrade, head_revision, upgrade
from bidder.store.models import Base

ROOT = Path(__file__).resolve().parents[2]


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_head_matches_models(store_url: str) -> None:
    await upgrade(store_url)
    assert await check_schema(store_url) == []
    assert await current_revision(store_url) == head_revision()
    assert set(Base.metadata.tables) <= await _tables(store_url)


async def test_empty_database_differs_from_models(store_url: str) -> None:
    diff = await check_schema(store_url)
    added = {d[1].name for d in diff if d[0] == "add_table"}
    assert added == set(Base.metadata.tables)


async def test_upgrade_is_idempotent_and_downgrade_reverses(store_url: str) -> None:
    await upgrade(store_url)
    await upgrade(store_url)
    await downgrade(store_url, "base")
    assert await _tables(store_url) <= {"alembic_version"}
    await upgrade(store_url)
    assert await check_schema(store_url) == []


def test_alembic_cli_from_another_directory(tmp_path: Path) -> None:
    """`alembic -c <repo>/alembic.ini upgrade head` with BIDDER_DATABASE_URL, run from elsewhere."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli' / 'x.db'}"
    env = {**os.environ, "BIDDER_DATABASE_URL": url}
    alembic = Path(sys.executable).with_name("alembic")
    result = subprocess.run(
        [str(alembic), "-c", str(ROOT / "alembic.ini"), "upgrade", "head"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli" / "x.db").exists()


async def test_programmatic_upgrade_from_another_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'dir' / 'b.db'}"
    await upgrade(url)
    assert await check_schema(url) == []


def test_no_column_can_hold_a_token() -> None:
    columns = [f"{t.name}.{c.name}" for t in Base.metadata.tables.values() for c in t.columns]
    assert not [c for c in columns if "token" in c.lower() or "secret" in c.lower()]
