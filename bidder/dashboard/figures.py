"""What the dashboard pages compute from the configuration and the stored series: strategy defaults and
thresholds, daily budgets, token lifetimes, and the chart series of a campaign page. Pure."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bidder.store import dashboard as q


def _defaults(cfg: Any) -> list[Any]:
    if cfg is None:
        return []
    with contextlib.suppress(Exception):
        return [e.build() for e in cfg.defaults.strategies]
    return []


def _thresholds(strategies: list[Any]) -> dict[str, Any]:
    """What the campaigns table compares against: the target position, the ДРР cap, the ROI floor."""
    out: dict[str, Any] = {"kinds": [getattr(s, "kind", "?") for s in strategies]}
    for s in strategies:
        p = getattr(s, "params", None)
        kind = getattr(s, "kind", "")
        if kind == "target_position":
            out.setdefault("position", p.position)
        elif kind == "spend_cap":
            out["max_drr_pct"] = min(out.get("max_drr_pct", 1e9), float(p.max_drr_pct))
            if p.daily_budget is not None:
                out["daily_budget"] = float(p.daily_budget)
        elif kind == "roi_floor":
            out["min_roi_pct"] = float(p.min_roi_pct)
            out["margin_pct"] = float(p.margin_pct)
    return out


def _budgets(cfg: Any) -> list[tuple[int, float]]:
    """Campaigns listed with a daily budget (spend_cap daily_budget): (advert id, budget)."""
    out = []
    if cfg is None:
        return out
    for c in cfg.campaigns:
        for e in c.strategies or ():
            with contextlib.suppress(Exception):
                if e.kind == "spend_cap" and e.params.daily_budget is not None:
                    out.append((c.id, float(e.params.daily_budget)))
    return out


def _tokens(cfg: Any, now: datetime) -> list[dict[str, Any]]:
    """Token claims only (type, categories, read-only bit, days left): never the token."""
    from bidder.wb.tokens import decode_token

    out = []
    if cfg is None:
        return out
    for which, tok in (("read", cfg.read_token), ("write", cfg.write_token)):
        if tok is None:
            out.append({"which": which, "missing": True})
            continue
        try:
            info = decode_token(tok.get_secret_value())
        except Exception as exc:  # a bad token: say so, without its text
            out.append({"which": which, "error": type(exc).__name__})
            continue
        left = info.days_left(now)
        out.append({"which": which, "type": info.type, "categories": ", ".join(info.categories),
                    "read_only": info.read_only, "days_left": None if left is None else int(left),
                    "sandbox": info.sandbox})
    return out


def _params_text(params: Any) -> str:
    with contextlib.suppress(Exception):
        data = params.model_dump(mode="json", exclude_defaults=False)
        return ", ".join(f"{k}={v}" for k, v in data.items() if v is not None)
    return str(params)


def _charts(info: q.CampaignInfo, stats: list[q.DayStat], bids: list[q.BidPoint],
            clusters: list[q.ClusterBidPoint], since: datetime, now: datetime, since_day: date,
            today: date) -> dict[str, Any]:
    """uPlot data: each chart is {"x": [unix seconds], "series": [{"label", "data"}]}, money in base units."""
    days = [since_day + timedelta(days=i) for i in range((today - since_day).days + 1)]
    day_x = [int(datetime.combine(d, time(12), UTC).timestamp()) for d in days]
    idx = {d: i for i, d in enumerate(days)}
    nms = sorted({s.nm_id for s in stats} | {it.nm_id for it in info.items})
    position: dict[int, list[float | None]] = {nm: [None] * len(days) for nm in nms}
    spend = [0.0] * len(days)
    revenue = [0.0] * len(days)
    for s in stats:
        i = idx.get(s.day)
        if i is None:
            continue
        spend[i] += s.spend
        revenue[i] += s.revenue
        if s.avg_position is not None:
            position.setdefault(s.nm_id, [None] * len(days))[i] = round(s.avg_position, 2)
    drr = [round(sp / rv * 100, 2) if rv else None for sp, rv in zip(spend, revenue, strict=True)]

    # bids: a step line per (nm, placement), from the last observation before the window to now
    keys = sorted({(b.nm_id, b.placement) for b in bids})
    if not keys:
        for it in info.items:
            for placement, v in (("search", it.bid_search), ("recommendations", it.bid_recommendations)):
                if v is not None:
                    keys.append((it.nm_id, placement))
    # the line starts at the window's start when a bid was observed before it, else at its first observation
    times = sorted({max(b.at, since) for b in bids} | {now})
    tindex = {t: i for i, t in enumerate(times)}
    bid_series = {k: [None] * len(times) for k in keys}
    for b in bids:
        bid_series[(b.nm_id, b.placement)][tindex[max(b.at, since)]] = b.bid / 100
    current = {(it.nm_id, "search"): it.bid_search for it in info.items}
    current.update({(it.nm_id, "recommendations"): it.bid_recommendations for it in info.items})
    for k, arr in bid_series.items():
        last = None
        for i in range(len(arr)):
            if arr[i] is None:
                arr[i] = last
            last = arr[i]
        if current.get(k) is not None:
            arr[-1] = current[k] / 100
    ckeys = sorted({(c.nm_id or 0, c.norm_query) for c in clusters})
    ctimes = sorted({c.at for c in clusters} | ({now} if clusters else set()))
    cindex = {t: i for i, t in enumerate(ctimes)}
    cseries = {k: [None] * len(ctimes) for k in ckeys}
    for c in clusters:
        cseries[(c.nm_id or 0, c.norm_query)][cindex[c.at]] = c.bid / 100
    for arr in cseries.values():
        last = None
        for i in range(len(arr)):
            arr[i] = last = arr[i] if arr[i] is not None else last

    return {
        "bids": {"x": [int(t.timestamp()) for t in times], "step": True, "currency": info.currency,
                 "series": [{"label": f"{nm} {pl}", "data": bid_series[(nm, pl)]} for nm, pl in keys]},
        "position": {"x": day_x, "invert": True,
                     "series": [{"label": str(nm), "data": position[nm]} for nm in sorted(position)]},
        "money": {"x": day_x, "series": [{"label": "spend", "data": [round(v, 2) for v in spend]},
                                         {"label": "revenue", "data": [round(v, 2) for v in revenue]}]},
        "drr": {"x": day_x, "series": [{"label": "drr", "data": drr}]},
        "clusters": {"x": [int(t.timestamp()) for t in ctimes], "step": True,
                     "series": [{"label": f"{nm} {qq}", "data": cseries[(nm, qq)]} for nm, qq in ckeys]},
    }
