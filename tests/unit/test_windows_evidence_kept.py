"""Inside ``keeping_evidence`` (replay), strategies.windows keeps a complete-day window's evidence with the rows it read: given again only while
those rows are the same objects; a replaced row (even an equal one) or a changed one is read afresh."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from bidder.domain import DailyStat
from strategies.windows import evidence, keeping_evidence

TODAY = date(2026, 11, 30)
FIRST, LAST = TODAY - timedelta(days=3), TODAY - timedelta(days=1)


@pytest.fixture(autouse=True)
def _keeping():
    with keeping_evidence():
        yield


def row(day: date, spend: str, orders: int = 2, nm: int = 11) -> DailyStat:
    return DailyStat(7, nm, day, 1000, 50, 5, orders, Decimal(spend), Decimal("1000"))


def test_the_same_rows_give_the_kept_evidence_and_today_does_not_matter() -> None:
    past = [row(TODAY - timedelta(days=d), "100") for d in range(6, 0, -1)]
    a = evidence(tuple([*past, row(TODAY, "5")]), FIRST, LAST, 11, 100)
    b = evidence(tuple([*past, row(TODAY, "9")]), FIRST, LAST, 11, 100)  # a new tuple, today changed
    assert b is a


def test_an_equal_but_new_row_is_read_afresh() -> None:
    past = [row(TODAY - timedelta(days=d), "100.5") for d in range(6, 0, -1)]
    a = evidence(tuple(past), FIRST, LAST, 11, 100)
    assert str(a.window.spend) == "301.5"
    again = [*past[:-1], row(LAST, "100.50")]  # equal (Decimal("100.5") == Decimal("100.50")), not the same
    b = evidence(tuple(again), FIRST, LAST, 11, 100)
    assert b is not a and str(b.window.spend) == "301.50"


def test_a_changed_row_or_another_item_changes_the_evidence() -> None:
    past = [row(TODAY - timedelta(days=d), "100") for d in range(6, 0, -1)]
    other = [row(TODAY - timedelta(days=d), "40", nm=12) for d in range(6, 0, -1)]
    a = evidence(tuple(past + other), FIRST, LAST, 11, 100)
    late = [*past[:-1], row(LAST, "100", orders=0)]  # yesterday's orders corrected by WB
    b = evidence(tuple(late + other), FIRST, LAST, 11, 100)
    assert (a.window.orders, b.window.orders) == (6, 4)
    c = evidence(tuple(late + other), FIRST, LAST, 12, 100)
    assert c.window.spend == Decimal("120")
    whole = evidence(tuple(late + other), FIRST, LAST, None, 100)
    assert whole.window.spend == Decimal("420") and whole.window.orders == 10


def test_outside_replay_nothing_is_kept() -> None:
    past = [row(TODAY - timedelta(days=d), "100") for d in range(6, 0, -1)]
    from strategies import windows
    token = windows._KEEP.set(False)  # the daemon: rows come fresh every cycle, so nothing is held
    try:
        a = evidence(tuple([*past, row(TODAY, "5")]), FIRST, LAST, 11, 100)
        b = evidence(tuple([*past, row(TODAY, "9")]), FIRST, LAST, 11, 100)
        assert b is not a and b == a and not windows._SEEN
    finally:
        windows._KEEP.reset(token)
