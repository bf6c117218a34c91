"""Telegram says "sent" versus "confirmed" where they differ (issue 14, defect 6): the daemon against the
simulator over HTTP, on a real SQLite file, the messages rendered from the outbox as the sender does.

* a pause and a bid change WB answered 200 are announced as *sent* (WB accepted the request; it applies
  on WB's tick and the next read confirms it), in Russian by default and in English; the pause is
  announced again as *confirmed* once the campaign's read after WB's status tick shows it;
* a bid change whose 200 did not parse is announced only once a re-read showed it applied, as
  *confirmed*;
* a dry run says it sent nothing; a refused write is said in the reader's language with WB's reason.
"""

from __future__ import annotations

from pathlib import Path

from engine_faults import Rule, app_for, faulty_sim

from bidder.clock import FakeClock
from bidder.domain import Action, Decision, Status
from bidder.notify.events import campaign_paused, from_stored, wb_refused
from bidder.notify.render import plain, render_group
from bidder.store import repo

BIDS = ("PATCH", "/api/advert/v1/bids")


async def _new_events(app, before: set[int], kind: str) -> list:
    async with app.sessions() as s:
        rows = [e for e in await repo.pending_events(s, 1000) if e.id not in before and e.kind == kind]
    return [from_stored(r.kind, r.account, r.payload, r.dedup_key) for r in rows]


async def _ids(app) -> set[int]:
    async with app.sessions() as s:
        return {e.id for e in await repo.pending_events(s, 1000)}


def _text(events, locale: str) -> str:
    return plain(render_group(events, locale))


async def test_a_pause_and_a_bid_change_wb_accepted_are_sent_and_a_reread_confirms(tmp_path: Path) -> None:
    clock = FakeClock()
    fs = await faulty_sim(clock)
    try:
        app = await app_for(fs, tmp_path, clock)
        try:
            await app.run_once()
            cycle = app.cycles["shop-a"]
            view = cycle.view
            # a pause WB answered 200: sent, not confirmed
            target = next(i for i in cycle.managed_ids() if cycle.campaigns[i].status == Status.ACTIVE)
            before = await _ids(app)
            await app.control.pause(target, by="cli")
            clock.advance(60)
            await app.run_once()
            [paused] = [e for e in await _new_events(app, before, "campaign_paused") if e.payload["advert_id"] == target]
            assert paused.payload["confirmed"] is False
            ru, en = _text([paused], "ru"), _text([paused], "en")
            assert "Пауза отправлена в WB" in ru and "подтверждён следующим чтением" in ru
            assert "Кампания остановлена" not in ru
            assert "Pause sent to WB" in en and "confirmed by the next read" in en
            # WB's status tick passes; the campaign's next read shows it paused: confirmed
            before = await _ids(app)
            for _ in range(2):
                fs.settle(clock)
                await app.run_once()
            [shown] = [e for e in await _new_events(app, before, "campaign_paused") if e.payload["advert_id"] == target]
            assert shown.payload["confirmed"] is True
            assert "Кампания остановлена" in _text([shown], "ru") and "WB показывает новый статус" in _text([shown], "ru")
            assert "(confirmed: WB shows the new status)" in _text([shown], "en")
            await app.control.resume(target, by="cli")
            fs.settle(clock)
            await app.run_once()

            # a bid change WB answered 200: sent
            aid = next(i for i in view.editable_ids() if view.campaigns[i].items and view.rules_known(i)
                       and i != target)
            camp = view.campaigns[aid]
            item, placement = camp.items[0], camp.bid_placements[0]
            bid = item.bid_for(placement)
            step = max(view.rules_for(camp).step, 1)
            await cycle.applier.choose_writer()
            before = await _ids(app)
            await cycle.applier.run([Decision(action=Action.SET_BID, advert_id=aid, nm_id=item.nm_id,
                                              placement=placement, strategy="test", reason="test",
                                              bid_before=bid, bid_after=bid + 3 * step)])
            [sent] = await _new_events(app, before, "bid_changes")
            assert sent.payload["confirmed"] is False
            assert "(отправлено в WB, ещё не подтверждено)" in _text([sent], "ru")
            assert "(sent to WB, not confirmed yet)" in _text([sent], "en")

            # a bid change whose 200 does not parse: announced only once a re-read showed it (the writer's own
            # re-read a bid tick later, or the reconciliation after WB's tick), and then as confirmed
            fs.add(Rule(*BIDS, status=200, body="<html>proxy</html>", content_type="text/html", after=True, times=1))
            before = await _ids(app)
            await cycle.applier.run([Decision(action=Action.SET_BID, advert_id=aid, nm_id=item.nm_id,
                                              placement=placement, strategy="test2", reason="test",
                                              bid_before=bid + 3 * step, bid_after=bid + 6 * step)])
            async with app.sessions() as s:
                [row] = [r for r in await repo.history(s, account="shop-a", limit=50) if r.strategy == "test2"]
            assert row.apply_status == "applied"  # the writer's re-read showed it
            shown = await _new_events(app, before, "bid_changes")
            assert [e.payload["confirmed"] for e in shown] == [True], "announced once, as confirmed"
            before = await _ids(app)
            # the same, with the writer's re-read failing too: the intent waits for the reconciliation
            fs.add(Rule(*BIDS, status=200, body="<html>proxy</html>", content_type="text/html", after=True, times=1))
            reads = fs.add(Rule("GET", "/api/advert/v2/adverts", status=502, times=8))
            await cycle.applier.run([Decision(action=Action.SET_BID, advert_id=aid, nm_id=item.nm_id,
                                              placement=placement, strategy="test3", reason="test",
                                              bid_before=bid + 6 * step, bid_after=bid + 9 * step)])
            assert reads.hits >= 1
            async with app.sessions() as s:
                [row] = [r for r in await repo.history(s, account="shop-a", limit=50) if r.strategy == "test3"]
            assert row.apply_status == "pending"  # not shown yet: nothing said, nothing recorded as failed
            assert await _new_events(app, before, "bid_changes") == []
            fs.clear()  # WB's reads answer again
            fs.settle(clock)
            await app.run_once()
            async with app.sessions() as s:
                [row] = [r for r in await repo.history(s, account="shop-a", limit=500) if r.strategy == "test3"]
            assert row.apply_status == "reconciled_applied", row.apply_status
            events = await _new_events(app, before, "bid_changes")
            about = [e for e in events if any(c["advert_id"] == aid and c["after"] == bid + 9 * step
                                              for c in e.payload["changes"])]
            assert [e.payload["confirmed"] for e in about] == [True], "announced once, as confirmed"
            for confirmed in (shown, about):
                assert "(подтверждено: WB показывает новые ставки)" in _text(confirmed, "ru")
                assert "(confirmed: WB shows the new bids)" in _text(confirmed, "en")
        finally:
            await app.close()
    finally:
        await fs.stop()


def test_a_dry_run_pause_says_nothing_was_sent_and_mixed_groups_mark_each_line() -> None:
    dry = campaign_paused("shop-a", 1, "Платья", "test", dry_run=True)
    assert "пробный режим, в WB не отправлено" in _text([dry], "ru")
    assert "отправлен" not in _text([dry], "ru").replace("не отправлено", "")
    sent = campaign_paused("shop-a", 2, "Сумки", "test", confirmed=False)
    done = campaign_paused("shop-a", 3, "Куртки", "test", confirmed=True)
    mixed = _text([sent, done], "ru")
    assert "Пауза отправлена в WB" in mixed
    assert "«Сумки» (2): test [отправлено, ещё не подтверждено]" in mixed
    assert "«Куртки» (3): test [подтверждено WB]" in mixed
    assert "Campaign paused" in _text([done], "en") and "sent" not in _text([done], "en")


def test_a_refused_write_is_said_in_russian_with_wbs_reason_as_wb_said_it() -> None:
    refused = wb_refused("shop-a", "start of campaign 7: AdvertChangeStatus: Low Budget: not enough budget",
                         write={"action": "start", "advert_id": 7, "nm_id": None,
                                "reason": "AdvertChangeStatus: Low Budget: not enough budget"})
    ru, en = _text([refused], "ru"), _text([refused], "en")
    assert "WB отклонил запрос" in ru
    assert "запуск кампании №7: WB отказал (AdvertChangeStatus: Low Budget: not enough budget)" in ru
    assert "start of campaign №7: WB refused (AdvertChangeStatus: Low Budget" in en
    old = wb_refused("shop-a", "clusters: not available (403); turned off for the account", feature="clusters")
    assert "clusters: not available (403)" in _text([old], "ru")  # a feature turned off: its detail as before
