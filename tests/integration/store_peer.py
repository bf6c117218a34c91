"""A second worker process for the store contract suite on PostgreSQL (``tests/integration/peer_worker.py``
starts it): it registers as a worker, holds its liveness lock, claims the lease on its own account and,
until its stdin closes, writes that account's data through the store functions a cycle uses, each write
fenced by its lease: campaigns (bids that change every round, so bid snapshots are written), daily and
cluster statistics, write intents and their outcomes, alerts with de-duplication keys, operator state, cycle
rows. At the end it prints one JSON line: the rounds done, the writes refused (LeaseLost), errors.

    python tests/integration/store_peer.py POSTGRESQL_URL ACCOUNT
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal


async def main(url: str, account: str) -> dict:
    from bidder.domain import Action, Campaign, ClusterStat, DailyStat, Decision, Item
    from bidder.store import accounts, alerts, audit, campaigns, cycles, operator_state, stats
    from bidder.store import leases as L
    from bidder.store.db import make_engine, session_factory

    engine = make_engine(url)
    sessions = session_factory(engine)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    worker = f"peer:{account}"
    out = {"rounds": 0, "refused": 0, "errors": []}
    lock = await engine.connect()
    try:
        assert await L.take_liveness_lock(lock, worker)
        await lock.commit()
        async with sessions.begin() as s:
            await L.heartbeat_worker(s, worker, host="peer", pid=0, http_port=None, ttl=600)
            await accounts.ensure_account(s, account, "777")
            await L.ensure_leases(s, {account: 1})
            (claimed,) = await L.claim(s, worker, [account], ttl=600)
        L.current_fence.set(L.Fence(account, worker, claimed.epoch))
        print("READY", flush=True)
        n = 0
        t0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
        while not done.is_set():
            n += 1
            at = t0 + timedelta(minutes=n)
            camps = [Campaign(advert_id=900_000 + i, name=f"peer {i}", type=9, status=9, bid_type="manual",
                              payment_type="cpm", currency="RUB", placements=frozenset({"search"}),
                              items=(Item(nm_id=5_000 + i, bids={"search": 100 + n % 50}),), changed_at=t0)
                     for i in range(20)]
            day = [DailyStat(advert_id=c.advert_id, nm_id=c.items[0].nm_id, day=date(2026, 11, 1), views=n, clicks=n % 7,
                             atbs=0, orders=n % 3, spend=Decimal(n) / 10, revenue=Decimal(n)) for c in camps]
            cl = [ClusterStat(advert_id=c.advert_id, nm_id=c.items[0].nm_id, norm_query="peer", period_from=date(2026, 11, 1),
                              period_to=date(2026, 11, 1), views=n, clicks=1, orders=0, spend=Decimal(1), avg_pos=3.0)
                  for c in camps[:5]]
            intents = [Decision(action=Action.SET_BID, advert_id=c.advert_id, strategy="peer", reason="peer",
                                nm_id=c.items[0].nm_id, placement="search", bid_before=100, bid_after=101 + n % 50,
                                proposed_bid=101 + n % 50) for c in camps[:5]]
            try:
                async with sessions.begin() as s:
                    cycle_id = await cycles.start_cycle(s, account, at)
                async with sessions.begin() as s:
                    await campaigns.save_campaigns(s, account, camps, at)
                    await stats.save_daily_stats(s, account, day)
                    await stats.save_cluster_stats(s, account, cl, fetched_at=at)
                async with sessions.begin() as s:
                    ids = await audit.record_decisions(s, account, intents, at=at, dry_run=False,
                                                       apply_status="pending", returning_ids=True)
                async with sessions.begin() as s:
                    await audit.set_decision_statuses(s, [(i, "applied", None, at) for i in ids])
                    await alerts.enqueue_alert(s, account, "bid_changes", {"n": n}, dedup_key=f"peer:{n % 5}", at=at)
                    await operator_state.set_operator_state(s, account, "dry_run", n % 2 == 0, at=at)
                async with sessions.begin() as s:
                    await cycles.finish_cycle(s, cycle_id, at=at, ok=True, error=None, summary={"n": n})
                    await L.renew(s, worker, {account: claimed.epoch}, ttl=600)
                    await L.heartbeat_worker(s, worker, host="peer", pid=0, http_port=None, ttl=600)
                out["rounds"] += 1
            except L.LeaseLost:
                out["refused"] += 1
            except Exception as exc:  # reported, not hidden: the contract test fails on it
                out["errors"].append(f"{type(exc).__name__}: {exc}"[:300])
                if len(out["errors"]) > 20:
                    break
    finally:
        await lock.close()
        await engine.dispose()
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))), flush=True)
