"""The report chart: spend, revenue, ДРР and bids per campaign over the last days (matplotlib, Agg).

:func:`build_chart` is pure apart from matplotlib: it takes the series and returns the PNG bytes together
with the names of the lines it drew, so tests (and callers) can check what is on the picture.
It uses only the object-oriented API (no pyplot state), so callers run it in a worker thread
(``asyncio.to_thread``): drawing takes a second or two. matplotlib (with numpy, ~45 MB of resident memory)
is imported on the first chart, not with the module: the daemon imports the digest at start and draws
its first chart, if ever, at the digest time.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from bidder.notify.i18n import t

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CAMPAIGNS = 8  # more lines than this are unreadable; the biggest spenders are kept


@dataclass(frozen=True, slots=True)
class CampaignSeries:
    """One campaign's daily values aligned with ``ChartData.days``; None where there is no data.
    Money in base units; ``bid`` is the average bid of the campaign's items in base units."""

    advert_id: int
    name: str
    spend: Sequence[Decimal | float | None]
    revenue: Sequence[Decimal | float | None]
    bid: Sequence[Decimal | float | None] = ()

    @property
    def drr(self) -> list[float | None]:
        out: list[float | None] = []
        for s, r in zip(self.spend, self.revenue, strict=False):
            out.append(float(Decimal(str(s)) / Decimal(str(r)) * 100) if s is not None and r else None)
        return out

    @property
    def total_spend(self) -> Decimal:
        return sum((Decimal(str(s)) for s in self.spend if s is not None), Decimal(0))


@dataclass(frozen=True, slots=True)
class ChartData:
    days: Sequence[date]
    campaigns: Sequence[CampaignSeries] = ()
    currency: str = "RUB"
    title: str = ""


@dataclass(frozen=True, slots=True)
class ChartResult:
    png: bytes
    series: tuple[str, ...]  # "spend:<advert_id>", "revenue:<id>", "drr:<id>", "bid:<id>" in drawing order
    labels: tuple[str, ...] = ()  # legend labels, in the same order
    axes_titles: tuple[str, ...] = field(default=())


def _mpl_text(value: str, limit: int = 40) -> str:
    """Seller text for matplotlib: cut, and '$' escaped so mathtext does not interpret it."""
    text = "".join(ch for ch in value if ch.isprintable())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def _floats(values: Sequence[Decimal | float | None]) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]


def build_chart(data: ChartData, locale: str = "ru") -> ChartResult:
    import matplotlib  # here, not at the top: see the module's docstring

    matplotlib.use("Agg")  # no display, no threads: safe inside the daemon
    import matplotlib.dates
    from matplotlib.figure import Figure

    campaigns = sorted(data.campaigns, key=lambda c: c.total_spend, reverse=True)[:MAX_CAMPAIGNS]
    campaigns = sorted(campaigns, key=lambda c: c.advert_id)
    fig = Figure(figsize=(10, 9), dpi=100)
    axes = fig.subplots(4, 1, sharex=True)
    currency = data.currency or "RUB"
    titles = (t(locale, "chart.spend") + f", {currency}", t(locale, "chart.revenue") + f", {currency}",
              t(locale, "chart.drr"), t(locale, "chart.bids") + f", {currency}")
    x = list(data.days)
    series: list[str] = []
    labels: list[str] = []
    for ax, title, metric in zip(axes, titles, ("spend", "revenue", "drr", "bid"), strict=True):
        ax.set_title(title, fontsize=10, loc="left")
        ax.grid(True, alpha=0.3)
        for c in campaigns:
            values = c.drr if metric == "drr" else getattr(c, metric)
            if not values:
                continue
            label = _mpl_text(f"{c.advert_id} {c.name}".strip())
            ax.plot(x[: len(values)], _floats(values), marker="o", markersize=3, label=label)
            series.append(f"{metric}:{c.advert_id}")
            labels.append(label)
    if campaigns:
        axes[0].legend(fontsize=7, loc="upper left", ncols=2)
    else:
        axes[0].text(0.5, 0.5, "—", ha="center", va="center", transform=axes[0].transAxes)
    if data.title:
        fig.suptitle(_mpl_text(data.title, 80), fontsize=11)
    fig.autofmt_xdate()
    for ax in axes:
        ax.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%d.%m" if locale == "ru" else "%m-%d"))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return ChartResult(buf.getvalue(), tuple(series), tuple(labels), titles)
