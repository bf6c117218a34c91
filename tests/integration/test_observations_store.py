"""The observations store (SQLite and PostgreSQL): inputs stored with the time they were observed, read
back as they were known at a past time; the recorder stores only what changed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bidder.domain import Action, BidRules, Campaign, ClusterStat, DailyStat, Decision, Item, Recommendation
from bidder.engine.min_bids import MinBids
from bidder.engine.observe import InputRecorder
from bidder.engine.view import CampaignInputs
from bidder.store import accounts, audit
from bidder.store import observations as obs

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ACC = "shop-a"


def camp(bid: int, status: int = 9) -> Campaign:
    return Campaign(advert_id=100, name="c", type=9, status=status, bid_type="manual", payment_type="cpm",
                    currency="RUB", placements=frozenset({"search"}),
                    items=(Item(nm_id=1001, bids={"search": bid}, subject="Платья"),))


def daily(day: date, spend: str) -> DailyStat:
    return DailyStat(advert_id=100, nm_id=1001, day=day, views=100, clicks=5, atbs=1, orders=1,
                     spend=Decimal(spend), revenue=Decimal("1000"), avg_position=4.5)


class View:
    """What the recorder reads of an AccountView: the fetch times."""

    def __init__(self, at: datetime) -> None:
        self.details_at = {100: at}
        self.min_bids = MinBids()
        self.min_bids.store(100, {(1001, "search"): 150}, [(1001, "search")], at, "cpm")
        self.clusters_at = {100: at}
        self.recs_at = {(100, 1001): at}


def seen(c: Campaign, at: datetime, *, paused: bool = False, rec_bid: int = 500) -> CampaignInputs:
    rules = BidRules(step=1, min_bids={(1001, "search"): 150})
    clusters = (ClusterStat(100, 1001, "платье", at.date() - timedelta(days=6), at.date(), 50, 3, 1,
                            Decimal("12.5"), 3.0),)
    recs = {1001: Recommendation(100, 1001, "cpm", competitive_bid=rec_bid, fetched_at=at)}
    return CampaignInputs(c, rules, 1, clusters, recs, at - timedelta(minutes=1), (), paused, False, at.date(), True)


async def test_inputs_as_known_at_a_past_time(db_sessions) -> None:
    async with db_sessions.begin() as s:
        await accounts.ensure_account(s, ACC, seller_id="1", currency="RUB", timezone="Europe/Moscow")
    rec = InputRecorder(ACC)
    hold = Decision(action=Action.HOLD, advert_id=100, strategy="spend_cap", reason="ok", nm_id=1001,
                    placement="search", bid_before=300, bid_after=300)
    t1, t2, t3 = T0, T0 + timedelta(minutes=3), T0 + timedelta(minutes=6)
    day = t1.date()
    await rec.record(db_sessions, View(t1), t1, day - timedelta(days=7),
                     [(seen(camp(300), t1), (daily(day, "10"),), [hold])])
    # the same inputs again: only an evaluation row
    await rec.record(db_sessions, View(t1), t2, day - timedelta(days=7),
                     [(seen(camp(300), t1), (daily(day, "10"),), [hold])])
    async with db_sessions.begin() as s:
        await audit.record_decision(s, ACC, Decision(action=Action.SET_BID, advert_id=100, strategy="spend_cap",
                                                     reason="cut", nm_id=1001, placement="search", bid_before=300,
                                                     bid_after=250), at=t2 + timedelta(seconds=5), dry_run=False,
                                    apply_status="pending")
    async with db_sessions.begin() as s:
        (row,) = await audit.pending_intents(s, ACC)
        await audit.set_decision_status(s, row.id, "applied", applied_at=t2 + timedelta(seconds=40))
    # a new recorder (a restart) with changed bids, statistics and recommendation
    rec2 = InputRecorder(ACC)
    await rec2.record(db_sessions, View(t3), t3, day - timedelta(days=7),
                      [(seen(camp(250), t3, paused=True, rec_bid=520)._replace(cluster_bids=(((1001, "платье"), 450),)),
                        (daily(day, "14"),), None)])
    async with db_sessions() as s:
        stored = await obs.load_observations(s, ACC, None, until=t3)
        kinds = sorted(o.kind for o in stored)
        # t1: campaign, rules, daily, cluster, rec, the minimum-bid ceiling; t2: nothing; t3: campaign, daily,
        # rec, the cluster bids read by get-bids (rules, cluster and ceiling the same)
        assert kinds == sorted(["campaign", "rules", "daily", "cluster", "rec", "min_ceiling", "campaign", "daily",
                                "rec", "cluster_bids"])
        state = obs.ObservedState(stored)
        state.advance(t1)
        parts = state.parts[100]
        assert parts.ceiling_known and parts.ceiling == 300 and parts.cluster_bids == ()  # 2 x the minimum 150
        state.advance(t3)
        assert parts.cluster_bids == (((1001, "платье"), 450),)
        assert {o.known_at for o in stored} == {t1, t3}
        assert next(o for o in stored if o.kind == "campaign").observed_at == t1

        before = await obs.inputs_at(s, ACC, 100, t2)
        assert before.campaign == camp(300)
        assert before.rules == BidRules(step=1, min_bids={(1001, "search"): 150})
        assert [st.spend for st in before.daily_stats] == [Decimal("10")]
        assert before.recommendations[1001].competitive_bid == 500
        assert before.cluster_stats[0].spend == Decimal("12.5")
        assert before.history == ()
        assert before.evaluation is not None and before.evaluation.at == t2 and not before.evaluation.operator_paused
        assert before.evaluation.decisions == (("hold", 1001, "search", None, 300, 300, "spend_cap"),)

        # between the write and its recorded outcome the change was not known as applied
        mid = await obs.inputs_at(s, ACC, 100, t2 + timedelta(seconds=20))
        assert [(r.bid_after, r.applied) for r in mid.history] == [(250, False)]

        after = await obs.inputs_at(s, ACC, 100, t3)
        assert after.campaign == camp(250)
        assert [st.spend for st in after.daily_stats] == [Decimal("14")]
        assert after.recommendations[1001].competitive_bid == 520
        assert [(r.bid_after, r.applied) for r in after.history] == [(250, True)]
        assert after.evaluation is not None and after.evaluation.operator_paused and after.evaluation.failed

        digests = await obs.latest_digests(s, ACC)
        assert digests[(100, "campaign", "")] == obs.digest(obs.encode_campaign(camp(250)))


def test_codec_round_trips() -> None:
    c = camp(300)
    assert obs.decode_campaign(obs.encode_campaign(c)) == c
    r = BidRules(step=10, min_bids={(1, "search"): 150, (2, "recommendations"): 90}, max_bid=1000)
    assert obs.decode_rules(obs.encode_rules(r)) == r
    st = daily(date(2026, 11, 1), "12.345678")
    assert obs.decode_daily(100, obs.daily_key(st), obs.encode_daily(st)) == st
    cl = ClusterStat(100, 1, "a|b query", date(2026, 10, 1), date(2026, 10, 7), None, 3, 1, Decimal("1.5"), None)
    assert obs.decode_cluster(100, obs.cluster_key(cl), obs.encode_cluster(cl)) == cl
    from bidder.domain import PositionBand, ReachBand

    rc = Recommendation(100, 1, "cpc", bands=(PositionBand(1, 2, 500),), clusters=(ReachBand("q", 3, 2, 1),),
                        fetched_at=T0)
    assert obs.decode_rec(100, "1", obs.encode_rec(rc)) == rc


async def test_purge_keeps_what_was_known_at_the_cutoff(db_sessions) -> None:
    async with db_sessions.begin() as s:
        await accounts.ensure_account(s, ACC, seller_id="1", currency="RUB", timezone="Europe/Moscow")
    rec = InputRecorder(ACC)
    day = T0.date()
    for i, bid in enumerate((300, 310, 320)):
        at = T0 + timedelta(days=i)
        await rec.record(db_sessions, View(at), at, day, [(seen(camp(bid), at), (daily(day, "10"),), [])])
    cutoff = T0 + timedelta(days=1, hours=1)
    async with db_sessions.begin() as s:
        assert await obs.purge(s, ACC, cutoff) == (2, 2)  # two evaluations; the replaced campaign and rec rows
    async with db_sessions() as s:
        assert (await obs.inputs_at(s, ACC, 100, cutoff)).campaign == camp(310)
        assert (await obs.inputs_at(s, ACC, 100, T0 + timedelta(days=2))).campaign == camp(320)
        assert [st.spend for st in (await obs.inputs_at(s, ACC, 100, cutoff)).daily_stats] == [Decimal("10")]
        assert len(await obs.load_evaluations(s, ACC, None, since=T0, until=T0 + timedelta(days=3))) == 1
