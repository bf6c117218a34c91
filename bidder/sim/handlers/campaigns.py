"""Campaigns: the list and details (with current bids), the promotion config, start / pause / stop."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from bidder.sim import schemas as S
from bidder.sim.handlers.base import Ctx, int_list, iso, query
from bidder.sim.market import BID_STATUSES, CampaignState
from bidder.sim.replies import bad_request, error_json, error_text


async def h_count(ctx: Ctx) -> S.CountResponse:
    query(ctx, set())
    groups: dict[tuple[int, int], list[CampaignState]] = defaultdict(list)
    camps = ctx.sim.seller_campaigns(ctx.seller, ctx.now)
    for st in camps:
        groups[(9, st.status)].append(st)
    adverts = [
        S.CountGroup(type=t, status=s, count=len(lst), advert_list=[
            S.AdvertRef(advertId=st.advert_id, changeTime=iso(st.changed_at)) for st in lst])
        for (t, s), lst in sorted(groups.items())
    ]
    return S.CountResponse(adverts=adverts or None, all=len(camps))


DELETED_FAR = "2100-01-01T00:00:00+03:00"


def _advert(ctx: Ctx, st: CampaignState) -> S.Advert:
    c = st.spec
    unified = c.bid_type == "unified"
    created = st.started_at or st.changed_at
    created = min(created, st.changed_at) - timedelta(hours=3)
    return S.Advert(
        id=c.advert_id, bid_type=c.bid_type, currency=ctx.sim.spec.currency, status=st.status,
        settings=S.AdvertSettings(name=c.name, payment_type=c.payment_type, placements=S.Placements(
            search=unified or c.search, recommendations=unified or c.recommendations)),
        nm_settings=[
            S.NmSettings(nm_id=it.nm_id, bids_kopecks=S.BidsKopecks(**st.bids[it.nm_id]),
                         subject=S.Subject(id=it.subject_id, name=it.subject_name))
            for it in c.items
        ] or None,
        restrictions=S.Restrictions(can_change_nms=st.status in BID_STATUSES),
        timestamps=S.Timestamps(created=iso(created), updated=iso(st.changed_at),
                                started=iso(st.started_at) if st.started_at else None, deleted=DELETED_FAR),
    )


async def h_adverts(ctx: Ctx) -> S.AdvertsResponse:
    q = query(ctx, {"ids", "statuses", "payment_type"})
    ids = int_list(q["ids"], "ids", "response400", 50) if "ids" in q else None
    statuses = set(int_list(q["statuses"], "statuses", "response400")) if "statuses" in q else None
    if statuses is not None and not statuses <= {-1, 4, 7, 8, 9, 11}:
        raise bad_request("invalid statuses value")
    pt = q.get("payment_type")
    if pt is not None and pt not in ("cpm", "cpc"):
        raise bad_request("invalid payment_type value")
    market = ctx.sim.market
    if ids is None:
        states = ctx.sim.seller_campaigns(ctx.seller, ctx.now)
    else:
        states = [market.advance_campaign(a, ctx.now) for a in dict.fromkeys(ids) if ctx.sim.owned(ctx.seller, a)]
    out = [
        _advert(ctx, st) for st in states
        if (statuses is None or st.status in statuses) and (pt is None or st.spec.payment_type == pt)
    ]
    return S.AdvertsResponse(adverts=out)



async def h_config(ctx: Ctx) -> S.ConfigResponse:
    query(ctx, set())
    sp = ctx.sim.spec
    return S.ConfigResponse(currency=sp.currency, currencyCode=sp.currency_code, cpmStep=sp.cpm_step,
                            cpcStep=sp.cpc_step, minTopUp=sp.min_top_up, minDailyLimit=sp.min_daily_limit)


def _status_target(ctx: Ctx, action: str) -> tuple[int, CampaignState]:
    q = query(ctx, {"id"}, "error")
    raw = q.get("id")
    if raw is None or not raw.isdigit() or int(raw) <= 0:
        raise error_json("Invalid Advert: invalid advert")
    advert_id = int(raw)
    if not ctx.sim.owned(ctx.seller, advert_id):
        raise error_json("AdvertChangeStatus: Not Found: advert not found")
    return advert_id, ctx.sim.market.advance_campaign(advert_id, ctx.now)


def _change(ctx: Ctx, advert_id: int, st: CampaignState, target: int, allowed: set[int], action: str) -> None:
    current = st.effective_status
    if current == target:
        raise error_text("Campaign status not changed", 422)
    if current not in allowed:
        raise error_json(f"AdvertChangeStatus: Invalid Status: cannot {action} an advert in status {current}")
    if ctx.sim.market.set_status(advert_id, target, ctx.now, reason=action) is None:
        raise error_text("Campaign status not changed", 422)


async def h_start(ctx: Ctx) -> None:
    advert_id, st = _status_target(ctx, "start")
    if st.effective_status in (4, 11) and st.budget < 100:
        raise error_json("AdvertChangeStatus: Low Budget: not enough budget")
    _change(ctx, advert_id, st, 9, {4, 11}, "start")


async def h_pause(ctx: Ctx) -> None:
    advert_id, st = _status_target(ctx, "pause")
    _change(ctx, advert_id, st, 11, {9}, "pause")


async def h_stop(ctx: Ctx) -> None:
    advert_id, st = _status_target(ctx, "stop")
    _change(ctx, advert_id, st, 7, {9, 11}, "stop")
