"""Storage: async SQLAlchemy 2.0 on SQLite (default) or PostgreSQL.

``make_engine(url)`` and ``session_factory(engine)`` build the plumbing; :mod:`bidder.store.repo` holds
the repository functions (they take an ``AsyncSession`` and never commit); :mod:`bidder.store.migrate`
runs Alembic (``await upgrade(url)``, ``await check_schema(url)``).
"""

from bidder.store.db import make_engine, session_factory

__all__ = ["make_engine", "session_factory"]
