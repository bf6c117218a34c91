"""``python -m bidder.sim --port P --scenario NAME [--speed K] [--seed S]``: run the simulator.

Prints the base URL and each seller's simulator tokens (minted locally; not secrets).
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from bidder.sim.scenarios import SCENARIOS
from bidder.sim.testing import start_simulator


async def _run(args: argparse.Namespace) -> None:
    running = await start_simulator(args.scenario, seed=args.seed, port=args.port, speed=args.speed,
                                    host=args.host)
    sim = running.sim
    print(f"simulator {sim.spec.name} (seed {args.seed}) at {running.url}; clock {sim.now().isoformat()}"
          f" x{sim.clock.speed:g}", flush=True)
    for name, s in list(sim.sellers.items())[: args.show_sellers]:
        print(f"seller {name} sid={s.seller_id}")
        print(f"  read_token={s.read_token}")
        print(f"  write_token={s.write_token}", flush=True)
    if len(sim.sellers) > args.show_sellers:
        print(f"... and {len(sim.sellers) - args.show_sellers} more sellers", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # pragma: no cover
            pass
    await stop.wait()
    await running.stop()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bidder.sim", description="WB Promotion API simulator")
    p.add_argument("--port", type=int, default=8088)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--scenario", default="demo", help=f"{', '.join(SCENARIOS)} or scale:SxC[xI]")
    p.add_argument("--speed", type=float, default=None, help="simulated seconds per real second")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--show-sellers", type=int, default=5)
    asyncio.run(_run(p.parse_args(argv)))


if __name__ == "__main__":
    main()
