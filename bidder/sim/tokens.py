"""The simulator's own WB tokens: it issues them and reads their claims with this code, independent
of the client's decoder (:mod:`bidder.wb.tokens`), so a decoding bug in the client shows in tests.

Written from REFERENCE.md §4 (WB's "Authorization" page): a JWT whose payload carries ``id`` (token id),
``s`` (bitmask: bit 6 Promotion, bit 30 read-only, read as ``s & (1 << N)``), ``sid`` (seller id),
``exp`` (expiry, seconds), ``acc`` (1 Base, 2 Test, 3 Personal, 4 Service), ``for`` and ``t`` (true for
Test/sandbox tokens). Like WB's gateway as far as a bidder can tell, the signature is not checked here.
Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PROMOTION = 6
ANALYTICS = 2
READ_ONLY = 30
ACC_NAMES = {1: "Base", 2: "Test", 3: "Personal", 4: "Service"}
_SIGNING_KEY = b"wb-simulator-dummy-key-not-a-secret"
DEFAULT_EXPIRY = datetime(2027, 5, 1, tzinfo=UTC)


class MalformedToken(ValueError):
    """The Authorization header does not hold a readable JWT (the simulator answers 401)."""


@dataclass(frozen=True, slots=True)
class Claims:
    token_id: str
    seller_id: str
    s: int
    acc: int | None
    exp: int | None
    test: bool

    @property
    def promotion(self) -> bool:
        return bool(self.s >> PROMOTION & 1)

    @property
    def read_only(self) -> bool:
        return bool(self.s >> READ_ONLY & 1)

    @property
    def token_type(self) -> str:
        """Base / Test / Personal / Service; a token without ``acc`` counts as Personal."""
        return ACC_NAMES.get(self.acc, "Personal") if self.acc is not None else "Personal"

    def expired(self, now: datetime) -> bool:
        return self.exp is not None and self.exp <= now.timestamp()


def _b64decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise MalformedToken("bad base64url") from None


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_object(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(segment))
    except (UnicodeDecodeError, ValueError):
        raise MalformedToken("not JSON") from None
    if not isinstance(value, dict):
        raise MalformedToken("not a JSON object")
    return value


def _int_claim(claims: dict[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise MalformedToken(f"claim {name} is not a number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MalformedToken(f"claim {name} is not a number") from None


def read_claims(authorization: str) -> Claims:
    """The claims of the token in an ``Authorization`` header value (``Bearer`` prefix allowed)."""
    raw = authorization.strip()
    if raw[:7].lower() == "bearer ":
        raw = raw[7:].strip()
    parts = raw.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise MalformedToken("not three segments")
    header = _json_object(parts[0])
    if "alg" not in header:
        raise MalformedToken("no alg in the header")
    payload = _json_object(parts[1])
    return Claims(
        token_id=str(payload.get("id", "")),
        seller_id=str(payload.get("sid", "")),
        s=_int_claim(payload, "s") or 0,
        acc=_int_claim(payload, "acc"),
        exp=_int_claim(payload, "exp"),
        test=payload.get("t") is True,
    )


def issue(
    seller_id: str,
    *,
    read_only: bool = False,
    categories: tuple[int, ...] = (PROMOTION,),
    acc: int = 3,
    expires_at: datetime | None = None,
    sandbox: bool = False,
    token_id: str | None = None,
) -> str:
    """A WB-shaped token as the seller cabinet would issue it (HS256 over a dummy key)."""
    s = 0
    for bit in categories:
        s |= 1 << bit
    if read_only:
        s |= 1 << READ_ONLY
    payload: dict[str, Any] = {
        "id": token_id or str(uuid.uuid4()),
        "s": s,
        "sid": seller_id,
        "acc": acc,
        "exp": int((expires_at or DEFAULT_EXPIRY).timestamp()),
        "ent": 1,
    }
    if acc == 3:
        payload["for"] = "self"
    if sandbox:
        payload["t"] = True
    head = _b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64encode(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(_SIGNING_KEY, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64encode(sig)}"
