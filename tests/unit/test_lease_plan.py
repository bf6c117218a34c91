"""The balance plan of the workers (bidder.engine.leasing.plan): every account to one live worker, a fair
share by campaign count, sticky to the current live holder, the same plan on every worker."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bidder.engine.leasing import plan

weights_st = st.dictionaries(st.text("abcdefgh", min_size=1, max_size=4), st.integers(0, 500), min_size=1,
                             max_size=40)
workers_st = st.lists(st.sampled_from(["w1", "w2", "w3", "w4"]), min_size=1, max_size=4, unique=True)


@given(weights_st, workers_st, st.data())
def test_every_account_goes_to_one_live_worker_within_a_fair_share(weights, workers, data):
    holders = {n: data.draw(st.sampled_from([None, "w1", "w2", "w3", "w4", "dead"])) for n in weights}
    out = plan(weights, holders, workers)
    assert set(out) == set(weights) and set(out.values()) <= set(workers)
    loads = {w: sum(max(weights[n], 1) for n, x in out.items() if x == w) for w in workers}
    total, heaviest = sum(loads.values()), max(max(w, 1) for w in weights.values())
    for load in loads.values():  # nobody above a fair share plus one account
        assert load <= total / len(workers) + heaviest
    assert plan(weights, holders, list(reversed(workers))) == out  # the same on every worker


def test_a_new_worker_gets_half_and_the_old_keeps_its_other_half():
    weights = {f"s{i:02d}": 200 for i in range(50)}
    alone = plan(weights, {}, ["a"])
    assert set(alone.values()) == {"a"}
    two = plan(weights, dict(alone), ["a", "b"])
    assert sum(1 for w in two.values() if w == "b") in (24, 25)
    assert plan(weights, two, ["a", "b"]) == two  # stable once balanced


def test_a_dead_workers_accounts_spread_over_the_live_ones():
    weights = {f"s{i}": 10 for i in range(9)}
    three = plan(weights, {}, ["a", "b", "c"])
    holders = {n: (w if w != "c" else None) for n, w in three.items()}
    two = plan(weights, holders, ["a", "b"])
    assert all(two[n] == w for n, w in three.items() if w != "c")
    assert set(two.values()) == {"a", "b"}
