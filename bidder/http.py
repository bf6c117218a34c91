"""The daemon's own small HTTP server: ``GET /healthz`` and ``GET /metrics``.

``start_http`` binds whatever port it is given (``0`` picks a free one, which tests use); the app decides
whether to start it at all (``BIDDER_HTTP_PORT=0`` means off). ``check_health`` is the body of
``bidder check`` (the Docker ``HEALTHCHECK``): a blocking stdlib GET, no event loop, exit code 0 or 1.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TextIO

from aiohttp import web

from bidder.clock import Clock
from bidder.health import Health
from bidder.metrics import CONTENT_TYPE, Metrics

DEFAULT_HOST = "127.0.0.1"

HEALTH_KEY = web.AppKey("health", Health)
METRICS_KEY = web.AppKey("metrics", Metrics)
CLOCK_KEY = web.AppKey("clock", Clock)


async def _healthz(request: web.Request) -> web.Response:
    health = request.app[HEALTH_KEY]
    body = health.report(request.app[CLOCK_KEY].now())
    status = 200 if body["status"] == "ok" else 503
    return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})


async def _metrics(request: web.Request) -> web.Response:
    payload = request.app[METRICS_KEY].render()
    return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"})


def make_app(health: Health, metrics: Metrics, clock: Clock,
             extra: Callable[[web.Application], object] | None = None) -> web.Application:
    """``extra(app)`` adds more routes (the dashboard, :func:`bidder.dashboard.setup_dashboard`)."""
    app = web.Application()
    app[HEALTH_KEY] = health
    app[METRICS_KEY] = metrics
    app[CLOCK_KEY] = clock
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    if extra is not None:
        extra(app)
    return app


class HttpServer:
    """A started server: ``.host``, ``.port`` (the bound one), ``.url`` and ``await .stop()``."""

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self._runner = runner
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> HttpServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def start_http(
    port: int, host: str | None, health: Health, metrics: Metrics, clock: Clock,
    extra: Callable[[web.Application], object] | None = None,
) -> HttpServer:
    """Serve ``/healthz`` and ``/metrics`` on ``host:port`` (``host`` None: 127.0.0.1; ``port`` 0: any)."""
    host = host or DEFAULT_HOST
    runner = web.AppRunner(
        make_app(health, metrics, clock, extra), access_log=None, handle_signals=False, shutdown_timeout=1.0
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = port
    for addr in runner.addresses:
        if isinstance(addr, tuple) and len(addr) >= 2:
            bound = int(addr[1])
            break
    return HttpServer(runner, host, bound)


def probe_host(bind_host: str | None) -> str:
    """Where to reach a server bound to ``bind_host``: wildcard and unset mean the loopback address."""
    if not bind_host or bind_host in ("0.0.0.0", "*"):
        return DEFAULT_HOST
    if bind_host == "::":
        return "::1"
    return bind_host


def check_health(
    port: int, host: str | None = None, *, timeout: float = 5.0, out: TextIO | None = None
) -> int:
    """GET ``/healthz``; print one line; 0 when the daemon answers 200, 1 otherwise (``bidder check``).

    ``host`` is the daemon's bind address (BIDDER_HTTP_HOST); None or a wildcard probes 127.0.0.1.
    """
    out = out if out is not None else sys.stdout
    if port == 0:
        print("unhealthy: the HTTP server is off (BIDDER_HTTP_PORT=0), nothing to check", file=out)
        return 1
    target = probe_host(host)
    url = f"http://{f'[{target}]' if ':' in target else target}:{port}/healthz"
    try:
        # No proxies: HTTP(S)_PROXY in the environment must not reroute a loopback health probe.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        print(f"unhealthy: cannot reach {url}: {reason}", file=out)
        return 1
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    if status == 200 and isinstance(body, dict) and body.get("status") == "ok":
        print("ok", file=out)
        return 0
    reasons = body.get("reasons") if isinstance(body, dict) else None
    detail = "; ".join(map(str, reasons)) if reasons else f"HTTP {status}"
    print(f"unhealthy: {detail}", file=out)
    return 1
