"""Fail-closed rules of the write side, in one place.

* :func:`safe_actions`: which of a strategy's proposals may be acted on without fresh reads from WB (a
  cycle whose reads failed): ``safe_without_fresh_reads`` on the strategy is ``True`` (all of them: a
  schedule needs only the clock and the stored campaign) or a set of actions (spend_cap: only its pauses,
  which come from spend already stored; never a bid it would compute from stale statistics).
* :func:`request_shape_problem`: a campaign whose fields that decide a write request's shape (bid type,
  payment type, placements, status) are missing or unknown is not written to: WB would answer 400 at
  best, or apply a change to the wrong placement.
* :class:`RejectedWrites`: a write WB rejected with a 4xx is never sent again unchanged (across restarts:
  kept in the store), and the campaign is re-read (its details refreshed) before any other write to it;
  a campaign's rejections are forgotten when it reads differently, and after ``REJECTION_TTL``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bidder.domain import Action, Campaign, Decision, Placement, Status
from bidder.store.rejected import RejectedRequest

SAFE_WITHOUT_FRESH_READS = "safe_without_fresh_reads"  # a strategy attribute (False when absent)
KNOWN_BID_TYPES = frozenset({"manual", "unified"})
KNOWN_PAYMENT_TYPES = frozenset({"cpm", "cpc"})
KNOWN_STATUSES = frozenset({Status.DELETED, Status.READY, Status.COMPLETED, Status.DECLINED, Status.ACTIVE,
                            Status.PAUSED})
ALL_ACTIONS = frozenset(Action)
# A rejection is remembered this long at most (WB's minimum bids, a budget, a campaign's settings change
# within a day); sooner when the campaign reads differently.
REJECTION_TTL = timedelta(hours=24)


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


def fingerprint(key: tuple) -> str:
    """A request key (:func:`request_key`) as a stable 64-character name (stored across restarts)."""
    return hashlib.sha256(json.dumps(key, default=str, ensure_ascii=False).encode()).hexdigest()


def shape_of(camp: Campaign | None) -> str:
    """The campaign's request-shaping details (bid type, payment type, status, placements, items) as a
    fingerprint: a campaign that reads differently from when WB rejected a request may take it now."""
    if camp is None:
        return ""
    return fingerprint((camp.bid_type, camp.payment_type, camp.status, sorted(map(str, camp.placements or ())),
                        sorted(it.nm_id for it in camp.items)))


@dataclass
class RejectedWrites:
    """Requests WB rejected (4xx). The same request (same target, value and campaign shape) is never sent
    again; the campaign is re-read before its next write (``needs_reread``). A campaign's rejections are
    forgotten when it reads differently (:func:`shape_of`) and after ``REJECTION_TTL``. They are kept in
    the store (``bidder.store.rejected``) so that a restart does not forget them: ``unsaved`` and
    ``forgotten`` are what the applier writes there, ``load`` what it read back."""

    keys: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # fingerprint -> (WB's reason, when)
    by_campaign: dict[int, set[str]] = field(default_factory=dict)
    shapes: dict[int, str] = field(default_factory=dict)  # advert -> its shape when WB rejected a request
    needs_reread: set[int] = field(default_factory=set)
    unsaved: list[RejectedRequest] = field(default_factory=list)
    forgotten: set[int] = field(default_factory=set)
    loaded: bool = False

    def rejected(self, d: Decision, camp: Campaign | None, reason: str, at: datetime | None = None) -> None:
        at = at or datetime.now(UTC)
        fp, shape = fingerprint(request_key(d, camp)), shape_of(camp)
        if self.shapes.get(d.advert_id, shape) != shape:
            self._forget(d.advert_id)
        self.keys[fp] = (reason, at)
        self.by_campaign.setdefault(d.advert_id, set()).add(fp)
        self.shapes[d.advert_id] = shape
        self.unsaved.append(RejectedRequest(d.advert_id, fp, shape, reason, at))
        self.needs_reread.add(d.advert_id)

    def load(self, rows: Iterable[RejectedRequest]) -> None:
        for r in rows:
            self.keys.setdefault(r.fingerprint, (r.reason, r.rejected_at))
            self.by_campaign.setdefault(r.advert_id, set()).add(r.fingerprint)
            self.shapes.setdefault(r.advert_id, r.shape)
        self.loaded = True

    def refused(self, d: Decision, camp: Campaign | None, now: datetime | None = None) -> str | None:
        """Why this write must not be sent now, or None."""
        if d.advert_id in self.needs_reread:
            return "WB rejected a write to this campaign: waiting for its details to be read again"
        if d.advert_id in self.shapes and self.shapes[d.advert_id] != shape_of(camp):
            self._forget(d.advert_id)  # it reads differently now: what WB refused may be right now
            return None
        entry = self.keys.get(fingerprint(request_key(d, camp)))
        if entry is None:
            return None
        reason, at = entry
        if now is not None and now - at >= REJECTION_TTL:
            return None
        return f"WB rejected this exact request before ({reason}): not sent again"

    def _forget(self, advert_id: int) -> None:
        for fp in self.by_campaign.pop(advert_id, ()):
            self.keys.pop(fp, None)
        self.shapes.pop(advert_id, None)
        self.unsaved = [r for r in self.unsaved if r.advert_id != advert_id]
        self.forgotten.add(advert_id)

    def reread(self, advert_ids: Iterable[int]) -> None:
        self.needs_reread.difference_update(advert_ids)
