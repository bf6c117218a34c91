"""``Simulator.report()`` / ``GET /__sim/report``: what the server saw, for tests and benchmarks.

Keys: ``now``, ``scenario``, ``seed``, ``requests`` ({"METHOD /path": {"count", "by_status": {"200": n}}}),
``total_requests``, ``total_429``, ``rejected`` ([{time, seller, method, status, reason}]), ``bid_changes``
([{time, seller, advert_id, nm_id, placement, old, new[, norm_query]}], applied at the 30 s tick),
``status_changes`` ([{time, seller, advert_id, old, new, reason}]), ``writes`` (successful write calls),
``writes_by_method``, ``injected_faults``, ``faults`` (current settings), ``revoked_sellers`` and
``campaigns`` ({advert_id (str): {seller, status, bid_type, payment_type, budget (kopecks),
spend_total (kopecks), bids {nm: {search, recommendations}}, cluster_bids, pending_bids, advanced_to}})
for the campaigns the market has touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bidder.sim.app import Simulator


def build_report(sim: Simulator) -> dict[str, Any]:
    requests = {
        key: {"count": sum(c.values()), "by_status": dict(sorted(c.items()))}
        for key, c in sorted(sim.requests.items())
    }
    campaigns = {}
    for st in sorted(sim.market.touched(), key=lambda s: s.advert_id):
        campaigns[str(st.advert_id)] = {
            "seller": st.seller,
            "status": st.status,
            "bid_type": st.spec.bid_type,
            "payment_type": st.spec.payment_type,
            "budget": round(st.budget),
            "spend_total": round(st.spend_total),
            "bids": {str(nm): dict(b) for nm, b in st.bids.items()},
            "cluster_bids": {f"{nm}:{q}": v for (nm, q), v in st.cluster_bids.items()},
            "pending_bids": {f"{nm}:{p}": {"at": at.isoformat(), "bid": v}
                             for (nm, p), (at, v) in st.pending_bids.items()},
            "advanced_to": st.advanced_to.isoformat(),
        }
    revoked = sorted(
        name for name, s in sim.sellers.items() if any(t in sim.revoked for t in s.token_ids.values())
    )
    return {
        "now": sim.now().isoformat(),
        "scenario": sim.spec.name,
        "seed": sim.seed,
        "requests": requests,
        "total_requests": sum(r["count"] for r in requests.values()),
        "total_429": sim.total_429,
        "rejected": list(sim.rejected),
        "bid_changes": list(sim.market.bid_log),
        "status_changes": list(sim.market.status_log),
        "writes": sum(sim.writes.values()),
        "writes_by_method": dict(sim.writes),
        "injected_faults": dict(sim.injected),
        "faults": sim.faults.as_dict(),
        "revoked_sellers": revoked,
        "campaigns": campaigns,
    }
