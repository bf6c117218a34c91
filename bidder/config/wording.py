"""How config values are shown in messages: short, one line, never a secret (tokens get only a type word)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def oneline(text: str) -> str:
    return " ".join(text.split())



def describe(value: Any, *, secret: bool = False) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if secret:
        return _type_word(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return repr(shown)
    return str(value)


def _type_word(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def plain_number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)



def plain_decimal(value: Decimal) -> str:
    return format(value.normalize(), "f")
