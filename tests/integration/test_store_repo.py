"""The repository contract, run on SQLite, on PostgreSQL, and on PostgreSQL shared by two worker
processes (``store_url`` is parametrized here: ``postgres_workers`` is ``two_workers_url`` of the conftest:
this process holds the lease on the account the tests write, so every write is fenced, while a peer worker
process writes its own account's data the whole time)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from bidder.domain import Action, Campaign, ClusterStat, DailyStat, Decision, DecisionRecord, Item
from bidder.store import alerts, audit, common, repo
from bidder.store.models import AccountRow, AlertRow, BidSnapshotRow, CycleRow, DecisionRow

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ACC = "shop-a"  # conftest.CONTRACT_ACCOUNT


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """The conftest's ``store_url``; the tests marked ``@WORKERS`` also run on ``postgres_workers``:
    PostgreSQL shared by two worker processes (issue 20)."""
    name = "two_workers_url" if request.param == "postgres_workers" else f"{request.param}_url"
    return request.getfixturevalue(name)


# The subset that also runs with two worker processes: every write a cycle makes that another worker's
# writes could disturb (upserts of campaigns, items, bid snapshots and statistics, intents and their
# outcomes, alert de-duplication across transactions, operator state). Left out: tests about one
# transaction's validation (naive times, unknown status, quantising) and those reading every account at
# once (the account list, the whole history, last_cycles, the whole outbox), which a peer's rows change.
WORKERS = pytest.mark.parametrize("store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                                                pytest.param("postgres_workers", marks=pytest.mark.postgres)],
                                  indirect=True)


def camp(
    advert_id: int = 100, *, bids: dict[int, dict[str, int]] | None = None, status: int = 9, **kw
) -> Campaign:
    bids = {1001: {"search": 250, "recommendations": 180}, 1002: {"search": 300}} if bids is None else bids
    return Campaign(
        advert_id=advert_id,
        name=kw.get("name", f"campaign {advert_id}"),
        type=9,
        status=status,
        bid_type=kw.get("bid_type", "manual"),
        payment_type="cpm",
        currency="RUB",
        placements=frozenset({"search", "recommendations"}),
        items=tuple(Item(nm_id=nm, bids=b, subject="Платья") for nm, b in bids.items()),
        changed_at=kw.get("changed_at", T0 - timedelta(days=1)),
    )


def decision(advert_id: int = 100, **kw) -> Decision:
    base = dict(
        action=Action.SET_BID,
        advert_id=advert_id,
        strategy="target_position",
        reason="position 7 > target 3",
        nm_id=1001,
        placement="search",
        bid_before=250,
        bid_after=300,
        proposed_bid=320,
        guard="step capped at 25%",
        inputs={"avg_position": 7.5, "spend": Decimal("12.34"), "day": date(2026, 11, 1)},
    )
    base.update(kw)
    return Decision(**base)


async def stored_decision(s, decision_id: int) -> audit.StoredDecision | None:
    """A decision by id, as the audit trail (``history``, what the CLI and Telegram read) returns it."""
    found = [d for d in await audit.history(s, limit=100_000) if d.id == decision_id]
    return found[0] if found else None


async def due_alerts(s, now: datetime, limit: int = 20) -> list[alerts.StoredAlert]:
    """Pending alerts whose next attempt is due at ``now``, as the outbox sender reads them."""
    due = [a for a in await alerts.pending_events(s, 100_000) if a.next_attempt_at is None or a.next_attempt_at <= now]
    return due[:limit]


async def alert_row(s, alert_id: int) -> AlertRow:
    return await s.scalar(select(AlertRow).where(AlertRow.id == alert_id).execution_options(populate_existing=True))


@pytest.fixture
async def s(db_sessions):
    async with db_sessions() as session:
        await repo.ensure_account(session, ACC, "12345", "RUB", "Europe/Moscow")
        await session.commit()
        yield session


# --------------------------------------------------------------------------------------------- accounts


async def test_ensure_account_is_idempotent_and_updates(s) -> None:
    first = await repo.ensure_account(s, ACC, "12345", "RUB", "Europe/Moscow")
    again = await repo.ensure_account(s, ACC, "12345", "KZT", "Asia/Almaty")
    other = await repo.ensure_account(s, "shop-b", "777", "RUB", "Europe/Moscow")
    await s.commit()
    assert first == again != other
    info = await repo.get_account(s, ACC)
    assert info is not None and (info.currency, info.timezone, info.seller_id) == (
        "KZT",
        "Asia/Almaty",
        "12345",
    )
    assert (await s.scalars(select(AccountRow.name).order_by(AccountRow.name))).all() == [ACC, "shop-b"]
    assert await repo.get_account(s, "nope") is None


async def test_writes_for_unknown_account_raise(s) -> None:
    with pytest.raises(repo.UnknownAccount):
        await repo.save_campaigns(s, "nope", [camp()], T0)
    assert await repo.load_campaigns(s, "nope") == []


# --------------------------------------------------------------------------------------------- campaigns


@WORKERS
async def test_campaigns_round_trip(s) -> None:
    c1, c2 = camp(100), camp(200, bid_type="unified", bids={5: {"search": 400, "recommendations": 400}})
    await repo.save_campaigns(s, ACC, [c2, c1], T0)
    await s.commit()
    loaded = await repo.load_campaigns(s, ACC)
    assert loaded == [c1, c2]
    assert loaded[0].item(1002).bids == {"search": 300}
    assert loaded[0].changed_at.tzinfo is not None
    assert await repo.load_campaigns(s, ACC, [200]) == [c2]


@WORKERS
async def test_save_campaigns_updates_and_replaces_items(s) -> None:
    await repo.save_campaigns(s, ACC, [camp()], T0)
    await s.commit()
    changed = camp(status=11, name="renamed", bids={1001: {"search": 260}, 1003: {"recommendations": 90}})
    await repo.save_campaigns(s, ACC, [changed], T0 + timedelta(minutes=5))
    await s.commit()
    (loaded,) = await repo.load_campaigns(s, ACC)
    assert loaded == changed
    assert [i.nm_id for i in loaded.items] == [1001, 1003]


@WORKERS
async def test_bid_snapshots_only_on_change(s) -> None:
    n1 = await repo.save_campaigns(s, ACC, [camp()], T0)
    n2 = await repo.save_campaigns(s, ACC, [camp()], T0 + timedelta(minutes=5))  # nothing changed
    n3 = await repo.save_campaigns(
        s,
        ACC,
        [camp(bids={1001: {"search": 275, "recommendations": 180}, 1002: {"search": 300}})],
        T0 + timedelta(minutes=10),
    )
    await s.commit()
    assert (n1, n2, n3) == (3, 0, 1)
    assert len(await _snapshots(s)) == 4


@WORKERS
async def test_bids_at_picks_latest_snapshot_at_or_before(s) -> None:
    t1, t2, t3 = T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    await repo.save_campaigns(s, ACC, [camp(bids={1001: {"search": 100}})], t1)
    await repo.save_campaigns(s, ACC, [camp(bids={1001: {"search": 200}})], t2)
    await repo.save_campaigns(
        s, ACC, [camp(bids={1001: {"search": 300}}), camp(200, bids={7: {"search": 50}})], t3
    )
    await s.commit()
    assert await repo.bids_at(s, ACC, t1 - timedelta(seconds=1)) == {}
    assert await repo.bids_at(s, ACC, t1) == {(100, 1001, "search"): 100}
    assert await repo.bids_at(s, ACC, t2 - timedelta(microseconds=1)) == {(100, 1001, "search"): 100}
    assert await repo.bids_at(s, ACC, t2 + timedelta(minutes=30)) == {(100, 1001, "search"): 200}
    assert await repo.bids_at(s, ACC, t3) == {(100, 1001, "search"): 300, (200, 7, "search"): 50}
    assert await repo.bids_at(s, ACC, t3, advert_id=200) == {(200, 7, "search"): 50}
    # a non-UTC "when" means the same instant
    msk = timezone(timedelta(hours=3))
    assert await repo.bids_at(s, ACC, (t2 + timedelta(minutes=1)).astimezone(msk)) == {
        (100, 1001, "search"): 200
    }
    assert await repo.bids_at(s, "other", t3) == {}


# --------------------------------------------------------------------------------------------- statistics


def stat(
    advert_id=100, nm_id=1001, day=date(2026, 11, 1), spend="1234.567891", revenue="0.3", **kw
) -> DailyStat:
    return DailyStat(
        advert_id=advert_id,
        nm_id=nm_id,
        day=day,
        views=kw.get("views", 1000),
        clicks=kw.get("clicks", 40),
        atbs=kw.get("atbs", 5),
        orders=kw.get("orders", 2),
        spend=Decimal(spend),
        revenue=Decimal(revenue),
        avg_position=kw.get("avg_position", 3.25),
    )


@WORKERS
async def test_daily_stats_round_trip_exact_and_upsert(s) -> None:
    rows = [
        stat(),
        stat(day=date(2026, 11, 2), spend="0.1", revenue="0.2"),
        stat(advert_id=200, avg_position=None),
    ]
    await repo.save_daily_stats(s, ACC, rows)
    await repo.save_daily_stats(s, ACC, rows)  # idempotent
    await s.commit()
    loaded = await repo.load_daily_stats(s, ACC, None, date(2026, 11, 1))
    assert loaded == sorted(rows, key=lambda r: (r.advert_id, r.nm_id, r.day))
    assert loaded[0].spend == Decimal("1234.567891") and isinstance(loaded[0].spend, Decimal)
    assert loaded[1].spend + loaded[1].revenue == Decimal("0.3")  # no float drift

    updated = stat(views=2000, spend="99999999.999999")
    await repo.save_daily_stats(s, ACC, [updated])
    await s.commit()
    got = await repo.load_daily_stats(s, ACC, [100], date(2026, 11, 1), until=date(2026, 11, 1))
    assert got == [updated]
    assert await repo.load_daily_stats(s, ACC, [], date(2026, 1, 1)) == []
    assert await repo.load_daily_stats(s, ACC, [100], date(2026, 11, 3)) == []


async def test_money_is_quantised_to_six_places_half_up(s) -> None:
    await repo.save_daily_stats(s, ACC, [stat(spend="0.0000005", revenue="-1.25")])
    await s.commit()
    (got,) = await repo.load_daily_stats(s, ACC, None, date(2026, 11, 1))
    assert got.spend == Decimal("0.000001") and got.revenue == Decimal("-1.25")


@WORKERS
async def test_daily_totals_sum_exactly(s) -> None:
    await repo.save_daily_stats(
        s,
        ACC,
        [
            stat(nm_id=1, spend="0.1", revenue="1.000001", orders=1, views=10, clicks=1),
            stat(nm_id=2, spend="0.2", revenue="2", orders=2, views=20, clicks=2),
            stat(advert_id=200, spend="5", revenue="0"),
            stat(day=date(2026, 10, 1)),
        ],
    )
    await s.commit()
    totals = await repo.daily_totals(s, ACC, date(2026, 11, 1))
    assert totals == [
        repo.DailyTotal(date(2026, 11, 1), 100, Decimal("0.3"), Decimal("3.000001"), 3, 30, 3),
        repo.DailyTotal(date(2026, 11, 1), 200, Decimal("5"), Decimal("0"), 2, 1000, 40),
    ]


@WORKERS
async def test_cluster_stats_round_trip_and_upsert(s) -> None:
    a = ClusterStat(
        100, 1001, "платье летнее", date(2026, 10, 26), date(2026, 11, 1), None, 12, 1, Decimal("45.67"), 4.5
    )
    b = ClusterStat(
        100, 1001, "платье", date(2026, 10, 26), date(2026, 11, 1), 900, 30, 2, Decimal("0.1"), None
    )
    old = ClusterStat(100, 1001, "платье", date(2026, 10, 1), date(2026, 10, 7), 10, 1, 0, Decimal("1"), 9.0)
    await repo.save_cluster_stats(s, ACC, [a, b, old], fetched_at=T0)
    b2 = ClusterStat(
        100, 1001, "платье", date(2026, 10, 26), date(2026, 11, 1), 950, 31, 3, Decimal("0.2"), 2.0
    )
    await repo.save_cluster_stats(s, ACC, [b2], fetched_at=T0 + timedelta(minutes=15))
    await s.commit()
    assert await repo.load_cluster_stats(s, ACC, since=date(2026, 10, 30)) == [b2, a]
    assert await repo.load_cluster_stats(s, ACC, [100], since=date(2026, 10, 1)) == [old, b2, a]
    assert await repo.load_cluster_stats(s, ACC, [999], since=date(2026, 10, 1)) == []


# --------------------------------------------------------------------------------------------- decisions


@WORKERS
async def test_record_decision_round_trip(s) -> None:
    d = decision()
    did = await repo.record_decision(
        s, ACC, d, at=T0, dry_run=False, apply_status="pending", evidence_at=T0 - timedelta(minutes=3)
    )
    await s.commit()
    stored = await stored_decision(s, did)
    assert stored is not None
    assert stored.decision.inputs == {"avg_position": 7.5, "spend": "12.34", "day": "2026-11-01"}
    assert stored.decision == Decision(**{**_fields(d), "inputs": stored.decision.inputs})
    assert (stored.at, stored.evidence_at, stored.account) == (T0, T0 - timedelta(minutes=3), ACC)
    assert stored.at.tzinfo is not None and stored.at.utcoffset() == timedelta(0)
    assert stored.proposal["bid"] == 320 and stored.proposal["strategy"] == "target_position"
    assert (stored.advert_id, stored.bid_before, stored.bid_after, stored.strategy) == (
        100,
        250,
        300,
        "target_position",
    )
    assert stored.apply_status == "pending" and not stored.applied


def _fields(d: Decision) -> dict:
    return {f: getattr(d, f) for f in Decision.__dataclass_fields__}


async def test_invalid_status_is_refused(s) -> None:
    with pytest.raises(ValueError):
        await repo.record_decision(s, ACC, decision(), at=T0, dry_run=False, apply_status="done")
    did = await repo.record_decision(s, ACC, decision(), at=T0, dry_run=False, apply_status="pending")
    with pytest.raises(ValueError):
        await repo.set_decision_status(s, did, "bogus")
    with pytest.raises(LookupError):
        await repo.set_decision_status(s, did + 1000, "applied")


@WORKERS
async def test_pending_intents_and_status_changes(s) -> None:
    a = await repo.record_decision(s, ACC, decision(), at=T0, dry_run=False, apply_status="pending")
    b = await repo.record_decision(
        s, ACC, decision(200), at=T0 + timedelta(seconds=1), dry_run=False, apply_status="pending"
    )
    await repo.record_decision(s, ACC, decision(300), at=T0, dry_run=True, apply_status="dry_run")
    await repo.record_decision(
        s, ACC, decision(action=Action.HOLD, bid_after=None), at=T0, dry_run=False, apply_status="held"
    )
    await s.commit()
    assert [p.id for p in await repo.pending_intents(s, ACC)] == [a, b]
    assert await repo.pending_intents(s, "other") == []

    await repo.set_decision_status(s, a, "applied", applied_at=T0 + timedelta(seconds=2))
    await repo.set_decision_status(s, b, "failed", error="HTTP 400: bid below minimum")
    await s.commit()
    assert await repo.pending_intents(s, ACC) == []
    sa, sb = await stored_decision(s, a), await stored_decision(s, b)
    assert sa.applied and sa.applied_at == T0 + timedelta(seconds=2) and sa.api_error is None
    assert sb.apply_status == "failed" and sb.api_error == "HTTP 400: bid below minimum" and not sb.applied


@WORKERS
async def test_bulk_intents_return_their_ids_and_take_outcomes_in_one_update(s) -> None:
    """What the cycle does with a batch of bid changes: one INSERT returning ids in order, one UPDATE."""
    batch = [decision(100 + i, bid_after=300 + i) for i in range(120)]  # more than one chunk
    ids = await repo.record_decisions(s, ACC, batch, at=T0, dry_run=False, apply_status="pending", returning_ids=True)
    await s.commit()
    assert len(ids) == len(set(ids)) == 120
    for did, d in zip(ids, batch, strict=True):
        stored = await stored_decision(s, did)
        assert (stored.advert_id, stored.bid_after, stored.apply_status) == (d.advert_id, d.bid_after, "pending")
    assert [p.id for p in await repo.pending_intents(s, ACC)] == ids

    at = T0 + timedelta(seconds=3)
    await repo.set_decision_statuses(
        s, [(i, "applied", None, at) for i in ids[:100]] + [(i, "failed", "HTTP 400: too low", None) for i in ids[100:]]
    )
    await s.commit()
    assert await repo.pending_intents(s, ACC) == []
    first, last = await stored_decision(s, ids[0]), await stored_decision(s, ids[-1])
    assert first.applied and first.applied_at == at and first.api_error is None
    assert last.apply_status == "failed" and last.api_error == "HTTP 400: too low" and last.applied_at is None
    with pytest.raises(LookupError):
        await repo.set_decision_statuses(s, [(ids[0], "applied", None, at), (max(ids) + 1000, "applied", None, at)])
    skipped = await repo.record_decisions(s, ACC, batch[:2], at=T0, dry_run=False, apply_status="skipped",
                                          error="writes stopped", returning_ids=True)
    assert (await stored_decision(s, skipped[1])).api_error == "writes stopped"


async def test_decision_rows_as_domain_records(s) -> None:
    a = await repo.record_decision(
        s, ACC, decision(), at=T0, dry_run=False, apply_status="pending", evidence_at=T0
    )
    await repo.record_decision(
        s, ACC, decision(), at=T0 - timedelta(days=2), dry_run=False, apply_status="applied"
    )
    await repo.record_decision(
        s,
        ACC,
        decision(action=Action.PAUSE, nm_id=None, placement=None, bid_before=None, bid_after=None, inputs={}),
        at=T0 + timedelta(minutes=1),
        dry_run=False,
        apply_status="reconciled_applied",
    )
    await repo.record_decision(s, ACC, decision(200), at=T0, dry_run=False, apply_status="applied")
    await repo.set_decision_status(s, a, "applied", applied_at=T0)
    await s.commit()
    got = tuple(r.record for r in await repo.decision_rows(s, ACC, since=T0 - timedelta(hours=1)) if r.advert_id == 100)
    assert isinstance(got, tuple) and all(isinstance(r, DecisionRecord) for r in got)
    assert got == (
        DecisionRecord(T0, "target_position", Action.SET_BID, 1001, "search", 250, 300, True, T0, 7.5),
        DecisionRecord(
            T0 + timedelta(minutes=1), "target_position", Action.PAUSE, None, None, None, None, True
        ),
    )


async def test_history_filters_newest_first(s) -> None:
    await repo.ensure_account(s, "shop-b", "9", "RUB", "Europe/Moscow")
    for i in range(5):
        await repo.record_decision(
            s, ACC, decision(100 + i % 2), at=T0 + timedelta(minutes=i), dry_run=False, apply_status="applied"
        )
    await repo.record_decision(s, "shop-b", decision(100), at=T0, dry_run=True, apply_status="dry_run")
    await s.commit()
    everything = await repo.history(s)
    assert len(everything) == 6
    assert [h.at for h in everything] == sorted((h.at for h in everything), reverse=True)
    only_a = await repo.history(s, account=ACC, advert_id=100, since=T0 + timedelta(minutes=1))
    assert [(h.account, h.advert_id, h.at) for h in only_a] == [
        (ACC, 100, T0 + timedelta(minutes=4)),
        (ACC, 100, T0 + timedelta(minutes=2)),
    ]
    assert len(await repo.history(s, limit=2)) == 2
    (b,) = await repo.history(s, account="shop-b")
    assert b.dry_run and b.apply_status == "dry_run"


async def test_decision_and_alert_commit_or_roll_back_together(s) -> None:
    await repo.record_decision(s, ACC, decision(), at=T0, dry_run=False, apply_status="pending")
    await repo.enqueue_alert(s, ACC, "bid_changed", {"advert_id": 100}, dedup_key="k1", at=T0)
    await s.rollback()
    assert await repo.history(s) == [] and await alerts.pending_events(s, 100) == []
    await repo.record_decision(s, ACC, decision(), at=T0, dry_run=False, apply_status="pending")
    await repo.enqueue_alert(s, ACC, "bid_changed", {"advert_id": 100}, dedup_key="k1", at=T0)
    await s.commit()
    assert len(await repo.history(s)) == 1 and len(await alerts.pending_events(s, 100)) == 1


# --------------------------------------------------------------------------------------------- alerts


async def test_alert_dedup_and_outbox_lifecycle(s) -> None:
    a = await repo.enqueue_alert(
        s,
        ACC,
        "auth_failed",
        {"msg": "401", "amount": Decimal("1.5")},
        dedup_key="auth:shop-a",
        severity="error",
        at=T0,
    )
    dup = await repo.enqueue_alert(
        s, ACC, "auth_failed", {"msg": "401 again"}, dedup_key="auth:shop-a", at=T0
    )
    b = await repo.enqueue_alert(s, None, "started", {}, dedup_key=None, at=T0 + timedelta(seconds=1))
    c = await repo.enqueue_alert(s, None, "started", {}, dedup_key=None, at=T0 + timedelta(seconds=2))
    await s.commit()
    assert a and b and c and dup is None
    due = await due_alerts(s, T0 + timedelta(seconds=5), limit=10)
    assert [x.id for x in due] == [a, b, c]
    assert (
        due[0].payload == {"msg": "401", "amount": "1.5"}
        and due[0].account == ACC
        and due[0].severity == "error"
    )
    assert due[1].account is None
    assert [x.id for x in await due_alerts(s, T0 + timedelta(seconds=5), limit=1)] == [a]

    await repo.mark_alert_retry(s, a, "timeout", T0 + timedelta(minutes=1))
    await repo.mark_alert_sent(s, b, at=T0 + timedelta(seconds=6))
    await repo.mark_alerts_merged(s, [c])
    await s.commit()
    assert await due_alerts(s, T0 + timedelta(seconds=30)) == []
    (retry,) = await due_alerts(s, T0 + timedelta(minutes=1))
    assert (retry.attempts, retry.last_error, retry.next_attempt_at) == (
        1,
        "timeout",
        T0 + timedelta(minutes=1),
    )
    sent = await alert_row(s, b)
    assert sent.status == "sent" and sent.sent_at == T0 + timedelta(seconds=6) and sent.attempts == 1
    assert (await alert_row(s, c)).status == "merged"

    # still pending: a duplicate is refused; once it is given up, the key is free again
    assert await repo.enqueue_alert(s, ACC, "auth_failed", {}, dedup_key="auth:shop-a", at=T0) is None
    await repo.mark_alert_retry(s, a, "gave up", None)
    await s.commit()
    assert (await alert_row(s, a)).status == "failed"
    assert await repo.enqueue_alert(s, ACC, "auth_failed", {}, dedup_key="auth:shop-a", at=T0) is not None


async def test_the_one_dedup_rule_counts_sent_alerts_for_a_day_and_failed_ones_not_at_all(s) -> None:
    """bidder.store.alerts: a duplicate is pending, or was enqueued within the period and not given up."""
    a = await alerts.enqueue_alert(s, ACC, "k", {}, dedup_key="day", at=T0)
    await alerts.mark_alert_sent(s, a, at=T0)
    await s.commit()
    assert await alerts.enqueue_alert(s, ACC, "k", {}, dedup_key="day", at=T0 + timedelta(hours=23)) is None
    assert await alerts.already_alerted(s, "day", at=T0 + timedelta(hours=24))
    assert not await alerts.already_alerted(s, "day", at=T0 + timedelta(hours=24, seconds=1))
    # a key that names a longer period passes its start
    assert await alerts.already_alerted(s, "day", at=T0 + timedelta(hours=25), since=T0 - timedelta(hours=1))
    b = await alerts.enqueue_alert(s, ACC, "k", {}, dedup_key="day", at=T0 + timedelta(hours=25))
    assert b is not None
    await alerts.mark_alert_retry(s, b, "refused", None)  # given up: does not silence the next one
    await s.commit()
    assert await alerts.enqueue_alert(s, ACC, "k", {}, dedup_key="day", at=T0 + timedelta(hours=26)) is not None
    assert await alerts.enqueue_alert(s, ACC, "k", {}, dedup_key=None, at=T0) is not None  # no key: no dedup
    await s.commit()


@WORKERS
async def test_alert_dedup_across_sessions_is_enforced_by_the_database(db_sessions) -> None:
    async with db_sessions() as s1:
        await repo.ensure_account(s1, ACC, "1", "RUB", "Europe/Moscow")
        await s1.commit()
        assert await repo.enqueue_alert(s1, ACC, "k", {}, dedup_key="same", at=T0) is not None
        await s1.commit()
    async with db_sessions() as s2:
        # bypass the pre-check: the partial unique index itself refuses a second pending row
        with pytest.raises(Exception, match="(?i)unique|duplicate"):
            await s2.execute(
                text(
                    "INSERT INTO alerts (created_at, kind, dedup_key, severity, payload, status, attempts)"
                    " VALUES (:at, 'k', 'same', 'info', '{}', 'pending', 0)"
                ),
                {"at": T0.replace(tzinfo=None)},
            )
        await s2.rollback()


# --------------------------------------------------------------------------------------------- operator state


@WORKERS
async def test_operator_state(s) -> None:
    await repo.set_operator_state(s, ACC, "paused", True, at=T0, set_by="telegram:42")
    await repo.set_operator_state(
        s, ACC, "paused", {"until": "2026-11-03"}, advert_id=100, at=T0, set_by="cli"
    )
    await repo.set_operator_state(s, ACC, "dry_run", True, at=T0)
    await repo.set_operator_state(
        s, ACC, "dry_run", False, at=T0 + timedelta(minutes=1), set_by="cli"
    )  # replaces
    await s.commit()
    acct = await repo.get_operator_state(s, ACC, "paused")
    assert acct == repo.OperatorState(ACC, None, "paused", True, T0, "telegram:42")
    assert (await repo.get_operator_state(s, ACC, "paused", advert_id=100)).value == {"until": "2026-11-03"}
    assert await repo.get_operator_state(s, ACC, "paused", advert_id=200) is None
    assert (await repo.get_operator_state(s, ACC, "dry_run")).value is False
    states = await repo.operator_states(s, ACC)
    assert [(x.key, x.advert_id) for x in states] == [("dry_run", None), ("paused", None), ("paused", 100)]
    assert len(await repo.operator_states(s, ACC, "paused")) == 2

    assert await repo.clear_operator_state(s, ACC, "paused") is True
    assert await repo.clear_operator_state(s, ACC, "paused") is False
    await s.commit()
    assert await repo.get_operator_state(s, ACC, "paused") is None
    assert await repo.get_operator_state(s, ACC, "paused", advert_id=100) is not None
    assert await repo.get_operator_state(s, "nope", "paused") is None


# --------------------------------------------------------------------------------------------- cycles


async def test_cycles(s) -> None:
    await repo.ensure_account(s, "shop-b", "9", "RUB", "Europe/Moscow")
    c1 = await repo.start_cycle(s, ACC, T0)
    await repo.finish_cycle(
        s, c1, at=T0 + timedelta(seconds=20), ok=True, summary={"decisions": 3, "spend": Decimal("1.5")}
    )
    c2 = await repo.start_cycle(s, ACC, T0 + timedelta(minutes=1))
    c3 = await repo.start_cycle(s, "shop-b", T0)
    await repo.finish_cycle(
        s, c3, at=T0 + timedelta(seconds=5), ok=False, error="AuthFailed: GET /adv/v1/promotion/count"
    )
    await s.commit()
    last = await repo.last_cycles(s)
    assert set(last) == {ACC, "shop-b"}
    assert last[ACC].id == c2 and last[ACC].finished_at is None and last[ACC].ok is None
    assert last["shop-b"].ok is False and "AuthFailed" in last["shop-b"].error
    row = await s.get(CycleRow, c1)
    assert row.summary == {"decisions": 3, "spend": "1.5"} and row.finished_at == T0 + timedelta(seconds=20)


# --------------------------------------------------------------------------------------------- time


async def test_timestamps_are_aware_utc_and_naive_is_refused(s) -> None:
    msk = timezone(timedelta(hours=3))
    at_msk = datetime(2026, 11, 2, 12, 0, 0, 123456, tzinfo=msk)
    did = await repo.record_decision(s, ACC, decision(), at=at_msk, dry_run=False, apply_status="held")
    await s.commit()
    s.expunge_all()
    row = (await s.execute(select(DecisionRow).where(DecisionRow.id == did))).scalar_one()
    assert row.at == datetime(2026, 11, 2, 9, 0, 0, 123456, tzinfo=UTC)
    assert row.at.tzinfo is UTC
    with pytest.raises(Exception, match="naive"):
        await repo.record_decision(
            s, ACC, decision(), at=datetime(2026, 11, 2, 9, 0), dry_run=False, apply_status="held"
        )
    await s.rollback()


@WORKERS
async def test_alert_dedup_race_between_two_open_transactions(db_sessions) -> None:
    """Both sessions pass the pre-check; the second still gets None once the first commits
    (PostgreSQL: the unique index blocks then refuses; SQLite: BEGIN IMMEDIATE serialises them)."""
    import asyncio

    async with db_sessions() as s0:
        await repo.ensure_account(s0, ACC, "1", "RUB", "Europe/Moscow")
        await s0.commit()
    async with db_sessions() as s1, db_sessions() as s2:
        first = await repo.enqueue_alert(s1, ACC, "k", {}, dedup_key="race", at=T0)
        assert first is not None
        second = asyncio.create_task(repo.enqueue_alert(s2, ACC, "k", {"n": 2}, dedup_key="race", at=T0))
        await asyncio.sleep(0.3)
        assert not second.done()  # waiting for the first transaction
        await s1.commit()
        assert await asyncio.wait_for(second, 30) is None
        await repo.enqueue_alert(
            s2, ACC, "other", {}, dedup_key="other", at=T0
        )  # the session is still usable
        await s2.commit()
    async with db_sessions() as s3:
        assert sorted(a.kind for a in await alerts.pending_events(s3, 100) if a.account == ACC) == ["k", "other"]


# --------------------------------------------------------------------------------------------- save_campaigns (Core)


async def _item_rows(s) -> dict[tuple[int, int], tuple[int, str, int | None, int | None]]:
    rows = await s.execute(
        text(
            "SELECT c.advert_id, i.nm_id, i.id, i.subject, i.bid_search, i.bid_recommendations "
            "FROM campaign_items i JOIN campaigns c ON c.id = i.campaign_id "
            "JOIN accounts a ON a.id = c.account_id WHERE a.name = :acc"
        ),
        {"acc": ACC},
    )
    return {(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in rows}


async def _snapshots(s) -> list[tuple[int, int, str, int]]:
    rows = await s.execute(select(BidSnapshotRow).join(AccountRow, AccountRow.id == BidSnapshotRow.account_id)
                           .where(AccountRow.name == ACC).order_by(BidSnapshotRow.id))
    return [(r.advert_id, r.nm_id, r.placement, r.bid) for r in rows.scalars()]


@WORKERS
async def test_save_campaigns_removes_adds_and_keeps_items_in_one_session(s) -> None:
    """No commit in between, and the session already holds the loaded rows: every load sees the new
    state (also one without populate_existing); kept items keep their ids; other campaigns are untouched."""
    from sqlalchemy.orm import selectinload

    from bidder.store.models import CampaignRow

    other = camp(200, bids={7: {"search": 50}})
    assert await repo.save_campaigns(s, ACC, [camp(), other], T0) == 4
    assert await repo.load_campaigns(s, ACC) == [camp(), other]
    before = await _item_rows(s)
    query = (select(CampaignRow).options(selectinload(CampaignRow.items))
             .where(CampaignRow.account_id == await common.require_account_id(s, ACC)).order_by(CampaignRow.advert_id))
    held = (await s.scalars(query)).all()  # ORM instances alive in the identity map

    changed = camp(
        name="renamed",
        status=11,
        bids={1001: {"search": 250}, 1003: {"search": 90, "recommendations": 80}},  # 1002 gone
    )
    assert await repo.save_campaigns(s, ACC, [changed], T0 + timedelta(minutes=5)) == 2  # 1003 only
    plain = (await s.scalars(query)).all()  # no populate_existing
    assert plain == held
    assert [(r.name, r.status, [i.nm_id for i in r.items]) for r in plain] == [
        ("renamed", 11, [1001, 1003]),
        ("campaign 200", 9, [7]),
    ]
    assert await repo.load_campaigns(s, ACC) == [changed, other]
    after = await _item_rows(s)
    assert set(after) == {(100, 1001), (100, 1003), (200, 7)}
    assert after[100, 1001] == (before[100, 1001][0], "Платья", 250, None)  # same row, bid removed
    assert after[200, 7] == before[200, 7]
    await s.commit()

    # a removed placement bid and a removed item come back: both are new observations
    again = camp(bids={1001: {"search": 250, "recommendations": 180}, 1002: {"search": 300}})
    assert await repo.save_campaigns(s, ACC, [again], T0 + timedelta(minutes=10)) == 2
    await s.commit()
    assert await repo.load_campaigns(s, ACC, [100]) == [again]
    assert (await _snapshots(s))[-2:] == [(100, 1001, "recommendations", 180), (100, 1002, "search", 300)]


@WORKERS
async def test_save_campaigns_repeated_campaign_and_item_compare_with_previous_occurrence(s) -> None:
    """A campaign listed twice in one call (or an nm twice in one campaign) is compared with its
    previous occurrence and the last one is stored."""
    first = camp(bids={1001: {"search": 100}})
    second = camp(name="second", bids={1001: {"search": 100, "recommendations": 70}, 1002: {"search": 5}})
    assert await repo.save_campaigns(s, ACC, [first, second], T0) == 3
    assert await repo.load_campaigns(s, ACC) == [second]

    import dataclasses

    dup = dataclasses.replace(
        camp(),
        items=(
            Item(nm_id=1001, bids={"search": 100}, subject="a"),
            Item(nm_id=1001, bids={"search": 120}, subject="b"),
        ),
    )
    assert await repo.save_campaigns(s, ACC, [dup], T0 + timedelta(minutes=1)) == 1  # 100 -> 120
    (loaded,) = await repo.load_campaigns(s, ACC)
    assert loaded.items == (Item(nm_id=1001, bids={"search": 120}, subject="b"),)
    await s.commit()
    assert await _snapshots(s) == [
        (100, 1001, "search", 100),
        (100, 1001, "recommendations", 70),
        (100, 1002, "search", 5),
        (100, 1001, "search", 120),
    ]


@WORKERS
async def test_save_campaigns_more_than_one_chunk(s) -> None:
    many = [camp(1000 + n, bids={n: {"search": 100 + n}}) for n in range(common.CHUNK + 120)]
    assert await repo.save_campaigns(s, ACC, many, T0) == len(many)
    bumped = [camp(c.advert_id, bids={c.items[0].nm_id: {"search": c.items[0].bids["search"] + (n % 2)}})
              for n, c in enumerate(many)]
    assert await repo.save_campaigns(s, ACC, bumped, T0 + timedelta(hours=1)) == len(many) // 2
    await s.commit()
    assert await repo.load_campaigns(s, ACC) == bumped
    assert len(await _snapshots(s)) == len(many) + len(many) // 2
