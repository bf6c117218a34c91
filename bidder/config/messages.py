"""Messages for validation and YAML errors: what was expected, what was found (never a token), and a
did-you-mean for unknown keys."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from ruamel.yaml.error import MarkedYAMLError

from bidder.config.models import TOKEN_KEYS, BidderConfig
from bidder.config.wording import describe, oneline, plain_number
from bidder.redact import redact


def yaml_error(exc: MarkedYAMLError) -> tuple[int | None, str, str]:
    """Line and message of a YAML error; never echoes a value (a duplicate key's values are dropped)."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = oneline(exc.problem or "invalid YAML")
    dup = re.match(r'found duplicate key "(.*?)" with value', problem)
    if dup:
        start = f" in the mapping that starts at line {exc.context_mark.line + 1}" if exc.context_mark else ""
        return line, "", f"duplicate key '{dup.group(1)}'{start}"
    if exc.context:
        ctx_line = exc.context_mark.line + 1 if exc.context_mark is not None else None
        at = f" at line {ctx_line}" if ctx_line is not None and ctx_line != line else ""
        problem += f" ({oneline(exc.context)}{at})"
    return line, "", f"YAML syntax error: {redact(problem)}"



_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "decimal_parsing": "a number",
    "decimal_type": "a number",
    "string_type": "a string",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "time_parsing": "a time HH:MM",
    "time_type": "a time HH:MM",
    "path_type": "a path",
}


def validation_message(err: Mapping[str, Any], loc: tuple) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    secret = any(isinstance(p, str) and p in TOKEN_KEYS for p in loc)
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        return unknown_key(str(loc[-1]), fields_at(loc[:-1]))
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe(value, secret=secret)}"
    got = "" if secret else f", got {describe(value)}"
    if kind == "greater_than":
        return f"must be greater than {plain_number(ctx['gt'])}{got}"
    if kind == "greater_than_equal":
        return f"must be at least {plain_number(ctx['ge'])}{got}"
    if kind == "less_than":
        return f"must be less than {plain_number(ctx['lt'])}{got}"
    if kind == "less_than_equal":
        return f"must be at most {plain_number(ctx['le'])}{got}"
    if kind == "literal_error":
        return f"must be {ctx['expected']}{got}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short" and loc == ("accounts",):
        return "at least one account is required"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return str(err["msg"])


def unknown_key(key: str, valid: list[str]) -> str:
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    if near:
        return f"unknown key '{key}'; did you mean '{near[0]}'?"
    return f"unknown key '{key}'; valid keys: {', '.join(valid)}"


def yaml_fields(model: type[BaseModel]) -> list[str]:
    skip = BidderConfig.LOADER_FIELDS if model is BidderConfig else frozenset()
    return [name for name in model.model_fields if name not in skip]


def _unwrap(tp: Any) -> Any:
    """Strip Optional / Annotated / list to reach a model class, one layer of containers at a time."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else tp
            if len(args) != 1:
                return tp
        else:
            return tp


def fields_at(loc: tuple) -> list[str]:
    """Valid YAML keys of the model at ``loc`` (for the did-you-mean hint)."""
    tp: Any = BidderConfig
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, int):
            if typing.get_origin(tp) is list:
                tp = typing.get_args(tp)[0]
            continue
        if isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            tp = tp.model_fields[part].annotation
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return yaml_fields(tp)
    return []

