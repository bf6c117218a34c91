"""The sweep's figures: per value (and per campaign) spend, orders, ДРР and the position held; the table,
the ``--json`` object and its chart."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from bidder.sweep.simulate import CampaignFigures


def _r(x: float | None, n: int = 2) -> float | None:
    return None if x is None else round(x, n)


def figures(rows: Sequence[CampaignFigures]) -> dict[str, Any]:
    spend = sum(r.spend for r in rows)
    revenue = sum(r.revenue for r in rows)
    w = sum(r.searches for r in rows if r.avg_position is not None)
    pos = sum(r.avg_position * r.searches for r in rows if r.avg_position is not None) / w if w else None
    return {"spend": _r(spend), "revenue": _r(revenue), "orders": _r(sum(r.orders for r in rows), 1),
            "drr_pct": _r(spend / revenue * 100 if revenue else None), "position_held": _r(pos, 1),
            "views": round(sum(r.views for r in rows)), "clicks": round(sum(r.clicks for r in rows)),
            "bid_changes": sum(r.bid_changes for r in rows), "pauses": sum(r.pauses for r in rows),
            "resumes": sum(r.resumes for r in rows)}


def build_report(results: Sequence[tuple[Any, Sequence[CampaignFigures]]], *, param: str, source: dict[str, Any],
                 days: float, every_minutes: float, seed: int) -> dict[str, Any]:
    out = []
    for value, rows in results:
        f = figures(rows)
        f["value"] = value
        f["per_campaign"] = [{"advert_id": r.advert_id, **figures([r])} for r in rows]
        out.append(f)
    return {"param": param, "values": [v for v, _ in results], "source": source, "days": days,
            "every_minutes": every_minutes, "seed": seed,
            "model": ("the simulator's market, one run per value (same scenario, seed and noise); spend, orders and "
                      "revenue are the market's exact accrual over the swept days; ДРР = spend / revenue x 100; "
                      "position_held = the searches-weighted average ad position (WB's avg_position)"),
            "results": out}


COLUMNS = (("value", "{}"), ("spend", "{:,.0f}"), ("orders", "{:,.1f}"), ("drr_pct", "{:.2f}"),
           ("position_held", "{:.1f}"), ("bid_changes", "{}"), ("pauses", "{}"))
HEADERS = {"value": "value", "spend": "spend, RUB", "orders": "orders", "drr_pct": "ДРР %",
           "position_held": "position", "bid_changes": "bid changes", "pauses": "pauses"}


def format_table(report: dict[str, Any]) -> str:
    cols = [HEADERS[c] for c, _ in COLUMNS]
    cols[0] = report["param"]
    rows = [[("—" if r[c] is None else f.format(r[c]).replace(",", " ")) for c, f in COLUMNS] for r in report["results"]]
    widths = [max(len(cols[i]), *(len(r[i]) for r in rows)) for i in range(len(cols))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def format_report(report: dict[str, Any]) -> str:
    src = report["source"]
    head = [f"sweep of {report['param']} over {report['days']:g} simulated days (decisions every "
            f"{report['every_minutes']:g} min, seed {report['seed']}), market: {src['market']}"]
    cal = src.get("calibration")
    if cal:
        head.append(f"calibrated from the statistics of {cal['days'][0]}..{cal['days'][1]}: "
                    f"{len(cal['items'])} items, {len(cal['clusters'])} clusters")
        head.append("fitted: " + cal["method"])
        for c in cal["clusters"]:
            head.append(f"  cluster {c['query']!r}: {c['daily_searches']} searches/day, competitors' median bid "
                        f"{c['median_bid_rub']:.0f} RUB (eCPM), sigma {c['sigma']:.2f}, from {c['source']}")
        for i in cal["items"]:
            pooled = f" (account pool: {', '.join(i['pooled'])})" if i["pooled"] else ""
            head.append(f"  item {i['advert_id']}/{i['nm_id']}: base CTR {i['ctr'] * 100:.2f} %, "
                        f"conversion {i['cr'] * 100:.2f} %, price {i['price_rub']:.0f} RUB{pooled}")
    head.append(f"model: {report['model']}")
    return "\n".join([*head, "", format_table(report)])


def draw(report: dict[str, Any]) -> bytes:
    """A PNG: spend, orders, ДРР and position held against the swept value (matplotlib, Agg, as
    ``bidder replay --chart``)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    xs = [r["value"] for r in report["results"]]
    fig = Figure(figsize=(10, 7), dpi=100)
    axes = fig.subplots(2, 2)
    for ax, key, title in ((axes[0][0], "spend", "spend, RUB"), (axes[0][1], "orders", "orders"),
                           (axes[1][0], "drr_pct", "ДРР, %"), (axes[1][1], "position_held", "position held")):
        ys = [r[key] for r in report["results"]]
        ax.plot(xs, [float("nan") if y is None else y for y in ys], marker="o")
        ax.set_title(title)
        ax.set_xlabel(report["param"])
        ax.grid(True, alpha=0.3)
    axes[1][1].invert_yaxis()  # position 1 at the top
    fig.suptitle(f"sweep of {report['param']}: {report['source']['market']}, {report['days']:g} days")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
