"""The simulator reads token claims with its own code: it agrees with the client's decoder on every
token shape, refuses what is not a JWT, and imports nothing from the client."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bidder.sim.tokens import MalformedToken, issue, read_claims
from bidder.wb.tokens import decode_token, mint_token

EXP = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
SHAPES = [
    {},
    {"read_only": True},
    {"categories": (1, 2, 5)},
    {"categories": (6, 13, 16), "read_only": True},
    {"acc": 1},
    {"acc": 2, "sandbox": True},
    {"acc": 4},
    {"expires_at": datetime(2026, 1, 1, tzinfo=UTC)},
]


def _same(raw: str) -> None:
    sim, client = read_claims(raw), decode_token(raw)
    assert sim.token_id == client.token_id and sim.seller_id == client.seller_id
    assert sim.s == client.scopes
    assert sim.promotion == client.promotion and sim.read_only == client.read_only
    assert sim.token_type == client.type and sim.test == client.sandbox
    now = datetime(2026, 11, 2, tzinfo=UTC)
    assert sim.expired(now) == client.expired(now)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "default")
def test_simulator_and_client_read_the_same_claims(shape: dict) -> None:
    kw = {"expires_at": EXP, **shape}
    _same(issue("seller-1", token_id="tok-1", **kw))  # the simulator's token, read by the client
    _same(mint_token("seller-1", token_id="tok-1", **kw))  # the client's test token, read by the simulator


def test_claims_follow_the_reference_bit_table() -> None:
    claims = read_claims(issue("s", read_only=True))
    assert claims.s == (1 << 6) | (1 << 30) and claims.promotion and claims.read_only
    assert read_claims("Bearer " + issue("s")).seller_id == "s"
    assert read_claims(issue("s", acc=1)).token_type == "Base"


@pytest.mark.parametrize("raw", ["", "not-a-jwt", "a.b", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.x",
                                 "eyJhbGciOiJIUzI1NiJ9.WzFd.x", "e30.e30.x"])
def test_malformed_tokens_are_refused(raw: str) -> None:
    with pytest.raises(MalformedToken):
        read_claims(raw)


def test_simulator_imports_nothing_from_the_client() -> None:
    root = Path(__file__).resolve().parents[2] / "bidder" / "sim"
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n == "bidder.wb" or n.startswith("bidder.wb.")]
    assert offenders == []
