"""The simulator over real HTTP with faults per endpoint and per campaign, for the engine's safety tests.

The simulator's own fault injection (``bidder.sim.faults``) works per seller; these tests need a fault
on one endpoint (fullstats answering 502 while pauses go through), on one campaign (a 400 from
``bids/min`` for it alone), or on a reply that WB handled (a PATCH applied whose 200 does not parse). A
middleware in front of the real simulator app does that: a matching request is answered by the rule
(``before``: WB never handles it) or handled and its reply replaced (``after``), or its JSON reply
changed (``transform``). Every request is logged in ``seen`` (method, path, query, body).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.streams import StreamReader

from bidder.app import build_app
from bidder.config import load_config
from bidder.settings import Settings
from bidder.sim.app import Simulator, create_app
from bidder.sim.scenarios import build_scenario

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bidder.yaml"


@dataclass
class Rule:
    method: str
    path: str
    status: int = 502
    body: str = "Bad Gateway"
    content_type: str = "text/plain"
    match: Callable[[dict], bool] | None = None  # on the request record (query, body)
    after: bool = False  # handle the request, then answer with status/body instead of WB's reply
    transform: Callable[[Any, dict], Any] | None = None  # change the JSON reply (data, request record)
    times: int | None = None  # None: until removed
    hits: int = 0

    def matches(self, rec: dict) -> bool:
        if rec["method"] != self.method or rec["path"] != self.path:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        return self.match is None or self.match(rec)


@dataclass
class FaultySim:
    sim: Simulator
    url: str = ""
    rules: list[Rule] = field(default_factory=list)
    seen: list[dict] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    def add(self, rule: Rule) -> Rule:
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def requests(self, method: str, path: str) -> list[dict]:
        return [r for r in self.seen if r["method"] == method and r["path"] == path]

    def settle(self, clock, seconds: float = 61) -> dict:
        """Let WB's bid tick (30 s) and status tick (next minute) pass; what the market applied."""
        clock.advance(seconds)
        self.sim.market.advance(clock.now())
        return self.sim.report()

    def status(self, advert_id: int) -> int:
        return self.sim.market.campaign(advert_id).status

    async def start(self) -> FaultySim:
        app = create_app(self.sim)

        @web.middleware
        async def faults(request: web.Request, handler):
            raw = await request.read() if request.can_read_body else b""
            if raw:  # give the simulator's handler the body again (read() consumed the stream)
                replay = StreamReader(request.protocol, 2**16, loop=asyncio.get_running_loop())
                replay.feed_data(raw)
                replay.feed_eof()
                request._payload = replay  # type: ignore[attr-defined]
                request._read_bytes = None  # type: ignore[attr-defined]
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            rec = {"method": request.method, "path": request.path, "query": dict(request.query), "body": body}
            self.seen.append(rec)
            rule = next((r for r in self.rules if r.matches(rec)), None)
            if rule is not None:
                rule.hits += 1
            if rule is not None and not rule.after and rule.transform is None:
                return web.Response(status=rule.status, text=rule.body, content_type=rule.content_type)
            response = await handler(request)
            if rule is not None and rule.transform is not None and response.status == 200:
                data = rule.transform(json.loads(response.text), rec)
                return web.Response(status=200, text=json.dumps(data, ensure_ascii=False),
                                    content_type="application/json")
            if rule is not None and rule.after:
                return web.Response(status=rule.status, text=rule.body, content_type=rule.content_type)
            return response

        app.middlewares.append(faults)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def faulty_sim(clock, scenario: str = "demo", seed: int = 1) -> FaultySim:
    spec = build_scenario(scenario, seed)
    sim = Simulator(spec, seed=seed, clock=clock)
    return await FaultySim(sim).start()


async def app_for(fs: FaultySim, tmp_path: Path, clock, *, config_path: Path = EXAMPLE, db: str = "bidder.db"):
    seller = fs.sim.sellers["shop-a"]
    env = {"WB_READ_TOKEN": seller.read_token, "WB_WRITE_TOKEN": seller.write_token}
    config = load_config(config_path, env)
    settings = Settings(config=config_path, database_url=f"sqlite+aiosqlite:///{tmp_path / db}",
                        wb_advert_url=fs.url, http_port=0)
    config = config.model_copy(update={"stop_file": tmp_path / "STOP"})
    return await build_app(settings, clock=clock, config=config)


def adverts_in(rec: dict) -> set[int]:
    """The campaign ids a request names (query ``id``/``advert_id``/``ids``, or a JSON body's ``advert_id``)."""
    out: set[int] = set()
    for key in ("id", "advert_id", "advertId", "ids"):
        for part in str(rec["query"].get(key, "")).split(","):
            if part.strip().isdigit():
                out.add(int(part))
    _collect(rec["body"], out)
    return out


def _collect(obj: Any, out: set[int]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("advert_id", "advertId", "id") and isinstance(v, int):
                out.add(v)
            else:
                _collect(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _collect(v, out)
