"""Observations: every input an evaluation read, stored with when it was observed, and the evaluations
themselves (what each read besides the observations, what it decided), so that a config can be replayed
over the inputs as they were known at each past evaluation.

An observation is one *part* of a campaign's inputs (``kind``, ``key``):

====================  ====================================  ==========================================
kind                  key                                   payload
====================  ====================================  ==========================================
``campaign``          ``""``                                details, status and every item's bids
``rules``             ``""``                                WB's bid step and per-item minimum bids
``daily``             ``nm|day``                            one day of one item's statistics
``cluster``           ``nm|from|to|query``                  one search cluster's statistics
``rec``               ``nm``                                WB's bid recommendation for one item
``min_ceiling``       ``""``                                the plausible ceiling of WB's minimum bids
                                                            for the campaign's payment type (changes
                                                            below it wait for the item's minimum)
``cluster_bids``      ``""``                                the search-cluster bids read by get-bids
====================  ====================================  ==========================================

A row is written only when the part differs from the last one stored (``digest``). ``observed_at`` is when
WB was read, ``known_at`` the evaluation that first used it: the inputs "as known at t" are the newest row
of each part with ``known_at <= t`` (:class:`ObservedState`, :func:`inputs_at`).

The audit trail (decisions) is the history input; :func:`history_rows` reads it as it was known at a time
(a write counts as applied from its ``applied_at``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.domain import (
    Action,
    BidRules,
    Campaign,
    ClusterStat,
    DailyStat,
    DecisionRecord,
    Item,
    PositionBand,
    ReachBand,
    Recommendation,
)
from bidder.store.audit import APPLIED_STATUSES, _avg_position, _position_at
from bidder.store.common import chunks, find_account_id, require_account_id
from bidder.store.leases import check_current_fence
from bidder.store.models import AccountRow, DailyStatRow, DecisionRow, EvaluationRow, ObservationRow

CAMPAIGN, RULES, DAILY, CLUSTER, REC = "campaign", "rules", "daily", "cluster", "rec"
MIN_CEILING, CLUSTER_BIDS = "min_ceiling", "cluster_bids"
PartKey = tuple[int, str, str]  # (advert_id, kind, key)


# ---------------------------------------------------------------------------------------------- codec

def _dt(v: str | None) -> datetime | None:
    return None if v is None else datetime.fromisoformat(v)


def encode_campaign(c: Campaign) -> dict[str, Any]:
    return {"advert_id": c.advert_id, "name": c.name, "type": c.type, "status": c.status, "bid_type": c.bid_type,
            "payment_type": c.payment_type, "currency": c.currency, "placements": sorted(c.placements),
            "items": [[it.nm_id, dict(it.bids), it.subject] for it in c.items],
            "changed_at": None if c.changed_at is None else c.changed_at.isoformat()}


def decode_campaign(p: dict[str, Any]) -> Campaign:
    return Campaign(advert_id=p["advert_id"], name=p["name"], type=p["type"], status=p["status"],
                    bid_type=p["bid_type"], payment_type=p["payment_type"], currency=p["currency"],
                    placements=frozenset(p["placements"]),
                    items=tuple(Item(nm_id=nm, bids=dict(bids), subject=subject) for nm, bids, subject in p["items"]),
                    changed_at=_dt(p["changed_at"]))


def encode_rules(r: BidRules) -> dict[str, Any]:
    return {"step": r.step, "max_bid": r.max_bid,
            "min_bids": sorted([nm, pl, v] for (nm, pl), v in r.min_bids.items())}


def decode_rules(p: dict[str, Any]) -> BidRules:
    return BidRules(step=p["step"], min_bids={(nm, pl): v for nm, pl, v in p["min_bids"]}, max_bid=p["max_bid"])


def daily_key(st: DailyStat) -> str:
    return f"{st.nm_id}|{st.day.isoformat()}"


def encode_daily(st: DailyStat) -> list[Any]:
    return [st.views, st.clicks, st.atbs, st.orders, str(st.spend), str(st.revenue), st.avg_position]


def decode_daily(advert_id: int, key: str, p: list[Any]) -> DailyStat:
    nm, day = key.split("|", 1)
    return DailyStat(advert_id=advert_id, nm_id=int(nm), day=date.fromisoformat(day), views=p[0], clicks=p[1],
                     atbs=p[2], orders=p[3], spend=Decimal(p[4]), revenue=Decimal(p[5]), avg_position=p[6])


def cluster_key(st: ClusterStat) -> str:
    return f"{st.nm_id}|{st.period_from.isoformat()}|{st.period_to.isoformat()}|{st.norm_query}"


def encode_cluster(st: ClusterStat) -> list[Any]:
    return [st.views, st.clicks, st.orders, str(st.spend), st.avg_pos]


def decode_cluster(advert_id: int, key: str, p: list[Any]) -> ClusterStat:
    nm, p_from, p_to, query = key.split("|", 3)
    return ClusterStat(advert_id=advert_id, nm_id=int(nm), norm_query=query, period_from=date.fromisoformat(p_from),
                       period_to=date.fromisoformat(p_to), views=p[0], clicks=p[1], orders=p[2],
                       spend=Decimal(p[3]), avg_pos=p[4])


def encode_rec(r: Recommendation) -> dict[str, Any]:
    return {"payment_type": r.payment_type, "competitive_bid": r.competitive_bid, "leaders_bid": r.leaders_bid,
            "top_bid": r.top_bid,
            "clusters": [[c.norm_query, c.max_bid, c.medium_bid, c.min_bid] for c in r.clusters],
            "bands": [[b.first, b.last, b.bid] for b in r.bands],
            "fetched_at": None if r.fetched_at is None else r.fetched_at.isoformat()}


def decode_rec(advert_id: int, key: str, p: dict[str, Any]) -> Recommendation:
    return Recommendation(advert_id=advert_id, nm_id=int(key), payment_type=p["payment_type"],
                          competitive_bid=p["competitive_bid"], leaders_bid=p["leaders_bid"], top_bid=p["top_bid"],
                          clusters=tuple(ReachBand(*c) for c in p["clusters"]),
                          bands=tuple(PositionBand(*b) for b in p["bands"]), fetched_at=_dt(p["fetched_at"]))


def encode_ceiling(ceiling: int | None) -> dict[str, Any]:
    return {"ceiling": ceiling}


def encode_cluster_bids(bids: Iterable[tuple[tuple[int, str], int]]) -> list[list[Any]]:
    """``CampaignInputs.cluster_bids`` (sorted ``((nm_id, norm_query), bid)``) as stored."""
    return [[nm, query, bid] for (nm, query), bid in bids]


def decode_cluster_bids(p: list[list[Any]]) -> tuple[tuple[tuple[int, str], int], ...]:
    return tuple(sorted(((nm, query), bid) for nm, query, bid in p))


def digest(payload: Any) -> str:
    return hashlib.sha1(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------- records

@dataclass(frozen=True, slots=True)
class Observation:
    advert_id: int
    kind: str
    key: str
    observed_at: datetime | None
    known_at: datetime
    digest: str
    payload: Any


@dataclass(frozen=True, slots=True)
class EvaluationRecord:
    """One recorded evaluation of one campaign. ``decisions`` are compact:
    ``(action, nm_id, placement, norm_query, bid_before, bid_after, strategy)``."""

    advert_id: int
    at: datetime
    stats_as_of: datetime | None
    stats_since: date
    operator_paused: bool
    stopped: bool
    rules_known: bool
    failed: bool
    decisions: tuple[tuple[Any, ...], ...]
    id: int = 0


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """An audit-trail row with what is needed to know it as it was at a past time."""

    id: int
    advert_id: int
    at: datetime
    applied_at: datetime | None
    record: DecisionRecord  # ``applied`` as finally recorded

    def known_at(self, t: datetime) -> DecisionRecord:
        """The record as an evaluation at ``t`` saw it: applied only once its outcome was recorded."""
        if self.record.applied and (self.applied_at is None or self.applied_at > t):
            return DecisionRecord(**{**_fields(self.record), "applied": False})
        return self.record


def _fields(r: DecisionRecord) -> dict[str, Any]:
    return {name: getattr(r, name) for name in DecisionRecord.__slots__}  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- writes

async def save_observations(session: AsyncSession, account: str, rows: Sequence[Observation]) -> None:
    if not rows:
        return
    account_id = await require_account_id(session, account)
    values = [{"account_id": account_id, "advert_id": o.advert_id, "kind": o.kind, "key": o.key,
               "observed_at": o.observed_at, "known_at": o.known_at, "digest": o.digest, "payload": o.payload}
              for o in rows]
    for chunk in chunks(values):
        await session.execute(insert(ObservationRow), list(chunk))


async def save_evaluations(session: AsyncSession, account: str, rows: Sequence[EvaluationRecord]) -> None:
    if not rows:
        return
    account_id = await require_account_id(session, account)
    values = [{"account_id": account_id, "advert_id": e.advert_id, "at": e.at, "stats_as_of": e.stats_as_of,
               "stats_since": e.stats_since, "operator_paused": e.operator_paused, "stopped": e.stopped,
               "rules_known": e.rules_known, "failed": e.failed, "decisions": [list(d) for d in e.decisions]}
              for e in rows]
    for chunk in chunks(values):
        await session.execute(insert(EvaluationRow), list(chunk))


async def purge(session: AsyncSession, account: str, before: datetime) -> tuple[int, int]:
    """Forget what replay no longer reaches: evaluations before ``before``, and observations known before it
    that a newer row of the same part has replaced (the newest of every part stays: it is what was known
    at ``before``). Returns (evaluations, observations) deleted."""
    await check_current_fence(session, account)  # a worker's write: fenced
    account_id = await find_account_id(session, account)
    if account_id is None:
        return 0, 0
    e, o = EvaluationRow, ObservationRow
    evals = await session.execute(delete(e).where(e.account_id == account_id, e.at < before))
    newest = (select(func.max(o.id)).where(o.account_id == account_id, o.known_at < before)
              .group_by(o.advert_id, o.kind, o.key).scalar_subquery())
    observed = await session.execute(delete(o).where(o.account_id == account_id, o.known_at < before,
                                                     o.id.not_in(newest)))
    return evals.rowcount or 0, observed.rowcount or 0  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- reads

async def latest_digests(session: AsyncSession, account: str) -> dict[PartKey, str]:
    """The digest of the newest stored row of every part (a restarted recorder stores only changes)."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return {}
    o = ObservationRow
    newest = (select(func.max(o.id)).where(o.account_id == account_id)
              .group_by(o.advert_id, o.kind, o.key).scalar_subquery())
    stmt = select(o.advert_id, o.kind, o.key, o.digest).where(o.id.in_(newest))
    return {(a, k, key): d for a, k, key, d in await session.execute(stmt)}


async def load_observations(session: AsyncSession, account: str, advert_ids: Iterable[int] | None, *,
                            until: datetime) -> list[Observation]:
    """Every stored observation known by ``until``, ordered by ``known_at``, id."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return []
    o = ObservationRow
    stmt = (select(o.advert_id, o.kind, o.key, o.observed_at, o.known_at, o.digest, o.payload)
            .where(o.account_id == account_id, o.known_at <= until).order_by(o.known_at, o.id))
    if advert_ids is None:
        return [Observation(*row) for row in await session.execute(stmt)]
    out: list[Observation] = []
    for chunk in chunks(sorted(set(advert_ids))):
        out.extend(Observation(*row) for row in await session.execute(stmt.where(o.advert_id.in_(chunk))))
    out.sort(key=lambda x: x.known_at)
    return out


async def latest_observations(session: AsyncSession, account: str) -> list[Observation]:
    """The newest stored row of every part (the inputs as known now), ordered by ``known_at``, id."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return []
    o = ObservationRow
    newest = (select(func.max(o.id)).where(o.account_id == account_id)
              .group_by(o.advert_id, o.kind, o.key).scalar_subquery())
    stmt = (select(o.advert_id, o.kind, o.key, o.observed_at, o.known_at, o.digest, o.payload)
            .where(o.id.in_(newest)).order_by(o.known_at, o.id))
    return [Observation(*row) for row in await session.execute(stmt)]


async def latest_evaluations(session: AsyncSession, account: str) -> list[EvaluationRecord]:
    """The newest recorded evaluation of every campaign, by advert id."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return []
    e = EvaluationRow
    newest = select(func.max(e.id)).where(e.account_id == account_id).group_by(e.advert_id).scalar_subquery()
    return [_evaluation(r) for r in await session.scalars(select(e).where(e.id.in_(newest)).order_by(e.advert_id))]


def _evaluation(r: EvaluationRow) -> EvaluationRecord:
    return EvaluationRecord(advert_id=r.advert_id, at=r.at, stats_as_of=r.stats_as_of, stats_since=r.stats_since,
                            operator_paused=r.operator_paused, stopped=r.stopped, rules_known=r.rules_known,
                            failed=r.failed, decisions=tuple(tuple(d) for d in r.decisions or ()), id=r.id)


async def load_evaluations(session: AsyncSession, account: str, advert_ids: Iterable[int] | None, *,
                           since: datetime, until: datetime) -> list[EvaluationRecord]:
    """Recorded evaluations with ``since <= at <= until``, ordered by time, id."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return []
    e = EvaluationRow
    # columns, not ORM instances: a week of a 200-campaign account is ~700,000 rows
    stmt = (select(e.advert_id, e.at, e.stats_as_of, e.stats_since, e.operator_paused, e.stopped, e.rules_known,
                   e.failed, e.decisions, e.id)
            .where(e.account_id == account_id, e.at >= since, e.at <= until).order_by(e.at, e.id))
    if advert_ids is not None:
        stmt = stmt.where(e.advert_id.in_(sorted(set(advert_ids))))
    return [EvaluationRecord(aid, at, as_of, st_since, bool(paused), bool(stopped), bool(known), bool(failed),
                             tuple(tuple(d) for d in decisions or ()), rid)
            for aid, at, as_of, st_since, paused, stopped, known, failed, decisions, rid in await session.execute(stmt)]


async def load_evaluation_campaigns(session: AsyncSession, account: str, *, since: datetime,
                                    until: datetime) -> list[int]:
    """The campaigns with a recorded evaluation in ``since <= at <= until``."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return []
    e = EvaluationRow
    stmt = (select(e.advert_id).where(e.account_id == account_id, e.at >= since, e.at <= until)
            .group_by(e.advert_id).order_by(e.advert_id))
    return list(await session.scalars(stmt))


async def evaluation_span(session: AsyncSession, account: str) -> tuple[datetime | None, datetime | None]:
    account_id = await find_account_id(session, account)
    if account_id is None:
        return None, None
    e = EvaluationRow
    row = (await session.execute(select(func.min(e.at), func.max(e.at)).where(e.account_id == account_id))).one()
    return row[0], row[1]


async def history_rows(session: AsyncSession, account: str, advert_ids: Iterable[int] | None, *,
                       since: datetime, until: datetime) -> list[HistoryRow]:
    """Audit-trail rows with ``since <= at < until``, ordered by id."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return []
    d = DecisionRow
    stmt = (select(d.id, d.advert_id, d.at, d.applied_at, d.strategy, d.action, d.nm_id, d.placement, d.bid_before,
                   d.bid_after, d.apply_status, d.evidence_at, d.inputs, d.norm_query)
            .where(d.account_id == account_id, d.at >= since, d.at < until).order_by(d.id))
    if advert_ids is not None:
        stmt = stmt.where(d.advert_id.in_(sorted(set(advert_ids))))
    out = []
    for (rid, aid, at, applied_at, strategy, action, nm_id, placement, before, after, status, evidence_at,
         inputs, norm_query) in await session.execute(stmt):
        # every field as the engine's audit trail reads it (bidder.store.audit._record)
        rec = DecisionRecord(at=at, strategy=strategy, action=Action(action), nm_id=nm_id, placement=placement,
                             bid_before=before, bid_after=after, applied=status in APPLIED_STATUSES,
                             evidence_at=evidence_at, avg_position=_avg_position(inputs), norm_query=norm_query,
                             position_at=_position_at(inputs), war=bool((inputs or {}).get("bidding_war")))
        out.append(HistoryRow(rid, aid, at, applied_at, rec))
    return out


# ---------------------------------------------------------------------------------------------- folding

@dataclass
class CampaignParts:
    """One campaign's stored inputs as known at the time the fold has reached."""

    campaign: Campaign | None = None
    rules: BidRules | None = None
    daily: dict[str, DailyStat] = field(default_factory=dict)
    clusters: dict[str, ClusterStat] = field(default_factory=dict)
    recs: dict[int, Recommendation] = field(default_factory=dict)
    version: int = 0  # bumped by every observation folded in
    ceiling: int | None = None  # the plausible ceiling of WB's minimum bids (engine/min_bids.py)
    ceiling_known: bool = False  # False: recorded before the ceiling was stored (replay cannot hold as it did)
    cluster_bids: tuple[tuple[tuple[int, str], int], ...] = ()  # sorted ((nm_id, norm_query), bid)

    def daily_stats(self, since: date) -> tuple[DailyStat, ...]:
        """Ordered by nm_id, day (as the evaluator loads them)."""
        rows = [st for st in self.daily.values() if st.day >= since]
        rows.sort(key=lambda st: (st.nm_id, st.day))
        return tuple(rows)

    def cluster_stats(self, since: date) -> tuple[ClusterStat, ...]:
        """Ordered by nm_id, norm_query, period_from, period_to (as the evaluator keeps them)."""
        rows = [st for st in self.clusters.values() if st.period_to >= since]
        rows.sort(key=lambda st: (st.nm_id, st.norm_query, st.period_from, st.period_to))
        return tuple(rows)


class ObservedState:
    """Folds observations in ``known_at`` order: ``advance(t)`` brings every campaign to what was known at
    ``t``; ``parts[advert_id]`` is then a :class:`CampaignParts`."""

    def __init__(self, observations: Sequence[Observation]) -> None:
        self._obs = observations
        self._next = 0
        self.parts: dict[int, CampaignParts] = {}

    def advance(self, t: datetime) -> None:
        obs = self._obs
        i = self._next
        while i < len(obs) and obs[i].known_at <= t:
            self._fold(obs[i])
            i += 1
        self._next = i

    def _fold(self, o: Observation) -> None:
        parts = self.parts.get(o.advert_id)
        if parts is None:
            parts = self.parts[o.advert_id] = CampaignParts()
        parts.version += 1
        if o.kind == CAMPAIGN:
            parts.campaign = decode_campaign(o.payload)
        elif o.kind == RULES:
            parts.rules = decode_rules(o.payload)
        elif o.kind == DAILY:
            parts.daily[o.key] = decode_daily(o.advert_id, o.key, o.payload)
        elif o.kind == CLUSTER:
            parts.clusters[o.key] = decode_cluster(o.advert_id, o.key, o.payload)
        elif o.kind == REC:
            parts.recs[int(o.key)] = decode_rec(o.advert_id, o.key, o.payload)
        elif o.kind == MIN_CEILING:
            parts.ceiling, parts.ceiling_known = o.payload["ceiling"], True
        elif o.kind == CLUSTER_BIDS:
            parts.cluster_bids = decode_cluster_bids(o.payload)


@dataclass(frozen=True, slots=True)
class InputsAt:
    """Everything stored about one campaign's inputs as known at ``at`` (see :func:`inputs_at`)."""

    at: datetime
    campaign: Campaign | None
    rules: BidRules | None
    daily_stats: tuple[DailyStat, ...]
    cluster_stats: tuple[ClusterStat, ...]
    recommendations: dict[int, Recommendation]
    history: tuple[DecisionRecord, ...]
    evaluation: EvaluationRecord | None  # the latest recorded evaluation at or before ``at``


async def inputs_at(session: AsyncSession, account: str, advert_id: int, at: datetime, *,
                    stats_days: int = 7, history_days: int = 7) -> InputsAt:
    """One campaign's inputs as they were known at ``at``: the newest stored observation of each part,
    ``stats_days`` of daily statistics and search clusters, the audit trail of ``history_days`` as it
    stood then, and the last evaluation recorded by then (statistics time, operator pause, stop file)."""
    state = ObservedState(await load_observations(session, account, [advert_id], until=at))
    state.advance(at)
    parts = state.parts.get(advert_id, CampaignParts())
    since_day = (at - timedelta(days=stats_days)).date()
    rows = await history_rows(session, account, [advert_id], since=at - timedelta(days=history_days), until=at)
    history = tuple(r.known_at(at) for r in sorted(rows, key=lambda r: (r.at, r.id)))
    evals = await load_evaluations(session, account, [advert_id], since=at - timedelta(days=history_days), until=at)
    return InputsAt(at=at, campaign=parts.campaign, rules=parts.rules, daily_stats=parts.daily_stats(since_day),
                    cluster_stats=parts.cluster_stats(since_day), recommendations=dict(parts.recs), history=history,
                    evaluation=evals[-1] if evals else None)


# ---------------------------------------------------------------------------------------------- sweep

async def latest_recommendations(session: AsyncSession, account: str) -> dict[tuple[int, int], Recommendation]:
    """The newest stored recommendation of every item, by (advert_id, nm_id) (``bidder sweep
    --calibrate-from-db`` fits the competitors' bids to them)."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return {}
    o = ObservationRow
    newest = (select(func.max(o.id)).where(o.account_id == account_id, o.kind == REC)
              .group_by(o.advert_id, o.key).scalar_subquery())
    stmt = select(o.advert_id, o.key, o.payload).where(o.id.in_(newest))
    out: dict[tuple[int, int], Recommendation] = {}
    for advert_id, key, payload in await session.execute(stmt):
        rec = decode_rec(advert_id, key, payload)
        out[(advert_id, rec.nm_id)] = rec
    return out


async def newest_stat_day(session: AsyncSession, account: str) -> date | None:
    """The newest day of the account's stored daily statistics."""
    account_id = await find_account_id(session, account)
    if account_id is None:
        return None
    return await session.scalar(select(func.max(DailyStatRow.day)).where(DailyStatRow.account_id == account_id))


async def recorded_accounts(session: AsyncSession) -> list[str]:
    """The names of the accounts with stored daily statistics."""
    stmt = (select(AccountRow.name).where(AccountRow.id.in_(select(DailyStatRow.account_id).distinct()))
            .order_by(AccountRow.name))
    return list(await session.scalars(stmt))
