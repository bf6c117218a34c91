"""The broken-config corpus: each ``NN-name.yaml`` must make ``bidder check-config`` print exactly the
lines of ``NN-name.expected`` (its first line is ``exit N``)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bidder.cli import Context, main
from bidder.config import check_config
from bidder.wb.tokens import mint_token

CORPUS = Path(__file__).parent.parent / "config_corpus"
CASES = sorted(p.stem for p in CORPUS.glob("*.yaml"))
READ_TOKEN = mint_token("corpus-seller", read_only=True, token_id="corpus-read")
WRITE_TOKEN = mint_token("corpus-seller", token_id="corpus-write")
LITERAL = "this-is-a-literal-token-value-0123456789"


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 20
    assert all((CORPUS / f"{c}.expected").is_file() for c in CASES)


@pytest.fixture
def corpus_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
    monkeypatch.setenv("CORPUS_READ_TOKEN", READ_TOKEN)
    monkeypatch.setenv("CORPUS_WRITE_TOKEN", WRITE_TOKEN)
    for name in ("CORPUS_MISSING_WRITE_TOKEN", "CORPUS_NOT_SET", "WB_WRITE_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("case", CASES)
def test_check_config_output(case: str, corpus_env: None) -> None:
    first, *expected = (CORPUS / f"{case}.expected").read_text(encoding="utf-8").splitlines()
    out = io.StringIO()
    code = main(["check-config", f"{case}.yaml"], ctx=Context(out=out, err=out))
    assert f"exit {code}" == first
    assert out.getvalue().splitlines() == expected
    for secret in (READ_TOKEN, WRITE_TOKEN, LITERAL):
        assert secret not in out.getvalue()


@pytest.mark.parametrize("case", CASES)
def test_api_matches_cli(case: str, corpus_env: None) -> None:
    """check_config's issues are exactly the CLI's lines (minus the summary), sorted by line."""
    _, *expected = (CORPUS / f"{case}.expected").read_text(encoding="utf-8").splitlines()
    result = check_config(Path(f"{case}.yaml"))
    lines = [str(i) for i in [*result.warnings, *result.errors]]
    assert lines == expected[:-1]
    numbers = [i.line or 0 for i in result.errors]
    assert numbers == sorted(numbers)
    assert (result.config is None) == bool(result.errors)
