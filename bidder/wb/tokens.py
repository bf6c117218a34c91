"""WB API tokens: JWT claims decoded without a signature check (REFERENCE.md §4).

A token is decoded and checked once, in the composition root, by :func:`load_tokens` (or
:func:`read_token` / :func:`write_token`); the result, a :class:`WBToken`, is what the client and the
writers take. Nothing below the composition root decodes a token again.

A token string never leaves this module inside an error or a repr: :class:`TokenInfo` holds only claims,
and :class:`WBToken` keeps the string in a ``SecretStr``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import jwt
from pydantic import SecretStr

from bidder.errors import TokenError
from bidder.redact import register_secret

log = logging.getLogger(__name__)

PROMOTION_BIT = 6
READ_ONLY_BIT = 30
CATEGORY_BITS: dict[int, str] = {
    1: "Content",
    2: "Analytics",
    3: "Prices & Discounts",
    4: "Marketplace",
    5: "Statistics",
    6: "Promotion",
    7: "Feedbacks & Questions",
    9: "Buyers chat",
    10: "Supplies",
    11: "Buyers returns",
    12: "Documents",
    13: "Finance",
    16: "Users",
}
TOKEN_TYPES = {1: "Base", 2: "Test", 3: "Personal", 4: "Service"}
EXPIRY_WARNING_DAYS = 14
EXPIRY_ALERT_DAYS = (14, 3, 1)  # a token's expiry is alerted once at each of these (issue 14, defect 10)
EXPIRY_CHECK_EVERY = 86400.0  # seconds of clock time between checks of a running daemon (at least daily)


def expiry_alert_due(days_left: float | None, alerted: int | None) -> int | None:
    """The threshold of EXPIRY_ALERT_DAYS to alert now, or None. ``alerted`` is the smallest threshold
    already alerted for this token (None: none). A token found with 2 days left alerts once (for 3), not
    three times."""
    if days_left is None:
        return None
    crossed = [t for t in EXPIRY_ALERT_DAYS if days_left <= t]
    if not crossed:
        return None
    tightest = min(crossed)
    if alerted is not None and alerted <= tightest:
        return None
    return tightest


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token_id: str
    seller_id: str
    type: str  # Base / Test / Personal / Service / unknown(N)
    scopes: int
    expires_at: datetime | None
    sandbox: bool

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(name for bit, name in CATEGORY_BITS.items() if self.scopes & (1 << bit))

    @property
    def promotion(self) -> bool:
        return bool(self.scopes & (1 << PROMOTION_BIT))

    @property
    def read_only(self) -> bool:
        return bool(self.scopes & (1 << READ_ONLY_BIT))

    def days_left(self, now: datetime) -> float | None:
        if self.expires_at is None:
            return None
        return (self.expires_at - now).total_seconds() / 86400

    def expired(self, now: datetime) -> bool:
        left = self.days_left(now)
        return left is not None and left <= 0

    def problems_for(self, *, write: bool, now: datetime) -> list[str]:
        """Why this token cannot serve as a read (or write) token for the Promotion API; empty if fine."""
        problems = []
        if not self.promotion:
            problems.append("the token lacks the Promotion category")
        if self.type == "Base":
            problems.append("a Base token gets hourly quotas on the Promotion API; use a Personal or Service token")
        if write and self.read_only:
            problems.append("the write token is read-only")
        if self.expired(now):
            problems.append(f"the token expired on {self.expires_at:%Y-%m-%d}")
        return problems


def decode_token(raw: str) -> TokenInfo:
    """Decode a WB token's claims. Raises TokenError (without the token text) when it is not a WB JWT."""
    raw = (raw or "").strip()
    if raw.lower().startswith("bearer "):
        raw = raw[7:].strip()
    try:
        claims = jwt.decode(raw, options={"verify_signature": False, "verify_exp": False})
    except jwt.PyJWTError as exc:
        raise TokenError(f"the token is not a valid JWT ({type(exc).__name__})") from None
    if not isinstance(claims, dict):
        raise TokenError("the token's payload is not a JSON object")
    try:
        scopes = int(claims.get("s", 0))
    except (TypeError, ValueError):
        raise TokenError("the token's 's' claim is not an integer") from None
    acc = claims.get("acc")
    exp = claims.get("exp")
    expires_at = None
    if exp is not None:
        try:
            expires_at = datetime.fromtimestamp(int(exp), UTC)
        except (TypeError, ValueError, OverflowError):
            raise TokenError("the token's 'exp' claim is not a timestamp") from None
    return TokenInfo(
        token_id=str(claims.get("id", "")),
        seller_id=str(claims.get("sid", "")),
        type=TOKEN_TYPES.get(acc, f"unknown({acc})") if acc is not None else "Personal",
        scopes=scopes,
        expires_at=expires_at,
        sandbox=claims.get("t") is True,
    )


@dataclass(frozen=True, slots=True)
class WBToken:
    """A WB token decoded and checked once: the secret (sent as the ``Authorization`` header) and its
    claims. Build it with :func:`read_token` / :func:`write_token` (or :func:`load_tokens`); a
    ``role="write"`` token has passed the write checks."""

    secret: SecretStr
    info: TokenInfo
    role: Literal["read", "write"]

    def __repr__(self) -> str:
        return f"WBToken(role={self.role!r}, seller_id={self.info.seller_id!r}, type={self.info.type!r})"

    @property
    def seller_id(self) -> str:
        return self.info.seller_id

    @property
    def sandbox(self) -> bool:
        return self.info.sandbox

    @property
    def can_write(self) -> bool:
        return self.info.promotion and not self.info.read_only


@dataclass(frozen=True, slots=True)
class AccountTokens:
    """One account's tokens, decoded and checked once. ``write`` is None in dry-run (never loaded) or
    when no write token is configured."""

    read: WBToken
    write: WBToken | None = None


def _warn_expiry(info: TokenInfo, role: str, now: datetime) -> None:
    left = info.days_left(now)
    if left is not None and left < EXPIRY_WARNING_DAYS:
        log.warning("the %s token of seller %s expires in %.0f days; create a new one", role, info.seller_id, left)


def read_token(secret: SecretStr, *, now: datetime) -> WBToken:
    """Decode and check a read token. Raises TokenError (without the token text) for a token that is not
    a WB JWT, a Base token, one without Promotion, or an expired one."""
    raw = secret.get_secret_value()
    register_secret(raw)
    info = decode_token(raw)
    if info.type == "Base":
        raise TokenError(
            "the read token is a Base token: WB gives Base tokens hourly quotas on the Promotion API "
            "(a bidder would stall); create a Personal or Service token with the Promotion category"
        )
    problems = info.problems_for(write=False, now=now)
    if problems:
        raise TokenError("the read token cannot be used: " + "; ".join(problems))
    _warn_expiry(info, "read", now)
    if not info.read_only:
        log.info("the read token of seller %s can also write; a read-only token is safer", info.seller_id)
    return WBToken(secret, info, "read")


def write_token(secret: SecretStr | None, *, now: datetime, reader: WBToken | None = None) -> WBToken:
    """Decode and check a write token: refuses (TokenError) a missing token, a read-only one, one without
    Promotion, a Base token, an expired one, or one of another seller than ``reader``'s."""
    if secret is None or not secret.get_secret_value().strip():
        raise TokenError("no write token configured: live writes need a Promotion token with write access (or use dry-run)")
    raw = secret.get_secret_value()
    register_secret(raw)
    info = decode_token(raw)
    problems = info.problems_for(write=True, now=now)
    if problems:
        raise TokenError("the write token cannot be used: " + "; ".join(problems))
    if reader is not None and info.seller_id and reader.seller_id and info.seller_id != reader.seller_id:
        raise TokenError("the write token belongs to another seller account than the read token")
    _warn_expiry(info, "write", now)
    return WBToken(secret, info, "write")


ANALYTICS_BIT = 2


def analytics_token(secret: SecretStr, *, now: datetime) -> WBToken:
    """Decode and check the Analytics read token of the search report (POSITIONS.md §2): a WB JWT with the
    Analytics category, not expired. Raises TokenError (without the token text)."""
    raw = secret.get_secret_value()
    register_secret(raw)
    info = decode_token(raw)
    if not info.scopes & (1 << ANALYTICS_BIT):
        raise TokenError("the search-report token cannot be used: it lacks the Analytics category")
    if info.expired(now):
        raise TokenError(f"the search-report token expired on {info.expires_at:%Y-%m-%d}")
    _warn_expiry(info, "analytics", now)
    return WBToken(secret, info, "read")


def load_tokens(read: SecretStr, write: SecretStr | None, *, now: datetime) -> AccountTokens:
    """An account's tokens for the composition root: the read token always, the write token when given
    (pass None in dry-run: it is then not even decoded)."""
    r = read_token(read, now=now)
    return AccountTokens(r, write_token(write, now=now, reader=r) if write is not None else None)


def scopes_for(categories: tuple[int, ...] = (PROMOTION_BIT,), *, read_only: bool = False) -> int:
    value = 0
    for bit in categories:
        value |= 1 << bit
    if read_only:
        value |= 1 << READ_ONLY_BIT
    return value


def mint_token(
    seller_id: str,
    *,
    read_only: bool = False,
    categories: tuple[int, ...] = (PROMOTION_BIT,),
    acc: int = 3,
    expires_at: datetime | None = None,
    sandbox: bool = False,
    token_id: str | None = None,
) -> str:
    """Make a WB-shaped JWT for the simulator, the demo and tests (signed with a local dummy key;
    WB tokens are never verified here)."""
    claims: dict = {
        "id": token_id or str(uuid.uuid4()),
        "s": scopes_for(categories, read_only=read_only),
        "sid": seller_id,
        "acc": acc,
        "exp": int((expires_at or datetime(2027, 5, 1, tzinfo=UTC)).timestamp()),
        "ent": 1,
    }
    if acc == 3:
        claims["for"] = "self"
    if sandbox:
        claims["t"] = True
    return jwt.encode(claims, "bidder-simulator-dummy-signing-key-not-a-secret", algorithm="HS256")
