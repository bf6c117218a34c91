"""The poll stage: what WB says about one account, fetched only when it can have changed.

Every read is gated by its own interval (WB syncs statistics every 3 minutes, applies bids on a 30-second
tick and changes statuses at most once a minute) and stays within WB's per-method limits. What is read
is saved to the store and kept in the :class:`~bidder.engine.view.AccountView`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.clock import Clock
from bidder.domain import BID_EDITABLE_STATUSES, Campaign, Status
from bidder.engine import scoped
from bidder.engine.finished import FINISHED, FINISHED_DETAILS_PER_CYCLE, finished_inside_window
from bidder.engine.min_bids import MIN_BIDS_CALLS_PER_CYCLE
from bidder.engine.planner import FULLSTATS_BATCH, due, fullstats_capacity
from bidder.engine.ports import Reader
from bidder.engine.positions import PositionPoller
from bidder.engine.stats_pump import StatsPump
from bidder.engine.view import AccountView, WBSteps
from bidder.errors import WBError
from bidder.store import finished as finished_store
from bidder.store import repo
from bidder.wb.batching import MAX_NORMQUERY_PAIRS

RULES_TTL = timedelta(hours=6)
FULL_DETAILS_REFRESH = timedelta(hours=1)
CLUSTER_CALLS_PER_CYCLE = 3
RECOMMENDATIONS_PER_CYCLE = 5  # WB allows 5 a minute


class Poller:
    """``Poller(view, reader, sessions, clock, intervals)``; ``await run(now)`` polls everything that is due
    (``refresh_campaigns(now)`` then ``poll(now)``) and returns how many campaigns' statistics were
    refreshed. Raises the reader's ``bidder.errors``."""

    def __init__(self, view: AccountView, reader: Reader, sessions: async_sessionmaker[AsyncSession],
                 clock: Clock, intervals, alerts=None) -> None:  # intervals: bidder.config.Intervals
        self.positions = PositionPoller(view, reader, sessions, clock, alerts)  # engine/positions.py
        self.view = view
        self.reader = reader
        self.sessions = sessions
        self.clock = clock
        self.stats = StatsPump(view, reader, sessions, clock, intervals)  # fullstats reads (engine/stats_pump.py)
        self.intervals = intervals
        self.background = False  # Runner.serve: the statistics backlog goes on between cycles

    @property
    def intervals(self):  # bidder.config.Intervals; a reload sets it (the statistics pump's too)
        return self._intervals

    @intervals.setter
    def intervals(self, value) -> None:
        self._intervals = value
        self.stats.intervals = value

    async def run(self, now: datetime) -> int:
        await self.refresh_campaigns(now)
        return await self.poll(now)

    async def poll(self, now: datetime) -> int:
        """Statistics, search clusters and recommendations, WB's bid rules, and finished campaigns' details."""
        # The polls use different WB rate-limit buckets: run them side by side, so that one waiting on its
        # bucket (min bids at 20/min, clusters, recommendations) does not hold back fullstats (3/min, the
        # binding limit) and the evaluation.
        polled = await asyncio.gather(
            self.poll_statistics(now), self.poll_extras(now), self.refresh_rules(now), self.positions.run(now),
            self.read_finished_details(now), return_exceptions=True
        )
        for outcome in polled:
            if isinstance(outcome, BaseException):
                raise outcome
        return polled[0]

    async def refresh_campaigns(self, now: datetime) -> None:
        """The campaign list (every ``intervals.campaigns``) and the details of those that changed; a
        finished campaign's details once (:mod:`bidder.engine.finished`), never again after its final read."""
        view = self.view
        await self._load_finished()
        if view.count_at is None or now - view.count_at >= self.intervals.campaigns:
            await self._count(now)
            return
        # campaigns whose details did not read cleanly (Campaign.unknown_fields) are read again every
        # cycle, not after the count interval: until then nothing is written to them (issue 14)
        unclear = sorted(i for i, c in view.campaigns.items() if not c.writable)
        if unclear:
            fresh = await self.reader.campaigns(unclear)
            for camp in fresh:
                view.details_at[camp.advert_id] = now
            await self.save_campaigns(fresh, now)

    async def _load_finished(self) -> None:
        fin = self.view.finished
        if not fin.loaded:
            async with self.sessions() as s:
                fin.done = await finished_store.finished_reads(s, self.view.name)
            fin.loaded = True

    async def _count(self, now: datetime) -> None:
        view = self.view
        fin = view.finished
        try:
            refs = await self.reader.count()
        except WBError:
            await self._list_by_status(now)
            raise
        view.listed = {r.advert_id: r.status for r in refs if r.status not in (Status.DELETED, FINISHED)}
        stale = []
        live: set[int] = set()
        long_finished = []
        today = view.today(now)
        for ref in refs:
            if ref.status == Status.DELETED:
                continue
            advert_id = ref.advert_id
            if ref.status == FINISHED:
                if advert_id in fin.done:
                    continue  # its final read is done: never read again
                known = view.campaigns.get(advert_id)
                if known is None and not finished_inside_window(ref.changed_at, today, view.window_days(advert_id)):
                    long_finished.append(advert_id)  # finished before the window, never seen live: nothing to read
                    continue
                live.add(advert_id)
                if (known is None or known.status != FINISHED) and advert_id not in fin.stats_wanted:
                    fin.details_wanted[advert_id] = ref.changed_at
                    if known is not None:  # just finished: out of the live polls and the evaluation now
                        view.note_status(advert_id, FINISHED)
                view.changed_at[advert_id] = ref.changed_at
                continue
            live.add(advert_id)
            fin.details_wanted.pop(advert_id, None)
            fin.stats_wanted.discard(advert_id)
            known = view.campaigns.get(advert_id)
            if (
                known is None
                or known.status != ref.status
                or not known.writable  # its details did not read cleanly: again, until they do
                or view.changed_at.get(advert_id) != ref.changed_at
                or now - view.details_at.get(advert_id, now) >= FULL_DETAILS_REFRESH
            ):
                stale.append(advert_id)
            view.changed_at[advert_id] = ref.changed_at
        for gone in set(view.campaigns) - live:
            view.campaigns.pop(gone, None)
        await self.finish(long_finished, now)
        if stale:
            fresh = await self.reader.campaigns(sorted(stale))
            for camp in fresh:
                view.details_at[camp.advert_id] = now
            await self.save_campaigns(fresh, now)
        # only now: if the details read failed, the next cycle reads the list and the details again (before,
        # a failed details read after a good count left the campaigns unknown until the next count interval,
        # while the cycles reported success and pause-all found nothing to pause; found by the fault suite)
        view.count_at = now

    async def _list_by_status(self, now: datetime) -> None:
        """The campaign list failed: the campaigns that can spend are read by status instead (the details
        call filters by status without ids), so that a first start whose list never answers still knows
        which ids to pause. The cycle still fails on the list's error; the safety pass runs again on the
        ids learnt here (cycle.py). A failure of this read too leaves the view as it was."""
        try:
            fresh = await self.reader.campaigns_by_status(sorted(BID_EDITABLE_STATUSES))
        except WBError:
            return
        for camp in fresh:
            self.view.details_at[camp.advert_id] = now
        await self.save_campaigns(fresh, now)

    async def read_finished_details(self, now: datetime) -> None:
        """Finished campaigns' details, once each, at most FINISHED_DETAILS_PER_CYCLE a cycle, alongside the
        other polls (not before them: live campaigns first). Those with no statistics left to read are done;
        the others wait for their last days' statistics (the next cycles' spare fullstats capacity)."""
        view = self.view
        fin = view.finished
        if not fin.details_wanted:
            return
        ids = sorted(fin.details_wanted)[:FINISHED_DETAILS_PER_CYCLE]
        fresh = await self.reader.campaigns(ids)
        await self.save_campaigns(fresh, now)
        today = view.today(now)
        done = []
        read = {c.advert_id for c in fresh}
        for advert_id in ids:
            changed = fin.details_wanted.pop(advert_id)
            camp = view.campaigns.get(advert_id)
            if advert_id not in read or camp is None or camp.status != FINISHED:
                continue  # WB did not return it (deleted meanwhile) or it is no longer finished
            managed = view.managed_strategies(advert_id) is not None
            if managed and finished_inside_window(changed, today, view.window_days(advert_id)):
                fin.stats_wanted.add(advert_id)
            else:
                done.append(advert_id)
        await self.finish(done, now)

    async def finish(self, advert_ids: list[int], now: datetime) -> None:
        """Finished campaigns whose final read is done: remembered in the store, out of the view."""
        if not advert_ids:
            return
        async with self.sessions.begin() as s:
            await finished_store.mark_finished_read(s, self.view.name, advert_ids, now)
        view = self.view
        for advert_id in advert_ids:
            view.finished.done.add(advert_id)
            view.finished.stats_wanted.discard(advert_id)
            view.campaigns.pop(advert_id, None)
            view.stats_at.pop(advert_id, None)
            view.details_at.pop(advert_id, None)
            view.changed_at.pop(advert_id, None)

    async def save_campaigns(self, fresh: list[Campaign], now: datetime) -> None:
        """Campaigns just read from WB: into the view and the store."""
        for camp in fresh:
            self.view.campaigns[camp.advert_id] = camp
            if camp.currency:
                self.view.currency = camp.currency
        async with self.sessions.begin() as s:
            await repo.save_campaigns(s, self.view.name, fresh, now)

    async def poll_statistics(self, now: datetime) -> int:
        """Live campaigns' statistics when due (stalest first), then finished campaigns' last days once
        (:mod:`bidder.engine.stats_pump`). Inline (``background`` off: ``run --once``, tests): at most the
        calls that start within one cycle interval, so a cold start decides on the first batches and the
        next cycle carries on. Between cycles (``background`` on, ``Runner.serve``): the backlog goes on at
        WB's pace while the cycles run; a cycle takes what arrived and waits only for a cold start's first
        batch. Returns how many live campaigns' statistics this cycle put into the view."""
        pump = self.stats
        if self.background:
            refreshed = await self._take_stats(now)
            if pump.start() and not self.view.stats_at and not refreshed:
                await pump.wait_arrival()  # a cold start decides on its first batch
                refreshed = await self._take_stats(now)
        else:
            await pump.run(now, fullstats_capacity(self.intervals.evaluate) // FULLSTATS_BATCH)
            refreshed = await self._take_stats(now)
        error = pump.take_error()
        if error is not None:
            # what was read before the failure is saved and taken first (the background save of the call
            # before may still run when the next call fails)
            await pump.saves_done()
            await self._take_stats(now)
            raise error
        return refreshed

    async def _take_stats(self, now: datetime) -> int:
        """What the fullstats reads brought (already saved to the store): put into the view; finished
        campaigns whose final read it was are done."""
        arrived = self.stats.take()
        if not arrived:
            return 0
        try:
            return await self._put_stats(arrived, now)
        finally:
            self.stats.settled(arrived)

    async def _put_stats(self, arrived: list, now: datetime) -> int:
        view = self.view
        refreshed = 0
        finals: list[int] = []
        for a in arrived:  # (saved to the store when they arrived)
            view.inputs.add_prints(a.prints)
            for advert_id in a.call.ids:
                if advert_id in view.campaigns:  # (not one that left the list meanwhile)
                    view.stats_at[advert_id] = a.fetched_at
            refreshed += len(a.call.ids) - len(a.call.finals)
            finals += a.call.finals
        await self.finish(finals, now)
        return refreshed

    async def poll_extras(self, now: datetime) -> None:
        """Search-cluster stats and bid recommendations, only for campaigns whose strategies use them."""
        view = self.view
        active = view.editable_ids()
        cluster_ids = [i for i in active if view.needs(i, "needs_clusters")]
        # All due campaigns' (advert, nm) pairs in as few calls as WB allows (100 pairs a call), at most
        # CLUSTER_CALLS_PER_CYCLE calls a cycle (WB allows 10 a minute).
        picked: list[int] = []
        pairs: list[tuple[int, int]] = []
        if "clusters" in view.features_off:  # engine/scoped.py: a 403 turned it off for the account
            cluster_ids = []
        for advert_id in due(cluster_ids, view.clusters_at, now, self.intervals.clusters):
            items = [(advert_id, it.nm_id) for it in view.campaigns[advert_id].items]
            if len(pairs) + len(items) > CLUSTER_CALLS_PER_CYCLE * MAX_NORMQUERY_PAIRS:
                break
            picked.append(advert_id)
            pairs.extend(items)
        if pairs:
            today = view.today(now)
            try:
                stats = await self.reader.cluster_stats(pairs, today - timedelta(days=6), today)
            except WBError as exc:
                if not scoped.absorb(view, exc, "clusters", picked[0] if len(picked) == 1 else None, now):
                    raise
                stats = []
            async with self.sessions.begin() as s:
                await repo.save_cluster_stats(s, view.name, stats, fetched_at=self.clock.now())
            view.inputs.add_clusters(stats)
        for advert_id in picked:
            view.clusters_at[advert_id] = now
        rec_keys = [(i, it.nm_id) for i in active if view.needs(i, "needs_recommendations")
                    and "recommendations" not in view.features_off
                    and not scoped.set_aside(view, "recommendations", i, now)
                    for it in view.campaigns[i].items]
        never = datetime.min.replace(tzinfo=now.tzinfo)
        rec_due = [k for k in rec_keys if now - view.recs_at.get(k, never) >= self.intervals.recommendations]
        rec_due.sort(key=lambda k: view.recs_at.get(k, never))
        for key in rec_due[:RECOMMENDATIONS_PER_CYCLE]:
            if scoped.set_aside(view, "recommendations", key[0], now) or "recommendations" in view.features_off:
                continue
            try:
                rec = await self.reader.recommendations(key[0], key[1])
            except WBError as exc:
                if not scoped.absorb(view, exc, "recommendations", key[0], now):
                    raise
                continue
            view.recs[key] = rec
            view.recs_at[key] = now

    async def refresh_rules(self, now: datetime, every_item_of: list[int] | None = None) -> None:
        """WB's bid step (config, cached for hours) and the minimum bids a decision asked for
        (:mod:`bidder.engine.min_bids`; ``every_item_of``: all items of these campaigns, e.g. a rollback)."""
        view = self.view
        if view.steps is None or now - view.steps.fetched_at >= RULES_TTL:
            cfg = await self.reader.config()
            view.steps = WBSteps(now, cfg.cpm_step, cfg.cpc_step)
            view.size_defaults(cfg.cpm_step)
            if cfg.currency:
                view.currency = cfg.currency
        mins = view.min_bids
        mins.expire(now)
        # a plausible ceiling per payment type first: one campaign's minimums each (engine.min_bids)
        for advert_id in view.editable_ids():
            camp = view.campaigns[advert_id]
            if not camp.writable:  # no rules asked with an unknown request shape (issue 14)
                continue
            if camp.items and mins.ceiling(camp.payment_type) is None and not mins.wants_type(camp.payment_type):
                mins.payment[advert_id] = camp.payment_type
                for it in camp.items:
                    for placement in camp.bid_placements:
                        mins.want(advert_id, it.nm_id, placement)
        for advert_id in every_item_of or ():
            camp = view.campaigns.get(advert_id)
            if camp is not None and camp.status in BID_EDITABLE_STATUSES:
                known = mins.for_campaign(advert_id)
                for it in camp.items:
                    for placement in camp.bid_placements:
                        if (it.nm_id, placement) not in known:
                            mins.want(advert_id, it.nm_id, placement)
        await self.read_minimums(now, MIN_BIDS_CALLS_PER_CYCLE)

    async def read_minimums(self, now: datetime, limit: int) -> set[int]:
        """The minimum bids decisions asked for, at most ``limit`` calls; returns the campaigns read."""
        view = self.view
        read = set()
        for camp, nm_ids, placements in view.min_bids.requests(view.campaigns, limit):
            if not camp.writable or scoped.set_aside(view, "min_bids", camp.advert_id, now):
                continue
            try:
                got = await self.reader.min_bids(camp.advert_id, nm_ids, camp.payment_type, placements)
            except WBError as exc:  # a 400 for one campaign: its bids hold, the others are read
                if not scoped.absorb(view, exc, "min_bids", camp.advert_id, now):
                    raise
                continue
            view.min_bids.store(camp.advert_id, got, [(nm, p) for nm in nm_ids for p in placements], now,
                                 camp.payment_type)
            read.add(camp.advert_id)
        return read
