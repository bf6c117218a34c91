"""The WB Promotion API simulator: an aiohttp app over a seeded, pure ad market.

Entry points
------------
* ``await start_simulator(scenario="demo", *, seed=1, clock=None, port=0, speed=None)``
  (:mod:`bidder.sim.testing`) -> ``RunningSimulator`` with ``.url``, ``.sim``, ``await .stop()``; also
  ``async with await start_simulator(...) as running``. Default clock: ``ScaledClock(scenario start, speed or 1)``.
* ``Simulator`` (:mod:`bidder.sim.app`): ``.sellers[name]`` (``SimSeller``: ``seller_id``, ``read_token``,
  ``write_token``, ``base_token``, ``token_ids``), ``.market`` (:class:`bidder.sim.market.Market`),
  ``.clock``, ``.faults``, ``.revoked`` (token ids), ``.revoke(seller, "read"|"write"|"both")``, ``.report()``.
* ``Market(spec, seed, start=None)`` (:mod:`bidder.sim.market`): the pure market; API in its docstring.
* ``build_scenario(name, seed)`` (:mod:`bidder.sim.scenarios`): ``demo``, ``faults``, ``scale``,
  ``scale:SxC[xI]``, ``small`` (YAML) or a ``*.yaml`` path.
* ``python -m bidder.sim --port P --scenario NAME [--speed K] [--seed S]``.

HTTP
----
Promotion endpoints (see :data:`bidder.sim.app.ENDPOINTS`), the public search
``GET /exactmatch/ru/common/v18/search``, and inspection: ``GET /__sim/report`` (the same JSON as
``Simulator.report()``, keys in :mod:`bidder.sim.report`), ``GET|POST /__sim/faults``
(``{"seller": name | null, "settings": {...}}``, settings in :mod:`bidder.sim.faults`),
``POST /__sim/revoke`` (``{"seller": name, "token": "read"|"write"|"both"}``).
"""
