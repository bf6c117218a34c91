"""WB's minimum bids, read lazily: only where a decision depends on them.

WB's minimum bid (``POST /api/advert/v1/bids/min``, 20 calls a minute, one campaign a call) changes
rarely. Reading it for every campaign before deciding anything made a cold start of a few hundred
campaigns wait minutes. Here it is read only when a decision depends on it:

* a bid change whose new bid is **near the minimum** (below the account's *plausible ceiling*, see below)
  needs the item's minimum for that placement: without it the change is held (fail closed) and the
  minimum is asked for; the cycle reads up to WB's burst of them right after evaluating and decides those
  campaigns again (:data:`MIN_BIDS_IN_CYCLE`), the rest in the next cycles;
* a **current bid near the minimum** gets its minimum asked for too (a bid below the minimum is raised to
  it by the guardrails once it is known);
* a change to a bid far above any plausible minimum (at or over the ceiling) does not, nor does a hold,
  pause or resume.

The plausible ceiling of a payment type is :data:`PLAUSIBLE_MARGIN` times the highest minimum known for
that payment type in the account (over every placement and item read so far). Until one is known there
is no ceiling and every change of that type waits: the poll stage reads one campaign's minimums per
payment type first (two calls on a cold start) so that there is one. Should WB answer "bid below
minimum" all the same, the rejection re-reads the minimum (:func:`note_rejection`).

Known minimums are cached per (campaign, item, placement) for :data:`MIN_BIDS_TTL` (a day) and handed to
the guardrails (``BidRules.min_bids``), which never go below them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bidder.domain import Action, Campaign, Decision, Placement

MIN_BIDS_TTL = timedelta(days=1)
# WB allows 20 a minute with a burst of 5: with a cycle a minute, the burst in the poll stage (alongside
# fullstats) and 3 between evaluation and apply stay under it, so the cycle hardly waits on the bucket
MIN_BIDS_CALLS_PER_CYCLE = 5
MIN_BIDS_IN_CYCLE = 3
# WB's answer to a bid below the minimum: "wrong bid value: 3; min: 150" (REFERENCE.md §1)
PLAUSIBLE_MARGIN = 2  # a bid at or over twice the highest known minimum of its payment type is far above it
_BELOW_MINIMUM = re.compile(r"\bmin(imum)?\b", re.IGNORECASE)

Key = tuple[int, str]  # (nm_id, placement)


@dataclass
class MinBids:
    """Known minimums per campaign, (nm_id, placement) -> (fetched_at, value), and the ones asked for."""

    known: dict[int, dict[Key, tuple[datetime, int]]] = field(default_factory=dict)
    wanted: dict[int, set[Key]] = field(default_factory=dict)
    payment: dict[int, str] = field(default_factory=dict)  # advert -> payment type (of those read)
    _ceilings: dict[str, int] | None = None

    def ceiling(self, payment_type: str) -> int | None:
        """Bids at or over this are far above any plausible minimum of the payment type; None: no minimum
        of that payment type is known yet."""
        if self._ceilings is None:
            top: dict[str, int] = {}
            for advert_id, got in self.known.items():
                pt = self.payment.get(advert_id)
                for _, value in got.values():
                    if pt is not None and value > top.get(pt, 0):
                        top[pt] = value
            self._ceilings = {pt: v * PLAUSIBLE_MARGIN for pt, v in top.items() if v > 0}
        return self._ceilings.get(payment_type)

    def wants_type(self, payment_type: str) -> bool:
        return any(self.payment.get(a) == payment_type for a in self.wanted)

    def want_near(self, camp: Campaign, known: Mapping[Key, int], ceiling: int | None) -> None:
        """Ask for the minimums of the campaign's current bids below the ceiling (a bid may be under it)."""
        for it in camp.items:
            for placement in camp.bid_placements:
                if (it.nm_id, placement) in known:
                    continue
                bid = it.bid_for(placement)
                if bid is not None and (ceiling is None or bid < ceiling):
                    self.want(camp.advert_id, it.nm_id, placement)

    def for_campaign(self, advert_id: int, now: datetime | None = None) -> dict[Key, int]:
        """The campaign's known minimums (those older than a day are left out when ``now`` is given)."""
        got = self.known.get(advert_id)
        if not got:
            return {}
        if now is None:
            return {k: v for k, (_, v) in got.items()}
        return {k: v for k, (at, v) in got.items() if now - at < MIN_BIDS_TTL}

    def fetched_at(self, advert_id: int) -> datetime | None:
        """When the newest of the campaign's known minimums was read (None: none known)."""
        got = self.known.get(advert_id)
        return max((at for at, _ in got.values()), default=None) if got else None

    def want(self, advert_id: int, nm_id: int, placement: str) -> None:
        self.wanted.setdefault(advert_id, set()).add((nm_id, placement))

    def forget(self, advert_id: int, nm_id: int, placement: str) -> None:
        """A minimum no longer trusted (WB rejected a bid as below it): dropped and asked for again."""
        got = self.known.get(advert_id)
        if got is not None:
            for key in [k for k in got if k[0] == nm_id and (k[1] == placement or placement == Placement.COMBINED)]:
                got.pop(key, None)
        self.want(advert_id, nm_id, placement)

    def store(self, advert_id: int, mins: Mapping[Key, int], asked: Iterable[Key], now: datetime,
              payment_type: str | None = None) -> None:
        if payment_type is not None:
            self.payment[advert_id] = payment_type
        self._ceilings = None
        got = self.known.setdefault(advert_id, {})
        for key, value in mins.items():
            got[key] = (now, int(value))
        left = self.wanted.get(advert_id)
        if left is not None:
            left.difference_update(asked)
            left.difference_update(mins)
            if not left:
                self.wanted.pop(advert_id, None)

    def expire(self, now: datetime) -> None:
        """Minimums older than a day are dropped (the next cut that needs one reads it again)."""
        for advert_id in list(self.known):
            got = self.known[advert_id]
            for key in [k for k, (at, _) in got.items() if now - at >= MIN_BIDS_TTL]:
                del got[key]
            if not got:
                del self.known[advert_id]
        self._ceilings = None

    def requests(self, campaigns: Mapping[int, Campaign], limit: int = MIN_BIDS_CALLS_PER_CYCLE
                 ) -> list[tuple[Campaign, list[int], list[str]]]:
        """Up to ``limit`` calls (campaign, nm ids, placements) for the campaigns with minimums asked for.
        A call reads all of the campaign's items and bid placements (one call either way, up to 100 items),
        so a campaign costs one call a day; asks for campaigns no longer known are dropped."""
        out = []
        for advert_id in sorted(self.wanted):
            camp = campaigns.get(advert_id)
            if camp is None or not camp.items or not camp.bid_placements:
                self.wanted.pop(advert_id, None)
                continue
            out.append((camp, [it.nm_id for it in camp.items], list(camp.bid_placements)))
            if len(out) >= limit:
                break
        return out


def depends_on_minimum(d: Decision, ceiling: int | None) -> bool:
    """Whether this decision needs WB's minimum bid for its item and placement: a bid change to a bid near
    the minimum (below the plausible ceiling, or any when there is none yet)."""
    if not d.changes_bid:
        return False
    return ceiling is None or d.bid_after is None or d.bid_after < ceiling


def hold_without_minimum(d: Decision, mins: MinBids, known: Mapping[Key, int], ceiling: int | None) -> Decision:
    """``d`` as decided when its minimum is known or not needed; otherwise a hold (fail closed) and the
    minimum is asked for."""
    if not depends_on_minimum(d, ceiling):
        return d
    placement = d.placement or Placement.SEARCH.value
    if d.nm_id is not None and _known_for(known, d.nm_id, placement):
        return d
    if d.nm_id is not None:
        mins.want(d.advert_id, d.nm_id, placement)
    return replace(d, action=Action.HOLD, bid_after=d.bid_before,
                   reason=f"{d.reason} [held: the new bid is near WB's minimum for this item, which is not "
                          f"read yet; asked for]",
                   guard="waiting for WB's minimum bid")


def _known_for(known: Mapping[Key, int], nm_id: int, placement: str) -> bool:
    if placement == Placement.COMBINED:
        return (nm_id, placement) in known or all(
            (nm_id, p) in known for p in (Placement.SEARCH.value, Placement.RECOMMENDATIONS.value))
    return (nm_id, placement) in known


def is_below_minimum(reason: str | None) -> bool:
    """Whether WB's rejection of a bid says it was below the minimum."""
    return bool(reason) and _BELOW_MINIMUM.search(reason or "") is not None


def note_rejection(mins: MinBids, d: Decision, reason: str | None) -> None:
    """A bid WB rejected: when it was below the minimum, the cached minimum is re-read."""
    if d.nm_id is not None and d.norm_query is None and is_below_minimum(reason):
        mins.forget(d.advert_id, d.nm_id, d.placement or Placement.SEARCH.value)
