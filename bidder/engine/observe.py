"""Recording what each evaluation read, for replay (``bidder replay``, ``bidder plan``).

After each evaluation pass the evaluator hands :class:`InputRecorder` every campaign it evaluated: the
inputs (:class:`~bidder.engine.view.CampaignInputs` and the daily statistics it loaded) and the decisions.
The recorder stores, in one transaction:

* the parts of the inputs that changed since they were last stored (campaign details and bids, WB's bid
  rules, each day of each item's statistics, each search cluster, each recommendation, the plausible
  ceiling of WB's minimum bids the lazy minimum-bid hold compares against, the search-cluster bids read by
  get-bids), with when WB was
  read (``observed_at``) and the evaluation that first used them (``known_at``): :mod:`bidder.store.observations`;
* one evaluation row per campaign: the statistics time, the operator pause, the stop file, whether WB's
  minimum bids were known, and the decisions (compact), which the reproducibility gate compares against.

The audit trail (the history input) is already in the database. What only lived in memory before (the
recommendations, WB's minimum bids and step, the bids noted after a write, the statistics time, the
operator's and the stop file's state at that moment) is now stored with its time. Unchanged parts are
compared in memory (by value, or by hash for the many statistics rows), so a pass whose inputs did not
change writes one evaluation row per campaign and nothing else. Once a day what is older than
``RETENTION`` is forgot (the newest row of every part stays).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.domain import Action, Decision
from bidder.store import observations as obs

log = logging.getLogger("bidder.engine")
RETENTION = timedelta(days=35)  # replay reaches back this far (default --since is 7 days)
PURGE_EVERY = timedelta(days=1)


def compact(d: Decision) -> tuple[Any, ...]:
    """A decision as the evaluations table keeps it (and the replay compares it)."""
    return (Action(d.action).value, d.nm_id, d.placement, d.norm_query, d.bid_before, d.bid_after, d.strategy)


class InputRecorder:
    def __init__(self, account: str) -> None:
        self.account = account
        self._stored: dict[obs.PartKey, Any] | None = None  # part -> last value (or hash) stored
        self._digests: dict[obs.PartKey, str] = {}  # the newest digests in the database (after a restart)
        self._purged: datetime | None = None

    async def record(self, sessions: async_sessionmaker[AsyncSession], view: Any, now: datetime, since: date,
                     evaluated: Sequence[tuple[Any, tuple, list[Decision] | None]]) -> None:
        """``evaluated``: (CampaignInputs, daily statistics, decisions or None when a strategy failed)."""
        try:
            async with sessions.begin() as s:
                if self._stored is None:
                    self._digests = await obs.latest_digests(s, self.account)
                    self._stored = {}
                rows: list[obs.Observation] = []
                evals: list[obs.EvaluationRecord] = []
                for seen, daily, decided in evaluated:
                    rows.extend(self._changes(view, now, seen, daily))
                    evals.append(obs.EvaluationRecord(
                        advert_id=seen.campaign.advert_id, at=now, stats_as_of=seen.stats_as_of, stats_since=since,
                        operator_paused=bool(seen.operator_paused), stopped=bool(seen.stopped),
                        rules_known=bool(seen.rules_known), failed=decided is None,
                        decisions=tuple(compact(d) for d in decided or ()),
                    ))
                await obs.save_observations(s, self.account, rows)
                await obs.save_evaluations(s, self.account, evals)
            if self._purged is None or now - self._purged >= PURGE_EVERY:
                self._purged = now
                async with sessions.begin() as s:
                    gone = await obs.purge(s, self.account, now - RETENTION)
                if any(gone):
                    log.info("account %s: forgot %d evaluations and %d replaced observations older than %s",
                             self.account, gone[0], gone[1], RETENTION)
        except Exception:  # recording must never stop the bidder: replay then reports the gap
            log.exception("account %s: recording the evaluation inputs failed", self.account)
            self._stored = None  # re-read what is stored before the next record

    def _changes(self, view: Any, now: datetime, seen: Any, daily: tuple) -> list[obs.Observation]:
        advert_id = seen.campaign.advert_id
        out: list[obs.Observation] = []
        stored = self._stored
        assert stored is not None

        def put(kind: str, key: str, value: Any, marker: Any, encode: Any, observed_at: datetime | None) -> None:
            part = (advert_id, kind, key)
            if stored.get(part) == marker:
                return
            payload = encode(value)
            dg = obs.digest(payload)
            stored[part] = marker
            if self._digests.pop(part, None) == dg:
                return  # stored before a restart
            out.append(obs.Observation(advert_id, kind, key, observed_at, now, dg, payload))

        camp = seen.campaign
        put(obs.CAMPAIGN, "", camp, camp, obs.encode_campaign, view.details_at.get(advert_id))
        put(obs.RULES, "", seen.rules, seen.rules, obs.encode_rules, view.min_bids.fetched_at(advert_id))
        for st in daily:
            put(obs.DAILY, obs.daily_key(st), st, hash(st), obs.encode_daily, seen.stats_as_of)
        clusters_at = view.clusters_at.get(advert_id)
        for st in seen.cluster_stats:
            put(obs.CLUSTER, obs.cluster_key(st), st, hash(st), obs.encode_cluster, clusters_at)
        for nm_id, rec in seen.recommendations.items():
            put(obs.REC, str(nm_id), rec, hash(rec), obs.encode_rec,
                rec.fetched_at or view.recs_at.get((advert_id, nm_id)))
        # what the lazy minimum-bid hold compared against (account-wide, so stored per campaign when it
        # changes) and the search-cluster bids read by get-bids: replay decides with both, as the evaluator did
        ceiling = view.min_bids.ceiling(camp.payment_type)
        put(obs.MIN_CEILING, "", ceiling, ("ceiling", ceiling), obs.encode_ceiling, None)
        part = (advert_id, obs.CLUSTER_BIDS, "")
        if seen.cluster_bids or part in stored or part in self._digests:
            put(obs.CLUSTER_BIDS, "", seen.cluster_bids, ("bids", seen.cluster_bids), obs.encode_cluster_bids, None)
        return out
