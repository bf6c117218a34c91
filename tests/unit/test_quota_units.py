"""Pure parts of issue 16: which finished campaigns still have days to read, the minimum-bid cache, and
the benchmark's options."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bench import scale
from bidder.domain import Campaign, Item
from bidder.engine.finished import finished_inside_window
from bidder.engine.min_bids import MIN_BIDS_TTL, PLAUSIBLE_MARGIN, MinBids

NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def test_a_finished_campaign_has_days_to_read_only_inside_the_window() -> None:
    today = date(2026, 11, 2)
    assert finished_inside_window(datetime(2026, 11, 1, 12, tzinfo=UTC), today, 7)
    assert finished_inside_window(datetime(2026, 10, 27, tzinfo=UTC), today, 7)  # the window's first day
    assert not finished_inside_window(datetime(2026, 10, 26, 23, tzinfo=UTC), today, 7)
    assert finished_inside_window(None, today, 7), "unknown: read once rather than never"


def _camp(advert_id: int, payment: str = "cpm") -> Campaign:
    items = tuple(Item(nm_id=advert_id * 10 + i, bids={"search": 30_000, "recommendations": 0}) for i in range(2))
    return Campaign(advert_id=advert_id, name="c", type=9, status=9, bid_type="unified", payment_type=payment,
                    currency="RUB", placements=frozenset({"search"}), items=items)


def test_the_minimum_cache_reads_a_campaign_in_one_call_and_keeps_it_a_day() -> None:
    mins = MinBids()
    camps = {1: _camp(1), 2: _camp(2, "cpc")}
    assert mins.ceiling("cpm") is None
    mins.want(1, 10, "combined")
    [(camp, nm_ids, placements)] = mins.requests(camps)
    assert camp.advert_id == 1 and nm_ids == [10, 11] and placements == ["combined"]
    mins.store(1, {(10, "combined"): 15_000, (11, "combined"): 22_000}, [(10, "combined"), (11, "combined")],
               NOW, "cpm")
    assert not mins.wanted and mins.ceiling("cpm") == 22_000 * PLAUSIBLE_MARGIN and mins.ceiling("cpc") is None
    # current bids below the ceiling get their minimums asked for (they may be under them)
    mins.want_near(camps[2], {}, None)
    assert mins.wanted == {2: {(20, "combined"), (21, "combined")}}
    mins.expire(NOW + MIN_BIDS_TTL - timedelta(seconds=1))
    assert mins.for_campaign(1)
    mins.expire(NOW + MIN_BIDS_TTL)
    assert mins.for_campaign(1) == {} and mins.ceiling("cpm") is None
    # asks for campaigns no longer known are dropped
    assert [c.advert_id for c, _, _ in mins.requests({})] == [] and not mins.wanted


def test_bench_scale_options_are_parsed_in_one_place() -> None:
    args = scale.parse_args([])
    assert args.history == 1000 and args.json is False and args.sellers == 50 and args.speed == 10
    args = scale.parse_args(["--history", "5", "--json", "--no-baseline"])
    assert args.history == 5 and args.json and args.no_baseline
    assert len(scale.JSON_KEYS) == 12 and len(set(scale.JSON_KEYS)) == 12
