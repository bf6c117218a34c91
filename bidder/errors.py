"""The exception taxonomy that drives the loop.

The engine acts on the type, one account at a time:
- TemporaryError: retry at the next tick (the client has already retried with back-off);
- RateLimited: wait for the server's hint;
- AuthFailed: stop this account's writes and alert;
- BadRequest: do not retry; record and alert with WB's detail;
- SchemaDrift / EndpointGone: WB changed the API; skip, alert once;
- ConfigError: refuse to start (or keep the old config on reload).

No exception text ever contains a token: build messages from method names, ids and WB's detail only.
"""

from __future__ import annotations

from dataclasses import dataclass


class BidderError(Exception):
    """Base of every error the bidder raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(BidderError):
    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class TokenError(BidderError):
    """A token cannot be used (malformed, wrong category, read-only for writes, Base type, expired)."""


class WBError(BidderError):
    """Anything that went wrong talking to WB. ``method`` names the endpoint (e.g. 'GET /adv/v3/fullstats')."""

    def __init__(self, message: str, *, method: str = "", status: int | None = None) -> None:
        self.method = method
        self.status = status
        prefix = f"{method}: " if method else ""
        code = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"{prefix}{code}{message}")


class TemporaryError(WBError):
    """5xx, timeouts, connection errors after the client's own retries."""


class RateLimited(TemporaryError):
    def __init__(self, message: str, *, retry_after: float, method: str = "", status: int | None = 429) -> None:
        self.retry_after = retry_after
        super().__init__(message, method=method, status=status)


class AuthFailed(WBError):
    """401 or 403: the token is wrong, expired, revoked or lacks the scope."""


class BadRequest(WBError):
    def __init__(self, detail: str, *, field: str | None = None, method: str = "", status: int | None = 400) -> None:
        self.detail = detail
        self.field = field
        super().__init__(detail + (f" (field {field})" if field else ""), method=method, status=status)


class SchemaDrift(WBError):
    """A 200 whose body does not parse: WB changed a reply. ``sample`` is a redacted, truncated raw body."""

    def __init__(self, message: str, *, sample: str = "", method: str = "", status: int | None = 200) -> None:
        self.sample = sample
        super().__init__(message, method=method, status=status)


class EndpointGone(WBError):
    """404 'path not found': WB removed or moved the endpoint."""
