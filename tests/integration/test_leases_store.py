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


async def test_every_write_of_a_taken_over_account_is_refused_and_records_nothing(pg_sessions):
    """Issue 20: not only write intents. Every store write a worker makes for its account (campaigns, daily
    and cluster statistics, positions, observations, cycles, alerts, operator state, approvals, outcomes
    of intents by row id, the account row) checks the lease in its own transaction: after a takeover
    each one raises LeaseLost and the database is unchanged. One lease query per transaction."""
    import dataclasses
    from datetime import date, timedelta
    from decimal import Decimal

    from sqlalchemy import event

    from bidder.domain import Campaign, ClusterStat, DailyStat, Item
    from bidder.store import alerts, approvals, campaigns, cycles, operator_state, stats

    t0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
    camp = Campaign(advert_id=7, name="c", type=9, status=9, bid_type="manual", payment_type="cpm", currency="RUB",
                    placements=frozenset({"search"}), items=(Item(nm_id=10, bids={"search": 100}),), changed_at=t0)
    day = DailyStat(advert_id=7, nm_id=10, day=date(2026, 11, 19), views=100, clicks=3, atbs=0, orders=1,
                    spend=Decimal("12.5"), revenue=Decimal("900"))
    cluster = ClusterStat(advert_id=7, nm_id=10, norm_query="платье", period_from=date(2026, 11, 19),
                          period_to=date(2026, 11, 19), views=50, clicks=2, orders=0, spend=Decimal("3"), avg_pos=4.5)
    async with pg_sessions.begin() as s:
        await accounts.ensure_account(s, "shop")
        await L.ensure_leases(s, {"shop": 1})
        (old,) = await L.claim(s, "w1", ["shop"], ttl=30)
    token = L.current_fence.set(L.Fence("shop", "w1", old.epoch))
    try:
        async with pg_sessions.begin() as s:  # while the lease holds every write goes through
            (intent,) = await audit.record_decisions(s, "shop", [_intent()], at=t0, dry_run=False,
                                                     apply_status="pending", returning_ids=True)
            cycle_id = await cycles.start_cycle(s, "shop", t0)
        statements: list[str] = []
        engine = pg_sessions.kw["bind"].sync_engine

        def seen(conn, cursor, statement, *a):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", seen)
        try:
            async with pg_sessions.begin() as s:  # the lease is checked once per transaction
                await campaigns.save_campaigns(s, "shop", [camp], t0)
                await stats.save_daily_stats(s, "shop", [day])
                await stats.save_cluster_stats(s, "shop", [cluster], fetched_at=t0)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert sum("FROM leases" in st for st in statements) == 1, statements
        await _expire(pg_sessions, "shop")
        async with pg_sessions.begin() as s:
            (new,) = await L.claim(s, "w2", ["shop"], ttl=30)
        assert new.epoch == old.epoch + 1

        async def snapshot() -> dict[str, list]:
            out = {}
            async with pg_sessions() as s:
                tables = [r[0] for r in await s.execute(text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename NOT IN ('leases', 'workers', 'alembic_version') ORDER BY tablename"))]
                for t in tables:
                    out[t] = sorted(map(repr, (await s.execute(text(f'SELECT * FROM "{t}"'))).all()))
            return out

        before = await snapshot()
        later = t0 + timedelta(minutes=5)
        camp2 = dataclasses.replace(camp, items=(Item(nm_id=10, bids={"search": 150}),))
        writes = {
            "campaigns": lambda s: campaigns.save_campaigns(s, "shop", [camp2], later),
            "daily stats": lambda s: stats.save_daily_stats(s, "shop", [dataclasses.replace(day, clicks=4)]),
            "cluster stats": lambda s: stats.save_cluster_stats(s, "shop", [dataclasses.replace(cluster, clicks=3)],
                                                                fetched_at=later),
            "decision": lambda s: audit.record_decision(s, "shop", _intent(2), at=later, dry_run=False,
                                                        apply_status="pending"),
            "intent outcome": lambda s: audit.set_decision_status(s, intent, "applied", applied_at=later),
            "intent outcomes": lambda s: audit.set_decision_statuses(s, [(intent, "failed", "x", None)]),
            "cycle start": lambda s: cycles.start_cycle(s, "shop", later),
            "cycle finish": lambda s: cycles.finish_cycle(s, cycle_id, at=later, ok=True, error=None, summary={}),
            "alert": lambda s: alerts.enqueue_alert(s, "shop", "bid_changes", {"n": 1}, dedup_key="k", at=later),
            "operator state": lambda s: operator_state.set_operator_state(s, "shop", "paused", True, at=later),
            "approval": lambda s: approvals.queue_approval(s, "shop", _intent(3), now=later,
                                                          expires_at=later + timedelta(hours=1)),
            "account": lambda s: accounts.ensure_account(s, "shop", "999"),
        }
        for what, write in writes.items():
            with pytest.raises(L.LeaseLost):
                async with pg_sessions.begin() as s:
                    await write(s)
                pytest.fail(f"{what}: written by a worker whose lease was taken over")
        assert await snapshot() == before
    finally:
        L.current_fence.reset(token)


async def test_a_dead_workers_liveness_lock_falls_with_its_connection_and_its_leases_expire(postgres_url, pg_sessions):
    """The fast path of a takeover: a worker's liveness lock is held by its own connection; when the
    connection closes (the process died) the lock is free, and expire_worker ends its leases at once."""
    from bidder.store.db import make_engine

    async with pg_sessions.begin() as s:
        for w in ("w1", "w2", "w3"):
            await L.heartbeat_worker(s, w, host="h", pid=1, http_port=None, ttl=60)
        await L.ensure_leases(s, {"a": 1, "b": 1})
        await L.claim(s, "w1", ["a", "b"], ttl=60)
    engine = make_engine(postgres_url)
    try:
        conn = await engine.connect()
        assert await L.take_liveness_lock(conn, "w1")
        await conn.commit()
        other = await engine.connect()
        assert not await L.take_liveness_lock(other, "w1")  # one process per id
        await other.close()
        async with pg_sessions.begin() as s:
            assert await L.liveness(s, "w2") == {"w1": True, "w3": False}  # w3 never took one
        await conn.invalidate()  # the DBAPI connection closes, as a killed process's does
        async with pg_sessions.begin() as s:
            assert await L.liveness(s, "w2") == {"w1": False, "w3": False}
            assert await L.expire_worker(s, "w1") == ["a", "b"]
        async with pg_sessions.begin() as s:
            assert "w1" not in await L.live_workers(s)
            got = await L.claim(s, "w2", ["a", "b"], ttl=60)
        assert [(c.name, c.epoch, c.previous_holder) for c in got] == [("a", 2, "w1"), ("b", 2, "w1")]
    finally:
        await engine.dispose()


async def test_the_cluster_view_names_holders_epochs_and_heartbeats_in_russian_and_english(pg_sessions):
    """``bidder status`` and the dashboard read one view: every worker (live or gone, its heartbeat's age
    by the database's clock, what it holds) and every lease (holder or free, epoch, campaigns)."""
    from bidder.notify.cluster_text import render_cluster
    from bidder.store.cluster import cluster_view

    async with pg_sessions.begin() as s:
        await L.heartbeat_worker(s, "w1", host="host-1", pid=11, http_port=8081, ttl=60)
        await L.heartbeat_worker(s, "w2", host="host-2", pid=22, http_port=None, ttl=60)
        await L.ensure_leases(s, {"shop-a": 120, "shop-b": 80, "job:digest": 0})
        await L.claim(s, "w1", ["shop-a", "job:digest"], ttl=60)
        await L.claim(s, "w2", ["shop-b"], ttl=60)
        await L.release(s, "w2", ["shop-b"])
        await L.expire_worker(s, "w2")
    async with pg_sessions() as s:
        view = await cluster_view(s)
    assert [(w.id, w.live, w.accounts, w.jobs) for w in view.workers] == [
        ("w1", True, ["shop-a"], ["digest"]), ("w2", False, [], [])]
    assert all(0 <= w.heartbeat_age_s < 30 for w in view.workers)
    assert [(x.name, x.job, x.holder, x.last_holder, x.epoch, x.campaigns) for x in view.leases] == [
        ("shop-a", False, "w1", "w1", 1, 120), ("shop-b", False, None, None, 1, 80),
        ("digest", True, "w1", "w1", 1, 0)]
    assert 50 < view.leases[0].expires_in_s <= 60
    ru = render_cluster(view, "ru")
    assert "Рабочие процессы: 1 из 2 живы" in ru and "w1 — работает; host-1, pid 11, /healthz на порту 8081" in ru
    assert "w2 — не отвечает" in ru and "shop-a: w1; эпоха 1; кампаний 120; истекает через" in ru
    assert "shop-b: свободна (последний: -); эпоха 1" in ru and "задача digest: w1" in ru
    en = render_cluster(view, "en")
    assert "Workers: 1 of 2 live" in en and "shop-a: w1; epoch 1; campaigns 120; expires in" in en
    assert render_cluster(None, "ru") == ("Кластер: база SQLite: один рабочий процесс (несколько процессов "
                                          "работают только с PostgreSQL)")
