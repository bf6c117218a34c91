"""The engine's in-memory evaluation inputs agree with the database at every step (SQLite and PostgreSQL):
the first refresh loads, later ones tail new audit rows (also rows another process wrote), re-read
intents that were pending, and drop what leaves the window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bidder.domain import Action, ClusterStat, DailyStat, Decision
from bidder.engine.inputs import EvaluationInputs
from bidder.store import repo

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 2)


def stat(advert_id: int, nm_id: int, day: date, spend: str = "10.5") -> DailyStat:
    return DailyStat(advert_id, nm_id, day, views=100, clicks=5, atbs=1, orders=1, spend=Decimal(spend),
                     revenue=Decimal("99.90"), avg_position=4.5)


def cluster(advert_id: int, nm_id: int, query: str, period_to: date) -> ClusterStat:
    return ClusterStat(advert_id, nm_id, query, period_to - timedelta(days=6), period_to, views=10, clicks=1,
                       orders=0, spend=Decimal("3.20"), avg_pos=7.0)


def bid(advert_id: int, nm_id: int, before: int, after: int, strategy: str = "spend_cap") -> Decision:
    return Decision(action=Action.SET_BID, advert_id=advert_id, nm_id=nm_id, placement="search",
                    strategy=strategy, reason="test", bid_before=before, bid_after=after,
                    inputs={"avg_position": 3.5})


def hold(advert_id: int) -> Decision:
    return Decision(action=Action.HOLD, advert_id=advert_id, nm_id=11, placement="search", strategy="spend_cap",
                    reason="within the cap")


async def record(sessions, d: Decision, at: datetime, status: str) -> int:
    async with sessions.begin() as s:
        return await repo.record_decision(s, "shop", d, at=at, dry_run=False, apply_status=status)


async def from_db(sessions, advert_id: int, since_day: date, since_at: datetime):
    async with sessions() as s:
        stats = [x for x in await repo.load_daily_stats(s, "shop", [advert_id], since_day)]
        clusters = await repo.load_cluster_stats(s, "shop", [advert_id], since=since_day)
        rows = [r for r in await repo.decision_rows(s, "shop", since=since_at) if r.advert_id == advert_id]
        history = tuple(r.record for r in sorted(rows, key=lambda r: (r.record.at, r.id)))
    return tuple(stats), tuple(clusters), history


async def refresh(sessions, inputs: EvaluationInputs, since_day: date, since_at: datetime) -> None:
    async with sessions() as s:
        await inputs.refresh(s, clusters_since=since_day, history_since=since_at)
        inputs.daily = await inputs.load_stats(s, [1, 2, 3], since_day)  # what evaluate() reads per cycle


def mine(inputs: EvaluationInputs, advert_id: int):
    return inputs.daily.get(advert_id, ()), inputs.cluster_stats(advert_id), inputs.history(advert_id)


async def test_load_tail_and_prune_agree_with_the_database(db_sessions) -> None:
    sessions = db_sessions
    async with sessions.begin() as s:
        await repo.ensure_account(s, "shop")
        await repo.ensure_account(s, "other")
        await repo.save_daily_stats(s, "shop", [stat(1, nm, TODAY - timedelta(days=d)) for nm in (12, 11)
                                                for d in range(10)] + [stat(2, 21, TODAY)])
        await repo.save_daily_stats(s, "other", [stat(1, 11, TODAY, spend="999")])
        await repo.save_cluster_stats(s, "shop", [cluster(1, 11, "платье", TODAY),
                                                  cluster(1, 11, "old", TODAY - timedelta(days=20))], fetched_at=T0)
    pending_id = await record(sessions, bid(1, 11, 100, 120), T0 - timedelta(hours=2), "pending")
    await record(sessions, hold(1), T0 - timedelta(hours=1), "held")
    await record(sessions, bid(1, 12, 200, 180), T0 - timedelta(days=8), "applied")  # outside the window
    async with sessions.begin() as s:
        other = await repo.record_decision(s, "other", bid(1, 11, 5, 6), at=T0, dry_run=False, apply_status="applied")
    assert other

    inputs = EvaluationInputs("shop")
    since_day, since_at = TODAY - timedelta(days=7), T0 - timedelta(days=7)
    await refresh(sessions, inputs, since_day, since_at)
    for advert_id in (1, 2, 3):
        assert mine(inputs, advert_id) == await from_db(sessions, advert_id, since_day, since_at)
    stats, clusters, history = mine(inputs, 1)
    assert len(stats) == 16 and {s.spend for s in stats} == {Decimal("10.5")}  # 8 days x 2 items, not "other"
    assert [c.norm_query for c in clusters] == ["платье"]
    assert [(r.action, r.applied) for r in history] == [(Action.SET_BID, False), (Action.HOLD, False)]

    # another writer (the CLI's rollback, a Telegram command) adds rows and resolves the pending intent
    async with sessions.begin() as s:
        await repo.set_decision_status(s, pending_id, "applied", applied_at=T0)
    await record(sessions, bid(1, 12, 180, 150, strategy="rollback"), T0 + timedelta(minutes=1), "applied")
    await record(sessions, bid(1, 11, 120, 130), T0 - timedelta(hours=3), "failed")  # written late, older time
    async with sessions.begin() as s:
        await repo.save_daily_stats(s, "shop", [stat(1, 11, TODAY, spend="12.00")])
    version = inputs.stats_version(1), inputs.stats_version(2)
    inputs.add_stats([stat(1, 11, TODAY, spend="12.00")])  # what the cycle does after its own save
    assert (inputs.stats_version(1), inputs.stats_version(2)) == (version[0] + 1, version[1])
    await refresh(sessions, inputs, since_day, since_at)
    assert mine(inputs, 1) == await from_db(sessions, 1, since_day, since_at)
    history = inputs.history(1)
    assert [r.strategy for r in history][-1] == "rollback"
    assert history[1].applied is True and history[1].bid_after == 120 and history[1].avg_position == 3.5

    # a day later: old days, clusters and decisions leave the window
    since_day, since_at = since_day + timedelta(days=1), T0
    await refresh(sessions, inputs, since_day, since_at)
    for advert_id in (1, 2):
        assert mine(inputs, advert_id) == await from_db(sessions, advert_id, since_day, since_at)
    assert [r.strategy for r in inputs.history(1)] == ["rollback"]

    # a longer window (a reloaded config) reads the older days back from the database
    since_day = TODAY - timedelta(days=9)
    await refresh(sessions, inputs, since_day, since_at)
    assert mine(inputs, 1) == await from_db(sessions, 1, since_day, since_at)
    assert len(inputs.daily[1]) == 20


async def test_holds_are_kept_only_for_campaigns_whose_strategies_read_them(db_sessions) -> None:
    from strategies.registry import REGISTRY

    assert [k for k, cls in REGISTRY.items() if cls.reads_holds] == ["roi_floor"]
    sessions = db_sessions
    async with sessions.begin() as s:
        await repo.ensure_account(s, "shop")
    for advert_id in (1, 2):
        await record(sessions, hold(advert_id), T0 - timedelta(hours=2), "held")
        await record(sessions, bid(advert_id, 11, 100, 120), T0 - timedelta(hours=1), "applied")
        await record(sessions, hold(advert_id), T0, "held")
    inputs = EvaluationInputs("shop", keeps_holds=lambda advert_id: advert_id == 1)
    since_at = T0 - timedelta(days=7)
    await refresh(sessions, inputs, TODAY - timedelta(days=7), since_at)
    assert inputs.history(1) == (await from_db(sessions, 1, TODAY, since_at))[2]  # all of it
    assert [r.action for r in inputs.history(2)] == [Action.SET_BID]  # the same without its holds
    await record(sessions, hold(2), T0 + timedelta(minutes=1), "held")
    await record(sessions, bid(2, 11, 120, 130), T0 + timedelta(minutes=2), "applied")
    await refresh(sessions, inputs, TODAY - timedelta(days=7), since_at)
    assert [r.bid_after for r in inputs.history(2)] == [120, 130]
