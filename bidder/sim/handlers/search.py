"""The public search (REFERENCE.md §6, unofficial): ``GET /exactmatch/ru/common/v18/search``, where ad
positions and competitors' bids show. No token; blocked with 429 when the faults say so."""

from __future__ import annotations

import json
import zlib
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bidder.sim.app import Simulator


async def public_search(sim: Simulator, request: web.Request) -> web.Response:
    query = request.query.get("query", "")
    try:
        page = int(request.query.get("page", "1"))
    except ValueError:
        page = 1
    key = "GET /exactmatch/ru/common/v18/search"
    if sim.faults.search_blocked():
        sim.requests[key]["429"] += 1
        return web.Response(status=429, text="", content_type="text/plain")
    sim.requests[key]["200"] += 1
    page = max(1, page)
    now = sim.now()
    ads = sim.market.search_results(query, now) if query else []
    total = max(300, len(ads)) if query else 0
    products = []
    for pos in range((page - 1) * 100 + 1, min(total, page * 100) + 1):
        if pos <= len(ads):
            ad = ads[pos - 1]
            nm = ad["nm_id"]
            organic = 10 + (nm * 2654435761 % 990)
            products.append({
                "id": nm, "name": f"Товар {nm}", "brand": "", "supplierId": 0,
                "log": {"cpm": ad["cpm"] // 100, "position": organic, "promoPosition": pos - 1,
                        "promotion": 1, "tp": ad["tp"], "advertId": ad["advert_id"]},
                "logs": f"sim:{ad['advert_id']}:{pos}",
            })
        else:
            nm = 500_000_000 + (zlib.crc32(f"{query}|{pos}".encode()) & 0xFFFFFF)
            products.append({"id": nm, "name": f"Товар {nm}", "brand": "", "supplierId": 0})
    body = {"metadata": {"name": query, "catalog_type": "preset"}, "products": products, "total": total}
    if sim.faults.default.search_shape:  # a new storefront version: another root, the ad marker renamed
        for p in products:
            if "log" in p:
                p["adLog"] = p.pop("log")
        body = {"metadata": body["metadata"], "data": {"items": products, "total": total}}
    return web.json_response(body, dumps=lambda x: json.dumps(x, ensure_ascii=False))
