"""The position poll: where each item stands for the queries its strategies watch, freshest source first.

Called from :meth:`bidder.engine.poll.Poller.poll` for the campaigns whose strategies declare
``needs_positions``:

* **clusters_today** (official): ``POST /adv/v0/normquery/stats`` with ``from = to = today`` for every
  item of those campaigns, once per WB sync (3 minutes), 100 (campaign, item) pairs a call, at most
  ``CALLS_PER_CYCLE`` calls a cycle (WB allows 10 a minute; the 7-day cluster poll shares the bucket);
* **cluster bids**: for manual CPM campaigns with a watched ``query``, the current cluster bids
  (``POST /adv/v0/normquery/get-bids``, once per 3 minutes), so the guardrails know the bid a cluster
  decision starts from;
* **public_search** (unofficial, only when ``accounts[].positions.public_search.enabled``): the watched
  query in the configured region, each (campaign, query) at most every ``every``, paced by
  :class:`~bidder.wb.positions.PublicSearch` (a call that would have to wait is left to a later cycle,
  so the poll never sleeps on it). A refusal or a failed answer is skipped (the strategy then
  uses the official data); a changed answer shape alerts once (``api_drift``) and switches the public
  search off for this process: the official data carry on;
* **search_report** (official, Analytics token, only when ``accounts[].positions.search_report.enabled``):
  WB's search report (``POST /api/v2/search-report/product/orders``) for each item and its watched queries
  as search texts, today only, each (campaign, item) at most every ``every`` (WB refreshes it every 2
  hours). A token without Analytics, a 401/403 or a changed shape switches it off for this process (a
  changed shape alerts once, ``api_drift``); a refused or failed call is tried at the next refresh.

Kept (in :class:`PositionState` for the evaluation, and saved: :mod:`bidder.store.positions`) are the
observations of the watched queries (a strategy's ``query``; without one, each item's cluster with the most
views today), and of those only the ones that say something new (a clusters_today row whose views did not
grow since the last kept one is dropped): the store holds exactly what the evaluation read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.clock import Clock
from bidder.domain import PositionObservation, PositionSource
from bidder.engine import scoped
from bidder.errors import AuthFailed, SchemaDrift, TemporaryError, TokenError, WBError
from bidder.store.positions import positions_known_at, save_positions
from bidder.wb.batching import MAX_NORMQUERY_PAIRS
from bidder.wb.positions import WB_SYNC, PublicSearch, clusters_today, public_observations
from bidder.wb.search_report import SearchReport, search_report_observations
from bidder.wb.tokens import analytics_token

log = logging.getLogger("bidder.engine")

CALLS_PER_CYCLE = 3
KEEP = timedelta(hours=26)  # in memory: all of today's observations (a running average chains from midnight)


@dataclass
class PositionState:
    """What the position poll knows about one account (part of :class:`~bidder.engine.view.AccountView`)."""

    observations: dict[int, list[PositionObservation]] = field(default_factory=dict)  # advert -> oldest first
    cluster_bids: dict[int, dict[tuple[int, str], int]] = field(default_factory=dict)  # advert -> (nm, q) -> bid
    clusters_at: dict[int, datetime] = field(default_factory=dict)
    bids_at: dict[int, datetime] = field(default_factory=dict)  # cluster bids read (get-bids)
    public_at: dict[tuple[int, str], datetime] = field(default_factory=dict)
    public_off: str | None = None  # why the public search was switched off (drift), None while usable
    report_at: dict[tuple[int, int], datetime] = field(default_factory=dict)  # (advert, nm) -> last read
    report_off: str | None = None  # why the search report was switched off, None while usable
    last_sample: dict[tuple[int, int, str], tuple] = field(default_factory=dict)  # clusters_today: last kept
    loaded: bool = False

    def add(self, obs: list[PositionObservation], now: datetime) -> None:
        for o in obs:
            self.observations.setdefault(o.advert_id, []).append(o)
        for advert_id, rows in self.observations.items():
            if rows and rows[0].observed_at < now - KEEP:
                self.observations[advert_id] = [o for o in rows if o.observed_at >= now - KEEP]

    def for_campaign(self, advert_id: int) -> tuple[PositionObservation, ...]:
        return tuple(self.observations.get(advert_id, ()))


def watched_queries(strategies: list) -> list[str]:
    out = []
    for s in strategies:
        q = getattr(s.params, "query", None) if getattr(s, "needs_positions", False) else None
        if q and q not in out:
            out.append(q)
    return out


class PositionPoller:
    """``PositionPoller(view, reader, sessions, clock, alerts=None)``; ``await run(now)``."""

    def __init__(self, view: Any, reader: Any, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 alerts: Any = None) -> None:
        self.view = view
        self.reader = reader
        self.sessions = sessions
        self.clock = clock
        self.alerts = alerts
        self._public: PublicSearch | None = None
        self._report: SearchReport | None = None

    @property
    def state(self) -> PositionState:
        return self.view.positions

    def public_search(self) -> PublicSearch | None:
        cfg = getattr(self.view.account, "positions", None)
        ps = None if cfg is None else cfg.public_search
        if ps is None or not ps.enabled or self.state.public_off is not None:
            return None
        if self._public is None:
            session = getattr(self.reader, "session", None)
            if session is None:
                return None
            self._public = PublicSearch(
                session, ps.url, self.clock, proxy=None if ps.proxy is None else ps.proxy.get_secret_value(),
                min_interval=ps.min_interval.total_seconds(), pages=ps.pages,
            )
        return self._public

    async def run(self, now: datetime) -> None:
        view = self.view
        ids = [i for i in view.editable_ids() if view.needs(i, "needs_positions")]
        if not ids:
            return
        if not self.state.loaded:  # a restart: what was observed before it
            async with self.sessions() as s:
                known = await positions_known_at(s, view.name, now, since=now - KEEP, advert_ids=ids)
            self.state.add(known, now)
            self.state.loaded = True
        # Both official sources are the search-cluster feature: a 403 "feature not available" turns it
        # off for the account (engine/scoped.py, alerted once), the public search goes on.
        for poll in (self.poll_cluster_bids, self.poll_clusters_today):
            if "clusters" in view.features_off:
                break
            try:
                await poll(ids, now)
            except WBError as exc:
                if not scoped.absorb(view, exc, "clusters", None, now):
                    raise
        await self.poll_public(ids, now)
        await self.poll_search_report(ids, now)

    def search_report(self) -> SearchReport | None:
        cfg = getattr(self.view.account, "positions", None)
        rc = None if cfg is None else cfg.search_report
        if rc is None or not rc.enabled or self.state.report_off is not None:
            return None
        if self._report is None:
            session, pacer = getattr(self.reader, "session", None), getattr(self.reader, "pacer", None)
            if session is None or pacer is None:
                return None
            if rc.token is None:
                self._report_off("no Analytics token configured (positions.search_report.token)")
                return None
            try:
                token = analytics_token(rc.token, now=self.clock.now())
            except TokenError as exc:
                self._report_off(str(exc))
                return None
            self._report = SearchReport(session, rc.url, token, pacer, self.clock)
        return self._report

    def _report_off(self, why: str) -> None:
        self.state.report_off = why
        log.warning("account %s: the search report is switched off: %s", self.view.name, why)

    async def poll_search_report(self, ids: list[int], now: datetime) -> None:
        report = self.search_report()
        if report is None:
            return
        every = self.view.account.positions.search_report.every
        never = datetime.min.replace(tzinfo=now.tzinfo)
        today = self.view.today(now)
        for advert_id in ids:
            queries = watched_queries(self.view.strategies_for(advert_id))
            if not queries:
                continue
            for item in self.view.campaigns[advert_id].items:
                key = (advert_id, item.nm_id)
                if now - self.state.report_at.get(key, never) < every:
                    continue
                self.state.report_at[key] = now
                try:
                    rows = await report.orders(item.nm_id, queries, today, today)
                except SchemaDrift as exc:
                    self._report_off(str(exc))
                    await self._drift(exc, switch_public=False)
                    return
                except AuthFailed as exc:
                    self._report_off(str(exc))
                    return
                except WBError as exc:  # refused or failed: tried again at the next refresh
                    log.info("account %s: search report skipped: %s", self.view.name, exc)
                    return
                observed = self.clock.now()
                bid = self._item_bid(advert_id, item.nm_id, queries[0])
                bids = {} if bid is None else {item.nm_id: bid}
                await self._save(search_report_observations(advert_id, rows, today, observed, bids), observed)

    def _item_bid(self, advert_id: int, nm_id: int, query: str) -> int | None:
        cb = self.state.cluster_bids.get(advert_id, {}).get((nm_id, query))
        if cb is not None:
            return cb
        camp = self.view.campaigns.get(advert_id)
        item = camp.item(nm_id) if camp is not None else None
        if item is None:
            return None
        return item.bids.get("search") or None

    async def poll_cluster_bids(self, ids: list[int], now: datetime) -> None:
        view = self.view
        pairs = []
        never = datetime.min.replace(tzinfo=now.tzinfo)
        for advert_id in ids:
            if now - self.state.bids_at.get(advert_id, never) < WB_SYNC:
                continue  # our own changes are noted as they are applied; others' show within a sync
            camp = view.campaigns[advert_id]
            if camp.bid_type == "manual" and camp.payment_type == "cpm" and watched_queries(
                    view.strategies_for(advert_id)):
                pairs.extend((advert_id, it.nm_id) for it in camp.items)
        if not pairs:
            return
        bids: dict[int, dict[tuple[int, str], int]] = {}
        for b in await self.reader.cluster_bids(pairs):
            bids.setdefault(b.advert_id, {})[(b.nm_id, b.norm_query)] = b.bid
        for advert_id in {a for a, _ in pairs}:
            self.state.cluster_bids[advert_id] = bids.get(advert_id, {})
            self.state.bids_at[advert_id] = now

    async def poll_clusters_today(self, ids: list[int], now: datetime) -> None:
        state = self.state
        never = datetime.min.replace(tzinfo=now.tzinfo)
        due = sorted((i for i in ids if now - state.clusters_at.get(i, never) >= WB_SYNC),
                     key=lambda i: state.clusters_at.get(i, never))
        picked: list[int] = []
        pairs: list[tuple[int, int]] = []
        for advert_id in due:
            items = [(advert_id, it.nm_id) for it in self.view.campaigns[advert_id].items]
            if len(pairs) + len(items) > CALLS_PER_CYCLE * MAX_NORMQUERY_PAIRS:
                break
            picked.append(advert_id)
            pairs.extend(items)
        if not pairs:
            return
        today = self.view.today(now)
        stats = await self.reader.cluster_stats(pairs, today, today)
        observed = self.clock.now()
        bids = {(c.advert_id, c.nm_id, c.norm_query): b for c in stats
                if (b := self._item_bid(c.advert_id, c.nm_id, c.norm_query)) is not None}
        obs = clusters_today(stats, observed, bids)
        await self._save(obs, observed)
        for advert_id in picked:
            state.clusters_at[advert_id] = now

    async def poll_public(self, ids: list[int], now: datetime) -> None:
        search = self.public_search()
        if search is None:
            return
        cfg = self.view.account.positions.public_search
        never = datetime.min.replace(tzinfo=now.tzinfo)
        for advert_id in ids:
            camp = self.view.campaigns[advert_id]
            for query in watched_queries(self.view.strategies_for(advert_id)):
                key = (advert_id, query)
                if now - self.state.public_at.get(key, never) < cfg.every:
                    continue
                if not search.ready():  # paced or paused after a refusal: the next cycle goes on
                    return
                self.state.public_at[key] = now
                try:
                    places = await search.place(query, cfg.dest, [it.nm_id for it in camp.items])
                except SchemaDrift as exc:
                    await self._drift(exc)
                    return
                except TemporaryError as exc:  # refused or failed: the official data carry on
                    log.info("account %s: public search skipped: %s", self.view.name, exc)
                    return
                observed = self.clock.now()
                bids = {nm: b for nm in places if (b := self._item_bid(advert_id, nm, query)) is not None}
                await self._save(public_observations(advert_id, query, cfg.dest, places, observed, bids), observed)

    async def _drift(self, exc: SchemaDrift, *, switch_public: bool = True) -> None:
        if switch_public:
            self.state.public_off = str(exc)
            log.warning("account %s: public search answer changed shape; switched off: %s", self.view.name, exc)
        if self.alerts is not None:
            async with self.sessions.begin() as s:
                await self.alerts.api_drift(s, self.view.name, exc, self.clock.now())

    def _keep(self, obs: list[PositionObservation]) -> list[PositionObservation]:
        """The watched, new observations of a batch (see the module)."""
        out = []
        top: dict[tuple[int, int], PositionObservation] = {}
        for o in obs:
            strategies = self.view.strategies_for(o.advert_id)
            queries = watched_queries(strategies)
            if o.query in queries:
                out.append(o)
            elif any(getattr(s, "needs_positions", False) and getattr(s.params, "query", None) is None
                     for s in strategies) and o.source == PositionSource.CLUSTERS_TODAY:
                best = top.get((o.advert_id, o.nm_id))
                if best is None or (o.sample or 0) > (best.sample or 0):
                    top[(o.advert_id, o.nm_id)] = o
        out.extend(top.values())
        fresh = []
        for o in out:
            if o.source == PositionSource.CLUSTERS_TODAY:
                key = (o.advert_id, o.nm_id, o.query)
                last = self.state.last_sample.get(key)
                if last is not None and last == (o.describes_at.date(), o.sample, o.position):
                    continue
                self.state.last_sample[key] = (o.describes_at.date(), o.sample, o.position)
            fresh.append(o)
        return fresh

    async def _save(self, obs: list[PositionObservation], now: datetime) -> None:
        obs = self._keep(obs)
        if not obs:
            return
        async with self.sessions.begin() as s:
            await save_positions(s, self.view.name, obs)
        self.state.add(obs, now)
