"""Parts of :mod:`bench.scale` that need nothing from the daemon: the shared clock, the record of a
request, the naive per-campaign poller (a process of its own) and the figures computed from what the
simulator saw (batch-optimal minimum, first full refresh, WB's floor)."""

from __future__ import annotations

import asyncio
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bench.common import cpu_seconds, peak_rss_mb

STATS_STATUSES = (7, 9, 11)
LIVE_STATS_STATUSES = (9, 11)  # live campaigns with statistics (finished ones are read once, not refreshed)
FULLSTATS_PER_MIN = 3
FULLSTATS_BATCH = 50
# method key -> (per-call capacity of the batchable unit, how the unit is read)
CAPACITY = {
    "GET /api/advert/v2/adverts": 50,
    "GET /adv/v3/fullstats": 50,
    "POST /adv/v0/normquery/stats": 100,
    "POST /adv/v0/normquery/get-bids": 100,
    "PATCH /api/advert/v1/bids": 50,
    "POST /api/advert/v2/budget": 50,
}


# ============================================================================ shared clock


def shared_clock(start: datetime, speed: float, t0: float):
    from bidder.clock import ScaledClock

    clock = ScaledClock(start, speed)
    clock._t0 = t0  # the same origin in every process
    return clock


@dataclass
class Call:
    t: float  # simulated seconds since the clock's origin
    seller: str
    key: str
    status: int
    units: tuple = ()  # ids / pairs / campaigns carried
    group: str = ""  # date range or period


# ============================================================================ naive poller process


def naive_process(conn, sim_info: dict, start: datetime, speed: float, t0: float, until: float,
                  stats_interval: float) -> None:
    """Per-campaign, unbatched: for each campaign one adverts call and one fullstats call (7 days), one
    campaign after the other, a pass every stats interval at most; a 429 is retried after
    X-Ratelimit-Retry seconds, nothing else is paced (like small public scripts)."""
    import aiohttp

    clock = shared_clock(start, speed, t0)
    passes: Counter[str] = Counter()  # seller -> campaigns polled

    async def get(session, url: str, token: str, params: dict) -> Any:
        while True:
            async with session.get(url, params=params, headers={"Authorization": token}) as resp:
                body = await resp.read()
                if resp.status == 429:
                    await clock.sleep(float(resp.headers.get("X-Ratelimit-Retry", "1")))
                    continue
                return resp.status, body

    async def seller_loop(session, base: str, s: dict) -> None:
        import json

        status, body = await get(session, base + "/adv/v1/promotion/count", s["read"], {})
        ids = []
        for group in (json.loads(body).get("adverts") or []):
            if group.get("status") in STATS_STATUSES:
                ids += [a["advertId"] for a in group.get("advert_list") or []]
        while clock.monotonic() < until:
            round_start = clock.monotonic()
            for advert_id in ids:
                if clock.monotonic() >= until:
                    return
                today = clock.now().date()
                await get(session, base + "/api/advert/v2/adverts", s["read"], {"ids": str(advert_id)})
                await get(session, base + "/adv/v3/fullstats", s["read"], {
                    "ids": str(advert_id), "beginDate": (today - timedelta(days=6)).isoformat(),
                    "endDate": today.isoformat()})
                passes[s["name"]] += 1
            wait = round_start + stats_interval - clock.monotonic()
            if wait > 0:
                await clock.sleep(min(wait, max(0.0, until - clock.monotonic())))

    errors: Counter[str] = Counter()

    async def guarded(session, base: str, s: dict) -> None:
        try:
            await seller_loop(session, base, s)
        except Exception as exc:  # a script like this dies on the first surprise; count it
            errors[f"{type(exc).__name__}: {exc}"[:120]] += 1

    async def main() -> None:
        cpu0 = cpu_seconds()
        conn_limit = aiohttp.TCPConnector(limit=200)
        timeout = aiohttp.ClientTimeout(total=None)
        async with aiohttp.ClientSession(connector=conn_limit, timeout=timeout) as session:
            await asyncio.gather(*(guarded(session, sim_info["url"], s) for s in sim_info["sellers"]))
        conn.send({"cpu": cpu_seconds() - cpu0, "rss": peak_rss_mb(), "passes": dict(passes),
                   "errors": dict(errors)})

    asyncio.run(main())


# ============================================================================ analysis


def minimum_calls(calls: list[Call], key: str, campaigns_interval: float, duration: float,
                  only: set | None = None) -> int | None:
    """The batch-optimal minimum for the refreshes done (``only``: of these ids alone)."""
    sel = [c for c in calls if c.key == key]
    if only is not None:
        sel = [Call(c.t, c.seller, c.key, c.status, tuple(u for u in c.units if u in only), c.group) for c in sel]
    if key == "GET /adv/v1/promotion/count":
        sellers = {c.seller for c in sel}
        return len(sellers) * (int(duration // campaigns_interval) + 1)
    cap = CAPACITY.get(key)
    if cap is None:
        return None
    units: dict[tuple, list] = defaultdict(list)
    for c in sel:
        units[(c.seller, c.group)].extend(c.units)
    total = 0
    for us in units.values():
        u, d = len(us), len(set(us))
        if d:
            total += (u // d) * math.ceil(d / cap) + math.ceil((u % d) / cap)
    return total


def first_refresh(calls: list[Call], sellers: list[dict]) -> tuple[list[float], list[float], int]:
    """Per seller: the time from its first fullstats call until all its stats campaigns were served once,
    and the achieved/permitted rate over that stretch. Returns (times, rate ratios, sellers not done)."""
    by_seller: dict[str, list[Call]] = defaultdict(list)
    for c in calls:
        if c.key == "GET /adv/v3/fullstats":
            by_seller[c.seller].append(c)
    times, ratios, not_done = [], [], 0
    for s in sellers:
        want = set(s["stats_ids"])
        seen: set[int] = set()
        ok_times = []
        done_at = None
        cs = sorted(by_seller.get(s["name"], []), key=lambda c: c.t)
        for c in cs:
            if c.status == 200:
                ok_times.append(c.t)
                seen.update(c.units)
                if want <= seen:
                    done_at = c.t
                    break
        if done_at is None or not cs:
            not_done += 1
            continue
        times.append(done_at - cs[0].t)
        k = len(ok_times)
        if k > 1:
            ratios.append(((k - 1) / (ok_times[-1] - ok_times[0])) / (FULLSTATS_PER_MIN / 60))
    return times, ratios, not_done


def floor_seconds(sellers: list[dict]) -> float:
    interval = 60 / FULLSTATS_PER_MIN
    return max((math.ceil(len(s["stats_ids"]) / FULLSTATS_BATCH) - 1) * interval for s in sellers)
