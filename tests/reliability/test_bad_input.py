"""Bad input: the broken-config corpus through ``bidder check-config`` (a real process) and through a
running daemon's SIGHUP reload; absurd values in WB's replies. Hostile Telegram commands are sent to a
running daemon in ``test_faults.py``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from support import (
    REPO,
    Daemon,
    SimHost,
    Zygote,
    alerts,
    assert_books,
    demo_config,
    query,
    scan_for_secrets,
    tail,
)

from bidder.wb.tokens import mint_token

CORPUS = REPO / "tests" / "config_corpus"
CASES = sorted(p.stem for p in CORPUS.glob("*.yaml"))
READ_TOKEN = mint_token("corpus-seller", read_only=True, token_id="corpus-read")
WRITE_TOKEN = mint_token("corpus-seller", token_id="corpus-write")
LITERAL = "this-is-a-literal-token-value-0123456789"


def _corpus_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BIDDER_", "WB_")) and k not in ("CORPUS_MISSING_WRITE_TOKEN", "CORPUS_NOT_SET")}
    env.update(CORPUS_READ_TOKEN=READ_TOKEN, CORPUS_WRITE_TOKEN=WRITE_TOKEN)
    return env


def _expected(case: str) -> tuple[int, list[str]]:
    first, *lines = (CORPUS / f"{case}.expected").read_text(encoding="utf-8").splitlines()
    return int(first.split()[1]), lines


# The real command line, one process per file would cost ~2.5 s of imports each: one process runs
# ``bidder.cli.main`` (the console script's entry point) for every file and reports code and output.
_DRIVER = """
import io, json, sys
from bidder.cli import Context, main
out = {}
for name in sys.argv[1:]:
    buf = io.StringIO()
    code = main(["check-config", name], ctx=Context(out=buf, err=buf))
    out[name] = [code, buf.getvalue()]
print(json.dumps(out))
"""


def test_every_broken_config_is_rejected_by_check_config() -> None:
    names = [f"{c}.yaml" for c in CASES]
    proc = subprocess.run([sys.executable, "-c", _DRIVER, *names], cwd=CORPUS, env=_corpus_env(),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    rejected = 0
    for case in CASES:
        code, text = results[f"{case}.yaml"]
        want_code, want_lines = _expected(case)
        assert code == want_code, (case, text)
        assert text.splitlines() == want_lines, case
        for secret in (READ_TOKEN, WRITE_TOKEN, LITERAL):
            assert secret not in text, case
        rejected += code != 0
    assert rejected >= 25


async def test_sighup_with_every_broken_config_keeps_the_old_one_running(tmp_path: Path) -> None:
    host = await SimHost("demo", speed=120.0).start()
    host.sim.market.advance(host.sim.now())
    zygote = await Zygote().start()
    seller = host.sim.sellers["shop-a"]
    cfg = demo_config(tmp_path / "bidder.yaml")
    good = cfg.read_text(encoding="utf-8")
    log = tmp_path / "daemon.log"
    env = dict(WB_READ_TOKEN=seller.read_token, WB_WRITE_TOKEN=seller.write_token,
               CORPUS_READ_TOKEN=READ_TOKEN, CORPUS_WRITE_TOKEN=WRITE_TOKEN)
    daemon = Daemon(zygote, cfg, f"sqlite+aiosqlite:///{tmp_path / 'bidder.db'}", host, env, log)
    broken = [c for c in CASES if _expected(c)[0] != 0]
    try:
        await daemon.start()
        await daemon.wait_ready()
        await daemon.wait_cycles("shop-a", 1, within=90)
        for case in broken:
            cfg.write_text((CORPUS / f"{case}.yaml").read_text(encoding="utf-8"), encoding="utf-8")
            mark = len(daemon.lines)
            daemon.kill(signal.SIGHUP)
            await daemon.wait_until(lambda m=mark: any(x.startswith("RELOAD") for x in daemon.lines[m:]), 30,
                                    f"the reload of {case}")
            assert "RELOAD rejected" in daemon.lines[mark:], (case, daemon.lines[mark:])
            # the errors are in the log, with their line numbers (the file name is the daemon's)
            _, lines = _expected(case)
            text = log.read_text(errors="replace")
            for line in lines[:-1]:
                if ": warning:" in line:
                    continue
                message = line.split(": ", 1)[1] if ": " in line else line
                assert message in text, (case, message, tail(log, 10))
        # the old configuration is still the one running: shop-a's cycles go on
        await daemon.wait_cycles("shop-a", 2, within=60)
        # a valid change is taken
        cfg.write_text(good.replace("max_bid: 800", "max_bid: 700"), encoding="utf-8")
        mark = len(daemon.lines)
        daemon.kill(signal.SIGHUP)
        await daemon.wait_until(lambda: "RELOAD ok" in daemon.lines[mark:], 30, "the good reload")
        await daemon.wait_cycles("shop-a", 1, within=60)
        assert daemon.alive
        assert await daemon.stop() == 0
    finally:
        await daemon.ensure_dead()
        await zygote.close()
        await host.stop()
    scan_for_secrets(dict(host.tokens(), corpus_read=READ_TOKEN, corpus_write=WRITE_TOKEN, literal=LITERAL),
                     logs=[log], dbs=[tmp_path / "bidder.db"])


async def test_absurd_values_from_wb_are_rejected_or_clamped(tmp_path: Path) -> None:
    """Negative spend, bids in the millions and dates in 2099 in WB's replies: nothing absurd is stored,
    no absurd bid is sent, the daemon keeps running and says why."""
    host = await SimHost("demo", speed=120.0).start()
    host.sim.market.advance(host.sim.now())
    zygote = await Zygote().start()
    seller = host.sim.sellers["shop-a"]
    db = tmp_path / "bidder.db"
    log = tmp_path / "daemon.log"
    daemon = Daemon(zygote, demo_config(tmp_path / "bidder.yaml"), f"sqlite+aiosqlite:///{db}", host,
                    {"WB_READ_TOKEN": seller.read_token, "WB_WRITE_TOKEN": seller.write_token}, log)
    try:
        await daemon.start()
        await daemon.wait_ready()
        await daemon.wait_cycles("shop-a", 1, within=90)
        await host.faults({"absurd_rate": 1.0}, seller="shop-a")
        await daemon.wait_cycles("shop-a", 4, ok=None, within=120)
        assert host.sim.injected["absurd"] > 0
        assert daemon.alive
        await host.faults({"absurd_rate": 0.0}, seller="shop-a")
        await daemon.wait_cycles("shop-a", 1, within=120)
        assert await daemon.stop() == 0
    finally:
        await daemon.ensure_dead()
        await zygote.close()
    try:
        now = host.sim.now()
        assert not query(db, "SELECT * FROM daily_stats WHERE spend < 0"), "negative spend stored"
        future = (now + timedelta(days=2)).date().isoformat()
        assert not query(db, "SELECT * FROM daily_stats WHERE day > ?", (future,)), "future days stored"
        assert not query(db, "SELECT * FROM cluster_stats WHERE spend < 0"), "negative cluster spend stored"
        await host.settle()
        assert_books(db, host.sim.market, max_bid_minor=800 * 100)
        said = log.read_text(errors="replace")
        kinds = {r["kind"] for r in alerts(db)}
        assert "absurd" in said.lower() or "api_drift" in kinds or "account_failing" in kinds, tail(log, 20)
    finally:
        await host.stop()
    scan_for_secrets(host.tokens(), logs=[log], dbs=[db])



async def test_each_absurd_value_is_rejected_with_its_reason(caplog) -> None:
    """The read client over HTTP, one absurdity at a time (the simulator's ``absurd_rate`` changes them
    all in a reply; each model check alone is shown here): a bid in the millions, negative spend, a
    statistics day in the future: SchemaDrift naming the field or the date."""
    import aiohttp
    import pytest
    from pydantic import SecretStr

    from bidder.errors import SchemaDrift
    from bidder.wb import schemas
    from bidder.wb.pacing import Pacer
    from bidder.wb.tokens import read_token
    from bidder.wb.writer import make_reader

    caplog.set_level(logging.DEBUG)
    host = await SimHost("demo", speed=60.0).start()
    try:
        seller = host.sim.sellers["shop-a"]
        async with aiohttp.ClientSession() as session:
            reader = make_reader(session, read_token(SecretStr(seller.read_token), now=host.clock.now()), Pacer(host.clock), host.clock,
                                 base_url=host.url)
            today = host.sim.now().date()
            assert await reader.campaigns([1000001]) and await reader.fullstats([1000001], today, today)
            await host.faults({"absurd_rate": 1.0}, seller="shop-a")
            with pytest.raises(SchemaDrift, match=r"a current bid of \d+ minor units is above \d+ \(100000 bid steps\)"):
                await reader.campaigns([1000001])
            with pytest.raises(SchemaDrift, match=r"sum: Input should be greater than or equal to 0"):
                await reader.fullstats([1000001], today, today)
        # a future day alone (spend left alone) is caught by the client's date-range check
        item = schemas.FullStatsItem.model_validate({"advertId": 1, "days": [
            {"date": "2099-01-01T00:00:00+03:00", "apps": [{"nms": [{"nmId": 5, "sum": 10}]}]}]})
        assert item.to_domain()[0].day.year == 2099  # the model keeps it; WBClient.fullstats rejects it
    finally:
        await host.stop()
    assert "reply does not parse" in caplog.text
    scan_for_secrets(host.tokens(), messages=[caplog.text])
