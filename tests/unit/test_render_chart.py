"""The chart builder: a valid PNG, the expected series, seller names safe for matplotlib."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from bidder.notify.chart import MAX_CAMPAIGNS, PNG_SIGNATURE, CampaignSeries, ChartData, build_chart

DAYS = [date(2026, 11, 1) + timedelta(days=i) for i in range(7)]


def test_png_with_every_series() -> None:
    data = ChartData(DAYS, [
        CampaignSeries(1, "$5 скидка $", [Decimal(10)] * 7, [Decimal(100)] * 7, [2.5] * 7),
        CampaignSeries(2, "Куртки", [5, None, 5, 5, 5, 5, 5], [0, 50, 50, 50, 50, 50, 50], [3] * 7),
    ])
    result = build_chart(data, "ru")
    assert result.png.startswith(PNG_SIGNATURE) and len(result.png) > 5000
    assert result.series == ("spend:1", "spend:2", "revenue:1", "revenue:2", "drr:1", "drr:2", "bid:1", "bid:2")
    assert result.axes_titles[2] == "ДРР, %"
    assert all(not re.search(r"(?<!\\)\$", label) for label in result.labels)
    assert data.campaigns[1].drr[0] is None and data.campaigns[0].drr[0] == 10.0  # no revenue: no ДРР


def test_empty_and_crowded_charts() -> None:
    assert build_chart(ChartData(DAYS, []), "en").png.startswith(PNG_SIGNATURE)
    many = [CampaignSeries(i, f"c{i}", [i] * 7, [10 * i] * 7, [1] * 7) for i in range(1, 15)]
    result = build_chart(ChartData(DAYS, many), "en")
    drawn = {int(s.split(":")[1]) for s in result.series}
    assert len(drawn) == MAX_CAMPAIGNS and drawn == set(range(15 - MAX_CAMPAIGNS, 15))  # the biggest spenders
