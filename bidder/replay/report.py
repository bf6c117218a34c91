"""What a replay found: per campaign and in total, as one JSON-able object and as text.

JSON keys (a contract): ``decisions_total``, ``identical``, ``identical_pct``, ``differ_by_action``,
``per_campaign``; besides them ``differ_by_cause``, ``gate``, ``recorded`` / ``replayed`` stability
figures, ``spend_estimate`` and ``spend_model``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from bidder.domain import minor_to_base
from bidder.replay.core import CampaignReplay, SideMetrics

GATE_PCT = 99.0
SPEND_MODEL = (
    "estimated spend = recorded spend of each item and day x (the candidate's time-weighted bid while active "
    "/ the recorded time-weighted bid while active), where the time-weighted bid is the bid in force after "
    "each evaluation's decisions and paused time counts as no bid. Limits: it assumes spend proportional to "
    "the bid at the recorded traffic (CPM: impressions stay; CPC: clicks stay); a different bid would have "
    "bought a different position, traffic and competitor response, which replay cannot know. It measures "
    "direction and size of the change, not counterfactual profit."
)


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole else 100.0


def _days(r: CampaignReplay) -> float:
    if r.first is None or r.last is None:
        return 0.0
    return (r.last - r.first).total_seconds() / 86400


def _side(m: SideMetrics, days: float) -> dict[str, Any]:
    per_day = days if days > 0 else None
    return {
        "decisions": m.decisions,
        "bid_changes": m.bid_changes,
        "raises": m.raises,
        "cuts": m.cuts,
        "bid_changes_per_day": round(m.bid_changes / per_day, 2) if per_day else None,
        "pinned_at_max_bid_pct": _pct(m.pinned_max_seconds, m.target_seconds) if m.target_seconds else 0.0,
        "pinned_at_wb_min_pct": _pct(m.pinned_min_seconds, m.target_seconds) if m.target_seconds else 0.0,
        "direction_changes": m.direction_changes,
        "oscillation_per_day": round(m.direction_changes / per_day, 2) if per_day else None,
        "pauses": m.pauses,
        "resumes": m.resumes,
    }


def _spend(r: CampaignReplay) -> tuple[Decimal, Decimal]:
    """(recorded spend, estimated spend) over the item-days the replay observed."""
    recorded = estimated = Decimal(0)
    days = set(r.recorded.changes_by_day) | {day for _, day in r.recorded.bid_seconds} | r.days
    for (nm_id, day), spend in r.spend.items():
        if day not in days:
            continue
        recorded += spend
        rec_bid = r.recorded.bid_seconds.get((nm_id, day), 0.0)
        cand = r.replayed.bid_seconds.get((nm_id, day), 0.0)
        ratio = Decimal(str(cand / rec_bid)) if rec_bid > 0 else Decimal(1)  # no bid-time seen: unchanged
        estimated += spend * ratio
    return recorded.quantize(Decimal("0.01")), estimated.quantize(Decimal("0.01"))


def _merge(sides: Sequence[SideMetrics]) -> SideMetrics:
    out = SideMetrics()
    for m in sides:
        for name in ("decisions", "bid_changes", "raises", "cuts", "pauses", "resumes", "direction_changes",
                     "target_seconds", "pinned_max_seconds", "pinned_min_seconds"):
            setattr(out, name, getattr(out, name) + getattr(m, name))
    return out


def build_report(results: Sequence[CampaignReplay], *, account: str, since: str, until: str,
                 config: str) -> dict[str, Any]:
    per_campaign = []
    total = sum(r.decisions_total for r in results)
    identical = sum(r.identical for r in results)
    by_action: Counter = Counter()
    by_cause: Counter = Counter()
    spend_rec = spend_est = Decimal(0)
    days = 0.0
    for r in results:
        by_action.update(r.differ_by_action)
        by_cause.update(r.differ_by_cause)
        rec, est = _spend(r)
        spend_rec += rec
        spend_est += est
        d = _days(r)
        days = max(days, d)
        per_campaign.append({
            "advert_id": r.advert_id,
            "evaluations": r.evaluations,
            "decisions_total": r.decisions_total,
            "identical": r.identical,
            "identical_pct": _pct(r.identical, r.decisions_total),
            "differ_by_action": dict(sorted(r.differ_by_action.items())),
            "differ_by_cause": dict(sorted(r.differ_by_cause.items())),
            "diverged_at": None if r.diverged_at is None else r.diverged_at.isoformat(timespec="seconds"),
            "days": round(d, 3),
            "recorded": _side(r.recorded, d),
            "replayed": _side(r.replayed, d),
            "spend_recorded": str(rec),
            "spend_estimate": str(est),
            "differences": r.examples,
        })
    unexplained = sum(r.unexplained for r in results)
    pct = _pct(identical, total)
    return {
        "account": account,
        "config": config,
        "since": since,
        "until": until,
        "campaigns": len(results),
        "evaluations": sum(r.evaluations for r in results),
        "superseded_evaluations": sum(r.superseded for r in results),
        "decisions_total": total,
        "identical": identical,
        "identical_pct": pct,
        "differ_by_action": dict(sorted(by_action.items())),
        "differ_by_cause": dict(sorted(by_cause.items())),
        "gate": {"threshold_pct": GATE_PCT, "passed": pct >= GATE_PCT and unexplained == 0 and total > 0,
                 "unexplained": unexplained,
                 "note": "meaningful when --config is the config that ran: it must reproduce >= 99 % of the "
                         "recorded decisions and every difference must have a cause outside the decision path"},
        "recorded": _side(_merge([r.recorded for r in results]), days),
        "replayed": _side(_merge([r.replayed for r in results]), days),
        "spend_recorded": str(spend_rec),
        "spend_estimate": str(spend_est),
        "spend_model": SPEND_MODEL,
        "per_campaign": per_campaign,
    }


def _money(v: str) -> str:
    return f"{Decimal(v):,.0f}".replace(",", " ")


def format_report(report: dict[str, Any], *, details: bool = True) -> str:
    lines = [
        f"replay of {report['config']} over account {report['account']}, {report['since']} .. {report['until']}",
        f"{report['campaigns']} campaigns, {report['evaluations']} recorded evaluations, "
        f"{report['decisions_total']} decisions: {report['identical']} identical ({report['identical_pct']:.2f} %)",
    ]
    if report.get("superseded_evaluations"):
        lines.append(f"{report['superseded_evaluations']} evaluations decided again in the same cycle once WB's "
                     "minimum bids were read: the last pass is compared (only it was applied)")
    if report["differ_by_action"]:
        lines.append("differing decisions by action (recorded->replayed): " + ", ".join(
            f"{k} {v}" for k, v in report["differ_by_action"].items()))
        lines.append("why they differ: " + "; ".join(f"{k}: {v}" for k, v in report["differ_by_cause"].items()))
    gate = report["gate"]
    lines.append(f"reproducibility gate (>= {gate['threshold_pct']:g} %, every difference explained): "
                 f"{'PASSED' if gate['passed'] else 'not passed'}"
                 + (f" ({gate['unexplained']} differences the decision path made)" if gate["unexplained"] else ""))
    lines.append("")
    head = (f"{'campaign':>10} {'ident %':>8} {'changes/d':>19} {'at max %':>13} {'at min %':>13} "
            f"{'osc/d':>13} {'pauses':>9} {'spend':>10} {'estimate':>10}")
    lines.append(head)
    lines.append(f"{'':>10} {'':>8} {'rec → new':>19} {'rec → new':>13} {'rec → new':>13} {'rec → new':>13} "
                 f"{'rec → new':>9}")

    def pair(a: Any, b: Any, width: int) -> str:
        fa = "—" if a is None else (f"{a:g}" if isinstance(a, float) else str(a))
        fb = "—" if b is None else (f"{b:g}" if isinstance(b, float) else str(b))
        return f"{fa + ' → ' + fb:>{width}}"

    rows = report["per_campaign"] + [{
        "advert_id": "total", "identical_pct": report["identical_pct"], "recorded": report["recorded"],
        "replayed": report["replayed"], "spend_recorded": report["spend_recorded"],
        "spend_estimate": report["spend_estimate"],
    }]
    for c in rows:
        a, b = c["recorded"], c["replayed"]
        lines.append(
            f"{c['advert_id']!s:>10} {c['identical_pct']:>8.2f} "
            f"{pair(a['bid_changes_per_day'], b['bid_changes_per_day'], 19)} "
            f"{pair(a['pinned_at_max_bid_pct'], b['pinned_at_max_bid_pct'], 13)} "
            f"{pair(a['pinned_at_wb_min_pct'], b['pinned_at_wb_min_pct'], 13)} "
            f"{pair(a['oscillation_per_day'], b['oscillation_per_day'], 13)} "
            f"{pair(a['pauses'], b['pauses'], 9)} {_money(c['spend_recorded']):>10} {_money(c['spend_estimate']):>10}"
        )
    lines.append("")
    lines.append("spend estimate: " + report["spend_model"])
    if details:
        shown = [(c["advert_id"], d) for c in report["per_campaign"] for d in c["differences"]][:30]
        if shown:
            lines.append("")
            lines.append("differences (first of each campaign):")
            for advert_id, d in shown:
                r, n = d["recorded"], d["replayed"]
                target = "campaign" if d["nm_id"] is None else f"nm {d['nm_id']} {d['placement']}" + (
                    f" «{d['norm_query']}»" if d["norm_query"] else "")
                lines.append(f"  {d['at']} {advert_id} {target}: recorded {_dec(r)}, replayed {_dec(n)} — {d['cause']}")
    return "\n".join(lines)


def _dec(d: dict[str, Any] | None) -> str:
    if d is None:
        return "nothing"
    if d["action"] == "set_bid":
        return f"set_bid {_bid(d['bid_before'])} → {_bid(d['bid_after'])} ({d['strategy']})"
    return f"{d['action']} ({d['strategy']})"


def _bid(v: int | None) -> str:
    return "—" if v is None else str(minor_to_base(v))
