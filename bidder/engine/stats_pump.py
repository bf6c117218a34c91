"""The statistics backlog, read at WB's pace between cycles (issue 16).

WB allows 3 fullstats calls a minute per seller (a burst of 1). A seller with more live campaigns than
one cycle's calls cover (50 a call, about 4 calls a minute) has a *backlog*: before, the cycle read what
one cycle interval allowed and left the rest for the next cycle, so every cycle waited for its
fullstats calls (a minute at WB's pace) and the next one started late; and a cycle slowed by other work
(a busy process, the database) left WB's quota unused while the backlog waited.

:class:`StatsPump` plans one fullstats call at a time (:meth:`StatsPump.next_call`: live campaigns due,
never-read first then stalest first, then finished campaigns' final reads) and fetches it. What it
fetched *arrives*: it is kept here until the cycle's poll stage takes it (:meth:`StatsPump.take`), saves
it to the store and puts it into the view, so the view changes only inside a cycle (never in the middle
of an evaluation) and nothing is written to the database between cycles.

Two ways to run it:

* inline (:meth:`StatsPump.run` awaited by the cycle, at most ``max_calls`` calls): ``bidder run --once``
  and the tests, where nothing must outlive the cycle;
* between cycles (:meth:`StatsPump.start`, what ``Runner.serve`` switches on with ``background``): a task
  that keeps calling, paced by the seller's fullstats bucket, as long as something is due and a cycle of
  the account is running or ended within :data:`IDLE_CYCLES` cycle intervals (a worker that lost the
  account, or a stopped runner, stops spending the seller's quota within minutes; a slow cycle does not
  stop it). The cycle then never waits for fullstats,
  except on a cold start for the first call (so that it decides on the first batch).

A read failure in the background is kept and raised by the next cycle's poll stage (the cycle reports
it as it reported a failed read before), after what had arrived was taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.clock import Clock
from bidder.engine.finished import FINISHED
from bidder.engine.inputs import prints
from bidder.engine.planner import FULLSTATS_BATCH, due, stats_candidates, stats_range
from bidder.engine.ports import Reader
from bidder.engine.view import AccountView
from bidder.store import repo

log = logging.getLogger("bidder.engine")

IDLE_CYCLES = 3  # the background pump stops when no cycle renewed it for this many cycle intervals


@dataclass(frozen=True, slots=True)
class StatsCall:
    """One fullstats call: its ids (at most 50), its date range, and which of them are final reads."""

    ids: tuple[int, ...]
    begin: date
    end: date
    finals: frozenset[int] = frozenset()


@dataclass(slots=True)
class Arrived:
    """A call's answer, saved; what the view needs of it is kept until the cycle takes it."""

    call: StatsCall
    prints: dict[int, int]  # advert -> fingerprint of its rows (campaigns WB returned rows for)
    fetched_at: datetime


class StatsPump:
    """``StatsPump(view, reader, sessions, clock, intervals)``; the poll stage's fullstats reads (module
    docstring)."""

    def __init__(self, view: AccountView, reader: Reader, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 intervals) -> None:
        self.view = view
        self.reader = reader
        self.sessions = sessions
        self.clock = clock
        self.intervals = intervals  # bidder.config.Intervals (a reload replaces it on the poller)
        self.arrived: list[Arrived] = []
        self.pending: set[int] = set()  # in flight or arrived, not taken yet: never planned twice
        self.error: BaseException | None = None
        self._arrival = asyncio.Event()  # set when a call arrives or the background pump ends
        self._task: asyncio.Task | None = None
        self._active = False  # the background pump runs (set by start, cleared when its loop ends)
        self._saves: set[asyncio.Task] = set()  # the background pump's saves in progress
        self._save_lock = asyncio.Lock()
        self._until = 0.0  # clock.monotonic() after which the background pump stops
        self.in_cycle = False  # a cycle of the account is running (set by the runner's job)

    # ------------------------------------------------------------------ planning (pure of the view)

    def next_call(self, now: datetime) -> StatsCall | None:
        """The next fullstats call: live campaigns due (never read first, then stalest first; first reads
        share the longest window among them: a few days more in one call are cheaper than another call),
        else up to 50 finished campaigns' final reads. None when nothing is due."""
        view = self.view
        fin = view.finished
        campaigns = view.campaigns
        candidates = [i for i in stats_candidates(campaigns.values(), view.managed_ids())
                      if i not in self.pending and i not in fin.stats_wanted and campaigns[i].status != FINISHED]
        today = view.today(now)
        ids = due(candidates, view.stats_at, now, self.intervals.stats, FULLSTATS_BATCH)
        if ids:
            first = ids[0] not in view.stats_at
            ids = [i for i in ids if (i not in view.stats_at) == first]
            days = max(view.window_days(i) for i in ids) if first else 1
            begin, end = stats_range(today, days, first)
            return StatsCall(tuple(ids), begin, end)
        finals = sorted(i for i in fin.stats_wanted if i in campaigns and i not in self.pending)
        if not finals:
            return None
        ranges: dict[tuple[date, date], list[int]] = {}
        for advert_id in finals:
            rng = stats_range(today, view.window_days(advert_id), advert_id not in view.stats_at)
            ranges.setdefault(rng, []).append(advert_id)
        (begin, end), group = min(ranges.items())
        group = group[:FULLSTATS_BATCH]
        return StatsCall(tuple(group), begin, end, frozenset(group))

    # ------------------------------------------------------------------ fetching

    async def fetch(self, call: StatsCall, *, save_later: bool = False) -> None:
        """One call, then its reply saved; with ``save_later`` (the background pump) the save goes on in a
        task of its own, so the next call does not wait for the database's writer (saves keep their order)."""
        self.pending.update(call.ids)
        try:
            stats = await self.reader.fullstats(list(call.ids), call.begin, call.end)
        except BaseException:
            self.pending.difference_update(call.ids)
            raise
        saving = self._save(call, stats, self.clock.now())
        if not save_later:
            await saving
            return
        task = asyncio.create_task(self._save_in_background(saving), name=f"fullstats-save:{self.view.name}")
        self._saves.add(task)
        task.add_done_callback(self._saved)

    async def _save(self, call: StatsCall, stats: list, fetched_at: datetime) -> None:
        try:
            async with self._save_lock, self.sessions.begin() as s:
                await repo.save_daily_stats(s, self.view.name, stats)
        except BaseException:
            self.pending.difference_update(call.ids)
            raise
        self.arrived.append(Arrived(call, prints(stats), fetched_at))
        self._arrival.set()

    async def _save_in_background(self, saving) -> None:
        try:
            await saving
        except Exception as exc:  # raised by the next cycle's poll stage
            self.error = self.error or exc

    def _saved(self, task: asyncio.Task) -> None:
        self._saves.discard(task)
        self._arrival.set()

    async def run(self, now: datetime, max_calls: int) -> None:
        """Inline: up to ``max_calls`` calls of what is due at ``now``."""
        for _ in range(max_calls):
            call = self.next_call(now)
            if call is None:
                return
            await self.fetch(call)

    def take(self) -> list[Arrived]:
        """What arrived since the last take; the caller saves it, puts it into the view, then calls
        :meth:`settled` (until then its ids stay pending: never planned again in between)."""
        out, self.arrived = self.arrived, []
        self._arrival.clear()
        return out

    def settled(self, taken: list[Arrived]) -> None:
        """The view shows these fetched (or their save failed: they may be read again)."""
        for a in taken:
            self.pending.difference_update(a.call.ids)

    async def wait_arrival(self) -> None:
        """Until a call arrived or the background pump ended (a cold start's cycle waits for its first batch)."""
        while not self.arrived and self.error is None and self.running:
            await self._arrival.wait()
            self._arrival.clear()

    async def saves_done(self) -> None:
        """Until the background saves in progress are done (their replies then wait in ``arrived``)."""
        if self._saves:
            await asyncio.gather(*set(self._saves), return_exceptions=True)

    def take_error(self) -> BaseException | None:
        err, self.error = self.error, None
        return err

    # ------------------------------------------------------------------ between cycles

    @property
    def running(self) -> bool:
        """The background pump calls WB or saves what it read."""
        return self._active or bool(self._saves)

    def renew(self) -> None:
        """A cycle ran: the background pump may keep going for IDLE_CYCLES more cycle intervals."""
        self._until = self.clock.monotonic() + IDLE_CYCLES * self.intervals.evaluate.total_seconds()

    def cycle_running(self, running: bool) -> None:
        """The runner's job around a cycle: while one runs the pump goes on; when it ends, renewed."""
        self.in_cycle = running
        if not running:
            self.renew()

    def start(self) -> bool:
        """Start the background pump if something is due and it is not running; returns whether it runs."""
        self.renew()
        if self._active:
            return True
        if self.error is not None or self.next_call(self.clock.now()) is None:
            return False
        self._active = True
        self._task = asyncio.create_task(self._loop(), name=f"fullstats:{self.view.name}")
        return True

    async def _loop(self) -> None:
        try:
            await self._calls()
        finally:
            self._active = False
            self._arrival.set()

    async def _calls(self) -> None:
        try:
            while self.in_cycle or self.clock.monotonic() < self._until:
                call = self.next_call(self.clock.now())
                if call is None:
                    return
                await self.fetch(call, save_later=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # raised by the next cycle's poll stage
            self.error = exc
            log.debug("account %s: a background fullstats read failed: %s", self.view.name, type(exc).__name__)

    async def stop(self) -> None:
        """Cancel the background pump (the runner stops; what arrived stays for a next take)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._saves:  # what was read is saved (the database is still open)
            await asyncio.gather(*self._saves, return_exceptions=True)
        self._active = False
        self._arrival.set()
