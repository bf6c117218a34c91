"""The replay chart (``bidder replay --chart FILE.png``): bid changes per day and time pinned at max_bid
or WB's minimum, recorded vs replayed (matplotlib, Agg, object-oriented API only)."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

from bidder.replay.core import CampaignReplay


def draw(results: Sequence[CampaignReplay], report: dict[str, Any]) -> bytes:
    rec: Counter = Counter()
    new: Counter = Counter()
    for r in results:
        rec.update(r.recorded.changes_by_day)
        new.update(r.replayed.changes_by_day)
    days = sorted(set(rec) | set(new))
    fig = Figure(figsize=(10, 6), dpi=100)
    ax1, ax2 = fig.subplots(2, 1)
    xs = range(len(days))
    ax1.bar([x - 0.2 for x in xs], [rec[d] for d in days], width=0.4, label="recorded")
    ax1.bar([x + 0.2 for x in xs], [new[d] for d in days], width=0.4, label="replayed")
    ax1.set_xticks(list(xs), [d.isoformat() for d in days], rotation=30, fontsize=7)
    ax1.set_title(f"bid changes per day; identical decisions {report['identical_pct']:.2f} %")
    ax1.legend()
    camps = [c for c in report["per_campaign"]][:30]
    labels = [str(c["advert_id"]) for c in camps]
    cx = range(len(camps))
    ax2.bar([x - 0.3 for x in cx], [c["recorded"]["pinned_at_max_bid_pct"] for c in camps], width=0.2,
            label="at max_bid, recorded")
    ax2.bar([x - 0.1 for x in cx], [c["replayed"]["pinned_at_max_bid_pct"] for c in camps], width=0.2,
            label="at max_bid, replayed")
    ax2.bar([x + 0.1 for x in cx], [c["recorded"]["pinned_at_wb_min_pct"] for c in camps], width=0.2,
            label="at WB's minimum, recorded")
    ax2.bar([x + 0.3 for x in cx], [c["replayed"]["pinned_at_wb_min_pct"] for c in camps], width=0.2,
            label="at WB's minimum, replayed")
    ax2.set_xticks(list(cx), labels, rotation=30, fontsize=7)
    ax2.set_ylabel("% of the time")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
