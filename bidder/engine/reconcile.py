"""Reconciling write intents whose outcome is unknown, one campaign at a time, without holding the rest.

An intent stays ``pending`` when the process died between recording it and WB's answer, or when WB's
answer to a write could not be read (a 200 whose body does not parse: WB may well have applied it).
Nothing is re-sent for such an intent: once WB has had the time to apply what it accepted, the campaign
is re-read and the intent recorded as ``reconciled_applied`` or ``reconciled_not_applied``.

WB applies a bid change on its next 30-second tick and a status change (start/pause) on the next whole
minute, so a campaign is re-read once every pending intent of it has had its tick, measured from the
intent's recorded time (a second restart does not start the wait again), plus ``CALL_MARGIN`` for the
call itself (the intent is recorded just before the request goes out).

Only the campaigns with pending intents wait (:attr:`AccountView.reconciling`: the evaluator leaves them
out, so nothing is decided or written for them meanwhile); every other campaign of the account is
polled, decided and written as usual. Once a campaign is reconciled its decisions, safety actions first,
are taken in the same cycle.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.clock import Clock
from bidder.domain import Action, Campaign, Decision, Status
from bidder.engine.ports import Reader
from bidder.engine.view import AccountView
from bidder.errors import WBError
from bidder.store import repo

log = logging.getLogger("bidder.engine")

BID_TICK = timedelta(seconds=30)  # WB applies bids every 30 s
STATUS_TICK = timedelta(seconds=60)  # and status changes on the next whole minute
CALL_MARGIN = timedelta(seconds=30)  # the request itself (recorded before it is sent; the client's timeout)


def settles_at(action: Action, at: datetime) -> datetime:
    """When WB has certainly applied an intent recorded at ``at`` if it accepted it."""
    tick = BID_TICK if action == Action.SET_BID else STATUS_TICK
    return at + tick + CALL_MARGIN


class Reconciler:
    """``Reconciler(view, sessions, clock)``. ``await run(reader)`` once a cycle, before polling: it sets
    ``view.reconciling`` to the campaigns still waiting for WB's tick and resolves the others' intents.
    ``expect()`` tells it that an intent was left pending in this process (an unreadable answer)."""

    def __init__(self, view: AccountView, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.view = view
        self.sessions = sessions
        self.clock = clock
        self._maybe_pending = True  # a fresh process looks once for what a crash left
        self.resolved = 0
        self.last_resolved_at: dict[int, datetime] = {}  # advert -> when its intents were resolved
        self.confirmed: list[Decision] = []  # changes a re-read showed applied (announced as confirmed)

    def expect(self, advert_ids) -> None:
        """Intents of these campaigns were left pending: freeze them until reconciled."""
        self._maybe_pending = True
        self.view.reconciling.update(advert_ids)

    async def run(self, reader: Reader, *, wait: bool = False) -> int:
        """Resolve the pending intents whose campaigns are settled; with ``wait`` sleep until all are
        (the CLI's one-shot use). Returns how many intents were resolved. A failed re-read leaves the
        campaigns waiting (they are tried again next cycle) and is not raised."""
        if not self._maybe_pending:
            return 0
        async with self.sessions() as s:
            pending = await repo.pending_intents(s, self.view.name)
        if not pending:
            self._maybe_pending = False
            self.view.reconciling.clear()
            return 0
        by_campaign: dict[int, list] = {}
        for p in pending:
            by_campaign.setdefault(p.advert_id, []).append(p)
        settle = {a: max(settles_at(p.action, p.at) for p in ps) for a, ps in by_campaign.items()}
        if wait:
            left = (max(settle.values()) - self.clock.now()).total_seconds()
            if left > 0:
                log.info("account %s: %d write intents pending; waiting %.0fs for WB's tick", self.view.name,
                         len(pending), left)
                await self.clock.sleep(left)
        now = self.clock.now()
        ready = sorted(a for a, t in settle.items() if t <= now)
        self.view.reconciling.clear()
        self.view.reconciling.update(a for a in by_campaign if a not in ready)
        if not ready:
            return 0
        try:
            n = await self._resolve(reader, [p for a in ready for p in by_campaign[a]], ready)
        except WBError as exc:
            log.warning("account %s: re-reading %d campaigns to reconcile failed (%s); trying again next cycle",
                        self.view.name, len(ready), exc)
            self.view.reconciling.update(ready)
            return 0
        for a in ready:
            self.last_resolved_at[a] = now
        return n

    async def _resolve(self, reader: Reader, pending: list, ids: list[int]) -> int:
        view = self.view
        current: dict[int, Campaign] = {c.advert_id: c for c in await reader.campaigns(ids)}
        cluster_pairs = sorted({(p.advert_id, p.nm_id) for p in pending if p.norm_query and p.nm_id is not None})
        cluster_bids = ({(b.advert_id, b.nm_id, b.norm_query): b.bid for b in await reader.cluster_bids(cluster_pairs)}
                        if cluster_pairs else {})
        now = self.clock.now()
        async with self.sessions.begin() as s:
            for p in pending:
                camp = current.get(p.advert_id)
                applied = camp is not None and _shows(camp, p, cluster_bids)
                status = "reconciled_applied" if applied else "reconciled_not_applied"
                if applied and not p.dry_run:
                    self.confirmed.append(p.decision)
                await repo.set_decision_status(s, p.id, status, applied_at=now if applied else None)
            await repo.save_campaigns(s, view.name, list(current.values()), now)
        view.campaigns.update(current)
        for advert_id in current:
            view.details_at[advert_id] = now
        self.resolved += len(pending)
        log.info("account %s: reconciled %d pending write intents of campaigns %s", view.name, len(pending), ids)
        return len(pending)


def _shows(camp: Campaign, p, cluster_bids: dict) -> bool:
    """Whether the campaign as WB shows it now carries the pending intent's change."""
    if p.action == Action.SET_BID and p.norm_query:
        return cluster_bids.get((p.advert_id, p.nm_id, p.norm_query)) == p.bid_after
    if p.action == Action.SET_BID:
        item = camp.item(p.nm_id) if p.nm_id is not None else None
        return item is not None and item.bid_for(p.placement or "") == p.bid_after
    if p.action == Action.PAUSE:
        return camp.status == Status.PAUSED
    if p.action == Action.RESUME:
        return camp.status == Status.ACTIVE
    return False
