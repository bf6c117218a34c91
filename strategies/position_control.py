"""The target_position controller: from fresh readings and the (bid, position) history to the next bid. Pure.

* **Evidence**: readings that name one bid (a paid CPM matching one of the bids in force while the stretch
  may have been measured; else a stretch with no applied change inside it, see
  :mod:`strategies.position_readings`) pair that bid with the position it bought. Within ``MEMORY``
  (competitors drift over the day, older pairs say little): the cheapest bid that held the target and the
  dearest bid that lost it; within ``REPEAT_MEMORY`` a level that lost twice.
* **Corridor**: WB's recommendation for the target (the cluster's reach corridor or the CPC position band,
  else the CPM top / leaders / competitive bids) is where to head when nothing of our own is known yet.
* **Moves** (one per fresh reading, never twice on the same one):
  - lost the target: back to the cheapest bid that held if there is one above, else (a probe's loss) to
    the bid before the probe, else up by ``step_up_pct`` times the shortfall in places (0.5 to 2)
    (straight towards WB's corridor when far off), never to a bid known to lose;
  - on target ``probe_after`` readings in a row since the last change (WB's statistics: covering
    ``PROBE_SPAN`` of data, the stretches since the change joined): the economy probe, one step down
    (``step_down_pct``), never to or below a bid that lost within ``FLOOR_MEMORY`` (at most half way down
    to it when that is a move), nor to about a level that lost twice (readings within ``REPEAT_MEMORY``,
    probes rolled back within ``FAILED_PROBE_MEMORY``);
  - in between: hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bidder.domain import Reason, Recommendation
from bidder.reasons import because
from strategies.position_readings import BID_TICK, ON_TARGET, Reading, describes, lag_of

MEMORY = timedelta(hours=2)  # (bid, position) pairs older than this are forgotten
PROBE_PAUSE = timedelta(hours=4)  # after a loss, no probe to or below the bid that lost for this long
FLOOR_MEMORY = timedelta(hours=4)  # a probe goes at most half way down to a bid that lost within this long
PROBE_SPAN = timedelta(hours=1)  # WB's statistics: on target over this much data before the economy probe
REPEAT_MEMORY = timedelta(hours=24)  # a level that lost twice, PROBE_PAUSE apart, within this long: no probe
# to or below it (a competitor answers that level: each probe there cost 1.5-2 h at a worse place on WB's
# lagging statistics, and after PROBE_PAUSE the probe tried the same bid again)
FAILED_PROBE_MEMORY = timedelta(hours=48)  # probes rolled back (the decision history, 7 days) count this long:
# in the bench a probe into a +1 RUB responder's reach failed every 9-15 h, slipping a 24 h window, and each
# failure cost about 2 h below the target (WB's lag) against a 5 % cheaper bid while it held
MIN_MOVE_PCT = 3  # the guardrails' default dead band: a smaller half-way probe is not proposed
FAR = 2  # observed position at least FAR x the target: head for WB's corridor instead of a step


@dataclass(frozen=True, slots=True)
class Evidence:
    held: int | None  # the cheapest bid that held the target within MEMORY
    lost: int | None  # the dearest bid that lost it within MEMORY
    pairs: int
    lost_lately: int | None = None  # the dearest bid that lost it within PROBE_PAUSE
    losses: tuple[int, ...] = ()  # the bids that lost it within FLOOR_MEMORY
    lost_twice: int | None = None  # the dearest level (same_level) that lost twice, PROBE_PAUSE apart, within
    # REPEAT_MEMORY


Step = tuple[datetime, int, int]  # an applied change of the target: (when, bid before, bid after)


def in_force(reading: Reading, steps: Sequence[Step], bid: int) -> list[int]:
    """The bids that were in force at some moment ``reading`` may describe: its stretch, and before it as
    far back as the source's lag (WB's statistics: LAG_SEEN). ``steps`` oldest first; ``bid`` is the bid now."""
    since = reading.start - lag_of(reading.source) - BID_TICK
    out = set()
    for at, before, after in steps:
        took = at + BID_TICK
        if took <= since:
            continue
        if took > reading.at:
            out.add(before)
            return sorted(out)
        out.update((before, after))
    out.add(bid)
    return sorted(out)


def clean(reading: Reading, changes: Sequence[datetime], bids: Sequence[int],
          steps: Sequence[Step] | None = None) -> int | None:
    """The one bid a reading describes, or None when it may mix several: a paid CPM that matches one of
    the bids in force when it may have been measured (``steps``: the target's changes, oldest first, the
    current bid last in ``bids``; else any of ``bids``); else (time stamps) a stretch with no bid change
    inside it. (Matched against every bid ever set, a stretch that paid 513.32 RUB named neither 513 nor 515
    RUB, set a day apart, and the loss it showed was forgotten: the probe went back to 513 RUB 2 h later.)"""
    if reading.bid is None:
        return None
    if reading.paid:
        candidates = bids if steps is None else in_force(reading, steps, bids[0])
        named = {b for b in candidates if describes(reading, b)}
        return named.pop() if len(named) == 1 else None  # two bids within the tolerance: it names neither
    lag = lag_of(reading.source)
    if any(reading.start - BID_TICK - lag < c + BID_TICK <= reading.at for c in changes):
        return None
    return reading.bid


def same_level(a: int, b: int) -> bool:
    """Two bids within the guardrails' dead band of each other are one level (514 and 514.90 RUB); two
    losses at different levels (542 RUB at night, 570 RUB at the day's peak) are the market moving, not a
    competitor answering one level."""
    return abs(a - b) <= max(a, b) * MIN_MOVE_PCT / 100


def evidence(readings: Sequence[Reading], changes: Sequence[datetime], bids: Sequence[int], target: int,
             now: datetime, steps: Sequence[Step] | None = None) -> Evidence:
    """What the readings say about bids (see the module); ``bids[0]`` is the bid now, ``steps`` the target's
    changes oldest first (see :func:`clean`)."""
    held = lost = lately = None
    losses: set[int] = set()
    events: list[tuple[datetime, int]] = []
    n = 0
    for r in readings:
        if now - r.at > REPEAT_MEMORY:
            continue
        bid = clean(r, changes, bids, steps)
        if bid is None:
            continue
        # a loss is remembered (and blocks probes) only when it is worse than the target by more than WB's
        # typical rounding (half the bound, as for the raise it makes: a loss that was raised on is a loss)
        clear_loss = r.position - r.err / 2 > target + ON_TARGET
        if clear_loss:
            events.append((r.at, bid))
        if now - r.at > FLOOR_MEMORY:
            continue
        if clear_loss:
            losses.add(bid)
        if now - r.at > PROBE_PAUSE:
            continue
        if clear_loss:
            lately = bid if lately is None else max(lately, bid)
        if now - r.at > MEMORY:
            continue
        n += 1
        if r.position <= target + ON_TARGET:
            held = bid if held is None else min(held, bid)
        elif clear_loss:
            lost = bid if lost is None else max(lost, bid)
    if held is not None and lost is not None and lost >= held:
        # the market moved within MEMORY: a bid that held once lost later; trust the loss
        held = None
    twice = [min(b1, b2) for t1, b1 in events for t2, b2 in events if t2 - t1 >= PROBE_PAUSE and same_level(b1, b2)]
    return Evidence(held, lost, n, lately, tuple(sorted(losses)), max(twice, default=None))


def corridor(rec: Recommendation | None, query: str | None, position: int) -> tuple[int | None, Reason]:
    """WB's recommended bid for ``position``: (bid, where from) or (None, why not)."""
    if rec is None:
        return None, because("position.corridor.none")
    if rec.bands:
        for band in sorted(rec.bands, key=lambda b: b.first):
            if band.first <= position <= band.last and band.bid > 0:
                return band.bid, because("position.corridor.band", first=band.first, last=band.last, bid=band.bid)
        return None, because("position.corridor.no_band")
    if query is not None:
        for c in rec.clusters:
            if c.norm_query.strip().lower() == query.strip().lower():
                bid, band = ((c.max_bid, "max"), (c.medium_bid, "medium"), (c.min_bid, "min"))[
                    0 if position <= 5 else 1 if position <= 8 else 2]
                if bid > 0:
                    return bid, because(f"position.corridor.cluster_{band}", bid=bid)
    if position <= 2 and rec.top_bid:
        return rec.top_bid, because("position.corridor.top", bid=rec.top_bid)
    if position <= 10 and rec.leaders_bid:
        return rec.leaders_bid, because("position.corridor.leaders", bid=rec.leaders_bid)
    if rec.competitive_bid:
        return rec.competitive_bid, because("position.corridor.competitive", bid=rec.competitive_bid)
    return None, because("position.corridor.unusable")


@dataclass(frozen=True, slots=True)
class Move:
    bid: int | None  # None: hold
    reason: Reason


def raise_bid(bid: int, pos: float, target: int, ev: Evidence, entry: int | None, step: int, up_pct: float,
              before_probe: int | None = None) -> Move:
    """Back to the cheapest bid that held; else, when the bid lost is an economy probe's, back to the bid
    before the probe (it held: that is why the probe came); else up by ``up_pct`` scaled by how far off the
    reading is (half of it for a fraction of a place, up to twice it two places or more off)."""
    if ev.held is not None and ev.held > bid:
        return Move(ev.held, because("position.move.back_to_held", bid=ev.held))
    if before_probe is not None and before_probe > bid:
        # on WB's lagging statistics a probe's loss shows 1.5-3 h later (at night more), when the
        # readings that held are forgotten: a raise by the shortfall went to 600 RUB from a 514 RUB probe
        # whose 541 RUB had held
        return Move(before_probe, because("position.move.back_before_probe", bid=before_probe))
    up_pct = round(up_pct * min(2.0, max(0.5, pos - target)), 1)
    want = max(round(bid * (1 + up_pct / 100)), bid + step)
    if entry is not None and entry > want and pos >= FAR * target:
        return Move(entry, because("position.move.towards_corridor"))
    return Move(want, because("position.move.up_pct", pct=up_pct))


def probe_down(bid: int, ev: Evidence, floor: int, step: int, down_pct: float) -> Move:
    """One step down; at most half way down to the dearest bid below that lost within FLOOR_MEMORY (the
    cheapest bid that holds lies between the two), never to or below one that lost within PROBE_PAUSE, nor
    to or below a level that lost twice (PROBE_PAUSE apart) within REPEAT_MEMORY."""
    want = max(floor, min(round(bid * (1 - down_pct / 100)), bid - step))
    if ev.lost_twice is not None and want < ev.lost_twice * (1 + MIN_MOVE_PCT / 100):
        # within the guardrails' dead band above that level is the same bid (514.90 after 514 RUB lost twice)
        return Move(None, because("position.move.probe_lost_twice", bid=ev.lost_twice,
                                  hours=int(FAILED_PROBE_MEMORY.total_seconds() // 3600)))
    below = [b for b in ev.losses if b < bid]
    if below and want <= max(below):
        lost = max(below)
        half = -(-(bid + lost) // 2 // step) * step  # rounded up to WB's step
        too_small = bid - half < bid * MIN_MOVE_PCT / 100  # the guardrails would not move it
        if too_small or (ev.lost_lately is not None and half <= ev.lost_lately):
            return Move(None, because("position.move.probe_paused", bid=lost,
                                      hours=int(FLOOR_MEMORY.total_seconds() // 3600)))
        return Move(half, because("position.move.probe_half", lost=lost, bid=half))
    lost_lately = ev.lost_lately
    if lost_lately is not None and want < lost_lately * (1 + MIN_MOVE_PCT / 100):  # the dead band: same bid
        return Move(None, because("position.move.probe_paused", bid=lost_lately,
                                  hours=int(PROBE_PAUSE.total_seconds() // 3600)))
    if want >= bid:
        return Move(None, because("position.move.at_min", bid=floor))
    return Move(want, because("position.move.probe", bid=want))
