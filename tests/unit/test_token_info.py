"""WB token claims (REFERENCE.md §4): decode, categories, read-only bit, sandbox, type, expiry, problems."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from bidder.errors import TokenError
from bidder.wb.tokens import PROMOTION_BIT, READ_ONLY_BIT, decode_token, mint_token, scopes_for

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
EXP = datetime(2027, 5, 1, tzinfo=UTC)
KEY = "a-test-signing-key-that-is-long-enough-0123"


def test_personal_promotion_token() -> None:
    raw = mint_token("seller-uuid", expires_at=EXP, token_id="tok-1")
    info = decode_token(raw)
    assert (info.token_id, info.seller_id, info.type) == ("tok-1", "seller-uuid", "Personal")
    assert info.categories == ("Promotion",)
    assert info.promotion and not info.read_only and not info.sandbox
    assert info.expires_at == EXP
    assert info.days_left(NOW) == pytest.approx((EXP - NOW).total_seconds() / 86400)
    assert not info.expired(NOW)
    assert info.problems_for(write=True, now=NOW) == []
    assert raw not in repr(info)


def test_bits_follow_one_shift_n() -> None:
    """A read-only Promotion-only token has bits 6 and 30 set (s & (1 << N))."""
    assert scopes_for((PROMOTION_BIT,), read_only=True) == (1 << 6) | (1 << 30)
    info = decode_token(mint_token("s", read_only=True))
    assert info.scopes == (1 << 6) | (1 << 30)
    assert info.read_only and info.promotion
    assert info.problems_for(write=False, now=NOW) == []
    assert info.problems_for(write=True, now=NOW) == ["the write token is read-only"]
    assert READ_ONLY_BIT == 30


def test_categories_listed_in_bit_order() -> None:
    info = decode_token(mint_token("s", categories=(13, 1, 6, 16, 5)))
    assert info.categories == ("Content", "Statistics", "Promotion", "Finance", "Users")


def test_wrong_category() -> None:
    info = decode_token(mint_token("s", categories=(1, 3)))
    assert not info.promotion
    assert info.problems_for(write=False, now=NOW) == ["the token lacks the Promotion category"]


@pytest.mark.parametrize(
    ("acc", "name"), [(1, "Base"), (2, "Test"), (3, "Personal"), (4, "Service"), (9, "unknown(9)")]
)
def test_token_types(acc: int, name: str) -> None:
    assert decode_token(mint_token("s", acc=acc)).type == name


def test_base_token_is_a_problem() -> None:
    problems = decode_token(mint_token("s", acc=1)).problems_for(write=False, now=NOW)
    assert problems == [
        "a Base token gets hourly quotas on the Promotion API; use a Personal or Service token"
    ]


def test_sandbox_claim() -> None:
    assert decode_token(mint_token("s", sandbox=True, acc=2)).sandbox
    assert not decode_token(mint_token("s")).sandbox


def test_expired_and_all_problems_together() -> None:
    old = NOW - timedelta(days=1)
    info = decode_token(mint_token("s", acc=1, categories=(1,), read_only=True, expires_at=old))
    assert info.expired(NOW)
    assert info.problems_for(write=True, now=NOW) == [
        "the token lacks the Promotion category",
        "a Base token gets hourly quotas on the Promotion API; use a Personal or Service token",
        "the write token is read-only",
        f"the token expired on {old:%Y-%m-%d}",
    ]


def test_bearer_prefix_and_whitespace() -> None:
    raw = mint_token("s")
    assert decode_token(f"  Bearer {raw}\n").seller_id == "s"


def test_missing_claims() -> None:
    raw = jwt.encode({"sid": "x"}, KEY, algorithm="HS256")
    info = decode_token(raw)
    assert info.expires_at is None and info.days_left(NOW) is None and not info.expired(NOW)
    assert info.type == "Personal" and info.scopes == 0


@pytest.mark.parametrize(
    "claims",
    [{"s": "lots"}, {"exp": "soon"}],
)
def test_bad_claims_raise_token_error_without_the_token(claims: dict) -> None:
    raw = jwt.encode(claims, KEY, algorithm="HS256")
    with pytest.raises(TokenError) as info:
        decode_token(raw)
    assert raw not in str(info.value)


@pytest.mark.parametrize("raw", ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.bm90LWpzb24.sig"])
def test_malformed_tokens(raw: str) -> None:
    with pytest.raises(TokenError) as info:
        decode_token(raw)
    assert "not a valid JWT" in str(info.value) or "payload" in str(info.value)
    if raw:
        assert raw not in str(info.value)


def test_account_tokens_are_decoded_and_checked_once() -> None:
    from pydantic import SecretStr

    from bidder.wb.tokens import WBToken, load_tokens

    read, write = mint_token("s", read_only=True), mint_token("s")
    tokens = load_tokens(SecretStr(read), SecretStr(write), now=NOW)
    assert isinstance(tokens.read, WBToken) and tokens.read.role == "read" and tokens.read.info.read_only
    assert tokens.write is not None and tokens.write.role == "write" and tokens.write.can_write
    assert tokens.read.seller_id == tokens.write.seller_id == "s"
    assert read not in repr(tokens) and write not in repr(tokens)
    # dry-run: the write token is not even decoded
    assert load_tokens(SecretStr(read), None, now=NOW).write is None
    with pytest.raises(TokenError, match="read-only"):
        load_tokens(SecretStr(read), SecretStr(read), now=NOW)
    with pytest.raises(TokenError, match="another seller"):
        load_tokens(SecretStr(read), SecretStr(mint_token("other")), now=NOW)
    with pytest.raises(TokenError, match="no write token"):
        load_tokens(SecretStr(read), SecretStr("  "), now=NOW)
    with pytest.raises(TokenError, match="read token is a Base token"):
        load_tokens(SecretStr(mint_token("s", acc=1)), None, now=NOW)
