"""What an account's evaluation reads, kept in memory between cycles.

A cycle evaluates every managed campaign every minute. Reading each campaign's daily statistics,
search-cluster statistics and a week of audit trail back from the database every time cost more CPU
than the evaluation itself (an account of 200 campaigns has thousands of such rows), so they live here:

* daily and cluster statistics: loaded from the database once, then updated with exactly the rows this
  account's polls save (nothing else writes them); days that fall out of the window are dropped;
* the audit trail: loaded once for the history window, then *tailed*: each cycle reads only the rows
  with a higher id than the last one seen (rows this process wrote, and rows another process wrote, such
  as the CLI's ``rollback``), and re-reads the write intents that were still pending when last read.

The database stays the source of truth: a restarted process rebuilds all of it from there.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bidder.domain import ClusterStat, DailyStat, DecisionRecord
from bidder.store import repo


class EvaluationInputs:
    def __init__(self, account: str) -> None:
        self.account = account
        self.loaded = False
        self._stats: dict[int, dict[tuple[int, date], DailyStat]] = {}
        self._stats_view: dict[int, tuple[DailyStat, ...]] = {}
        self._stats_since: date | None = None
        self._clusters: dict[int, dict[tuple, ClusterStat]] = {}
        self._clusters_view: dict[int, tuple[ClusterStat, ...]] = {}
        self._clusters_since: date | None = None
        self._history: dict[int, dict[int, DecisionRecord]] = {}  # advert -> row id -> record
        self._history_view: dict[int, tuple[DecisionRecord, ...]] = {}
        self._history_order: list[tuple[datetime, int, int]] = []  # heap of (at, id, advert): oldest first
        self._pending: set[int] = set()
        self._last_id = 0

    # ------------------------------------------------------------------ loading and syncing

    async def refresh(
        self, session: AsyncSession, *, stats_since: date, clusters_since: date, history_since: datetime
    ) -> None:
        """Bring everything up to date for a cycle: the first call loads, later ones tail and prune. A window
        that grew (a reloaded config with a longer ``window``) loads again from the database."""
        if self.loaded and (
            (self._stats_since is not None and stats_since < self._stats_since)
            or (self._clusters_since is not None and clusters_since < self._clusters_since)
        ):
            self.__init__(self.account)  # type: ignore[misc]
        if not self.loaded:
            self.add_stats(await repo.load_daily_stats(session, self.account, None, stats_since))
            self.add_clusters(await repo.load_cluster_stats(session, self.account, None, since=clusters_since))
            self._add_rows(await repo.decision_rows(session, self.account, since=history_since))
            self.loaded = True
        else:
            self._add_rows(await repo.decision_rows(session, self.account, since=history_since,
                                                    after_id=self._last_id, ids=self._pending))
        self._prune(stats_since, clusters_since, history_since)

    def add_stats(self, stats: Iterable[DailyStat]) -> None:
        """Rows this account just saved (an upsert: a newer row for the same item and day replaces it)."""
        for st in stats:
            if self._stats_since is not None and st.day < self._stats_since:
                continue
            self._stats.setdefault(st.advert_id, {})[(st.nm_id, st.day)] = st
            self._stats_view.pop(st.advert_id, None)

    def add_clusters(self, stats: Iterable[ClusterStat]) -> None:
        for st in stats:
            if self._clusters_since is not None and st.period_to < self._clusters_since:
                continue
            key = (st.nm_id, st.norm_query, st.period_from, st.period_to)
            self._clusters.setdefault(st.advert_id, {})[key] = st
            self._clusters_view.pop(st.advert_id, None)

    def _add_rows(self, rows: list[repo.AuditRow]) -> None:
        for row in rows:
            rows_of = self._history.setdefault(row.advert_id, {})
            if row.id not in rows_of:
                heapq.heappush(self._history_order, (row.record.at, row.id, row.advert_id))
            rows_of[row.id] = row.record
            self._history_view.pop(row.advert_id, None)
            if row.pending:
                self._pending.add(row.id)
            else:
                self._pending.discard(row.id)
            self._last_id = max(self._last_id, row.id)

    def _prune(self, stats_since: date, clusters_since: date, history_since: datetime) -> None:
        if self._stats_since != stats_since:
            self._stats_since = stats_since
            for advert_id, rows in self._stats.items():
                for key in [k for k in rows if k[1] < stats_since]:
                    del rows[key]
                    self._stats_view.pop(advert_id, None)
        if self._clusters_since != clusters_since:
            self._clusters_since = clusters_since
            for advert_id, rows in self._clusters.items():
                for key in [k for k, st in rows.items() if st.period_to < clusters_since]:
                    del rows[key]
                    self._clusters_view.pop(advert_id, None)
        order = self._history_order
        while order and order[0][0] < history_since:
            _, row_id, advert_id = heapq.heappop(order)
            self._history.get(advert_id, {}).pop(row_id, None)
            self._history_view.pop(advert_id, None)
            self._pending.discard(row_id)

    # ------------------------------------------------------------------ what a snapshot gets

    def daily_stats(self, advert_id: int) -> tuple[DailyStat, ...]:
        """Ordered by nm_id, day."""
        view = self._stats_view.get(advert_id)
        if view is None:
            rows = self._stats.get(advert_id, {})
            view = self._stats_view[advert_id] = tuple(rows[k] for k in sorted(rows))
        return view

    def cluster_stats(self, advert_id: int) -> tuple[ClusterStat, ...]:
        """Ordered by nm_id, norm_query, period_from, period_to."""
        view = self._clusters_view.get(advert_id)
        if view is None:
            rows = self._clusters.get(advert_id, {})
            view = self._clusters_view[advert_id] = tuple(rows[k] for k in sorted(rows))
        return view

    def history(self, advert_id: int) -> tuple[DecisionRecord, ...]:
        """Recent decisions of a campaign, oldest first (by time, then by id)."""
        view = self._history_view.get(advert_id)
        if view is None:
            rows = self._history.get(advert_id, {})
            view = self._history_view[advert_id] = tuple(
                rows[i] for i in sorted(rows, key=lambda i: (rows[i].at, i))
            )
        return view
