"""The Host-header check against DNS rebinding: a page on some web site whose name its owner points at
127.0.0.1 could otherwise read the dashboard from the user's browser (same origin as far as the browser
knows). Every dashboard request must name an allowed host: 127.0.0.1, localhost, ::1, the configured bind
host (``BIDDER_HTTP_HOST``, unless a wildcard) and the names in ``BIDDER_DASHBOARD_HOSTS`` (comma-separated,
for a dashboard reached by another name, e.g. behind a reverse proxy or from the LAN). ``/healthz`` and
``/metrics`` are not checked (Prometheus and orchestrators address them by whatever name they use; they
carry no secrets and no actions)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})
UNCHECKED = frozenset({"/healthz", "/metrics"})


def allowed_hosts(bind_host: str | None, extra: Iterable[str] | str | None = ()) -> frozenset[str]:
    """The host names (lower case, no port) the dashboard answers to."""
    names = set(LOOPBACK)
    if isinstance(extra, str):
        extra = extra.split(",")
    for name in (bind_host, *(extra or ())):
        name = (name or "").strip().lower().strip("[]")
        if name not in WILDCARDS:
            names.add(name)
    return frozenset(names)


def host_name(header: str | None) -> str | None:
    """``example.com:8080`` -> ``example.com``; ``[::1]:8080`` -> ``::1``; None when absent or malformed."""
    value = (header or "").strip().lower()
    if not value:
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or (value[end + 1:] and not value[end + 1:].startswith(":")):
            return None
        return value[1:end]
    if value.count(":") > 1:  # a bare IPv6 address is not a valid Host header
        return None
    name, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    return name.rstrip(".") or None


def host_check(allowed: frozenset[str]) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def check(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        if request.path not in UNCHECKED and host_name(request.headers.get("Host")) not in allowed:
            return web.Response(status=421, text="misdirected request: this host name is not served here\n",
                                headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
        return await handler(request)

    return check
