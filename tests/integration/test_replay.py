"""``bidder replay`` over a recorded ``bidder demo`` run: the config that ran reproduces its decisions (the
reproducibility gate), a changed config shows its differences, each with its cause."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from pathlib import Path

import pytest

from bidder.cli import Context, main
from bidder.demo import example_config, run_demo

DEMO_MINUTES = 0.25  # real minutes: an hour of the simulated market at the demo's speed


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("replay") / "demo.db"
    out = io.StringIO()
    assert asyncio.run(run_demo(DEMO_MINUTES, db_path=db, out=out)) == 0
    return db


def replay(*args: str) -> tuple[int, str, str]:
    ctx = Context(out=io.StringIO(), err=io.StringIO())
    code = main(["replay", *args], ctx=ctx)
    return code, ctx.out.getvalue(), ctx.err.getvalue()


def recorded_decisions(db: Path) -> int:
    """Decisions of the recorded evaluations replay compares: of a campaign evaluated twice in one cycle (WB's
    minimum bids read in between) only the last pass, the one applied."""
    with sqlite3.connect(db) as conn:
        return sum(len(json.loads(d)) for (d,) in conn.execute(
            "select decisions from evaluations e where not failed and id = (select max(id) from evaluations x "
            "where x.account_id = e.account_id and x.advert_id = e.advert_id and x.at = e.at)"))


def candidate(tmp_path: Path) -> Path:
    text = example_config().read_text()
    text = text.replace("max_bid: 800 ", "max_bid: 500 ").replace("max_step_pct: 25 ", "max_step_pct: 10 ")
    text = text.replace("position: 3, max_bid: 600", "position: 2, max_bid: 450")
    text = text.replace("- spend_cap: {max_drr_pct: 20, window: 3d}", "- spend_cap: {max_drr_pct: 8, window: 3d}")
    path = tmp_path / "candidate.yaml"
    path.write_text(text)
    return path


def test_the_config_that_ran_reproduces_the_recorded_decisions(demo_db: Path) -> None:
    code, out, err = replay("--config", str(example_config()), "--db", str(demo_db), "--json", "--gate",
                            "--workers", "1")
    assert code == 0, err + out
    report = json.loads(out)
    for key in ("decisions_total", "identical", "identical_pct", "differ_by_action", "per_campaign"):
        assert key in report
    assert report["decisions_total"] == recorded_decisions(demo_db) > 0
    assert report["identical_pct"] >= 99.0
    # the minimum-bid ceiling the lazy hold compared against is stored with the inputs, so replay holds the
    # same changes (the only differences before it was stored)
    with sqlite3.connect(demo_db) as conn:
        assert conn.execute("select count(*) from observations where kind = 'min_ceiling'").fetchone()[0] > 0
    assert report["superseded_evaluations"] >= 0
    assert report["gate"]["passed"] and report["gate"]["unexplained"] == 0
    assert sum(report["differ_by_action"].values()) == report["decisions_total"] - report["identical"]
    assert {c["advert_id"] for c in report["per_campaign"]} >= {1000001, 1000002, 1000003}
    assert report["recorded"] == report["replayed"]  # the same decisions: the same figures


def test_a_changed_config_shows_its_differences_with_their_causes(demo_db: Path, tmp_path: Path) -> None:
    chart = tmp_path / "replay.png"
    code, out, err = replay("--config", str(candidate(tmp_path)), "--db", str(demo_db), "--json",
                            "--chart", str(chart), "--workers", "2")
    assert code == 0, err
    report = json.loads(out)
    differ = report["decisions_total"] - report["identical"]
    assert differ > 0 and report["identical_pct"] < 100
    assert sum(report["differ_by_action"].values()) == differ
    assert sum(report["differ_by_cause"].values()) == differ
    assert "the config decides differently" in report["differ_by_cause"]
    assert not report["gate"]["passed"]
    # a lower max_bid: never above it in the replay, and the spend estimate goes down
    for c in report["per_campaign"]:
        for d in c["differences"]:
            assert d["cause"]
            if d["replayed"] and d["replayed"]["action"] == "set_bid":
                assert d["replayed"]["bid_after"] <= 50000
    assert float(report["spend_estimate"]) < float(report["spend_recorded"])
    assert chart.read_bytes().startswith(b"\x89PNG")
    # the gate fails for a config that did not run
    code, _, _ = replay("--config", str(candidate(tmp_path)), "--db", str(demo_db), "--gate", "--workers", "1")
    assert code == 1


def test_text_report_and_campaign_filter(demo_db: Path) -> None:
    code, out, _ = replay("--config", str(example_config()), "--db", str(demo_db), "--campaign", "1000002",
                          "--since", "30m")
    assert code == 0
    assert "reproducibility gate" in out and "PASSED" in out
    assert "1000002" in out and "1000003" not in out
    assert "spend estimate:" in out


def test_nothing_recorded_is_a_failure_with_a_reason(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    from bidder.store.migrate import upgrade

    asyncio.run(upgrade(f"sqlite+aiosqlite:///{empty}"))
    code, _, err = replay("--config", str(example_config()), "--db", str(empty))
    assert code == 1 and "no recorded evaluation" in err


def test_plan_compares_a_new_config_with_the_running_one_and_writes_nothing(demo_db: Path, tmp_path: Path) -> None:
    with sqlite3.connect(demo_db) as conn:
        before = [conn.execute(f"select count(*) from {t}").fetchone()[0]
                  for t in ("decisions", "evaluations", "observations")]
    ctx = Context(out=io.StringIO(), err=io.StringIO())
    running = str(example_config())
    assert main(["plan", "--running", running, "--db", str(demo_db), "--json"], ctx=ctx) == 0, ctx.err.getvalue()
    (same,) = json.loads(ctx.out.getvalue())["plans"]
    assert same["campaigns"] > 0 and same["decisions_total"] > 0 and same["differ"] == 0
    ctx = Context(out=io.StringIO(), err=io.StringIO())
    assert main(["plan", "--running", running, "--config", str(candidate(tmp_path)), "--db", str(demo_db), "--json"],
                ctx=ctx) == 0
    (plan,) = json.loads(ctx.out.getvalue())["plans"]
    assert plan["differ"] > 0 and sum(plan["differ_by_action"].values()) == plan["differ"]
    # the candidate's lower max_bid (500) brings every bid above it down
    assert all(d["new"]["bid_after"] <= 50000 for d in plan["differences"] if d["new"] and d["new"]["bid_after"])
    # as of the demo's own clock (its newest evaluation): the same config plans what was last decided
    ctx = Context(out=io.StringIO(), err=io.StringIO())
    assert main(["plan", "--running", running, "--db", str(demo_db), "--at", "last", "--json"], ctx=ctx) == 0
    (last,) = json.loads(ctx.out.getvalue())["plans"]
    assert last["differ"] == 0 and last["decisions_total"] > 0
    with sqlite3.connect(demo_db) as conn:
        after = [conn.execute(f"select count(*) from {t}").fetchone()[0]
                 for t in ("decisions", "evaluations", "observations")]
    assert after == before


def test_the_fast_sqlite_loaders_read_what_the_generic_ones_read(demo_db: Path) -> None:
    """replay reads SQLite's stored text itself (bidder.store.replay_read): the same records, field for field."""
    from datetime import timedelta

    from bidder.store import observations as obs
    from bidder.store import replay_read
    from bidder.store.db import Database

    async def both() -> None:
        async with Database(f"sqlite+aiosqlite:///{demo_db}") as db, db.read_sessions() as s:
            [account] = await obs.recorded_accounts(s)
            first, last = await obs.evaluation_span(s, account)
            assert first is not None and last is not None
            ids = await obs.load_evaluation_campaigns(s, account, since=first, until=last)
            assert ids
            for since, until in ((first, last), (first + (last - first) / 2, last - timedelta(minutes=5))):
                generic = await obs.load_evaluations(s, account, ids, since=since, until=until)
                fast = await replay_read.load_evaluations(s, account, ids, since=since, until=until)
                assert generic and fast == generic
                assert all(a.at.tzinfo is not None and a.at.utcoffset() == timedelta(0) for a in fast)
                generic_obs = await obs.load_observations(s, account, ids, until=until)
                fast_obs = await replay_read.load_observations(s, account, ids, until=until)
                assert generic_obs and fast_obs == generic_obs
                assert {o.kind for o in fast_obs} >= {obs.CAMPAIGN, obs.RULES, obs.DAILY, obs.REC, obs.MIN_CEILING}

    asyncio.run(both())
