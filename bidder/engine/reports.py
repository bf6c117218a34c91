"""What a cycle reports besides its result: alerts on changes of state (an account starts failing or
recovers, WB's API drifted, an optional feature was turned off, WB asked for a longer wait than obeyed)
and the WB clients' call counters for Prometheus. Functions over the :class:`AccountCycle` they report on
(its alert sink, sessions, clock and metrics), kept apart from the pipeline in ``cycle.py``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bidder.errors import WBError

if TYPE_CHECKING:
    from bidder.engine.cycle import AccountCycle, CycleResult

log = logging.getLogger("bidder.engine")


async def alert_features_off(cycle: AccountCycle) -> None:
    """An optional feature WB refused (403) was turned off for the account: said once."""
    view = cycle.view
    while view.features_to_alert:
        feature = view.features_to_alert.pop(0)
        async with cycle.sessions.begin() as s:
            await cycle.alerts.feature_unavailable(s, cycle.name, feature, view.features_off.get(feature, ""),
                                                  cycle.clock.now())


async def alert_drift(cycle: AccountCycle, exc: WBError) -> None:
    key = f"{type(exc).__name__}:{exc.method}"
    if key in cycle.drift_alerted:
        return
    cycle.drift_alerted.add(key)
    async with cycle.sessions.begin() as s:
        await cycle.alerts.api_drift(s, cycle.name, exc, cycle.clock.now())


async def health_transition(cycle: AccountCycle, result: CycleResult) -> None:
    now = cycle.clock.now()
    if not result.ok and cycle.failing is None:
        cycle.failing = result.error or "unknown error"
        log.error("account %s: failing: %s", cycle.name, cycle.failing)
        async with cycle.sessions.begin() as s:
            await cycle.alerts.account_failing(s, cycle.name, cycle.failing, now)
    elif result.ok and cycle.failing is not None:
        log.info("account %s: recovered", cycle.name)
        cycle.failing = None
        async with cycle.sessions.begin() as s:
            await cycle.alerts.account_recovered(s, cycle.name, now)
    elif not result.ok:
        log.warning("account %s: cycle failed again: %s", cycle.name, result.error)


async def alert_long_waits(cycle: AccountCycle) -> None:
    """WB asked this account to wait longer than the pacer obeys (issue 14, defect 8): alert."""
    pacer = getattr(cycle.reader, "pacer", None)
    seller = getattr(cycle.reader, "seller_id", None)
    waits = pacer.take_long_waits(seller) if pacer is not None and seller else []
    if waits:
        async with cycle.sessions.begin() as s:
            for w in {w.group: w for w in waits}.values():
                await cycle.alerts.rate_limit_wait(s, cycle.name, w.group, w.asked, w.applied, cycle.clock.now())


def export_api_metrics(cycle: AccountCycle) -> None:
    """Push the WB clients' call counters (by method and status) into the Prometheus metrics."""
    if cycle.metrics is None:
        return
    clients = [cycle.reader]
    live_client = getattr(cycle.live_writer, "_client", None)
    if live_client is not None:
        clients.append(live_client)
    for client in clients:
        for (method, status), count in list(getattr(client, "metrics", {}).items()):
            key = (id(client), method, status)
            delta = count - cycle.api_seen.get(key, 0)
            if delta > 0:
                cycle.api_seen[key] = count
                cycle.metrics.api_call(method, status, delta)
                if str(status) == "429":
                    cycle.metrics.rate_limited(method)
