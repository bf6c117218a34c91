"""One pacing authority per token: an operator command from the CLI is handed to the running daemon.

``bidder pause-all`` / ``resume-all`` record the operator's switch in the store (as always). Then:

* when a daemon serves the account (its cycle heartbeat in the store is recent), the CLI sends nothing
  to WB: the daemon applies the switch in its next cycle's safety pass, before any read, with its own
  pacer; the CLI waits for a cycle that started after the command to finish and reports the outcome
  of the operator's decisions it recorded;
* when no daemon runs (no recent heartbeat, or it did not finish a cycle in time), the CLI applies the
  switch itself: the stored campaigns (read from WB only when none is stored), then the safety pass
  (no statistics are read, so a statistics outage cannot stop a pause).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bidder.domain import Action
from bidder.errors import WBError
from bidder.store import repo

HEARTBEAT = timedelta(minutes=3)  # at least: a daemon starts a cycle every `intervals.evaluate`
POLL_EVERY = 0.5  # seconds between looks at the store while waiting for the daemon


@dataclass
class Outcome:
    account: str
    by: str  # "daemon" | "cli"
    ok: bool
    counts: Counter = field(default_factory=Counter)  # apply_status -> operator decisions
    error: str | None = None

    def line(self) -> str:
        parts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items())) or "nothing to send"
        head = f"{self.account}: applied by the running daemon" if self.by == "daemon" else \
            f"{self.account}: applied by this command (no daemon running)"
        return f"{head}: {parts}" + (f"; {self.error}" if self.error else "")


def heartbeat_window(app) -> timedelta:
    return max(HEARTBEAT, 3 * app.config.intervals.evaluate)


async def daemon_serving(app, names: list[str], now: datetime) -> set[str]:
    """The accounts whose latest cycle started within the heartbeat window (a daemon serves them)."""
    async with app.sessions() as s:
        last = await repo.last_cycles(s)
    window = heartbeat_window(app)
    return {n for n in names if n in last and now - last[n].started_at < window}


async def wait_for_daemon(app, names: list[str], since: datetime, within: float) -> set[str]:
    """Wait until a cycle of each account that started at or after ``since`` has finished (wall-clock
    ``within`` seconds at most); returns the accounts done."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    done: set[str] = set()
    while True:
        async with app.sessions() as s:
            last = await repo.last_cycles(s)
        done = {n for n in names if n in last and last[n].started_at >= since and last[n].finished_at is not None}
        if done == set(names) or loop.time() >= deadline:
            return done
        await asyncio.sleep(POLL_EVERY)


async def operator_outcomes(app, name: str, since: datetime) -> Counter:
    """The operator's pause/resume decisions recorded for the account since the command, by status."""
    async with app.sessions() as s:
        rows = await repo.history(s, account=name, since=since, limit=10_000)
    return Counter(r.apply_status for r in rows
                   if r.decision.strategy == "operator" and r.decision.action in (Action.PAUSE, Action.RESUME))


async def apply_here(app, name: str) -> Outcome:
    """No daemon: apply the operator's switch from this process (the safety pass only)."""
    cycle = app.cycles[name]
    since = app.clock.now()
    error = None
    await cycle.start()
    await cycle.reconcile()
    if not cycle.campaigns:  # never run before: the campaigns must be read once
        try:
            await cycle.poller.refresh_campaigns(app.clock.now())
        except WBError as exc:
            error = f"campaigns could not be read: {exc}"
    _decisions, _applied, failed = await cycle.safety_pass(app.clock.now())
    counts = await operator_outcomes(app, name, since)
    return Outcome(name, "cli", ok=error is None and failed == 0, counts=counts, error=error)


async def hand_off(app, names: list[str], since: datetime, *, within: float) -> list[Outcome]:
    """Let a running daemon apply the command recorded at ``since`` (or apply it here)."""
    serving = await daemon_serving(app, names, app.clock.now())
    done = await wait_for_daemon(app, sorted(serving), since, within) if serving else set()
    out: list[Outcome] = []
    for name in names:
        if name in done:
            counts = await operator_outcomes(app, name, since)
            out.append(Outcome(name, "daemon", ok="failed" not in counts and "skipped" not in counts, counts=counts))
        else:
            out.append(await apply_here(app, name))
    return out
