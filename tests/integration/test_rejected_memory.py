"""An identical rejected request is never sent again, across a restart (issue 14, defect 4): WB's
rejections are kept in the database (``bidder/store/rejected.py``, ``rejected_requests``), on a real
SQLite file, the daemon against the simulator over HTTP.

* a bid PATCH WB rejected (400) is refused after the daemon restarts, without a request to WB;
* a different request to the same campaign goes out;
* once the campaign reads differently (WB shows another status), its rejections are forgotten (in the
  database too) and the request may go out again; and a rejection expires after ``REJECTION_TTL``.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from engine_faults import Rule, app_for, faulty_sim

from bidder.clock import FakeClock
from bidder.domain import Action, Decision, Status
from bidder.engine.safety import REJECTION_TTL
from bidder.store import repo

BIDS = ("PATCH", "/api/advert/v1/bids")
REJECTION = '{"detail":"bid is below the minimum for this placement","status":400,"title":"invalid payload"}'


def _rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT advert_id, reason FROM rejected_requests ORDER BY id"))


async def _history(app, strategy: str) -> list:
    async with app.sessions() as s:
        return sorted((r for r in await repo.history(s, account="shop-a", limit=1000) if r.strategy == strategy),
                      key=lambda r: r.id)


def _patches_for(fs, aid: int, nm_id: int, bid: int, since: int = 0) -> int:
    n = 0
    for r in fs.requests(*BIDS)[since:]:
        for b in (r["body"] or {}).get("bids", []):
            if b.get("advert_id") == aid:
                n += sum(1 for x in b.get("nm_bids", []) if x.get("nm_id") == nm_id and x.get("bid_kopecks") == bid)
    return n


async def test_a_rejected_request_is_not_sent_again_after_a_restart_until_the_campaign_changes(
        tmp_path: Path) -> None:
    clock = FakeClock()
    fs = await faulty_sim(clock)
    db = tmp_path / "bidder.db"
    try:
        app = await app_for(fs, tmp_path, clock)
        try:
            await app.run_once()
            cycle = app.cycles["shop-a"]
            view = cycle.view
            aid = next(i for i in view.editable_ids() if view.campaigns[i].items and view.rules_known(i)
                       and view.campaigns[i].status == Status.ACTIVE)
            camp = view.campaigns[aid]
            item, placement = camp.items[0], camp.bid_placements[0]
            bid = item.bid_for(placement)
            target = bid + 3 * max(view.rules_for(camp).step, 1)
            wanted = Decision(action=Action.SET_BID, advert_id=aid, nm_id=item.nm_id, placement=placement,
                              strategy="test", reason="test", bid_before=bid, bid_after=target)
            reject = fs.add(Rule(*BIDS, status=400, body=REJECTION, content_type="application/json", times=1))
            await cycle.applier.choose_writer()
            await cycle.applier.run([wanted])
            assert reject.hits == 1 and _patches_for(fs, aid, item.nm_id, target) == 1
            assert [r.apply_status for r in await _history(app, "test")] == ["failed"]
            assert [a for a, _ in _rows(db)] == [aid] and "below the minimum" in _rows(db)[0][1]
        finally:
            await app.close()

        # a restart: a new process on the same database file
        clock.advance(15 * 60)
        app = await app_for(fs, tmp_path, clock)
        try:
            await app.run_once()  # reads the campaign's details again (as after any restart)
            cycle = app.cycles["shop-a"]
            assert cycle.view.campaigns[aid].status == Status.ACTIVE
            sent = len(fs.requests(*BIDS))
            await cycle.applier.choose_writer()
            await cycle.applier.run([wanted])
            assert _patches_for(fs, aid, item.nm_id, target, since=sent) == 0, "the rejected request went out again"
            [_, again] = await _history(app, "test")
            assert again.apply_status == "skipped" and "rejected this exact request before" in (again.api_error or "")
            # a different request to the same campaign is sent
            other = Decision(action=Action.SET_BID, advert_id=aid, nm_id=item.nm_id, placement=placement,
                             strategy="test-other", reason="test", bid_before=bid,
                             bid_after=target + max(cycle.view.rules_for(camp).step, 1))
            await cycle.applier.run([other])
            assert [r.apply_status for r in await _history(app, "test-other")] == ["applied"]

            # the campaign reads differently (WB shows it paused, then active again): its rejections are gone
            fs.sim.market.set_status(aid, Status.PAUSED, clock.now(), reason="cabinet")
            fs.settle(clock)
            cycle.view.campaigns.update({c.advert_id: c for c in await cycle.reader.campaigns([aid])})
            assert cycle.view.campaigns[aid].status == Status.PAUSED
            assert cycle.applier.refusal(wanted) is None  # checked against the campaign as it reads now
            await cycle.applier.run([])  # the applier writes what it forgot
            assert _rows(db) == []
        finally:
            await app.close()
    finally:
        await fs.stop()


async def test_a_rejection_expires(tmp_path: Path) -> None:
    clock = FakeClock()
    fs = await faulty_sim(clock)
    try:
        app = await app_for(fs, tmp_path, clock)
        try:
            await app.run_once()
            cycle = app.cycles["shop-a"]
            view = cycle.view
            aid = next(i for i in view.editable_ids() if view.campaigns[i].items and view.rules_known(i))
            camp = view.campaigns[aid]
            item, placement = camp.items[0], camp.bid_placements[0]
            bid = item.bid_for(placement)
            wanted = Decision(action=Action.SET_BID, advert_id=aid, nm_id=item.nm_id, placement=placement,
                              strategy="test", reason="test", bid_before=bid,
                              bid_after=bid + 3 * max(view.rules_for(camp).step, 1))
            fs.add(Rule(*BIDS, status=400, body=REJECTION, content_type="application/json", times=1))
            await cycle.applier.choose_writer()
            await cycle.applier.run([wanted])
            cycle.applier.rejected.reread([aid])  # as after the re-read of its details
            assert "rejected this exact request before" in (cycle.applier.refusal(wanted) or "")
            clock.advance(REJECTION_TTL.total_seconds() - 60)
            assert "rejected this exact request before" in (cycle.applier.refusal(wanted) or "")
            clock.advance(timedelta(minutes=2).total_seconds())
            assert cycle.applier.refusal(wanted) is None
        finally:
            await app.close()
    finally:
        await fs.stop()
