"""The fast paths of bidder.reasons render exactly what string.Formatter renders: every catalogue code in
both locales and two currencies, with nested reasons made by ``because``; ``without_text`` keeps the code
and the numbers (replay compares actions and bids only)."""

from __future__ import annotations

import string

import pytest
from test_reasons import _fields, _sample

from bidder.domain import Reason, reason_record
from bidder.reasons import CATALOGUE, LOCALES, _Formatter, because, render, without_text


def slow(code: str, args: dict, locale: str, currency: str) -> str:
    """The reference: string.Formatter's own parsing and nested reasons rendered again from their codes."""
    class Reference(_Formatter):
        def format_field(self, value, format_spec):  # type: ignore[no-untyped-def]
            if isinstance(value, Reason):
                return slow(value.code, dict(value.args), self.locale, self.sign_code)
            return super().format_field(value, format_spec)

    return string.Formatter.format(Reference(locale, currency), CATALOGUE[code][locale], **args)


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_code_renders_as_the_formatter_does(code: str) -> None:
    args = {name: _sample(spec, name) for name, spec in _fields(CATALOGUE[code]["en"]).items()}
    for locale in LOCALES:
        for currency in ("RUB", "KZT"):
            assert render(code, args, locale, currency) == slow(code, args, locale, currency)
    assert str(because(code, **args)) == slow(code, args, "en", "RUB")


def test_without_text_keeps_code_and_numbers() -> None:
    with without_text():
        r = because("guard.capped", cap=50000)
        nested = because("guarded", reason=because("guard.pausing"), guard=r)
    assert isinstance(r, Reason) and str(r) == "guard.capped" and r.code == "guard.capped"
    assert dict(r.args) == {"cap": 50000}
    assert reason_record(nested)["args"]["guard"] == {"code": "guard.capped", "args": {"cap": 50000}}
    assert str(because("guard.capped", cap=50000)) != "guard.capped"  # outside: the English text again
