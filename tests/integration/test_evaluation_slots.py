"""Accounts evaluate a few at a time in one process (``bidder.engine.evaluate.EVALUATIONS_AT_ONCE``: the
inputs of 50 accounts' first evaluations otherwise pile up in memory at once), but the safety pass never
waits for a slot: with every slot taken by other accounts' evaluations, ``pause-all`` still goes out to WB
before the cycle's own evaluation, which waits until a slot frees. The daemon against the simulator over
HTTP, on a real SQLite file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine_faults import adverts_in, app_for, faulty_sim

from bidder.clock import FakeClock
from bidder.domain import Status
from bidder.engine.evaluate import EVALUATIONS_AT_ONCE, evaluation_slot

PAUSE = ("GET", "/adv/v0/pause")


async def test_the_safety_pass_goes_out_while_every_evaluation_slot_is_taken(tmp_path: Path) -> None:
    clock = FakeClock()
    fs = await faulty_sim(clock)
    try:
        app = await app_for(fs, tmp_path, clock)
        try:
            [first] = await app.run_once()
            assert first.ok and first.evaluated > 0
            active = {a for a in app.cycles["shop-a"].campaigns if fs.status(a) == Status.ACTIVE}
            assert active
            await app.control.pause("all", by="cli")
            clock.advance(60)
            slot = evaluation_slot()
            for _ in range(EVALUATIONS_AT_ONCE):  # other accounts' evaluations hold every slot
                await slot.acquire()
            task = asyncio.create_task(app.run_once())
            for _ in range(400):
                if fs.requests(*PAUSE):
                    break
                await asyncio.sleep(0.025)
            paused = {a for r in fs.requests(*PAUSE) for a in adverts_in(r)}
            assert paused and paused <= active  # the kill switch did not wait for a slot
            await asyncio.sleep(0.2)
            assert not task.done()  # the cycle's own evaluation waits for one
            for _ in range(EVALUATIONS_AT_ONCE):
                slot.release()
            [result] = await asyncio.wait_for(task, 60)
            assert result.ok and result.evaluated > 0
        finally:
            await app.close()
    finally:
        await fs.stop()
