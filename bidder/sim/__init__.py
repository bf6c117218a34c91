"""The WB Promotion API simulator: an aiohttp app over a seeded ad market (see docs in app.py, market.py).

Public entry points: :func:`bidder.sim.testing.start_simulator`, :class:`bidder.sim.app.Simulator`,
:class:`bidder.sim.market.Market`, :func:`bidder.sim.scenarios.build_scenario`.
"""
