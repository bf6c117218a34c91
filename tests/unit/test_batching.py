from __future__ import annotations

from datetime import date
from math import ceil

from hypothesis import given
from hypothesis import strategies as st

from bidder.wb.batching import calls_needed, chunked, date_chunks, days_in, nested_calls, pack_nested


def test_chunked():
    assert chunked(range(5), 2) == [[0, 1], [2, 3], [4]]
    assert chunked([], 50) == []


def test_date_chunks_31_days():
    chunks = date_chunks(date(2026, 1, 1), date(2026, 3, 5), 31)
    assert chunks[0] == (date(2026, 1, 1), date(2026, 1, 31))
    assert chunks[1] == (date(2026, 2, 1), date(2026, 3, 3))
    assert chunks[-1] == (date(2026, 3, 4), date(2026, 3, 5))
    assert date_chunks(date(2026, 1, 1), date(2026, 1, 1), 31) == [(date(2026, 1, 1), date(2026, 1, 1))]


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)), st.integers(0, 400), st.integers(1, 40))
def test_date_chunks_cover_exactly(begin, span, size):
    from datetime import timedelta

    end = begin + timedelta(days=span)
    chunks = date_chunks(begin, end, size)
    assert chunks[0][0] == begin and chunks[-1][1] == end
    assert all(days_in(b, e) <= size for b, e in chunks)
    assert sum(days_in(b, e) for b, e in chunks) == span + 1
    assert len(chunks) == ceil((span + 1) / size)


@given(st.lists(st.integers(0, 180), max_size=120))
def test_pack_nested_is_optimal_and_valid(sizes):
    groups = [(i, list(range(s))) for i, s in enumerate(sizes)]
    calls = pack_nested(groups, 50, 50)
    assert len(calls) == nested_calls(sizes, 50, 50)
    seen = []
    for call in calls:
        assert len(call) <= 50
        keys = [k for k, _ in call]
        assert len(keys) == len(set(keys))  # a campaign once per call
        for k, items in call:
            assert 1 <= len(items) <= 50
            seen.extend((k, x) for x in items)
    assert sorted(seen) == sorted((i, x) for i, s in enumerate(sizes) for x in range(s))
    slices = [ceil(s / 50) for s in sizes if s]
    if slices:
        assert len(calls) == max(max(slices), ceil(sum(slices) / 50))


def test_calls_needed():
    c = calls_needed(120, items_per_campaign=10, stats_days=40, cluster_days=7, clusters_per_item=3)
    assert c["count"] == 1
    assert c["adverts"] == 3
    assert c["fullstats"] == 3 * 2
    assert c["bids"] == 3  # 120 campaigns x 10 items: 50 campaigns per call
    assert c["normquery_stats"] == 12  # 1200 pairs / 100
    assert c["normquery_get_bids"] == 12
    assert c["normquery_bids"] == 36
    assert c["bids_min"] == 120
    assert c["budget"] == 3
    assert calls_needed(1, items_per_campaign=120)["bids"] == 3
    assert calls_needed(0)["adverts"] == 0
