"""Every exception a cycle can meet, mapped to what the account's health and alerts say about it.

The cycle (:mod:`bidder.engine.cycle`) never lets an exception escape: WB's taxonomy
(:mod:`bidder.errors`) is mapped by type, a database error is named as such, and anything else (a bug, a
value out of every range) fails that cycle as "unexpected" with its type, alerted once by the health
transition; the cycle row is closed and the next cycle runs. ``asyncio.CancelledError`` (shutdown) is
not an ``Exception`` and passes through.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from bidder.errors import AuthFailed, BidderError, EndpointGone, SchemaDrift, TemporaryError, WBError

MAX_DETAIL = 300


@dataclass(frozen=True, slots=True)
class MappedError:
    kind: str  # auth | drift | temporary | wb | database | bidder | unexpected
    message: str  # what the cycle row, the health endpoint and the alert say

    @property
    def drift(self) -> bool:
        return self.kind == "drift"


def map_error(exc: BaseException) -> MappedError:
    """What a cycle's failure is called. Texts carry no token: WB errors are built from method names and
    WB's detail; other exceptions are named by type and a truncated message (the renderer scrubs
    token-shaped strings as well)."""
    if isinstance(exc, AuthFailed):
        return MappedError("auth", f"authorization failed: {exc}")
    if isinstance(exc, SchemaDrift | EndpointGone):
        return MappedError("drift", f"WB API changed: {exc}")
    if isinstance(exc, TemporaryError):
        return MappedError("temporary", f"WB temporarily unavailable: {exc}")
    if isinstance(exc, WBError):
        return MappedError("wb", str(exc))
    if isinstance(exc, SQLAlchemyError):
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0][:MAX_DETAIL]
        return MappedError("database", f"database error: {type(exc).__name__}: {detail}")
    if isinstance(exc, BidderError):
        return MappedError("bidder", f"{type(exc).__name__}: {str(exc)[:MAX_DETAIL]}")
    return MappedError("unexpected", f"unexpected error: {type(exc).__name__}: {str(exc)[:MAX_DETAIL]}")
