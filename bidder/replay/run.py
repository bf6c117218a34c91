"""Running a replay: load what was recorded, replay each campaign (in worker processes: campaigns are
independent), sum up. ``replay_account`` is the entry point of ``bidder replay``.
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bidder.engine.guards import GuardConfig
from bidder.engine.positions import KEEP as POSITIONS_KEEP
from bidder.engine.view import HISTORY_DAYS
from bidder.reasons import without_text
from bidder.replay.core import CampaignReplay, replay_campaign
from bidder.store import observations as obs
from bidder.store import replay_read
from bidder.store.db import Database
from bidder.store.positions import positions_known_at
from strategies.windows import keeping_evidence

PLACEHOLDER = "replay-needs-no-token"


class TokenlessEnv(Mapping[str, str]):
    """The environment, with a placeholder for every unset variable: replay reads no token, so a candidate
    config can be checked without the account's tokens in the environment."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)

    def __getitem__(self, key: str) -> str:
        return self.env.get(key) or PLACEHOLDER

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self):
        return iter(self.env)

    def __len__(self) -> int:
        return len(self.env)


def load_candidate(path: Path) -> Any:
    from bidder.config import load_config

    return load_config(path, TokenlessEnv())


_LOADED: dict[tuple[str, int, int], Any] = {}


def _candidate(path: Path) -> Any:
    """:func:`load_candidate`, once per file version in a process (a worker takes several tasks)."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = load_candidate(path)
    return _LOADED[key]


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    config_path: Path
    database_url: str
    account: str
    campaigns: tuple[int, ...] | None
    since: datetime
    until: datetime


BATCH = 25  # campaigns loaded and replayed at a time (bounds the memory of a week of observations)


async def _load(s: Any, request: ReplayRequest, advert_ids: list[int]) -> tuple[list, list, list, list]:
    evals = await replay_read.load_evaluations(s, request.account, advert_ids, since=request.since,
                                               until=request.until)
    observations = await replay_read.load_observations(s, request.account, advert_ids, until=request.until)
    history = await obs.history_rows(s, request.account, advert_ids, since=request.since - timedelta(days=HISTORY_DAYS),
                                     until=request.until)
    # ad positions are stored by the position poller with the time they were observed (store/positions.py)
    until = request.until or datetime.max.replace(tzinfo=UTC)
    positions = await positions_known_at(s, request.account, until, since=request.since - POSITIONS_KEEP,
                                         advert_ids=advert_ids)
    return evals, observations, history, positions


def _replay_part(request: ReplayRequest, advert_ids: list[int]) -> list[CampaignReplay]:
    """Load and replay some campaigns, ``BATCH`` at a time (runs in a worker process, or inline). Reasons
    are made without their text (replay compares actions and bids; the text is most of a decision's cost)."""
    with without_text(), keeping_evidence():
        return asyncio.run(_replay_batches(request, advert_ids))


async def _replay_batches(request: ReplayRequest, advert_ids: list[int]) -> list[CampaignReplay]:
    config = _candidate(request.config_path)
    account = next(a for a in config.accounts if a.name == request.account)
    guard = GuardConfig.from_guardrails(account.guardrails)
    out: list[CampaignReplay] = []
    async with Database(request.database_url) as db, db.read_sessions() as s:
        for i in range(0, len(advert_ids), BATCH):
            batch = advert_ids[i:i + BATCH]
            evals, observations, history, positions = await _load(s, request, batch)
            pos_by: dict[int, list] = defaultdict(list)
            for p in positions:
                pos_by[p.advert_id].append(p)
            ev_by: dict[int, list] = defaultdict(list)
            for e in evals:
                ev_by[e.advert_id].append(e)
            obs_by: dict[int, list] = defaultdict(list)
            for o in observations:
                obs_by[o.advert_id].append(o)
            hist_by: dict[int, list] = defaultdict(list)
            for h in history:
                hist_by[h.advert_id].append(h)
            del evals, observations, history, positions
            for aid in sorted(ev_by):
                out.append(replay_campaign(aid, ev_by.pop(aid), obs_by.pop(aid, []), hist_by.pop(aid, []), account,
                                           guard, account_name=account.name, cap=guard.max_bid,
                                           stop_file=config.stop_file, positions=pos_by.pop(aid, [])))
    return out


async def span(url: str, account: str) -> tuple[datetime | None, datetime | None]:
    """The first and last recorded evaluation of the account."""
    async with Database(url) as db, db.read_sessions() as s:
        return await obs.evaluation_span(s, account)


async def campaigns_recorded(request: ReplayRequest) -> list[int]:
    async with Database(request.database_url) as db, db.read_sessions() as s:
        evals = await obs.load_evaluation_campaigns(s, request.account, since=request.since, until=request.until)
    return evals


TASK = 5  # campaigns per task handed to a worker process (workers take the next task when done)


def replay_account(request: ReplayRequest, *, workers: int | None = None) -> list[CampaignReplay]:
    """Every recorded campaign (or ``request.campaigns``) replayed; with more than one worker the campaigns
    are split into tasks of about ``TASK`` campaigns that the worker processes take one at a time (each
    loads its task's campaigns from the database), so that a worker whose campaigns cost less (another
    strategy mix) takes more of them and both finish together."""
    ids = list(request.campaigns) if request.campaigns else asyncio.run(campaigns_recorded(request))
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    if workers <= 1 or len(ids) < 2 * workers:
        return _replay_part(request, ids)
    size = min(TASK, -(-len(ids) // workers))
    shares = [ids[i:i + size] for i in range(0, len(ids), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(_replay_part, [request] * len(shares), shares))
    return sorted((r for part in parts for r in part), key=lambda r: r.advert_id)
