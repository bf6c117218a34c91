"""Run Alembic programmatically, from any working directory.

``alembic.ini`` and ``migrations/`` live at the repository top, two levels above this package
(``bidder/store/migrate.py`` -> repo). Both functions run on the caller's event loop: Alembic works on a
sync connection obtained with ``AsyncConnection.run_sync``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from bidder.store.db import make_engine
from bidder.store.models import Base

ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = ROOT / "alembic.ini"
MIGRATIONS = ROOT / "migrations"
MIGRATION_LOCK = 20_020_001  # the PostgreSQL advisory lock key held while migrating


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config pointing at this checkout's migrations; ``url`` overrides the environment."""
    cfg = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.exists() else Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        cfg.attributes["url"] = url
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(url: str, revision: str = "head") -> None:
    """``alembic upgrade <revision>`` on ``url``, in one transaction."""
    await _run(url, command.upgrade, revision)


async def downgrade(url: str, revision: str) -> None:
    await _run(url, command.downgrade, revision)


async def _run(url: str, step, revision: str) -> None:
    cfg = alembic_config(url)
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:

            def run(sync_conn: Connection) -> None:
                if sync_conn.dialect.name == "postgresql":  # workers starting together migrate one at a time
                    sync_conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                cfg.attributes["connection"] = sync_conn
                step(cfg, revision)

            await conn.run_sync(run)
    finally:
        await engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    finally:
        await engine.dispose()


async def check_schema(url: str) -> list[Any]:
    """The autogenerate diff between the database at ``url`` and the models; empty when they agree."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn: Connection) -> list[Any]:
                ctx = MigrationContext.configure(
                    sync_conn,
                    opts={
                        "target_metadata": Base.metadata,
                        "compare_type": True,
                        "compare_server_default": True,
                        "render_as_batch": sync_conn.dialect.name == "sqlite",
                    },
                )
                return list(compare_metadata(ctx, Base.metadata))

            return await conn.run_sync(diff)
    finally:
        await engine.dispose()
