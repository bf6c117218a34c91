"""The simulator's fast reply paths give exactly what the slow, validated ones gave (issue 20: the
simulator's serving hot path was cut so that the 2-worker bench measures the workers, not the simulator).

* fullstats elements are built as plain dicts: each equals ``S.FullStatsItem.model_validate(item)
  .model_dump(exclude_none=True)`` of itself (same keys, same order, same JSON types: an ``int`` where
  the model says ``float`` would serialise differently), for every campaign with statistics of two
  scenarios, over a week of history;
* reply bodies are encoded with orjson: they decode to the same values as ``json.dumps`` gave, and the
  values orjson refuses (integers beyond 64 bits) still go out, through ``json.dumps``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest

from bidder.sim import schemas as S
from bidder.sim.app import Simulator, dumps_json
from bidder.sim.handlers.stats import _fullstats_item
from bidder.sim.market import STATS_STATUSES


@pytest.mark.parametrize("scenario", ["demo", "scale:2x30x3"])
def test_fullstats_items_equal_the_models_dump(scenario: str) -> None:
    sim = Simulator(scenario, seed=3)
    now = sim.now() + timedelta(hours=5)
    ctx = SimpleNamespace(sim=sim)
    checked = 0
    for advert_id in list(sim.market._specs):
        st = sim.market.advance_campaign(advert_id, now)
        if st.status not in STATS_STATUSES:
            continue
        rows = sim.market.daily_stats(advert_id, (now - timedelta(days=7)).date(), now.date(), visible=True)
        fast = _fullstats_item(ctx, advert_id, st, rows)
        slow = S.FullStatsItem.model_validate(fast).model_dump(exclude_none=True)
        assert json.dumps(fast) == json.dumps(slow), advert_id  # keys, order and types
        checked += bool(fast["days"])
    assert checked > 0


def test_reply_bodies_decode_to_the_same_values() -> None:
    data = {"a": [1, 2.5, 0.0, None, True, "Кириллица \u2028 \"q\""], "n": {"x": -3}, 7: "int key"}
    assert json.loads(dumps_json(data)) == json.loads(json.dumps(data, ensure_ascii=False))
    huge = {"id": 2**70}
    assert json.loads(dumps_json(huge)) == huge
