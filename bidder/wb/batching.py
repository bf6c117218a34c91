"""Batch limits of the Promotion API and the arithmetic of splitting work into the fewest calls.

Pure: no I/O. The client uses these to split requests; the benchmark uses :func:`calls_needed`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from datetime import date, timedelta
from math import ceil
from typing import TypeVar

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

MAX_ADVERT_IDS = 50  # GET /api/advert/v2/adverts ids
MAX_FULLSTATS_IDS = 50  # GET /adv/v3/fullstats ids
MAX_FULLSTATS_DAYS = 31  # GET /adv/v3/fullstats beginDate..endDate inclusive
MAX_BID_CAMPAIGNS = 50  # PATCH /api/advert/v1/bids: bids[]
MAX_BID_ITEMS = 50  # PATCH /api/advert/v1/bids: bids[].nm_bids[]
MAX_MIN_BID_NMS = 100  # POST /api/advert/v1/bids/min nm_ids
MAX_NORMQUERY_PAIRS = 100  # normquery stats / get-bids items, normquery bids
MAX_NORMQUERY_DAYS = 30  # normquery stats period ([3P] live 400 above 30 days; the spec states none)
MAX_BUDGET_IDS = 50  # POST /api/advert/v2/budget advertIds
MAX_UPD_DAYS = 31  # GET /adv/v1/upd


def chunked(items: Iterable[T], size: int) -> list[list[T]]:
    """Split into consecutive chunks of at most ``size`` (order kept)."""
    if size < 1:
        raise ValueError("size must be >= 1")
    out: list[list[T]] = []
    for item in items:
        if not out or len(out[-1]) >= size:
            out.append([])
        out[-1].append(item)
    return out


def unique(items: Iterable[K]) -> list[K]:
    """Drop duplicates, keep first-seen order."""
    return list(dict.fromkeys(items))


def date_chunks(begin: date, end: date, max_days: int) -> list[tuple[date, date]]:
    """Split the inclusive range ``begin..end`` into consecutive ranges of at most ``max_days`` days."""
    if end < begin:
        raise ValueError(f"end {end} is before begin {begin}")
    out = []
    start = begin
    while start <= end:
        stop = min(end, start + timedelta(days=max_days - 1))
        out.append((start, stop))
        start = stop + timedelta(days=1)
    return out


def days_in(begin: date, end: date) -> int:
    return (end - begin).days + 1


def pack_nested(groups: Sequence[tuple[K, Sequence[T]]], outer: int, inner: int) -> list[list[tuple[K, list[T]]]]:
    """Pack (key, items) groups into the fewest calls holding at most ``outer`` keys of at most ``inner``
    items each, where a key may appear at most once per call (WB: "advert N is not unique").

    The minimum is ``max(largest group's slice count, ceil(total slices / outer))``; this reaches it by
    dealing the slices, largest groups first, round-robin over that many calls.
    """
    slices: list[tuple[K, list[T]]] = []
    by_key: dict[K, list[T]] = {}
    for key, items in groups:
        by_key.setdefault(key, []).extend(items)
    ordered = sorted(by_key.items(), key=lambda kv: -ceil(len(kv[1]) / inner) if kv[1] else 0)
    for key, items in ordered:
        for part in chunked(items, inner):
            slices.append((key, part))
    if not slices:
        return []
    n_calls = nested_calls([len(v) for v in by_key.values()], outer, inner)
    calls: list[list[tuple[K, list[T]]]] = [[] for _ in range(n_calls)]
    for i, sl in enumerate(slices):
        calls[i % n_calls].append(sl)
    return calls


def nested_calls(group_sizes: Iterable[int], outer: int, inner: int) -> int:
    sizes = [s for s in group_sizes if s > 0]
    if not sizes:
        return 0
    slices = [ceil(s / inner) for s in sizes]
    return max(max(slices), ceil(sum(slices) / outer))


def calls_needed(
    n_campaigns: int,
    *,
    items_per_campaign: int = 1,
    stats_days: int = 1,
    cluster_days: int = 1,
    clusters_per_item: int = 0,
    bid_changes_per_campaign: int | None = None,
    recommendations: bool = False,
    min_bids: bool = True,
) -> dict[str, int]:
    """Batch-optimal number of calls per method group for one full cycle over ``n_campaigns`` campaigns
    of ``items_per_campaign`` items each.

    - ``count``: one call lists everything;
    - ``adverts``: ids in 50s; ``fullstats``: ids in 50s times 31-day chunks;
    - ``normquery_stats``: (advert, nm) pairs in 100s times 30-day chunks;
    - ``normquery_get_bids``: pairs in 100s; ``normquery_bids``: changes in 100s
      (``clusters_per_item`` cluster bids per item);
    - ``bids``: 50 campaigns x 50 items per call (``bid_changes_per_campaign`` items change, default all);
    - ``bids_min``: one call per campaign per 100 items; ``recommendations``: one call per item;
    - ``budget``: ids in 50s.
    """
    if n_campaigns < 0 or items_per_campaign < 0:
        raise ValueError("counts must be >= 0")
    n, k = n_campaigns, items_per_campaign
    pairs = n * k
    changes = k if bid_changes_per_campaign is None else bid_changes_per_campaign
    out = {
        "count": 1 if n else 0,
        "adverts": ceil(n / MAX_ADVERT_IDS),
        "fullstats": ceil(n / MAX_FULLSTATS_IDS) * ceil(stats_days / MAX_FULLSTATS_DAYS) if n else 0,
        "normquery_stats": ceil(pairs / MAX_NORMQUERY_PAIRS) * ceil(cluster_days / MAX_NORMQUERY_DAYS),
        "normquery_get_bids": ceil(pairs / MAX_NORMQUERY_PAIRS),
        "bids": nested_calls([changes] * n, MAX_BID_CAMPAIGNS, MAX_BID_ITEMS),
        "normquery_bids": ceil(pairs * clusters_per_item / MAX_NORMQUERY_PAIRS),
        "bids_min": n * ceil(k / MAX_MIN_BID_NMS) if min_bids else 0,
        "recommendations": pairs if recommendations else 0,
        "budget": ceil(n / MAX_BUDGET_IDS),
    }
    return out
