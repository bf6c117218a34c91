"""The public search's strict parser: today's shapes parse, anything else is SchemaDrift (never guessed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidder.errors import SchemaDrift
from bidder.wb.positions import parse_search


def card(nm: int, promo: int | None = None) -> dict:
    out: dict = {"id": nm, "name": "x"}
    if promo is not None:
        out["log"] = {"cpm": 450, "position": 80, "promoPosition": promo, "tp": "c"}
    return out


def test_both_roots_and_places_across_pages():
    top = parse_search({"products": [card(1, 0), card(2)]}, 1, 0)
    assert [(h.nm_id, h.place, h.ad, h.cpm) for h in top] == [(1, 1, True, 450), (2, 2, False, None)]
    nested = parse_search({"data": {"products": [card(3)]}}, 2, 100)
    assert nested[0].place == 101


@pytest.mark.parametrize("body", [
    [], {"data": {"items": [card(1)]}}, {"products": {"1": card(1)}}, {"products": [{"nmId": 1}]},
    {"products": [{"id": "1"}]}, {"products": [{"id": 1, "log": {"cpm": 1}}]},
    {"products": [{"id": 1, "log": "promo"}]},
])
def test_unknown_shapes_are_drift(body):
    with pytest.raises(SchemaDrift):
        parse_search(body, 1, 0)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=12))
def test_any_json_parses_or_is_drift(body):
    try:
        hits = parse_search(body, 1, 0)
    except SchemaDrift:
        return
    assert all(isinstance(h.nm_id, int) and h.place >= 1 for h in hits)
