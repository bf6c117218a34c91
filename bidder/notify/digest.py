"""The daily digest: yesterday's spend, revenue, ДРР and orders per account, the biggest bid changes,
paused campaigns, and the 7-day chart. :class:`DigestJob` puts it in the outbox once per day.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.clock import Clock
from bidder.domain import Status
from bidder.notify.chart import CampaignSeries, ChartData, build_chart
from bidder.notify.i18n import fmt_date, fmt_minor, fmt_money, fmt_number, fmt_pct, t
from bidder.notify.render import campaign_label, esc, scrub, truncate_html
from bidder.reasons import localised
from bidder.store.accounts import get_account
from bidder.store.alerts import already_alerted
from bidder.store.audit import history
from bidder.store.campaigns import bids_at, load_campaigns
from bidder.store.cycles import stats_read_since
from bidder.store.operator_state import operator_states
from bidder.store.stats import daily_totals

log = logging.getLogger(__name__)
STATS_WAIT = timedelta(hours=6)  # how long after digest_time the digest waits for the day's statistics


@dataclass(frozen=True, slots=True)
class Digest:
    day: date
    text: str  # HTML, ready for sendMessage
    png: bytes | None
    caption: str
    series: tuple[str, ...] = ()


def _local_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), ZoneInfo(tz)).astimezone(UTC)
    return start, start + timedelta(days=1)


async def chart_data(session: AsyncSession, accounts: Sequence[str], since: date, until: date) -> ChartData:
    """Per campaign and day: spend, revenue (daily_totals) and the average bid in force at the end of
    the day (bid snapshots), over every account."""
    days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
    series: list[CampaignSeries] = []
    currency = "RUB"
    for name in accounts:
        info = await get_account(session, name)
        if info is None:
            continue
        currency = info.currency
        names = {c.advert_id: c.name for c in await load_campaigns(session, name)}
        totals = await daily_totals(session, name, since, until)
        by_campaign: dict[int, dict[date, Any]] = {}
        for row in totals:
            by_campaign.setdefault(row.advert_id, {})[row.day] = row
        bids: dict[int, dict[date, float]] = {}
        for d in days:
            _, end = _local_bounds(d, info.timezone)
            per: dict[int, list[int]] = {}
            for (advert_id, _nm, _pl), bid in (await bids_at(session, name, end - timedelta(microseconds=1))).items():
                per.setdefault(advert_id, []).append(bid)
            for advert_id, values in per.items():
                bids.setdefault(advert_id, {})[d] = sum(values) / len(values) / 100
        for advert_id in sorted(set(by_campaign) | set(bids)):
            rows = by_campaign.get(advert_id, {})
            series.append(CampaignSeries(
                advert_id=advert_id, name=names.get(advert_id, ""),
                spend=[rows[d].spend if d in rows else None for d in days],
                revenue=[rows[d].revenue if d in rows else None for d in days],
                bid=[bids.get(advert_id, {}).get(d) for d in days],
            ))
    return ChartData(days=days, campaigns=series, currency=currency)


async def stats_complete(session: AsyncSession, accounts: Sequence[str], day: date) -> bool:
    """Whether every account's statistics of ``day`` were read from WB after the day ended (in the
    account's time zone). Until then the store has none or part of the day (a daemon started after
    ``digest_time`` used to send its first digest before its first statistics read: «расход 0 ₽»)."""
    for name in accounts:
        info = await get_account(session, name)
        if info is None:
            continue
        _, end = _local_bounds(day, info.timezone)
        if not await stats_read_since(session, name, end):
            return False
    return True


async def build_digest(session: AsyncSession, accounts: Sequence[str], day: date, *, locale: str = "ru",
                       top: int = 5, chart_days: int = 7, with_chart: bool = True) -> Digest:
    """The digest for ``day`` (normally yesterday in the digest's time zone)."""
    lines = [t(locale, "digest.title", day=fmt_date(day, locale))]
    changes: list[tuple[int, str, Any, str]] = []
    paused: list[str] = []
    for name in accounts:
        info = await get_account(session, name)
        if info is None:
            continue
        cur = info.currency
        totals = await daily_totals(session, name, day, day)
        spend = sum((x.spend for x in totals), Decimal(0))
        revenue = sum((x.revenue for x in totals), Decimal(0))
        orders = sum(x.orders for x in totals)
        drr = spend / revenue * 100 if revenue else None
        lines.append(t(locale, "digest.account", account=esc(name, 60), spend=fmt_money(spend, locale, cur),
                       revenue=fmt_money(revenue, locale, cur), drr=fmt_pct(drr, locale),
                       orders=fmt_number(orders, locale)))
        campaigns = {c.advert_id: c for c in await load_campaigns(session, name)}
        start, end = _local_bounds(day, info.timezone)
        for d in await history(session, account=name, since=start, limit=2000):
            if d.at >= end or not d.decision.changes_bid or d.apply_status not in (
                    "applied", "reconciled_applied", "dry_run"):
                continue
            delta = (d.decision.bid_after or 0) - (d.decision.bid_before or 0)
            camp = campaigns.get(d.decision.advert_id)
            label = campaign_label(d.decision.advert_id, camp.name if camp else "")
            text = f"• {label}: {fmt_minor(d.decision.bid_before, locale, cur)} → " \
                   f"{fmt_minor(d.decision.bid_after, locale, cur)}"
            if d.decision.reason:
                text += f" — {esc(localised(d.decision.reason, locale, cur), 120)}"
            changes.append((abs(delta), name, d.id, text))
        op = await operator_states(session, name, "paused")
        op_all = any(s.advert_id is None and s.value for s in op)
        op_ids = {int(s.advert_id) for s in op if s.advert_id is not None and s.value}
        for c in campaigns.values():
            if c.status == Status.PAUSED or op_all or c.advert_id in op_ids:
                paused.append(campaign_label(c.advert_id, c.name))
    changes.sort(key=lambda x: (-x[0], x[2]))
    if changes:
        lines.append(t(locale, "digest.changes"))
        lines.extend(x[3] for x in changes[:top])
    else:
        lines.append(t(locale, "digest.nochanges"))
    lines.append(t(locale, "digest.paused", list=", ".join(paused[:30])) if paused else t(locale, "digest.nopaused"))
    text = scrub(truncate_html(lines, locale))
    png, series = None, ()
    if with_chart:
        data = await chart_data(session, accounts, day - timedelta(days=chart_days - 1), day)
        result = await asyncio.to_thread(build_chart, data, locale)  # a second or two of drawing
        png, series = result.png, result.series
    return Digest(day, text, png, t(locale, "report.caption", days=chart_days), series)


class DigestJob:
    """Once a day, after ``digest_time`` in ``timezone``, build yesterday's digest and put it in the outbox.

    Idempotent across restarts: the outbox row carries ``dedup_key = digest:<day>``, whose period (for the
    outbox's one de-duplication rule, :mod:`bidder.store.alerts`) starts with ``<day>``: a day that already
    has a digest row is skipped. Call :meth:`maybe_run` every minute (or run :meth:`run`).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock, *,
                 accounts: Callable[[], Sequence[str]] | Sequence[str], locale: str = "ru",
                 digest_time: time | str = time(9, 0), timezone: str = "Europe/Moscow",
                 on_enqueued: Callable[[], None] | None = None,
                 read_sessions: async_sessionmaker[AsyncSession] | None = None) -> None:
        self._sessions = sessions
        # building the digest (queries and the chart, a second or two) must not hold SQLite's one writer
        self._read_sessions = read_sessions or sessions
        self._clock = clock
        self._accounts = accounts
        self._locale = locale
        if isinstance(digest_time, str):
            hh, mm = digest_time.strip().split(":")
            digest_time = time(int(hh), int(mm))
        self._at = digest_time
        self._tz = timezone
        self._on_enqueued = on_enqueued
        self._waiting: date | None = None

    def _names(self) -> list[str]:
        src = self._accounts() if callable(self._accounts) else self._accounts
        return [a if isinstance(a, str) else a.name for a in src]

    def _waited_enough(self, day: date) -> bool:
        """An account with nothing to read (no campaign with statistics) never records a statistics read:
        after ``STATS_WAIT`` past the digest time the digest goes out with what is stored."""
        due = datetime.combine(day + timedelta(days=1), self._at, ZoneInfo(self._tz))
        return self._clock.now() - due >= STATS_WAIT

    def due_day(self, now: datetime) -> date | None:
        local = now.astimezone(ZoneInfo(self._tz))
        if local.time() < self._at:
            return None
        return local.date() - timedelta(days=1)

    async def maybe_run(self) -> bool:
        """Enqueue the digest if it is due and not yet made. Returns True when one was enqueued."""
        from bidder.notify.outbox import enqueue_message

        day = self.due_day(self._clock.now())
        if day is None:
            return False
        key = f"digest:{day.isoformat()}"
        # the key names its day: its period starts then (in UTC, before that day starts in any time zone)
        since = datetime.combine(day, time(0), UTC)
        async with self._read_sessions() as s:
            if await already_alerted(s, key, at=self._clock.now(), since=since):
                return False
            if not await stats_complete(s, self._names(), day):
                if not self._waited_enough(day):
                    if self._waiting != day:
                        self._waiting = day
                        log.info("digest for %s: waiting for the statistics of that day to be read", day)
                    return False
                log.warning("digest for %s: the statistics of that day were not read within %s of the digest "
                            "time; sending it with what is stored", day, STATS_WAIT)
            digest = await build_digest(s, self._names(), day, locale=self._locale)
        async with self._sessions.begin() as s:
            made = await enqueue_message(s, digest.text, at=self._clock.now(), png=digest.png,
                                         caption=digest.caption, dedup_key=key, since=since)
            if made is None:
                return False
        if self._on_enqueued is not None:
            self._on_enqueued()
        return True

    async def run(self, stop: asyncio.Event | None = None, every: float = 60.0) -> None:
        """Check every ``every`` real seconds (at least 0.5) until ``stop`` is set."""
        stop = stop or asyncio.Event()
        every = max(0.5, every)
        while not stop.is_set():
            try:
                await self.maybe_run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("digest: %s", scrub(f"{type(exc).__name__}: {exc}")[:300])
            try:
                await asyncio.wait_for(stop.wait(), every)
            except TimeoutError:
                pass
