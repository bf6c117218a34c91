"""The swept parameter: ``KIND.FIELD=LO:HI:STEP`` (``spend_cap.max_drr_pct=10:30:5``) or
``guardrails.FIELD=...``, checked against the config model before anything runs.

``KIND`` is a strategy kind of :data:`strategies.registry.REGISTRY`; ``FIELD`` one of its params model's
fields (or of :class:`bidder.guardrails.Guardrails`). Every value of the range is validated by that
model (with the other fields as the base config has them), so a value the YAML would refuse is refused
here, naming the path and the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from bidder.guardrails import Guardrails
from strategies.registry import REGISTRY

GUARDRAILS = "guardrails"
MAX_VALUES = 50


class SweepError(ValueError):
    """A sweep that cannot run as asked (the message names the bad path, range or scenario)."""


@dataclass(frozen=True, slots=True)
class SweptParam:
    path: str  # "spend_cap.max_drr_pct"
    kind: str  # "spend_cap" | "guardrails"
    field: str
    values: tuple[float, ...]

    def model(self) -> type[BaseModel]:
        return Guardrails if self.kind == GUARDRAILS else REGISTRY[self.kind].Params


def _number(text: str, path: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except ArithmeticError:
        raise SweepError(f"--param {path}: {text!r} is not a number") from None


def parse_param(spec: str) -> SweptParam:
    """``KIND.FIELD=LO:HI:STEP`` (or ``KIND.FIELD=V`` for one value) -> :class:`SweptParam`; raises
    :class:`SweepError` naming what is wrong."""
    path, eq, rng = spec.partition("=")
    path = path.strip()
    if not eq or not rng.strip():
        raise SweepError(f"--param {spec!r}: expected KIND.FIELD=LO:HI:STEP, e.g. spend_cap.max_drr_pct=10:30:5")
    kind, dot, name = path.partition(".")
    kinds = sorted([*REGISTRY, GUARDRAILS])
    if not dot or not name:
        raise SweepError(f"--param {path!r}: expected KIND.FIELD; KIND is one of {', '.join(kinds)}")
    if kind not in kinds:
        raise SweepError(f"--param {path!r}: unknown strategy {kind!r}; known: {', '.join(kinds)}")
    model = Guardrails if kind == GUARDRAILS else REGISTRY[kind].Params
    if name not in model.model_fields:
        raise SweepError(f"--param {path!r}: {kind} has no field {name!r}; its fields: "
                         f"{', '.join(sorted(model.model_fields))}")
    parts = rng.split(":")
    if len(parts) not in (1, 3):
        raise SweepError(f"--param {path}: range {rng!r} must be LO:HI:STEP (or one value)")
    if len(parts) == 1:
        values = [_number(parts[0], path)]
    else:
        lo, hi, step = (_number(p, path) for p in parts)
        if step <= 0:
            raise SweepError(f"--param {path}: step {step} in {rng!r} must be positive")
        if hi < lo:
            raise SweepError(f"--param {path}: range {rng!r} runs backwards ({hi} < {lo})")
        if (hi - lo) / step + 1 > MAX_VALUES:
            raise SweepError(f"--param {path}: range {rng!r} has more than {MAX_VALUES} values")
        values = []
        v = lo
        while v <= hi:
            values.append(v)
            v += step
    out = tuple(int(v) if v == v.to_integral_value() else float(v) for v in values)
    return SweptParam(path, kind, name, out)


def _errors(exc: ValidationError) -> str:
    return "; ".join(e["msg"] for e in exc.errors())


def check_values(param: SweptParam, base: dict[str, Any] | None) -> None:
    """Validate every value of the range with the model and the base config's other fields (``None``: the
    model's defaults). Raises :class:`SweepError` naming the path, the bad value and the model's words."""
    model = param.model()
    fields = dict(base or {})
    if param.kind == GUARDRAILS:
        fields.setdefault("max_bid", 1)
    for v in param.values:
        try:
            model.model_validate({**fields, param.field: v})
        except ValidationError as exc:
            raise SweepError(f"--param {param.path}: value {v} is not allowed: {_errors(exc)}") from None


def with_value(params: BaseModel, field: str, value: Any) -> BaseModel:
    """``params`` with one field set to ``value``, validated by its model (frozen models: a new one)."""
    data = params.model_dump()
    data[field] = value
    return type(params).model_validate(data)
