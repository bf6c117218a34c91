"""The wire bodies of the write calls, built in one place: the live writer sends exactly what these
return (through :class:`~bidder.wb.client.WBClient`), and the dry-run writer records exactly the same.

Pure: no I/O. Bids are integer minor units on the wire (``bid_kopecks`` / ``bidMinorUnits``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bidder.wb import batching
from bidder.wb.models import BidChange, ClusterBidChange

BIDS_KEY = "PATCH /api/advert/v1/bids"
CLUSTER_BIDS_KEY = "POST /api/advert/v1/normquery/bids"


def bids_body(batch: Sequence[tuple[int, Sequence[BidChange]]]) -> dict[str, Any]:
    """One PATCH /api/advert/v1/bids body: at most 50 campaigns x 50 items, each campaign once."""
    if len(batch) > batching.MAX_BID_CAMPAIGNS or any(len(c) > batching.MAX_BID_ITEMS for _, c in batch):
        raise ValueError("a bids call holds at most 50 campaigns x 50 items")
    if len({a for a, _ in batch}) != len(batch):
        raise ValueError("a campaign may appear once per bids call")
    return {
        "bids": [
            {
                "advert_id": int(advert_id),
                "nm_bids": [{"nm_id": int(c.nm_id), "bid_kopecks": int(c.bid), "placement": c.placement} for c in changes],
            }
            for advert_id, changes in batch
        ]
    }


def cluster_bids_body(changes: Sequence[ClusterBidChange]) -> dict[str, Any]:
    """One POST /api/advert/v1/normquery/bids body: at most 100 bids."""
    if len(changes) > batching.MAX_NORMQUERY_PAIRS:
        raise ValueError("a cluster bids call holds at most 100 bids")
    return {
        "bids": [
            {"advertId": int(c.advert_id), "nmId": int(c.nm_id), "normQuery": c.norm_query, "bidMinorUnits": int(c.bid)}
            for c in changes
        ]
    }


def status_params(advert_id: int) -> dict[str, int]:
    """The query of GET /adv/v0/{start|pause|stop}."""
    return {"id": int(advert_id)}
