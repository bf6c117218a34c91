"""What an account's evaluation reads, kept in memory between cycles.

A cycle evaluates every managed campaign every minute. Reading each campaign's daily statistics,
search-cluster statistics and a week of audit trail back from the database every time cost more CPU
than the evaluation itself (an account of 200 campaigns has thousands of such rows), so they live here:

* cluster statistics: loaded from the database once, then updated with exactly the rows this account's
  polls save (nothing else writes them); periods that fall out of the window are dropped;
* daily statistics are the bulk (a week of days x items, ~100 MB for 10,000 campaigns), so only a version
  per campaign is kept (bumped by a save whose numbers differ from the previous one): the engine skips campaigns whose inputs did not change and
  reads the daily statistics of the others from the database in one query per cycle (:meth:`load_stats`);
* the audit trail: loaded once for the history window, then *tailed*: each cycle reads only the rows
  with a higher id than the last one seen (rows this process wrote, and rows another process wrote, such
  as the CLI's ``rollback``), and re-reads the write intents that were still pending when last read.
  Holds (most of the rows: one per item an hour or when the reason changes) are kept only for campaigns
  whose strategies read them (``Strategy.reads_holds``); the others see the same history without them.

The database stays the source of truth: a restarted process rebuilds all of it from there.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bidder.domain import Action, ClusterStat, DailyStat, DecisionRecord
from bidder.engine.freshness import fingerprint
from bidder.store import repo


class EvaluationInputs:
    def __init__(self, account: str, keeps_holds: Callable[[int], bool] = lambda advert_id: True) -> None:
        self.account = account
        self.keeps_holds = keeps_holds
        self.loaded = False
        self._stats_version: dict[int, int] = {}
        self._stats_print: dict[int, int] = {}  # advert -> fingerprint of the rows last saved
        self._clusters: dict[int, dict[tuple, ClusterStat]] = {}
        self._clusters_view: dict[int, tuple[ClusterStat, ...]] = {}
        self._clusters_since: date | None = None
        self._history: dict[int, dict[int, DecisionRecord]] = {}  # advert -> row id -> record
        self._history_view: dict[int, tuple[DecisionRecord, ...]] = {}
        self._history_order: list[tuple[datetime, int, int]] = []  # heap of (at, id, advert): oldest first
        self._pending: set[int] = set()
        self._last_id = 0

    # ------------------------------------------------------------------ loading and syncing

    async def refresh(self, session: AsyncSession, *, clusters_since: date, history_since: datetime) -> None:
        """Bring everything up to date for a cycle: the first call loads, later ones tail and prune. A window
        that grew loads again from the database."""
        if self.loaded and self._clusters_since is not None and clusters_since < self._clusters_since:
            self.__init__(self.account, self.keeps_holds)  # type: ignore[misc]
        if not self.loaded:
            self.add_clusters(await repo.load_cluster_stats(session, self.account, None, since=clusters_since))
            self._add_rows(await repo.decision_rows(session, self.account, since=history_since))
            self.loaded = True
        else:
            self._add_rows(await repo.decision_rows(session, self.account, since=history_since,
                                                    after_id=self._last_id, ids=self._pending))
        self._prune(clusters_since, history_since)

    def add_stats(self, stats: Iterable[DailyStat]) -> None:
        """Rows this account just saved: a campaign's version moves only when its numbers changed (the
        same numbers fetched again are no new evidence, see :mod:`bidder.engine.freshness`)."""
        self.add_prints(prints(stats))

    def add_prints(self, saved: dict[int, int]) -> None:
        """:meth:`add_stats` from the fingerprints of the rows saved (advert -> :func:`prints`), for a caller
        that does not keep the rows until then (engine/stats_pump.py)."""
        for advert_id, fp in saved.items():
            if self._stats_print.get(advert_id) == fp:
                continue
            self._stats_print[advert_id] = fp
            self._stats_version[advert_id] = self._stats_version.get(advert_id, 0) + 1

    def stats_version(self, advert_id: int) -> int:
        return self._stats_version.get(advert_id, 0)

    async def load_stats(self, session: AsyncSession, advert_ids: list[int], since: date
                         ) -> dict[int, tuple[DailyStat, ...]]:
        """The daily statistics (``day >= since``) of the campaigns about to be evaluated, by campaign,
        each ordered by nm_id, day."""
        out: dict[int, list[DailyStat]] = {}
        for st in await repo.load_daily_stats(session, self.account, advert_ids, since):
            out.setdefault(st.advert_id, []).append(st)
        return {advert_id: tuple(rows) for advert_id, rows in out.items()}

    def add_clusters(self, stats: Iterable[ClusterStat]) -> None:
        for st in stats:
            if self._clusters_since is not None and st.period_to < self._clusters_since:
                continue
            key = (st.nm_id, st.norm_query, st.period_from, st.period_to)
            self._clusters.setdefault(st.advert_id, {})[key] = st
            self._clusters_view.pop(st.advert_id, None)

    def _add_rows(self, rows: list[repo.AuditRow]) -> None:
        for row in rows:
            self._last_id = max(self._last_id, row.id)
            if row.record.action == Action.HOLD and not self.keeps_holds(row.advert_id):
                continue
            rows_of = self._history.setdefault(row.advert_id, {})
            if row.id not in rows_of:
                heapq.heappush(self._history_order, (row.record.at, row.id, row.advert_id))
            rows_of[row.id] = row.record
            self._history_view.pop(row.advert_id, None)
            if row.pending:
                self._pending.add(row.id)
            else:
                self._pending.discard(row.id)

    def _prune(self, clusters_since: date, history_since: datetime) -> None:
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


def prints(stats: Iterable[DailyStat]) -> dict[int, int]:
    """The fingerprint of each campaign's rows (advert -> :func:`bidder.engine.freshness.fingerprint`)."""
    by_campaign: dict[int, list[DailyStat]] = {}
    for st in stats:
        by_campaign.setdefault(st.advert_id, []).append(st)
    return {advert_id: fingerprint(rows) for advert_id, rows in by_campaign.items()}
