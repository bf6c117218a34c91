"""The target_position strategy: keep an item at or above an ad position, as cheaply as possible.

What it steers on (``snapshot.positions``, freshest source first, see :mod:`strategies.position_readings`):
the buyer-facing public search when the account enables it and it answered lately, else WB's search-cluster
statistics of today (a running average synced every 3 minutes, turned into stretches of time). Every reason
names the source and the stretch it describes.

What it moves: for a manual CPM campaign with a ``query``, that search cluster's own bid
(``Proposal.norm_query``; the current value is ``snapshot.cluster_bids``); otherwise the item's search
(manual) or unified bid.

How it moves (:mod:`strategies.position_control`): WB's corridor where nothing of our own is known; then
the observed (bid, position) pairs: back to the cheapest bid that held after a loss, small raises
otherwise, and an economy probe one step down after ``probe_after`` fresh readings on target, never to a
bid that lost lately. It reacts once per fresh reading: a reading counts only when its whole stretch lies
after the last change took effect (the source's own settle time), and never twice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bidder.domain import (
    Action,
    CampaignSnapshot,
    DecisionRecord,
    Placement,
    PositionSource,
    Proposal,
    Reason,
    base_to_minor,
)
from bidder.reasons import because
from strategies.base import Strategy
from strategies.common import Target, by, min_bid, proposal, round_down, round_up
from strategies.params import TargetPositionParams
from strategies.position_control import (
    FAILED_PROBE_MEMORY,
    PROBE_PAUSE,
    PROBE_SPAN,
    Evidence,
    corridor,
    evidence,
    probe_down,
    raise_bid,
    same_level,
)
from strategies.position_readings import (
    BID_TICK,
    ON_TARGET,
    Reading,
    describes,
    freshest,
    lag_of,
    pooled,
    readings,
)


def target_changes(snapshot: CampaignSnapshot, nm_id: int, norm_query: str | None) -> list[DecisionRecord]:
    """Applied bid changes of one target (an item bid, or one cluster bid of the item), newest first."""
    q = None if norm_query is None else norm_query.strip().lower()
    out = [
        r for r in snapshot.history
        if r.applied and r.action == Action.SET_BID and r.nm_id == nm_id
        and (None if r.norm_query is None else r.norm_query.strip().lower()) == q
        and r.bid_after is not None and r.bid_before is not None and r.bid_after != r.bid_before
    ]
    out.sort(key=lambda r: r.at, reverse=True)
    return out


def watched_query(snapshot: CampaignSnapshot, nm_id: int, query: str | None) -> str | None:
    """The configured cluster, else the item's cluster with the most views today (clusters_today)."""
    if query is not None:
        return query
    best: tuple[int, str] | None = None
    for o in snapshot.positions:
        if o.nm_id == nm_id and o.source == PositionSource.CLUSTERS_TODAY and o.sample:
            if best is None or o.sample > best[0]:
                best = (o.sample, o.query)
    return None if best is None else best[1]


class TargetPosition(Strategy):
    kind = "target_position"
    Params = TargetPositionParams
    needs_positions = True  # engine/positions.py polls today's clusters (and the public search when enabled)
    needs_recommendations = True  # WB's corridor

    params: TargetPositionParams

    def decide(self, snapshot: CampaignSnapshot, now: datetime) -> list[Proposal]:
        camp = snapshot.campaign
        per_cluster = camp.bid_type == "manual" and camp.payment_type == "cpm" and self.params.query is not None
        out: list[Proposal] = []
        for item in camp.items:
            if per_cluster:
                assert self.params.query is not None
                bid = snapshot.cluster_bids.get((item.nm_id, self.params.query))
                if not bid:
                    out.append(Proposal(self.kind, Action.HOLD, camp.advert_id, item.nm_id, Placement.SEARCH.value,
                                        norm_query=self.params.query,
                                        reason=because("position.cluster_bid_unread")))
                    continue
                out.append(self._one(snapshot, Target(item.nm_id, Placement.SEARCH.value, bid), self.params.query,
                                     now))
                continue
            for placement in camp.bid_placements:
                if placement == Placement.RECOMMENDATIONS:
                    continue  # positions are a search notion; the recommendations bid is left to others
                bid = item.bid_for(placement)
                if not bid:
                    out.append(proposal(self.kind, Action.HOLD, snapshot, because("common.bid_unknown"),
                                        nm_id=item.nm_id, placement=placement))
                    continue
                out.append(self._one(snapshot, Target(item.nm_id, placement, bid), None, now))
        if not out:
            out.append(proposal(self.kind, Action.HOLD, snapshot, because("position.nothing_to_manage")))
        return out

    def _one(self, snapshot: CampaignSnapshot, t: Target, norm_query: str | None, now: datetime) -> Proposal:
        p = self.params
        step = max(snapshot.rules.step, 1)
        max_bid = round_down(base_to_minor(p.max_bid), step)
        floor = min_bid(snapshot, t.nm_id, t.placement)
        query = watched_query(snapshot, t.nm_id, p.query)
        by_source = readings(snapshot.positions, t.nm_id, query) if query is not None else {}
        reading = freshest(by_source, now)
        entry, entry_source = corridor(snapshot.recommendations.get(t.nm_id), query, p.position)
        changes = target_changes(snapshot, t.nm_id, norm_query)
        change_times = [r.at for r in changes]
        inputs: dict = {"target_position": p.position, "query": query, "entry_bid": entry,
                        "entry_source": str(entry_source), "max_bid": max_bid, "min_bid": floor}
        if reading is not None:
            inputs.update(position=round(reading.position, 2), avg_position=round(reading.position, 2),
                          position_source=reading.source, position_at=reading.at.isoformat(),
                          position_start=reading.start.isoformat(), position_bid=reading.bid,
                          position_paid=reading.paid, position_paid_tol=reading.tol)

        def make(action: Action, reason: Reason, bid: int | None = None) -> Proposal:
            out = proposal(self.kind, action, snapshot, reason, t, bid=bid, **inputs)
            if norm_query is None:
                return out
            return Proposal(strategy=out.strategy, action=out.action, advert_id=out.advert_id, nm_id=out.nm_id,
                            placement=out.placement, bid=out.bid, norm_query=norm_query, reason=out.reason,
                            inputs=out.inputs)

        def set_bid(bid: int, reason: Reason) -> Proposal:
            bid = min(round_up(bid, step), max_bid)
            if bid == t.bid:
                return make(Action.HOLD, reason)
            return make(Action.SET_BID, reason, bid)

        where = None if reading is None else because(
            "position.where", position=round(reading.position, 2), source=_source(reading), span=_span(reading),
            target=p.position)
        if t.bid > max_bid:
            if where is None:
                return set_bid(max_bid, because("position.above_max", bid=t.bid, max_bid=max_bid))
            return set_bid(max_bid, because("position.above_max_at", where=where, bid=t.bid, max_bid=max_bid))
        if reading is None:
            cold = not any(by(r, self.kind) for r in changes) and not by_source
            if cold and entry is not None and entry > t.bid and t.bid < max_bid:
                return set_bid(entry, because("position.start_from_corridor", entry=entry_source))
            return make(Action.HOLD, because("position.no_reading"))

        assert where is not None
        last = changes[0] if changes else None
        settled_at = None if last is None else last.at + BID_TICK + p.settle
        if not _fresh(reading, t.bid, settled_at):
            if reading.paid:
                return make(Action.HOLD, because("position.stats_lag", where=where, paid_bid=reading.bid or 0,
                                                 bid=t.bid))
            assert last is not None  # a reading is stale only after a change
            return make(Action.HOLD, because("position.wait_after_change", where=where, source=_source(reading),
                                             at=f"{last.at:%H:%M}", before=last.bid_before or 0,
                                             after=last.bid_after or 0))
        if last is not None and last.position_at is not None and reading.at <= last.position_at:
            return make(Action.HOLD, because("position.already_acted", where=where))

        same = by_source.get(reading.source, [])
        known = [t.bid, *(b for r in changes for b in (r.bid_before, r.bid_after) if b is not None)]
        steps = [(r.at, r.bid_before, r.bid_after) for r in reversed(changes)
                 if r.bid_before is not None and r.bid_after is not None]
        ev = evidence(same, change_times, known, p.position, now, steps)
        if reading.source == PositionSource.PUBLIC_SEARCH:
            # live data show a probe's loss within minutes (a responder's answer): no long memory of levels
            # that lost (it kept the bid 6 % above the cheapest holding bid for days in the bench)
            ev = replace(ev, lost_twice=None)
        else:
            ev = _with_failed_probes(ev, changes, now)
        inputs.update(cheapest_held=ev.held, lost_bid=ev.lost)
        if reading.position > p.position + ON_TARGET:
            # WB rounds each running average to 0.1: a differenced stretch is off by up to ``err``, typically
            # by half of it (two rounding errors, each uniform). A stretch worse than the target by less than
            # that is no loss on its own: it is joined with the stretch before (the rounding between them
            # cancels) and raises only if the two together are still worse than the target by more than
            # half of their (smaller) bound.
            shortfall = reading.position - reading.err / 2
            if shortfall <= p.position + ON_TARGET:
                joined = _joined(same, t.bid, settled_at)
                if joined is None or joined.position - joined.err / 2 <= p.position + ON_TARGET:
                    return make(Action.HOLD, because(
                        "position.within_rounding", where=where, err=reading.err,
                        joined="-" if joined is None else round(joined.position, 2)))
                shortfall = max(shortfall, joined.position - joined.err / 2)
            if t.bid >= max_bid:
                inputs["wants_raise"] = True  # the guardrails still roll back raises that bought nothing
                return make(Action.HOLD, because("position.at_max", where=where, max_bid=max_bid))
            # the raise is sized on what the stretch shows beyond its rounding (a 4.8 +-1 read at a true
            # position 4 raised 17.8 % instead of 10 %)
            probe = last if last is not None and by(last, self.kind) and last.bid_after == t.bid and \
                (last.bid_before or 0) > t.bid else None
            move = raise_bid(t.bid, shortfall, p.position, ev, entry, step, p.step_up_pct,
                             None if probe is None else probe.bid_before)
            assert move.bid is not None
            if ev.lost is not None and move.bid <= ev.lost:
                move = raise_bid(ev.lost, shortfall, p.position, ev, entry, step, p.step_up_pct)
            return set_bid(move.bid or t.bid, because("position.raise", where=where, move=move.reason))
        on_target, since = _on_target_since(same, t.bid, settled_at, p.position)
        run = _at_bid(same, t.bid, settled_at)
        if run is not None and run[0].position <= p.position + ON_TARGET:
            # clusters_today: the stretches since the bid took effect, joined (WB's rounding cancels between
            # them): on target on average even when one short stretch read 3.4 at +-1 (position 3 at 600 RUB
            # read 3.3, 3.8, 2.8, 3.4, 3.2 for 9 hours and never made a run "in a row")
            on_target, since = max(on_target, run[1]), min(since or run[0].start, run[0].start)
        if reading.source == PositionSource.SEARCH_REPORT and reading.position + reading.err > p.position - p.margin:
            # the report is a fallback: a day's average in whole places whose stretches must hold as many
            # searches as the day before them (a reading every 2-8 hours); a probe's loss would show half a
            # day later (held 55-69 % with probes in the bench), so it only raises, and lowers only when the
            # place is clearly better than the target by ``margin``
            return make(Action.HOLD, because("position.report_no_probe", where=where))
        probe_after = p.probe_after if reading.source == PositionSource.PUBLIC_SEARCH else max(1, p.probe_after - 1)
        # WB's statistics: the bid must have held for PROBE_SPAN of data (competitors answer a cut within
        # minutes to tens of minutes, and a loss shows only after WB's lag)
        short = reading.source != PositionSource.PUBLIC_SEARCH and (since is None or reading.at - since < PROBE_SPAN)
        if (on_target < probe_after or short) and reading.position > p.position - p.margin:
            return make(Action.HOLD, because("position.on_target_wait", where=where, n=on_target, needed=probe_after))
        move = probe_down(t.bid, ev, floor, step, p.step_down_pct)
        if move.bid is None:
            return make(Action.HOLD, because("position.on_target", where=where, move=move.reason))
        return set_bid(move.bid, because("position.on_target", where=where, move=move.reason))


def _span(r: Reading) -> Reason:
    if r.start == r.at:
        return because("position.span.at", at=f"{r.at:%H:%M}")
    return because("position.span.range", start=f"{r.start:%H:%M}", end=f"{r.at:%H:%M}")


def _source(r: Reading) -> Reason:
    """The reading's source by name (``clusters_today``) in English, in words in Russian."""
    return because(f"position.src.{PositionSource(r.source).value}")


def _fresh(r: Reading, bid: int, settled_at: datetime | None) -> bool:
    """The reading describes the current bid: a paid CPM (CPC) says so itself; a public-search point must
    start after the last change took effect, a WB statistics reading that cannot name its bid (a CPC
    stretch with few clicks) ``LAG_SEEN`` after it (WB's statistics lag)."""
    if r.paid:
        return describes(r, bid) and (settled_at is None or r.at >= settled_at)
    if settled_at is None:
        return True
    return r.start >= settled_at + lag_of(r.source)


def _joined(rs: list[Reading], bid: int, settled_at: datetime | None) -> Reading | None:
    """The newest stretch joined with the one before it, when both describe ``bid`` (the rounding of the
    running average between them cancels: about half the error of either)."""
    if len(rs) < 2 or not _fresh(rs[-2], bid, settled_at) or not _fresh(rs[-1], bid, settled_at):
        return None
    return pooled(rs[-2], rs[-1])


def _with_failed_probes(ev: Evidence, changes: list[DecisionRecord], now: datetime) -> Evidence:
    """The evidence, plus what the history says: a raise straight after an economy probe, from the probed
    bid, means the probe lost (its readings may straddle the change and name no bid, so the readings alone
    forgot it and the same probe came back 2-4 h later). One such loss pauses probes to or below that bid for
    PROBE_PAUSE; two within FAILED_PROBE_MEMORY block them (see :func:`probe_down`)."""
    failed = []
    for newer, older in zip(changes, changes[1:], strict=False):
        if now - newer.at > FAILED_PROBE_MEMORY:
            break
        probe = (older.bid_after or 0) < (older.bid_before or 0) and by(older, TargetPosition.kind)
        if probe and newer.bid_before == older.bid_after and (newer.bid_after or 0) > (newer.bid_before or 0):
            failed.append((newer.at, older.bid_after or 0))
    if not failed:
        return ev
    lately = [b for at, b in failed if now - at <= PROBE_PAUSE]
    if lately:
        ev = replace(ev, lost_lately=max(ev.lost_lately or 0, *lately))
    twice = [min(a, b) for i, (_, a) in enumerate(failed) for _, b in failed[i + 1:] if same_level(a, b)]
    if twice:
        ev = replace(ev, lost_twice=max(ev.lost_twice or 0, *twice))
    return ev


def _at_bid(rs: list[Reading], bid: int, settled_at: datetime | None) -> tuple[Reading, int] | None:
    """The newest back-to-back stretches that all describe ``bid``, joined into one reading (its error shrinks
    with every stretch), and how many there are; None when there is no such pair (public search, CPC)."""
    joined: Reading | None = None
    n = 0
    for r in reversed(rs):
        if not _fresh(r, bid, settled_at):
            break
        nxt = r if joined is None else pooled(r, joined)
        if nxt is None:
            break
        joined, n = nxt, n + 1
    return (joined, n) if joined is not None and n >= 2 else None


def _on_target_since(rs: list[Reading], bid: int, settled_at: datetime | None,
                     target: int) -> tuple[int, datetime | None]:
    """Fresh readings on target in a row, newest backwards, and where the oldest of them starts."""
    n = 0
    since = None
    for r in reversed(rs):
        if not _fresh(r, bid, settled_at) or r.position > target + ON_TARGET:
            break
        n += 1
        since = r.start
    return n, since
