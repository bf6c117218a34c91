"""bidder.logging: the process log handler never lets a configured token or a JWT through."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bidder.logging import setup_logging
from bidder.wb.tokens import mint_token

OPAQUE = "opaque-secret-token-value-0123456789"  # registered, not JWT-shaped
JWT = mint_token("seller")  # not registered: caught by its shape


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buf = io.StringIO()
    yield buf
    for h in list(root.handlers):
        if h not in saved[0]:
            root.removeHandler(h)
    root.setLevel(saved[1])


def test_text_lines_are_redacted(stream: io.StringIO) -> None:
    setup_logging("DEBUG", secrets=[OPAQUE], stream=stream)
    log = logging.getLogger("bidder.test")
    log.info("token %s and jwt %s", OPAQUE, JWT)
    log.warning("header Authorization: Bearer %s", OPAQUE)
    try:
        raise RuntimeError(f"boom {OPAQUE} {JWT}")
    except RuntimeError:
        log.exception("failed with %r", {"token": JWT})
    out = stream.getvalue()
    assert OPAQUE not in out and JWT not in out
    assert "[REDACTED]" in out and "RuntimeError: boom" in out and "Traceback" in out
    assert " INFO    bidder.test: token [REDACTED] and jwt [REDACTED]" in out


def test_json_lines_with_extra_fields(stream: io.StringIO) -> None:
    setup_logging("INFO", json_lines=True, secrets=[OPAQUE], stream=stream)
    logging.getLogger("bidder.engine").info("applied", extra={"account": "shop-a", "token": OPAQUE, "n": 3})
    logging.getLogger("bidder.engine").debug("hidden at INFO")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["msg"] == "applied" and record["level"] == "INFO" and record["logger"] == "bidder.engine"
    assert record["account"] == "shop-a" and record["n"] == 3
    assert record["token"] == "[REDACTED]"
    assert record["ts"].endswith("+00:00")


def test_setup_is_idempotent(stream: io.StringIO) -> None:
    first = setup_logging("INFO", stream=stream)
    second = setup_logging("WARNING", stream=stream)
    root = logging.getLogger()
    assert first not in root.handlers and second in root.handlers
    assert root.level == logging.WARNING
    logging.getLogger("x").info("not shown")
    logging.getLogger("x").warning("shown")
    assert stream.getvalue().count("\n") == 1


def test_json_escaping_cannot_hide_a_secret(stream: io.StringIO) -> None:
    quoted = 'tok"with\\quotes-and-more-0123456789'
    setup_logging("INFO", json_lines=True, secrets=[quoted], stream=stream)
    logging.getLogger("x").info("value %s", quoted, extra={"field": quoted})
    record = json.loads(stream.getvalue())
    assert quoted not in json.dumps(record) and quoted not in record.values()
