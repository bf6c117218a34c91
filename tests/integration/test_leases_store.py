"""Seller leases on the throwaway PostgreSQL: claim with SKIP LOCKED, renew, takeover with a growing
epoch, release, and the fence that makes a taken-over worker's write intent fail and record nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from bidder.domain import Action, Decision
from bidder.store import accounts, audit
from bidder.store import leases as L

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_sessions(postgres_url):
    from bidder.store.db import Database
    from bidder.store.migrate import upgrade

    await upgrade(postgres_url)
    async with Database(postgres_url) as database:
        yield database.sessions


async def _expire(sessions, name: str) -> None:
    """The lease runs out now (as if its holder had stopped renewing): no waiting on a loaded machine."""
    async with sessions.begin() as s:
        await s.execute(text("UPDATE leases SET expires_at = clock_timestamp() - interval '1 second' "
                             "WHERE name = :n"), {"n": name})


def _intent(advert_id: int = 1) -> Decision:
    return Decision(action=Action.SET_BID, advert_id=advert_id, strategy="s", reason="r", nm_id=10,
                    placement="search", bid_before=100, bid_after=120, proposed_bid=120)


async def test_claim_renew_release_and_takeover_epochs(pg_sessions):
    async with pg_sessions.begin() as s:
        await L.ensure_leases(s, {"a": 5, "b": 0})
    async with pg_sessions.begin() as s:
        got = await L.claim(s, "w1", ["a", "b"], ttl=30)
    assert [(c.name, c.epoch, c.previous_holder) for c in got] == [("a", 1, None), ("b", 1, None)]
    async with pg_sessions.begin() as s:  # held and live: another worker gets nothing
        assert await L.claim(s, "w2", ["a", "b"], ttl=30) == []
        assert await L.renew(s, "w1", {"a": 1, "b": 1}, ttl=30) == {"a": 1, "b": 1}
        assert await L.renew(s, "w2", {"a": 1}, ttl=30) == {}
    async with pg_sessions.begin() as s:
        assert await L.release(s, "w1", ["b"]) == 1
    async with pg_sessions.begin() as s:
        got = await L.claim(s, "w2", ["a", "b"], ttl=0.3)
    assert [(c.name, c.epoch) for c in got] == [("b", 2)]
    await asyncio.sleep(0.5)  # w2's lease on b expires: w1 takes it over, epoch 3
    async with pg_sessions.begin() as s:
        got = await L.claim(s, "w1", ["b"], ttl=30)
        assert [(c.name, c.epoch, c.previous_holder) for c in got] == [("b", 3, "w2")]
        assert await L.renew(s, "w2", {"b": 2}, ttl=30) == {}  # the old holder cannot renew
        infos = {i.name: i for i in await L.leases(s)}
    assert infos["a"].weight == 5 and infos["b"].holder == "w1" and infos["b"].live


async def test_skip_locked_two_claimers_never_share_a_row(pg_sessions):
    names = [f"acc{i:02d}" for i in range(40)]
    async with pg_sessions.begin() as s:
        await L.ensure_leases(s, dict.fromkeys(names, 1))

    async def claimer(worker: str) -> list[str]:
        out = []
        for _ in range(5):
            async with pg_sessions.begin() as s:
                out += [c.name for c in await L.claim(s, worker, names, ttl=30)]
        return out

    a, b = await asyncio.gather(claimer("w1"), claimer("w2"))
    assert not set(a) & set(b)
    assert sorted(set(a) | set(b)) == names


async def test_a_fenced_worker_records_no_intent(pg_sessions):
    async with pg_sessions.begin() as s:
        await accounts.ensure_account(s, "shop")
        await L.ensure_leases(s, {"shop": 1})
        (old,) = await L.claim(s, "w1", ["shop"], ttl=30)
    fence = L.Fence("shop", "w1", old.epoch)
    token = L.current_fence.set(fence)
    try:
        async with pg_sessions.begin() as s:  # while the lease holds, intents are recorded
            ids = await audit.record_decisions(s, "shop", [_intent()], at=datetime.now(UTC), dry_run=False,
                                               apply_status="pending", returning_ids=True)
        assert len(ids) == 1
        await _expire(pg_sessions, "shop")
        async with pg_sessions.begin() as s:
            (new,) = await L.claim(s, "w2", ["shop"], ttl=30)
        assert new.epoch == old.epoch + 1 and new.previous_holder == "w1"
        with pytest.raises(L.LeaseLost):
            async with pg_sessions.begin() as s:
                await audit.record_decisions(s, "shop", [_intent(2)], at=datetime.now(UTC), dry_run=False,
                                             apply_status="pending", returning_ids=True)
    finally:
        L.current_fence.reset(token)
    async with pg_sessions() as s:
        rows = await audit.history(s, account="shop")
    assert [r.advert_id for r in rows] == [1]  # the fenced intent was not recorded


async def test_no_takeover_while_an_intent_is_being_recorded(pg_sessions):
    """FOR KEY SHARE on the lease row: a claim (FOR UPDATE SKIP LOCKED) skips the row while the transaction
    recording an intent is open, and gets it once that commits, so the new holder's reconciliation sees
    that intent."""
    async with pg_sessions.begin() as s:
        await accounts.ensure_account(s, "shop")
        await L.ensure_leases(s, {"shop": 1})
        (old,) = await L.claim(s, "w1", ["shop"], ttl=30)
    token = L.current_fence.set(L.Fence("shop", "w1", old.epoch))
    try:
        async with pg_sessions.begin() as s:
            await audit.record_decisions(s, "shop", [_intent()], at=datetime.now(UTC), dry_run=False,
                                         apply_status="pending", returning_ids=True)
            await _expire(pg_sessions, "shop")  # the lease runs out while the intent's transaction is open
            async with pg_sessions.begin() as s2:
                during = await L.claim(s2, "w2", ["shop"], ttl=30)
    finally:
        L.current_fence.reset(token)
    async with pg_sessions.begin() as s2:
        after = await L.claim(s2, "w2", ["shop"], ttl=30)
    assert during == [] and [(c.epoch, c.previous_holder) for c in after] == [(old.epoch + 1, "w1")]
    async with pg_sessions() as s:
        assert [p.advert_id for p in await audit.pending_intents(s, "shop")] == [1]


async def test_workers_heartbeat_and_expire(pg_sessions):
    async with pg_sessions.begin() as s:
        await L.heartbeat_worker(s, "w1", host="h", pid=1, http_port=None, ttl=30)
        await L.heartbeat_worker(s, "w2", host="h", pid=2, http_port=8081, ttl=0.2)
    await asyncio.sleep(0.4)
    async with pg_sessions.begin() as s:
        assert await L.live_workers(s) == ["w1"]
        ws = {w.id: w for w in await L.workers(s)}
    assert ws["w2"].http_port == 8081 and not ws["w2"].live and ws["w1"].live


async def test_cluster_view_shows_who_holds_what(pg_sessions, postgres_url, tmp_path):
    from bidder.cli.cluster import cluster_lines

    async with pg_sessions.begin() as s:
        await L.heartbeat_worker(s, "w1", host="h1", pid=11, http_port=8081, ttl=30)
        await L.ensure_leases(s, {"shop-a": 7, "shop-b": 3, "job:telegram": 0})
        await L.claim(s, "w1", ["shop-a", "job:telegram"], ttl=30)
    text = "\n".join(await cluster_lines(postgres_url))
    assert "w1 (live; h1 pid 11, /healthz on port 8081" in text and "1 account(s); jobs: telegram" in text
    assert any(line.split()[:2] == ["shop-a", "w1"] for line in text.splitlines()[1:]), text
    assert "free (last -)" in text  # shop-b
    async with pg_sessions() as s:
        load = await L.database_load(s)
    assert load["transactions"] > 0 and load["rows_inserted"] >= 3
    sqlite = "\n".join(await cluster_lines(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"))
    assert "one worker process" in sqlite
