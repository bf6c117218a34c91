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
from bidder.engine.planner import due, fullstats_capacity, stats_candidates, stats_range
from bidder.engine.ports import Reader
from bidder.engine.positions import PositionPoller
from bidder.engine.view import AccountView, WBSteps
from bidder.errors import WBError
from bidder.store import repo
from bidder.wb.batching import MAX_NORMQUERY_PAIRS

RULES_TTL = timedelta(hours=6)
FULL_DETAILS_REFRESH = timedelta(hours=1)
CLUSTER_CALLS_PER_CYCLE = 3
MIN_BIDS_PER_CYCLE = 20  # WB allows 20 a minute
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
        self.intervals = intervals

    async def run(self, now: datetime) -> int:
        await self.refresh_campaigns(now)
        return await self.poll(now)

    async def poll(self, now: datetime) -> int:
        """Statistics, search clusters and recommendations, and WB's bid rules of the known campaigns."""
        # The polls use different WB rate-limit buckets: run them side by side, so that one waiting on its
        # bucket (min bids at 20/min, clusters, recommendations) does not hold back fullstats (3/min, the
        # binding limit) and the evaluation.
        polled = await asyncio.gather(
            self.poll_statistics(now), self.poll_extras(now), self.refresh_rules(now), self.positions.run(now),
            return_exceptions=True
        )
        for outcome in polled:
            if isinstance(outcome, BaseException):
                raise outcome
        return polled[0]

    async def refresh_campaigns(self, now: datetime) -> None:
        view = self.view
        if view.count_at is not None and now - view.count_at < self.intervals.campaigns:
            # campaigns whose details did not read cleanly (Campaign.unknown_fields) are read again every
            # cycle, not after the count interval: until then nothing is written to them (issue 14)
            unclear = sorted(i for i, c in view.campaigns.items() if not c.writable)
            if unclear:
                fresh = await self.reader.campaigns(unclear)
                for camp in fresh:
                    view.details_at[camp.advert_id] = now
                await self.save_campaigns(fresh, now)
            return
        refs = await self.reader.count()
        stale = []
        for ref in refs:
            if ref.status == Status.DELETED:
                continue
            known = view.campaigns.get(ref.advert_id)
            if (
                known is None
                or known.status != ref.status
                or not known.writable  # its details did not read cleanly: again, until they do
                or view.changed_at.get(ref.advert_id) != ref.changed_at
                or now - view.details_at.get(ref.advert_id, now) >= FULL_DETAILS_REFRESH
            ):
                stale.append(ref.advert_id)
            view.changed_at[ref.advert_id] = ref.changed_at
        live = {r.advert_id for r in refs if r.status != Status.DELETED}
        for gone in set(view.campaigns) - live:
            view.campaigns.pop(gone, None)
        if stale:
            fresh = await self.reader.campaigns(sorted(stale))
            for camp in fresh:
                view.details_at[camp.advert_id] = now
            await self.save_campaigns(fresh, now)
        # only now: if the details read failed, the next cycle reads the list and the details again (before,
        # a failed details read after a good count left the campaigns unknown until the next count interval,
        # while the cycles reported success and pause-all found nothing to pause; found by the fault suite)
        view.count_at = now

    async def save_campaigns(self, fresh: list[Campaign], now: datetime) -> None:
        """Campaigns just read from WB: into the view and the store."""
        for camp in fresh:
            self.view.campaigns[camp.advert_id] = camp
            if camp.currency:
                self.view.currency = camp.currency
        async with self.sessions.begin() as s:
            await repo.save_campaigns(s, self.view.name, fresh, now)

    async def poll_statistics(self, now: datetime) -> int:
        view = self.view
        candidates = stats_candidates(view.campaigns.values(), view.managed_ids())
        # The first pass (nothing fetched yet) takes everything back to back at WB's rate (the other polls
        # run alongside); afterwards at most what one cycle interval allows, so a cycle never queues.
        capacity = fullstats_capacity(self.intervals.evaluate) if view.stats_at else None
        ids = due(candidates, view.stats_at, now, self.intervals.stats, capacity)
        if not ids:
            return 0
        today = view.today(now)
        groups: dict[tuple, list[int]] = {}
        # First fetches share the longest window among them: a few extra days in one call are cheaper than
        # another call at WB's 3 a minute (windows differ by strategy: 7 days, or a window plus its prior).
        first_days = max((view.window_days(i) for i in ids if i not in view.stats_at), default=1)
        for advert_id in ids:
            first = advert_id not in view.stats_at
            begin, end = stats_range(today, first_days if first else 1, first)
            groups.setdefault((begin, end), []).append(advert_id)
        refreshed = 0
        for (begin, end), group in sorted(groups.items()):
            stats = await self.reader.fullstats(group, begin, end)
            async with self.sessions.begin() as s:
                await repo.save_daily_stats(s, view.name, stats)
            view.inputs.add_stats(stats)
            fetched = self.clock.now()
            for advert_id in group:
                view.stats_at[advert_id] = fetched
            refreshed += len(group)
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

    async def refresh_rules(self, now: datetime) -> None:
        """WB's bid step (config, cached for hours) and per-item minimum bids (cached per campaign)."""
        view = self.view
        if view.steps is None or now - view.steps.fetched_at >= RULES_TTL:
            cfg = await self.reader.config()
            view.steps = WBSteps(now, cfg.cpm_step, cfg.cpc_step)
            if cfg.currency:
                view.currency = cfg.currency
        never = datetime.min.replace(tzinfo=now.tzinfo)
        wanted = [i for i in view.managed_ids()
                  if view.campaigns[i].status in BID_EDITABLE_STATUSES and view.campaigns[i].items
                  and view.campaigns[i].writable]  # no rules asked with an unknown request shape
        stale = [i for i in wanted if now - view.min_bids.get(i, (never, {}))[0] >= RULES_TTL
                 and not scoped.set_aside(view, "min_bids", i, now)]
        for advert_id in stale[:MIN_BIDS_PER_CYCLE]:
            camp = view.campaigns[advert_id]
            try:
                mins = await self.reader.min_bids(
                    advert_id, [it.nm_id for it in camp.items], camp.payment_type, list(camp.bid_placements)
                )
            except WBError as exc:  # a 400 for one campaign: its bids hold, the others are read
                if not scoped.absorb(view, exc, "min_bids", advert_id, now):
                    raise
                continue
            view.min_bids[advert_id] = (now, mins)
