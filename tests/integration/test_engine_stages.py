"""The engine's stages, each on its own, against real parts: the simulator's demo market over HTTP and
a real (migrated) SQLite file, sharing one FakeClock (the pacer's waits advance it).

* ``Poller`` reads WB into the view and the store;
* ``Evaluator`` decides from the view and the store alone (no WB call), and can be asked for the
  decisions that need no fresh reads (``safety_only``);
* ``Applier`` records and sends decisions: item bids, search-cluster bids (``norm_query``) and pauses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bidder.clock import FakeClock
from bidder.config import load_config
from bidder.domain import BID_EDITABLE_STATUSES, PAUSABLE_STATUSES, Action, Decision, Status
from bidder.engine.apply import Applier
from bidder.engine.evaluate import Evaluator
from bidder.engine.guards import GuardConfig
from bidder.engine.poll import Poller
from bidder.engine.view import AccountView
from bidder.notify.alerts import OutboxAlerts
from bidder.notify.control import PAUSED, OperatorStateReader
from bidder.sim.testing import start_simulator
from bidder.store import repo
from bidder.store.db import Database
from bidder.store.migrate import upgrade
from bidder.wb.pacing import Pacer
from bidder.wb.tokens import load_tokens
from bidder.wb.writer import DryRunWriter, make_reader, make_writer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bidder.yaml"
CLUSTER_BIDS = "POST /api/advert/v1/normquery/bids"


@dataclass
class Parts:
    sim: object
    clock: FakeClock
    database: Database
    view: AccountView
    poller: Poller
    evaluator: Evaluator
    applier: Applier
    stop_file: Path

    def requests(self, method: str) -> int:
        return self.sim.sim.report()["requests"].get(method, {}).get("count", 0)

    def reads(self) -> int:
        report = self.sim.sim.report()["requests"]
        return sum(v.get("count", 0) for k, v in report.items() if not _is_write(k))


def _is_write(method: str) -> bool:
    return method.startswith(("PATCH", "GET /adv/v0/pause", "GET /adv/v0/start", "GET /adv/v0/stop")) \
        or method == CLUSTER_BIDS


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Parts]:
    clock = FakeClock()
    url = f"sqlite+aiosqlite:///{tmp_path / 'bidder.db'}"
    await upgrade(url)
    database = Database(url)
    async with await start_simulator("demo", seed=1, clock=clock) as sim, aiohttp.ClientSession() as http:
        seller = sim.sim.sellers["shop-a"]
        config = load_config(EXAMPLE, {"WB_READ_TOKEN": seller.read_token, "WB_WRITE_TOKEN": seller.write_token})
        account = next(a for a in config.accounts if a.name == "shop-a")
        tokens = load_tokens(SecretStr(seller.read_token), SecretStr(seller.write_token), now=clock.now())
        reader = make_reader(http, tokens.read, Pacer(clock), clock, base_url=sim.url)
        live = make_writer(reader=reader, write_token=tokens.write)
        view = AccountView(account, GuardConfig.from_guardrails(account.guardrails))
        alerts, operator = OutboxAlerts(), OperatorStateReader()
        stop_file = tmp_path / "STOP"
        async with database.sessions.begin() as s:
            await repo.ensure_account(s, "shop-a")
        try:
            yield Parts(
                sim=sim, clock=clock, database=database, view=view,
                poller=Poller(view, reader, database.sessions, clock, config.intervals),
                evaluator=Evaluator(view, sessions=database.sessions, read_sessions=database.read_sessions,
                                    alerts=alerts, operator=operator, stop_file=stop_file),
                applier=Applier(view, sessions=database.sessions, read_sessions=database.read_sessions, clock=clock,
                                alerts=alerts, operator=operator, live_writer=live,
                                dry_writer=DryRunWriter(reader=reader)),
                stop_file=stop_file,
            )
        finally:
            await database.dispose()


async def test_poll_reads_wb_into_the_view_and_the_store(parts: Parts) -> None:
    now = parts.clock.now()
    refreshed = await parts.poller.run(now)
    view = parts.view
    assert view.campaigns and refreshed > 0
    managed = view.managed_ids()
    assert managed and set(view.stats_at) <= set(managed)
    assert view.steps is not None and view.currency
    assert all(view.rules_known(i) for i in view.editable_ids() if view.campaigns[i].items)
    async with parts.database.sessions() as s:
        stored = {c.advert_id for c in await repo.load_campaigns(s, "shop-a")}
    # finished campaigns whose final read is done are no longer in the view (the ones that finished before
    # the statistics window are not read at all)
    assert set(view.campaigns) <= stored <= set(view.campaigns) | view.finished.done

    # nothing is due again right away: no WB call
    before = parts.reads()
    assert await parts.poller.run(now) == 0
    assert parts.reads() == before


async def test_evaluate_decides_from_the_view_without_calling_wb(parts: Parts) -> None:
    await parts.poller.run(parts.clock.now())
    now = parts.clock.now()
    before = parts.reads()
    first = await parts.evaluator.run(now)
    assert parts.reads() == before, "evaluation reads only the view and the store"
    editable = set(parts.view.editable_ids())
    assert first.evaluated == len(editable)
    assert {d.advert_id for d in first.decisions} <= editable

    # unchanged inputs: the campaigns that only held are skipped (not clock-driven ones)
    holding = parts.evaluator.holding()
    assert holding
    again = await parts.evaluator.run(now)
    assert again.evaluated == first.evaluated - len([i for i in holding if not parts.view.clock_driven(i)])
    # "everything" evaluates every campaign and leaves what is skipped as it was
    everything = await parts.evaluator.run(now, everything=True)
    assert everything.evaluated == len(editable)
    assert parts.evaluator.holding() == holding


async def test_a_safety_only_evaluation_needs_no_fresh_reads(parts: Parts) -> None:
    await parts.poller.run(parts.clock.now())
    now = parts.clock.now()
    before = parts.reads()
    assert before > 0
    assert (await parts.evaluator.run(now, safety_only=True)).decisions == []  # nothing to enforce

    target = next(i for i in parts.view.editable_ids() if parts.view.campaigns[i].status in PAUSABLE_STATUSES)
    async with parts.database.sessions.begin() as s:
        await repo.set_operator_state(s, "shop-a", PAUSED, True, advert_id=target, at=now, set_by="test")
    paused = (await parts.evaluator.run(now, safety_only=True)).decisions
    assert [(d.advert_id, d.action) for d in paused] == [(target, Action.PAUSE)]

    parts.stop_file.write_text("")
    stopped = (await parts.evaluator.run(now, safety_only=True)).decisions
    assert {d.advert_id for d in stopped} == set(parts.view.editable_ids())
    assert all(d.action == Action.HOLD for d in stopped if d.advert_id != target)
    assert parts.reads() == before, "the safety-only pass calls WB for nothing"

    # and the apply stage acts on those decisions as on any others
    applied, failed = await parts.applier.run(paused)
    assert (applied, failed) == (1, 0)
    assert parts.view.campaigns[target].status == Status.PAUSED


async def test_apply_sends_item_bids_and_records_the_outcome(parts: Parts) -> None:
    await parts.poller.run(parts.clock.now())
    view = parts.view
    aid = next(i for i in view.editable_ids() if view.campaigns[i].items and view.rules_known(i))
    camp = view.campaigns[aid]
    item, placement = camp.items[0], camp.bid_placements[0]
    before = item.bid_for(placement)
    step = max(view.rules_for(camp).step, 1)
    after = before + 5 * step
    await parts.applier.choose_writer()
    decision = Decision(action=Action.SET_BID, advert_id=aid, nm_id=item.nm_id, placement=placement,
                        strategy="test", reason="test", bid_before=before, bid_after=after)
    assert await parts.applier.run([decision]) == (1, 0)
    assert view.campaigns[aid].item(item.nm_id).bid_for(placement) == after
    async with parts.database.sessions() as s:
        rows = await repo.history(s, account="shop-a", limit=10)
    assert [(r.strategy, r.apply_status) for r in rows] == [("test", "applied")]


async def test_a_search_cluster_bid_reaches_the_cluster_bid_writer(parts: Parts) -> None:
    """A decision carrying a norm_query goes to WB's cluster-bid endpoint, not the item bids."""
    await parts.poller.run(parts.clock.now())
    view, market = parts.view, parts.sim.sim.market
    reader = parts.poller.reader
    candidates = [c for c in view.campaigns.values() if c.bid_type == "manual" and c.payment_type == "cpm"
                  and c.status in BID_EDITABLE_STATUSES and c.items]
    assert candidates, "the demo market has manual CPM campaigns"
    current = None
    for camp in candidates:
        for it in camp.items:
            bids = await reader.cluster_bids([(camp.advert_id, it.nm_id)])
            if bids:
                current = bids[0]
                break
        if current is not None:
            break
    assert current is not None, "a manual CPM item with search clusters"
    step = market.step("cpm")
    floor = market.min_bid(current.advert_id, current.nm_id, "search")
    new_bid = (max(current.bid, floor) // step + 3) * step
    item_bids_before = parts.requests("PATCH /api/advert/v1/bids")

    await parts.applier.choose_writer()
    decision = Decision(action=Action.SET_BID, advert_id=current.advert_id, nm_id=current.nm_id, placement="search",
                        norm_query=current.norm_query, strategy="test", reason="cluster bid",
                        bid_before=current.bid, bid_after=new_bid)
    assert await parts.applier.run([decision]) == (1, 0)

    assert parts.requests(CLUSTER_BIDS) == 1
    assert parts.requests("PATCH /api/advert/v1/bids") == item_bids_before
    parts.clock.advance(31)  # WB's 30-second bid tick
    after = {b.norm_query: b.bid for b in await reader.cluster_bids([(current.advert_id, current.nm_id)])}
    assert after[current.norm_query] == new_bid
    async with parts.database.sessions() as s:
        rows = await repo.history(s, account="shop-a", limit=10)
    assert [(r.norm_query, r.apply_status) for r in rows] == [(current.norm_query, "applied")]


async def test_a_failed_details_read_is_retried_next_cycle_not_after_the_count_interval(parts: Parts) -> None:
    """Found by the generated fault suite (issue 14): the campaign list read well, the details failed; the
    view then held no campaign until the next count interval (5 min) while the cycles reported success,
    so pause-all found nothing to pause. Now the next cycle reads both again."""
    from bidder.errors import TemporaryError
    from bidder.sim.faults import FaultRule

    parts.sim.sim.rules.add(FaultRule("status", endpoint="GET /api/advert/v2/adverts", status=500))
    with pytest.raises(TemporaryError):
        await parts.poller.refresh_campaigns(parts.clock.now())
    assert not parts.view.campaigns
    parts.sim.sim.rules.clear()
    parts.clock.advance(61)  # the next cycle, well inside the 5-minute count interval
    await parts.poller.refresh_campaigns(parts.clock.now())
    assert parts.view.campaigns


async def test_a_campaign_read_with_unknown_fields_is_read_again_next_cycle(parts: Parts) -> None:
    """Found by the generated fault suite (issue 14): a campaign read once with an unknown status stayed so
    in the view until the next count interval, so pause-all did not pause it while WB kept it active."""
    from bidder.sim.faults import FaultRule

    rule = parts.sim.sim.rules.add(FaultRule("set_field", endpoint="GET /api/advert/v2/adverts", field="status",
                                             value=42, advert_id=1000001))
    await parts.poller.refresh_campaigns(parts.clock.now())
    assert not parts.view.campaigns[1000001].writable
    parts.sim.sim.rules.rules.remove(rule)
    parts.clock.advance(61)
    await parts.poller.refresh_campaigns(parts.clock.now())
    assert parts.view.campaigns[1000001].writable and parts.view.campaigns[1000001].status != 42
