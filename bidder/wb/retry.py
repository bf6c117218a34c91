"""The retry policy of idempotent reads, and what counts as a transient fault (issue 14, defect 3).

A read (GET, or a POST that only reads: minimum bids, search-cluster stats and bids) is retried on a
transient fault: a 5xx, a timeout, a dropped or refused connection, and a 200 whose body is not JSON at
all (truncated, empty where an object was due, an HTML page from a proxy or a captive portal). Up to
``RETRIES`` retries after the first try, with exponential back-off plus jitter slept on the injected
clock, each attempt paced by the shared pacer; then the client raises :class:`~bidder.errors.TemporaryError`
(the cycle holds and alerts once per failing account). Only a body that IS JSON but does not fit the
schema is :class:`~bidder.errors.SchemaDrift` ("WB changed the API").

Writes are never retried here: after a write may have reached WB the writer re-reads state first.
"""

from __future__ import annotations

from dataclasses import dataclass

from bidder.errors import TemporaryError

RETRIES = 3  # retries after the first try (so at most 4 attempts per read)
BACKOFF = 0.5  # seconds before the first retry; doubled each time (0.5, 1, 2), plus up to 50 % jitter
FACTOR = 2.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = RETRIES
    backoff: float = BACKOFF
    factor: float = FACTOR

    @property
    def attempts(self) -> int:
        return 1 + max(0, self.retries)

    def delay(self, retry: int) -> float:
        """Base back-off before retry number ``retry`` (0-based), before jitter."""
        return self.backoff * self.factor ** max(0, retry)


DEFAULT = RetryPolicy()


class NotJSON(TemporaryError):
    """A 2xx whose body is not JSON: transport garbage (truncated body, proxy HTML page), not API drift."""


def looks_like_html(body: bytes) -> bool:
    head = body.lstrip()[:64].lower()
    return head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body", b"<"))


def not_json_reason(body: bytes) -> str:
    """A short, secret-free description of a body that failed to decode as JSON."""
    if looks_like_html(body):
        return "an HTML page instead of JSON (a proxy or gateway answered)"
    return f"a body that is not JSON ({len(body)} bytes; truncated?)"
