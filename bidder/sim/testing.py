"""Start the simulator in-process on a loopback port (tests, benchmarks, ``bidder demo``).

    async with await start_simulator("demo", clock=clock) as running:
        running.url, running.sim.sellers["shop-a"].read_token, running.sim.report()
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bidder.clock import Clock, ScaledClock
from bidder.sim.app import Simulator, create_app
from bidder.sim.market import ScenarioSpec
from bidder.sim.scenarios import build_scenario


class RunningSimulator:
    def __init__(self, sim: Simulator, runner: web.AppRunner, url: str) -> None:
        self.sim = sim
        self.url = url
        self._runner = runner

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> RunningSimulator:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def __await__(self):  # ``async with await start_simulator()`` and ``async with start_simulator()``
        async def _self() -> RunningSimulator:
            return self

        return _self().__await__()


async def start_simulator(
    scenario: str | ScenarioSpec = "demo",
    *,
    seed: int = 1,
    clock: Clock | None = None,
    port: int = 0,
    speed: float | None = None,
    host: str = "127.0.0.1",
) -> RunningSimulator:
    """Start the simulator app on ``host:port`` (0: a free port) and return it running.
    Default clock: ``ScaledClock(scenario start, speed or 1)``."""
    spec = scenario if isinstance(scenario, ScenarioSpec) else build_scenario(scenario, seed)
    if clock is None:
        clock = ScaledClock(spec.start, speed or 1.0)
    sim = Simulator(spec, seed=seed, clock=clock)
    runner = web.AppRunner(create_app(sim), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
    actual = sockets[0].getsockname()[1] if sockets else port
    return RunningSimulator(sim, runner, f"http://{host}:{actual}")
