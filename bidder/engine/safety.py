"""Fail-closed rules of the write side, in one place.

* :func:`safe_actions`: which of a strategy's proposals may be acted on without fresh reads from WB (a
  cycle whose reads failed): ``safe_without_fresh_reads`` on the strategy is ``True`` (all of them: a
  schedule needs only the clock and the stored campaign) or a set of actions (spend_cap: only its pauses,
  which come from spend already stored; never a bid it would compute from stale statistics).
* :func:`request_shape_problem`: a campaign whose fields that decide a write request's shape (bid type,
  payment type, placements, status) are missing or unknown is not written to: WB would answer 400 at
  best, or apply a change to the wrong placement.
* :class:`RejectedWrites`: a write WB rejected with a 4xx is never sent again unchanged, and the
  campaign is re-read (its details refreshed) before any other write to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bidder.domain import Action, Campaign, Decision, Placement, Status

SAFE_WITHOUT_FRESH_READS = "safe_without_fresh_reads"  # a strategy attribute (False when absent)
KNOWN_BID_TYPES = frozenset({"manual", "unified"})
KNOWN_PAYMENT_TYPES = frozenset({"cpm", "cpc"})
KNOWN_STATUSES = frozenset({Status.DELETED, Status.READY, Status.COMPLETED, Status.DECLINED, Status.ACTIVE,
                            Status.PAUSED})
ALL_ACTIONS = frozenset(Action)


def safe_actions(strategy) -> frozenset[Action]:
    """The actions of ``strategy``'s proposals that need no fresh reads (empty: none)."""
    flag = getattr(strategy, SAFE_WITHOUT_FRESH_READS, False)
    if flag is True:
        return ALL_ACTIONS
    if not flag:
        return frozenset()
    return frozenset(Action(a) for a in flag)


def request_shape_problem(camp: Campaign) -> str | None:
    """Why a write to this campaign cannot be shaped safely, or None."""
    unknown = tuple(getattr(camp, "unknown_fields", ()) or ())
    if unknown:
        return f"fields missing or unknown in WB's campaign details: {', '.join(sorted(map(str, unknown)))}"
    if camp.bid_type not in KNOWN_BID_TYPES:
        return f"bid type {camp.bid_type or 'missing'!r} is not known"
    if camp.payment_type not in KNOWN_PAYMENT_TYPES:
        return f"payment type {camp.payment_type or 'missing'!r} is not known"
    if camp.status not in KNOWN_STATUSES:
        return f"campaign status {camp.status} is not known"
    if camp.bid_type == "manual" and not camp.placements:
        return "no placement is enabled in WB's campaign details"
    return None


def placement_fits(camp: Campaign, d: Decision) -> bool:
    """A bid write names a placement the campaign's bid type takes (unified: combined only)."""
    if d.action != Action.SET_BID or d.norm_query is not None:
        return True
    if camp.bid_type == "unified":
        return d.placement == Placement.COMBINED
    return d.placement in camp.bid_placements


def request_key(d: Decision, camp: Campaign | None) -> tuple:
    """What a write request looks like on the wire, and what it was shaped from."""
    shape = (camp.bid_type, camp.payment_type, camp.status) if camp is not None else None
    return (d.advert_id, d.nm_id, d.placement, d.norm_query, d.action.value, d.bid_after, shape)


@dataclass
class RejectedWrites:
    """Requests WB rejected (4xx). The same request (same target, value and campaign shape) is never sent
    again; the campaign is re-read before its next write (``needs_reread``)."""

    keys: dict[tuple, str] = field(default_factory=dict)
    needs_reread: set[int] = field(default_factory=set)

    def rejected(self, d: Decision, camp: Campaign | None, reason: str) -> None:
        self.keys[request_key(d, camp)] = reason
        self.needs_reread.add(d.advert_id)

    def refused(self, d: Decision, camp: Campaign | None) -> str | None:
        """Why this write must not be sent now, or None."""
        if d.advert_id in self.needs_reread:
            return "WB rejected a write to this campaign: waiting for its details to be read again"
        reason = self.keys.get(request_key(d, camp))
        if reason is not None:
            return f"WB rejected this exact request before ({reason}): not sent again"
        return None

    def reread(self, advert_ids: Iterable[int]) -> None:
        self.needs_reread.difference_update(advert_ids)
