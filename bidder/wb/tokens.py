"""WB API tokens: JWT claims decoded without a signature check (REFERENCE.md §4).

A token string never leaves this module inside an error or a repr: :class:`TokenInfo` holds only claims.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

from bidder.errors import TokenError

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
