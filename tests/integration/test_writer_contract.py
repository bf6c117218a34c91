"""One contract for every writer: the live writer (against the simulator over real HTTP) and the dry-run
writer send (or record) the same request bodies and answer with the same outcomes.

The live writer's bodies are captured on the wire (aiohttp tracing); the dry-run writer's are what it
records in ``sent``. Both are compared with the same spelled-out wire bodies, and each is checked against
WB's promotion.yaml.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from wb_support import Recorder, Sent, validate

from bidder.clock import ScaledClock
from bidder.domain import Status
from bidder.sim.scenarios import build_scenario
from bidder.sim.testing import RunningSimulator, start_simulator
from bidder.wb.client import WBClient
from bidder.wb.models import BidChange, ClusterBidChange
from bidder.wb.pacing import Pacer
from bidder.wb.tokens import load_tokens
from bidder.wb.writer import DryRunWriter, LiveWriter, Writer, make_reader, make_writer

SPEED = 600.0
TIMEOUT = 1200.0  # clock seconds: 2 s real at SPEED
BIDS = "PATCH /api/advert/v1/bids"
CLUSTER_BIDS = "POST /api/advert/v1/normquery/bids"
STATUS = ("GET /adv/v0/start", "GET /adv/v0/pause", "GET /adv/v0/stop")


@dataclass
class Harness:
    kind: str
    writer: Writer
    reader: WBClient
    sim: RunningSimulator
    recorder: Recorder

    def sent(self) -> list[tuple[str, Any]]:
        """The write calls made, in order, as (method key, JSON body or query)."""
        if isinstance(self.writer, DryRunWriter):
            return list(self.writer.sent)
        out: list[tuple[str, Any]] = []
        for s in self.recorder.sent:
            key = f"{s.method} {s.path}"
            if key in (BIDS, CLUSTER_BIDS):
                out.append((key, json.loads(s.body)))
            elif key in STATUS:
                out.append((key, {k: int(v) for k, v in s.query.items()}))
        return out

    def check_against_spec(self) -> None:
        for key, payload in self.sent():
            method, path = key.split(" ", 1)
            if method == "GET":
                sent = Sent(method, path, {k: str(v) for k, v in payload.items()}, {"Authorization": "x"})
            else:
                sent = Sent(method, path, {}, {"Authorization": "x"}, json.dumps(payload).encode())
            validate(sent)


@asynccontextmanager
async def harness(kind: str, scenario: str = "demo") -> AsyncIterator[Harness]:
    clock = ScaledClock(build_scenario(scenario).start, speed=SPEED)
    recorder = Recorder()
    async with await start_simulator(scenario, seed=1, clock=clock) as sim:
        seller = next(iter(sim.sim.sellers.values()))
        live = kind == "live"
        tokens = load_tokens(SecretStr(seller.read_token), SecretStr(seller.write_token) if live else None,
                             now=clock.now())
        async with aiohttp.ClientSession(trace_configs=[recorder.trace_config()]) as session:
            reader = make_reader(session, tokens.read, Pacer(clock), clock, base_url=sim.url, timeout=TIMEOUT)
            writer = make_writer(reader=reader, write_token=tokens.write, dry_run=not live, timeout=TIMEOUT)
            assert isinstance(writer, LiveWriter if live else DryRunWriter)
            yield Harness(kind, writer, reader, sim, recorder)


@pytest.fixture(params=["live", "dry-run"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def outcome(results: list[Any]) -> list[tuple]:
    """What a caller acts on, without the fields that say which writer answered (dry_run, currency)."""
    out = []
    for r in results:
        where = r.placement if hasattr(r, "placement") else r.norm_query
        out.append((r.advert_id, r.nm_id, where, r.bid, r.applied))
    return sorted(out)


async def test_bids_bodies_and_outcomes(kind: str) -> None:
    async with harness(kind) as h:
        changes = [
            BidChange(1000001, 211000101, "combined", 34000),
            BidChange(1000002, 211000201, "search", 81000),
            BidChange(1000002, 211000202, "recommendations", 61000),
            BidChange(1000001, 211000102, "combined", 35000),
            BidChange(1000002, 211000201, "search", 82000),  # the same target again: the last one wins
            BidChange(1000003, 211000301, "nowhere", 50000),  # refused before sending
            BidChange(1000003, 211000301, "combined", 0),  # refused before sending
        ]
        results = await h.writer.set_bids(changes)
        assert outcome(results) == sorted([
            (1000001, 211000101, "combined", 34000, True),
            (1000001, 211000102, "combined", 35000, True),
            (1000002, 211000201, "search", 82000, True),
            (1000002, 211000202, "recommendations", 61000, True),
            (1000003, 211000301, "nowhere", 50000, False),
            (1000003, 211000301, "combined", 0, False),
        ])
        refused = [r for r in results if not r.applied]
        assert all(r.error for r in refused)
        assert h.sent() == [(BIDS, {"bids": [
            {"advert_id": 1000001, "nm_bids": [
                {"nm_id": 211000101, "bid_kopecks": 34000, "placement": "combined"},
                {"nm_id": 211000102, "bid_kopecks": 35000, "placement": "combined"},
            ]},
            {"advert_id": 1000002, "nm_bids": [
                {"nm_id": 211000201, "bid_kopecks": 82000, "placement": "search"},
                {"nm_id": 211000202, "bid_kopecks": 61000, "placement": "recommendations"},
            ]},
        ]})]
        h.check_against_spec()


async def test_bids_are_packed_into_the_fewest_calls(kind: str) -> None:
    async with harness(kind, "scale:1x90x1") as h:
        refs = await h.reader.count()
        ids = sorted(r.advert_id for r in refs)
        camps = [c for c in await h.reader.campaigns(ids)
                 if c.bid_placements and c.status in (Status.READY, Status.ACTIVE, Status.PAUSED)]
        changes = []
        for c in camps:
            item, placement = c.items[0], c.bid_placements[0]
            floor, step = (3000, 10) if c.payment_type == "cpc" else (60000, 100)  # above WB's minimums here
            changes.append(BidChange(c.advert_id, item.nm_id, placement, max(item.bid_for(placement) or 0, floor) + step))
        assert len(changes) > 50
        results = await h.writer.set_bids(changes)
        assert [r.error for r in results if not r.applied] == [] and len(results) == len(changes)
        sent = h.sent()
        assert [k for k, _ in sent] == [BIDS, BIDS]
        sizes = [len(body["bids"]) for _, body in sent]
        assert sum(sizes) == len(changes) and max(sizes) <= 50 and max(sizes) - min(sizes) <= 1  # balanced
        flat = [(b["advert_id"], nb["nm_id"], nb["placement"], nb["bid_kopecks"])
                for _, body in sent for b in body["bids"] for nb in b["nm_bids"]]
        assert sorted(flat) == sorted((c.advert_id, c.nm_id, c.placement, c.bid) for c in changes)


async def test_cluster_bids_bodies_and_outcomes(kind: str) -> None:
    async with harness(kind) as h:
        changes = [
            ClusterBidChange(1000006, 211000601, "кроссовки мужские", 40000),
            ClusterBidChange(1000002, 211000201, "футболка оверсайз", 90000),
            ClusterBidChange(1000006, 211000602, "", 40000),  # no cluster: refused before sending
            ClusterBidChange(1000006, 211000603, "кроссовки мужские", -5),  # refused before sending
        ]
        results = await h.writer.set_cluster_bids(changes)
        assert outcome(results) == sorted([
            (1000006, 211000601, "кроссовки мужские", 40000, True),
            (1000002, 211000201, "футболка оверсайз", 90000, True),
            (1000006, 211000602, "", 40000, False),
            (1000006, 211000603, "кроссовки мужские", -5, False),
        ])
        assert h.sent() == [(CLUSTER_BIDS, {"bids": [
            {"advertId": 1000006, "nmId": 211000601, "normQuery": "кроссовки мужские", "bidMinorUnits": 40000},
            {"advertId": 1000002, "nmId": 211000201, "normQuery": "футболка оверсайз", "bidMinorUnits": 90000},
        ]})]
        h.check_against_spec()


async def test_start_and_pause(kind: str) -> None:
    async with harness(kind) as h:
        paused = await h.writer.pause(1000004)  # active: changes
        again = await h.writer.pause(1000010)  # already paused: nothing to change
        started = await h.writer.start(1000011)  # paused: changes
        assert (paused.changed, again.changed, started.changed) == (True, False, True)
        assert [(r.advert_id, r.action) for r in (paused, again, started)] == [
            (1000004, "pause"), (1000010, "pause"), (1000011, "start")]
        assert h.sent() == [("GET /adv/v0/pause", {"id": 1000004}), ("GET /adv/v0/pause", {"id": 1000010}),
                            ("GET /adv/v0/start", {"id": 1000011})]
        h.check_against_spec()


async def test_nothing_to_send_sends_nothing(kind: str) -> None:
    async with harness(kind) as h:
        assert await h.writer.set_bids([]) == []
        assert await h.writer.set_cluster_bids([]) == []
        refused = await h.writer.set_bids([BidChange(1000001, 211000101, "combined", -1)])
        assert [r.applied for r in refused] == [False]
        assert h.sent() == []
        if h.kind == "dry-run":
            assert h.sim.sim.report()["writes"] == 0
