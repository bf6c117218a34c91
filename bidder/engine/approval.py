"""Approval mode: decisions that wait for a person's Approve in Telegram before they are applied.

Per account or campaign (``approval: {mode: off | raises | all, timeout: 30m}``). Between the evaluate
and the apply stage, :meth:`ApprovalGate.gate` takes out the decisions that need approval: each is queued
in the database (:mod:`bidder.store.approvals`, surviving restarts) and becomes a hold "awaiting approval"
until a person answers; the notify side sends the request with Approve / Reject buttons and records the
answer. An approved decision is applied at a later cycle through the same audited, paced writer, but only
when the fresh evaluation still decides the same (same action, bid before and bid after): otherwise the
approval is marked ``stale`` and the new decision is asked for instead. Unanswered at the timeout: skipped
(``expired``).

Safety actions never wait: pauses (the kill switch, budget, schedule and stop-loss pauses), the operator's
and rollback's decisions, and the guardrails' corrections of a bid outside max_bid or WB's minimum.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.domain import Action, Decision
from bidder.store import approvals as store

SAFETY_STRATEGIES = frozenset({"operator", "rollback", "guards"})
FORCED = ("is above max_bid", "below WB's minimum")  # the guardrails' corrections (guards.py wording)
AWAITING = "awaiting approval in Telegram"


def needs_approval(d: Decision, mode: str) -> bool:
    if mode == "off" or d.strategy in SAFETY_STRATEGIES:
        return False
    if d.action == Action.RESUME:
        return True
    if d.action != Action.SET_BID or not d.changes_bid:
        return False  # holds, and pauses: a pause only ever lowers spend
    if d.guard and any(f in d.guard for f in FORCED):
        return False
    if mode == "raises":
        return (d.bid_after or 0) > (d.bid_before or 0)
    return True


def awaiting(d: Decision, approval_id: int) -> Decision:
    return replace(d, action=Action.HOLD, bid_after=d.bid_before, guard=AWAITING,
                   reason=f"{d.reason} [{AWAITING}: request {approval_id}]")


class ApprovalGate:
    def __init__(self, account_name: str, accounts: Any, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.name = account_name
        self.accounts = accounts  # () -> AccountConfig (the config may be reloaded)
        self.sessions = sessions

    def _enabled(self, account: Any) -> bool:
        return account.approval.mode != "off" or any(
            c.approval is not None and c.approval.mode != "off" for c in account.campaigns)

    async def gate(self, decisions: list[Decision], now: datetime) -> list[Decision]:
        account = self.accounts()
        if not self._enabled(account):
            return decisions
        out: list[Decision] = []
        async with self.sessions.begin() as s:
            await store.expire(s, self.name, now)
            live = {(a.advert_id, a.target): a for a in await store.live_approvals(s, self.name)}
            longest = max([account.approval.timeout] + [c.approval.timeout for c in account.campaigns
                                                        if c.approval is not None])
            closed: dict[tuple[int, str], store.Approval] = {}
            for a in await store.recently_closed(s, self.name, now - longest):
                closed[(a.advert_id, a.target)] = a  # the newest per target
            for d in decisions:
                cfg = account.approval_for(d.advert_id)
                if not needs_approval(d, cfg.mode):
                    out.append(d)
                    continue
                a = live.get((d.advert_id, store.target_key(d)))
                holds = a is not None and a.same_as(d) and a.bid_before == d.bid_before
                if a is not None and a.status == store.APPROVED:
                    if holds:  # approved, and the fresh evaluation still decides the same
                        await store.set_status(s, a.id, store.APPLIED, now=now)
                        out.append(replace(d, reason=f"{d.reason} [approved by {a.decided_by}]"))
                        continue
                    await store.set_status(s, a.id, store.STALE, now=now)
                    a, holds = None, False
                if a is None:  # rejected or unanswered: not asked again for the same change until the timeout
                    c = closed.get((d.advert_id, store.target_key(d)))
                    if (c is not None and c.same_as(d) and c.bid_before == d.bid_before and c.decided_at is not None
                            and now - c.decided_at < cfg.timeout):
                        out.append(replace(d, action=Action.HOLD, bid_after=d.bid_before, guard=f"{c.status} in Telegram",
                                           reason=f"{d.reason} [{c.status} in Telegram: request {c.id}]"))
                        continue
                if a is None or not holds:
                    approval_id = await store.queue_approval(s, self.name, d, now=now, expires_at=now + cfg.timeout)
                else:
                    approval_id = a.id
                out.append(awaiting(d, approval_id))
        return out
