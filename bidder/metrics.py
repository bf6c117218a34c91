"""Prometheus metrics for the daemon.

Each :class:`Metrics` owns its own :class:`~prometheus_client.CollectorRegistry` (never the process-global
one), so tests and an in-process simulator can create as many as they like. The engine calls the small
methods below; ``GET /metrics`` serves :meth:`Metrics.render`.

Label values are bounded: API ``method`` is the client's method group (``count``, ``fullstats``,
``set_bids`` ...), ``status`` an HTTP status code or a transport-error word, ``action`` a decision action,
``account`` the configured account name.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

NAMESPACE = "bidder"

#: What ``GET /metrics`` answers with: the classic text format ``generate_latest`` produces.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# A cycle polls, evaluates and applies over the network: from sub-second to minutes when paced.
CYCLE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.api_calls = Counter(
            "api_calls", "WB API requests by method group and HTTP status (or transport error)",
            ["method", "status"], namespace=NAMESPACE, registry=r,
        )
        self.api_rate_limited = Counter(
            "api_rate_limited", "WB API answers with HTTP 429, by method group",
            ["method"], namespace=NAMESPACE, registry=r,
        )
        self.decisions = Counter(
            "decisions", "Decisions taken by the engine, by action",
            ["action"], namespace=NAMESPACE, registry=r,
        )
        self.bid_changes = Counter(
            "bid_changes", "Bid changes applied (or recorded in dry-run), by account",
            ["account"], namespace=NAMESPACE, registry=r,
        )
        self.write_intents = Counter(
            "write_intents", "Write intents by final status (applied, failed, reconciled, dry_run ...)",
            ["status"], namespace=NAMESPACE, registry=r,
        )
        self.cycles = Counter(
            "cycles", "Completed account cycles by result (ok or error)",
            ["account", "result"], namespace=NAMESPACE, registry=r,
        )
        self.cycle_duration = Histogram(
            "cycle_duration_seconds", "Duration of one account's poll, evaluate and apply cycle",
            ["account"], namespace=NAMESPACE, registry=r, buckets=CYCLE_BUCKETS,
        )
        self.last_success = Gauge(
            "last_successful_cycle_timestamp_seconds",
            "Unix time at which the account's last successful cycle finished",
            ["account"], namespace=NAMESPACE, registry=r,
        )
        self.alerts = Counter(
            "alerts", "Operator alerts by outcome (sent or failed)",
            ["outcome"], namespace=NAMESPACE, registry=r,
        )
        # Make the unlabelled-looking families visible with zeros from the first scrape.
        self.alerts.labels("sent")
        self.alerts.labels("failed")

    # --- what the engine calls -------------------------------------------------------------------------

    def api_call(self, method: str, status: int | str, n: int = 1) -> None:
        """``n`` finished WB requests; ``status`` is the HTTP code, or e.g. ``"timeout"``/``"conn"``.

        Counts calls only: a 429 is also reported with :meth:`rate_limited`.
        """
        self.api_calls.labels(method, str(status)).inc(n)

    def rate_limited(self, method: str, n: int = 1) -> None:
        """``n`` HTTP 429 answers for ``method``."""
        self.api_rate_limited.labels(method).inc(n)

    def decision(self, action: str, n: int = 1) -> None:
        self.decisions.labels(str(action)).inc(n)

    def bid_changed(self, account: str, n: int = 1) -> None:
        self.bid_changes.labels(account).inc(n)

    def write_intent(self, status: str) -> None:
        self.write_intents.labels(str(status)).inc()

    def cycle(self, account: str, seconds: float, ok: bool, at: datetime | float) -> None:
        """One account cycle finished after ``seconds``; ``at`` is when (aware datetime or unix time)."""
        self.cycle_duration.labels(account).observe(max(0.0, seconds))
        self.cycles.labels(account, "ok" if ok else "error").inc()
        if ok:
            ts = at.timestamp() if isinstance(at, datetime) else float(at)
            self.last_success.labels(account).set(ts)

    def alert_sent(self) -> None:
        self.alerts.labels("sent").inc()

    def alert_failed(self) -> None:
        self.alerts.labels("failed").inc()

    def forget_account(self, account: str) -> None:
        """Drop an account's labelled series (after a reload removed it from the config)."""
        for family in (self.bid_changes, self.cycle_duration, self.last_success):
            try:
                family.remove(account)
            except KeyError:
                pass
        for result in ("ok", "error"):
            try:
                self.cycles.remove(account, result)
            except KeyError:
                pass

    # --- exposition -----------------------------------------------------------------------------------

    def render(self) -> bytes:
        """The registry in the Prometheus text format (:data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)
