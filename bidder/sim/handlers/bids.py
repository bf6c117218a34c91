"""Bids: the bids PATCH, minimum and recommended bids, search-cluster bids (read and write)."""

from __future__ import annotations

from bidder.sim import schemas as S
from bidder.sim.handlers.base import Ctx, body, query
from bidder.sim.market import BID_STATUSES
from bidder.sim.replies import bad_request, error_text


async def h_bids_patch(ctx: Ctx) -> S.BidsPatchResponse:
    query(ctx, set())
    req = body(ctx, S.BidsPatchRequest)
    market = ctx.sim.market
    seen: set[int] = set()
    for i, ab in enumerate(req.bids):
        if ab.advert_id in seen:
            raise bad_request(f"advert {ab.advert_id} is not unique (.bids[{i}])")
        seen.add(ab.advert_id)
        if not ctx.sim.owned(ctx.seller, ab.advert_id):
            raise bad_request(f"advert {ab.advert_id} not found (.bids[{i}])")
        market.advance_campaign(ab.advert_id, ctx.now)
        nms: set[tuple[int, str]] = set()
        for j, nb in enumerate(ab.nm_bids):
            if (nb.nm_id, nb.placement) in nms:
                raise bad_request(f"nm {nb.nm_id} is not unique (.bids[{i}].nm_bids[{j}])")
            nms.add((nb.nm_id, nb.placement))
            err = market.check_bid(ab.advert_id, nb.nm_id, nb.placement, nb.bid_kopecks)
            if err:
                raise bad_request(err)
    for ab in req.bids:
        for nb in ab.nm_bids:
            market.set_bid(ab.advert_id, nb.nm_id, nb.placement, nb.bid_kopecks, ctx.now)
    return S.BidsPatchResponse(bids=[ab.model_dump() for ab in req.bids], currency=ctx.sim.spec.currency)


async def h_bids_min(ctx: Ctx) -> S.MinBidsResponse:
    query(ctx, set())
    req = body(ctx, S.MinBidsRequest)
    market = ctx.sim.market
    if not ctx.sim.owned(ctx.seller, req.advert_id):
        raise bad_request(f"advert {req.advert_id} not found")
    st = market.campaign(req.advert_id)
    if req.payment_type != st.spec.payment_type:
        raise bad_request(f"advert {req.advert_id} has payment type {st.spec.payment_type}")
    if any(st.item(nm) is None for nm in req.nm_ids):
        raise bad_request("some nms are not belong to advert")
    cur = ctx.sim.spec.currency
    return S.MinBidsResponse(bids=[
        S.MinBidsItem(nm_id=nm, bids=[
            S.MinBidValue(type=p, value=market.min_bid(req.advert_id, nm, p), currency=cur)
            for p in dict.fromkeys(req.placement_types)
        ]) for nm in dict.fromkeys(req.nm_ids)
    ])


async def h_recommendations(ctx: Ctx) -> S.RecommendationsCPM | S.RecommendationsCPC:
    q = query(ctx, {"nmId", "advertId"}, "text")
    for name in ("nmId", "advertId"):
        if name not in q:
            raise error_text(f"parameter {name} is required")
        if not q[name].isdigit():
            raise error_text(f"Incorrect value for the `{name}` parameter")
    advert_id, nm_id = int(q["advertId"]), int(q["nmId"])
    if not ctx.sim.owned(ctx.seller, advert_id):
        raise error_text("Некорректный ID РК")
    market = ctx.sim.market
    st = market.advance_campaign(advert_id, ctx.now)
    if st.item(nm_id) is None:
        raise error_text("Incorrect value for the `nmId` parameter")
    rec = market.recommendation(advert_id, nm_id, ctx.now)
    if rec["paymentType"] == "cpc":
        lv = rec["levels"]
        return S.RecommendationsCPC(advertId=advert_id, nmId=nm_id, levels=[S.CPCLevel(
            **{k: S.BidKopecks(bidKopecks=v) for k, v in lv.items()})])
    return S.RecommendationsCPM(
        advertId=advert_id, nmId=nm_id,
        base=S.RecBase(competitiveBid=S.BidKopecks(bidKopecks=rec["competitiveBid"]),
                       leadersBid=S.BidKopecks(bidKopecks=rec["leadersBid"]),
                       top2=S.BidKopecks(bidKopecks=rec["top2"])),
        normQueries=[S.RecNormQuery(normQuery=n["normQuery"], **{
            band: S.ReachBand(bidKopecks=n[band][0], bidKopecksMin=n[band][1])
            for band in ("reachMax", "reachMedium", "reachMin")}) for n in rec["normQueries"]] or None,
    )



async def h_get_bids(ctx: Ctx) -> S.GetBidsResponse:
    query(ctx, set())
    req = body(ctx, S.GetBidsRequest)
    market = ctx.sim.market
    out = []
    for pair in req.items:
        if not ctx.sim.owned(ctx.seller, pair.advert_id):
            continue
        st = market.advance_campaign(pair.advert_id, ctx.now)
        if st.spec.bid_type != "manual" or st.spec.payment_type != "cpm":
            continue
        for q, bid in market.cluster_bids(pair.advert_id, pair.nm_id).items():
            out.append(S.ClusterBidOut(advert_id=pair.advert_id, nm_id=pair.nm_id, norm_query=q, bid=bid // 100,
                                       bid_kopecks=bid, currency=ctx.sim.spec.currency))
    return S.GetBidsResponse(bids=out)


async def h_cluster_bids(ctx: Ctx) -> S.ClusterBidsResponse:
    query(ctx, set())
    req = body(ctx, S.ClusterBidsRequest)
    market = ctx.sim.market
    success, failed = [], []
    cur = ctx.sim.spec.currency
    for b in req.bids:
        reason = None
        if not ctx.sim.owned(ctx.seller, b.advertId):
            reason = f"advert {b.advertId} not found"
        else:
            st = market.advance_campaign(b.advertId, ctx.now)
            item = st.item(b.nmId)
            if st.spec.bid_type != "manual" or st.spec.payment_type != "cpm":
                reason = "cluster bids are available for manual cpm campaigns only"
            elif st.status not in BID_STATUSES:
                reason = f"wrong advert status: {st.status}"
            elif item is None:
                reason = f"nm {b.nmId} not found or inactive"
            elif b.normQuery not in item.clusters:
                reason = f"norm query {b.normQuery!r} not found for nm {b.nmId}"
            else:
                mn = market.min_bid(b.advertId, b.nmId, "search")
                mx = market.max_bid("cpm")
                step = market.step("cpm")
                if b.bidMinorUnits < mn:
                    reason = f"wrong bid value: {b.bidMinorUnits}; min: {mn}"
                elif b.bidMinorUnits > mx:
                    reason = f"wrong bid value: {b.bidMinorUnits}; min: {mn} max:{mx}"
                elif b.bidMinorUnits % step:
                    reason = f"wrong bid value: {b.bidMinorUnits}; step: {step}"
        if reason:
            failed.append(S.ClusterBidFailed(advertId=b.advertId, nmId=b.nmId, normQuery=b.normQuery, reason=reason))
            ctx.sim.rejected.append({"time": ctx.now.isoformat(), "seller": ctx.seller.name,
                                     "method": "POST /api/advert/v1/normquery/bids", "status": 200,
                                     "reason": f"failed item: {reason}"})
        else:
            market.set_cluster_bid(b.advertId, b.nmId, b.normQuery, b.bidMinorUnits, ctx.now)
            success.append(S.ClusterBidSuccess(advertId=b.advertId, nmId=b.nmId, normQuery=b.normQuery, currency=cur))
    return S.ClusterBidsResponse(success=success, failed=failed)
