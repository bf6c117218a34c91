"""Writers: the only objects that change anything at WB.

:class:`LiveWriter` holds the one client built with the write token, plus the reader (read token) it uses
to re-read state after an ambiguous failure. :class:`DryRunWriter` has the same interface, records what
it would send and answers as if WB had accepted it; it sends nothing and holds no token.
Use :func:`make_writer` to build either; it refuses a write token that cannot write.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from bidder.clock import Clock
from bidder.domain import Placement, Status
from bidder.errors import BadRequest, TemporaryError, TokenError, WBError
from bidder.wb import batching, bodies
from bidder.wb.client import AmbiguousWrite, WBClient
from bidder.wb.models import (
    BidChange,
    BidResult,
    ClusterBidChange,
    ClusterBidResult,
    DailyLimitSet,
    StatusResult,
)
from bidder.wb.pacing import Pacer
from bidder.wb.tokens import WBToken

log = logging.getLogger(__name__)

BID_PLACEMENTS = frozenset(p.value for p in Placement)
WRITE_ATTEMPTS = 3
# WB applies bid changes on 30-second ticks ("Campaign bids change once every 30 seconds"): a re-read
# sooner than that after an ambiguous write could still show the old bid and cause a second send.
BID_SETTLE = 31.0
ISOLATION_BUDGET = 8  # extra calls one set_bids may spend isolating the element a 400 is about
_FIELD_RE = re.compile(r"\.?bids\[(\d+)\](?:\.nm_bids\[(\d+)\])?")
_TARGET_STATUS = {"start": Status.ACTIVE, "pause": Status.PAUSED, "stop": Status.COMPLETED}


class Writer(Protocol):
    async def set_bids(self, changes: Sequence[BidChange]) -> list[BidResult]: ...
    async def set_cluster_bids(self, changes: Sequence[ClusterBidChange]) -> list[ClusterBidResult]: ...
    async def start(self, advert_id: int) -> StatusResult: ...
    async def pause(self, advert_id: int) -> StatusResult: ...


def _validate(changes: Sequence[BidChange]) -> tuple[list[BidChange], list[BidResult]]:
    """Drop what WB would reject anyway (and what must not be sent twice): last change per target wins."""
    good: dict[tuple[int, int, str], BidChange] = {}
    bad: list[BidResult] = []
    for c in changes:
        problem = None
        if c.placement not in BID_PLACEMENTS:
            problem = f"unknown placement {c.placement!r}"
        elif not isinstance(c.bid, int) or isinstance(c.bid, bool) or c.bid <= 0:
            problem = f"bid must be a positive integer of minor units, not {c.bid!r}"
        if problem:
            bad.append(BidResult(c.advert_id, c.nm_id, c.placement, c.bid, applied=False, error=problem))
        else:
            good[(c.advert_id, c.nm_id, c.placement)] = c
    return list(good.values()), bad


def plan_bid_calls(changes: Sequence[BidChange]) -> tuple[list[list[tuple[int, list[BidChange]]]], list[BidResult]]:
    """The bids calls both writers make for ``changes`` (fewest 50 x 50 calls, last change per target
    wins) and the changes refused before sending."""
    todo, rejected = _validate(changes)
    groups: dict[int, list[BidChange]] = {}
    for c in todo:
        groups.setdefault(c.advert_id, []).append(c)
    calls = batching.pack_nested(list(groups.items()), batching.MAX_BID_CAMPAIGNS, batching.MAX_BID_ITEMS)
    return calls, rejected


def plan_cluster_calls(
    changes: Sequence[ClusterBidChange],
) -> tuple[list[list[ClusterBidChange]], list[ClusterBidResult]]:
    """The cluster-bid calls (100 per call) both writers make, and the changes refused before sending."""
    todo, rejected = _cluster_validate(changes)
    return batching.chunked(todo, batching.MAX_NORMQUERY_PAIRS), rejected


def _cluster_validate(changes: Sequence[ClusterBidChange]) -> tuple[list[ClusterBidChange], list[ClusterBidResult]]:
    good: dict[tuple[int, int, str], ClusterBidChange] = {}
    bad: list[ClusterBidResult] = []
    for c in changes:
        if not isinstance(c.bid, int) or isinstance(c.bid, bool) or c.bid <= 0 or not c.norm_query:
            bad.append(ClusterBidResult(c.advert_id, c.nm_id, c.norm_query, c.bid, False, reason="invalid bid or cluster"))
        else:
            good[(c.advert_id, c.nm_id, c.norm_query)] = c
    return list(good.values()), bad


class LiveWriter:
    """Applies changes through the write-token client; re-reads through the read-token client."""

    def __init__(self, client_for_writes: WBClient, reader: WBClient) -> None:
        if not client_for_writes.can_write:
            raise TokenError("the write client's token is read-only or lacks the Promotion category")
        self._client = client_for_writes
        self.reader = reader

    def __repr__(self) -> str:
        return f"LiveWriter(seller_id={self._client.seller_id!r})"

    # ---------------------------------------------------------------- item bids
    async def set_bids(self, changes: Sequence[BidChange]) -> list[BidResult]:
        """PATCH /api/advert/v1/bids in the fewest 50 x 50 calls. Never sends a bid twice: after an
        ambiguous failure the current bids are re-read and only items not yet at the target are resent.
        A 400 naming one element (``field: .bids[i].nm_bids[j]``) fails that element and resends the rest
        of that call once per named element; other 4xx fail the call's items with WB's detail.
        Raises AuthFailed (stop this account's writes); TemporaryError stops sending and the rest is
        reported as not applied."""
        calls, results = plan_bid_calls(changes)
        stop_reason: str | None = None
        for call in calls:
            items = [c for _, cs in call for c in cs]
            if stop_reason is not None:
                results.extend(BidResult(c.advert_id, c.nm_id, c.placement, c.bid, False, error=stop_reason) for c in items)
                continue
            try:
                results.extend(await self._send_bid_call(call))
            except TemporaryError as exc:
                stop_reason = f"not sent: {exc}"
                results.extend(BidResult(c.advert_id, c.nm_id, c.placement, c.bid, False, error=str(exc)) for c in items)
        return results

    async def _send_bid_call(self, call: list[tuple[int, list[BidChange]]], budget: list[int] | None = None) -> list[BidResult]:
        """Send one call. ``budget`` (shared, mutable) caps the extra calls spent isolating a 400."""
        budget = budget if budget is not None else [ISOLATION_BUDGET]
        results: list[BidResult] = []
        pending = [(a, list(cs)) for a, cs in call]
        for attempt in range(WRITE_ATTEMPTS):
            pending = [(a, cs) for a, cs in pending if cs]
            if not pending:
                return results
            try:
                reply = await self._client.patch_bids(pending)
            except BadRequest as exc:
                return results + await self._isolate(pending, exc, budget)
            except AmbiguousWrite as exc:
                log.warning("bid change may or may not have been applied (%s); re-reading current bids", exc)
                try:
                    done, pending = await self._reconcile_bids(pending)
                except WBError as read_failed:  # still ambiguous: the caller reconciles later, never "failed"
                    return results + [
                        BidResult(c.advert_id, c.nm_id, c.placement, c.bid, False,
                                  error=f"ambiguous: {exc}; re-reading the bids failed: {read_failed}")
                        for _, cs in pending for c in cs]
                results.extend(done)
                if attempt + 1 >= WRITE_ATTEMPTS:
                    results.extend(
                        BidResult(c.advert_id, c.nm_id, c.placement, c.bid, False, error=f"ambiguous: {exc}")
                        for _, cs in pending
                        for c in cs
                    )
                    return results
                continue
            currency = reply.currency or None
            results.extend(
                BidResult(c.advert_id, c.nm_id, c.placement, c.bid, True, currency=currency) for _, cs in pending for c in cs
            )
            return results
        return results

    async def _isolate(
        self, pending: list[tuple[int, list[BidChange]]], exc: BadRequest, budget: list[int]
    ) -> list[BidResult]:
        """WB rejects a whole bids call for one bad element. Fail the element WB names (``.bids[i]``,
        ``.bids[i].nm_bids[j]`` in ``field`` or the detail) and send the rest; when it names none,
        split the call in halves. Every resend is a different, smaller request; the extra calls are
        capped by ``budget``, after which the remaining items fail with WB's detail."""
        def fail(items: list[tuple[int, list[BidChange]]]) -> list[BidResult]:
            return [BidResult(c.advert_id, c.nm_id, c.placement, c.bid, False, error=exc.detail) for _, cs in items for c in cs]

        n_items = sum(len(cs) for _, cs in pending)
        if n_items <= 1 or budget[0] <= 0:
            return fail(pending)
        culprit = self._culprit(pending, exc.field) or self._culprit(pending, exc.detail)
        if culprit is not None:
            bad_items, rest = culprit
            budget[0] -= 1
            out = [BidResult(c.advert_id, c.nm_id, c.placement, c.bid, False, error=exc.detail) for c in bad_items]
            return out + await self._send_bid_call(rest, budget)
        flat = [(a, c) for a, cs in pending for c in cs]
        half = len(flat) // 2
        out: list[BidResult] = []
        for part in (flat[:half], flat[half:]):
            groups: dict[int, list[BidChange]] = {}
            for a, c in part:
                groups.setdefault(a, []).append(c)
            budget[0] -= 1
            out.extend(await self._send_bid_call(list(groups.items()), budget))
        return out

    @staticmethod
    def _culprit(
        pending: list[tuple[int, list[BidChange]]], field_path: str | None
    ) -> tuple[list[BidChange], list[tuple[int, list[BidChange]]]] | None:
        if not field_path:
            return None
        m = _FIELD_RE.search(field_path)
        if not m:
            return None
        i = int(m.group(1))
        if i >= len(pending):
            return None
        advert_id, cs = pending[i]
        if m.group(2) is None:
            bad = list(cs)
            rest = [p for k, p in enumerate(pending) if k != i]
        else:
            j = int(m.group(2))
            if j >= len(cs):
                return None
            bad = [cs[j]]
            rest = [(a, (c2 if k != i else [c for n, c in enumerate(c2) if n != j])) for k, (a, c2) in enumerate(pending)]
        return bad, rest

    async def _reconcile_bids(
        self, pending: list[tuple[int, list[BidChange]]]
    ) -> tuple[list[BidResult], list[tuple[int, list[BidChange]]]]:
        """Re-read the campaigns of an ambiguous call (after one bid tick); items already at their
        target are done."""
        done: list[BidResult] = []
        rest = pending
        for _ in range(2):  # the server may have applied it late: look twice, one tick apart
            await self.reader.clock.sleep(BID_SETTLE)
            campaigns = {c.advert_id: c for c in await self.reader.campaigns([a for a, cs in rest if cs])}
            still: list[tuple[int, list[BidChange]]] = []
            for advert_id, cs in rest:
                camp = campaigns.get(advert_id)
                left = []
                for c in cs:
                    item = camp.item(c.nm_id) if camp else None
                    current = item.bid_for(c.placement) if item else None
                    if camp is not None and current == c.bid:
                        done.append(BidResult(c.advert_id, c.nm_id, c.placement, c.bid, True,
                                              currency=camp.currency or None, confirmed=True))
                    else:
                        left.append(c)
                still.append((advert_id, left))
            rest = still
            if not any(cs for _, cs in rest):
                break
        log.info("re-read after ambiguous write: %d already applied, %d to resend", len(done), sum(len(x) for _, x in rest))
        return done, rest

    # ---------------------------------------------------------------- cluster bids
    async def set_cluster_bids(self, changes: Sequence[ClusterBidChange]) -> list[ClusterBidResult]:
        """POST /api/advert/v1/normquery/bids, 100 per call; partial success is read from ``failed``."""
        chunks, results = plan_cluster_calls(changes)
        stop_reason: str | None = None
        for chunk in chunks:
            if stop_reason is not None:
                results.extend(ClusterBidResult(c.advert_id, c.nm_id, c.norm_query, c.bid, False, reason=stop_reason) for c in chunk)
                continue
            try:
                results.extend(await self._send_cluster_chunk(chunk))
            except TemporaryError as exc:
                stop_reason = f"not sent: {exc}"
                results.extend(ClusterBidResult(c.advert_id, c.nm_id, c.norm_query, c.bid, False, reason=str(exc)) for c in chunk)
        return results

    async def _send_cluster_chunk(self, chunk: list[ClusterBidChange]) -> list[ClusterBidResult]:
        results: list[ClusterBidResult] = []
        pending = list(chunk)
        for attempt in range(WRITE_ATTEMPTS):
            if not pending:
                break
            try:
                reply = await self._client.post_cluster_bids(pending)
            except BadRequest as exc:
                results.extend(ClusterBidResult(c.advert_id, c.nm_id, c.norm_query, c.bid, False, reason=exc.detail) for c in pending)
                return results
            except AmbiguousWrite as exc:
                log.warning("cluster bid change may or may not have been applied (%s); re-reading", exc)
                await self.reader.clock.sleep(BID_SETTLE)
                current = {
                    (b.advert_id, b.nm_id, b.norm_query): b.bid
                    for b in await self.reader.cluster_bids(sorted({(c.advert_id, c.nm_id) for c in pending}))
                }
                left = []
                for c in pending:
                    if current.get((c.advert_id, c.nm_id, c.norm_query)) == c.bid:
                        results.append(ClusterBidResult(c.advert_id, c.nm_id, c.norm_query, c.bid, True))
                    else:
                        left.append(c)
                pending = left
                if attempt + 1 >= WRITE_ATTEMPTS:
                    results.extend(
                        ClusterBidResult(c.advert_id, c.nm_id, c.norm_query, c.bid, False, reason=f"ambiguous: {exc}") for c in pending
                    )
                    return results
                continue
            failed = {(f.advertId, f.nmId, f.normQuery): f.reason for f in reply.failed}
            ok = {(s.advertId, s.nmId, s.normQuery): s.currency for s in reply.success}
            for c in pending:
                k = (c.advert_id, c.nm_id, c.norm_query)
                if k in failed:
                    results.append(ClusterBidResult(*k, c.bid, False, reason=failed[k] or "failed"))
                else:
                    results.append(ClusterBidResult(*k, c.bid, True, currency=ok.get(k)))
            return results
        return results

    # ---------------------------------------------------------------- status
    async def set_daily_limits(self, ids: Sequence[int], *, enabled: bool, daily_limit: int | None = None,
                               carry_over: bool = False) -> list[DailyLimitSet]:
        """WB's daily limit (minor units) on CPC campaigns (REFERENCE-2026-10 §3.11); the caller reads it back."""
        return await self._client.set_daily_limits(ids, enabled=enabled, daily_limit=daily_limit, carry_over=carry_over)

    async def start(self, advert_id: int) -> StatusResult:
        return await self._status("start", advert_id)

    async def pause(self, advert_id: int) -> StatusResult:
        return await self._status("pause", advert_id)

    async def _status(self, action: str, advert_id: int) -> StatusResult:
        """start/pause are idempotent at WB (a repeat answers 422 'status not changed'), so an ambiguous
        failure is simply retried; a 422 after an ambiguous attempt means our first attempt worked."""
        ambiguous = False
        last: Exception | None = None
        for _ in range(WRITE_ATTEMPTS):
            try:
                changed = await self._client.change_status(action, advert_id)
                return StatusResult(advert_id, action, changed=changed or ambiguous)
            except AmbiguousWrite as exc:
                ambiguous = True
                last = exc
        assert last is not None
        raise TemporaryError(f"{action} {advert_id}: {last}", method=f"GET /adv/v0/{action}")


@dataclass
class DryRunWriter:
    """Records what it would send and answers as if WB accepted it. Sends nothing, holds no token.
    With a ``reader`` it answers start/pause from the campaign's current status."""

    reader: WBClient | None = None
    sent: list[tuple[str, Any]] = field(default_factory=list)  # (method key, wire payload)

    async def set_bids(self, changes: Sequence[BidChange]) -> list[BidResult]:
        calls, results = plan_bid_calls(changes)
        for call in calls:
            self.sent.append((bodies.BIDS_KEY, bodies.bids_body(call)))
            results.extend(BidResult(c.advert_id, c.nm_id, c.placement, c.bid, True, dry_run=True) for _, cs in call for c in cs)
        return results

    async def set_cluster_bids(self, changes: Sequence[ClusterBidChange]) -> list[ClusterBidResult]:
        chunks, results = plan_cluster_calls(changes)
        for chunk in chunks:
            self.sent.append((bodies.CLUSTER_BIDS_KEY, bodies.cluster_bids_body(chunk)))
            results.extend(ClusterBidResult(c.advert_id, c.nm_id, c.norm_query, c.bid, True, dry_run=True) for c in chunk)
        return results

    async def set_daily_limits(self, ids: Sequence[int], *, enabled: bool, daily_limit: int | None = None,
                               carry_over: bool = False) -> list[DailyLimitSet]:
        body: dict[str, Any] = {"advertIds": list(ids), "enabled": enabled}
        if enabled:
            body |= {"dailyLimit": daily_limit, "carryOverEnabled": carry_over}
        self.sent.append(("PUT /api/advert/v0/daily-limits", body))
        return [DailyLimitSet(int(a), False, 0) for a in ids]

    async def start(self, advert_id: int) -> StatusResult:
        return await self._status("start", advert_id)

    async def pause(self, advert_id: int) -> StatusResult:
        return await self._status("pause", advert_id)

    async def _status(self, action: str, advert_id: int) -> StatusResult:
        self.sent.append((f"GET /adv/v0/{action}", bodies.status_params(advert_id)))
        changed = True
        if self.reader is not None:
            camps = await self.reader.campaigns([advert_id])
            if camps and camps[0].status == _TARGET_STATUS[action]:
                changed = False
        return StatusResult(advert_id, action, changed=changed, dry_run=True)


def make_reader(
    session: aiohttp.ClientSession,
    read_token: WBToken,
    pacer: Pacer,
    clock: Clock,
    *,
    base_url: str,
    timeout: float = 30.0,
) -> WBClient:
    """The read client of a seller: holds only the read token (decoded and checked by the caller,
    :func:`bidder.wb.tokens.read_token`). ``base_url``: the Promotion API host for this token
    (``Settings.advert_url(token.sandbox)`` in the app)."""
    return WBClient(session, base_url, read_token, pacer, clock, timeout=timeout)


def make_writer(
    *,
    reader: WBClient,
    write_token: WBToken | None,
    session: aiohttp.ClientSession | None = None,
    pacer: Pacer | None = None,
    clock: Clock | None = None,
    dry_run: bool = False,
    base_url: str | None = None,
    timeout: float = 30.0,
) -> LiveWriter | DryRunWriter:
    """Build the writer. Dry-run: a DryRunWriter (no token involved). Live: the write token must have
    passed :func:`bidder.wb.tokens.write_token` (TokenError when there is none)."""
    if dry_run:
        return DryRunWriter(reader=reader)
    if write_token is None:
        raise TokenError("no write token configured: live writes need a Promotion token with write access (or use dry-run)")
    if write_token.role != "write":
        raise TokenError("the write client needs a token checked for writing (bidder.wb.tokens.write_token)")
    client = WBClient(
        session or reader.session,
        base_url or reader.base_url,
        write_token,
        pacer or reader.pacer,
        clock or reader.clock,
        seller_id=reader.seller_id,
        timeout=timeout,
    )
    return LiveWriter(client, reader)
