"""Storage: async SQLAlchemy 2.0 on SQLite (default) or PostgreSQL. Every SQL statement of the program
lives in this package.

``make_engine(url)`` and ``session_factory(engine)`` build the plumbing (:mod:`bidder.store.db`);
:mod:`bidder.store.models` declares the tables; :mod:`bidder.store.migrate` runs Alembic
(``await upgrade(url)``, ``await check_schema(url)``). The store functions, one module per aggregate,
take an ``AsyncSession`` and return domain types (``bidder.domain``) or the small frozen records their
module defines:

* :mod:`~bidder.store.accounts`, :mod:`~bidder.store.campaigns`, :mod:`~bidder.store.stats`,
  :mod:`~bidder.store.audit`, :mod:`~bidder.store.alerts`, :mod:`~bidder.store.operator_state`,
  :mod:`~bidder.store.cycles`; shared helpers in :mod:`~bidder.store.common`.
* :mod:`bidder.store.repo` re-exports all of them under their old names (kept for one release).

Nothing commits: every write lands in the caller's transaction, so a decision and the alert it raises
are committed together (``async with sessions.begin() as s: ...``). ``account`` is always the account
*name* from the config; writes raise :class:`~bidder.store.common.UnknownAccount` for a name that
``accounts.ensure_account`` has not created, reads return nothing.
"""

from bidder.store.db import make_engine, session_factory

__all__ = ["make_engine", "session_factory"]
