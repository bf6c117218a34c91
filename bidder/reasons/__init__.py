"""Decision reasons as codes with their numbers, rendered in the reader's language.

A reason is a :class:`bidder.domain.Reason`: a ``str`` (its English text, what logs and tests read) that
also carries a catalogue code (:mod:`bidder.reasons.catalogue`) and its ``args`` (money in integer minor
units). The store keeps the code and args next to the text (``decisions.reason_code`` /
``reason_args``); the dashboard, Telegram and ``bidder history`` render them per locale with
:func:`render` / :func:`render_stored`, money always in the account currency's base units.

**For strategy authors** (the one-line change per reason)::

    from bidder.reasons import because
    # before: proposal(self.kind, Action.HOLD, snapshot, f"position {pos:.1f}, target {t}: raising", ...)
    # after:
    proposal(self.kind, Action.HOLD, snapshot, because("target_position.raise", position=pos, target=t), ...)

and add ``"target_position.raise": {"en": "position {position:pos}, target {target}: raising",
"ru": "позиция {position:pos}, цель {target}: повышаем"}`` to ``CATALOGUE``. Bids go in as minor-unit
ints with ``{x:money}``; statistics money (base units) with ``{x:base}``. A reason that is still a plain
string keeps working everywhere: it is stored with no code and rendered as its text.

Pure: no I/O; strategies may import it.
"""

from __future__ import annotations

import _string  # the parser string.Formatter itself uses
import contextlib
import contextvars
import functools
import string
from collections.abc import Iterator, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from bidder.domain import Reason, reason_record
from bidder.reasons.catalogue import CATALOGUE

__all__ = ["CATALOGUE", "LOCALES", "Reason", "because", "guarded", "joined", "localised", "notes", "reason_fields", "reason_record",
           "render", "render_record", "render_stored", "without_text"]

LOCALES = ("ru", "en")
NBSP = "\u00a0"
NNBSP = "\u202f"
CURRENCY_SIGN = {"RUB": "₽", "KZT": "₸", "BYN": "Br", "UZS": "сум", "KGS": "сом", "AMD": "֏", "USD": "$",
                 "EUR": "€"}
UNKNOWN = {"ru": "неизвестно", "en": "unknown"}
INFINITE_DRR = {"ru": "бесконечна (выручки нет)", "en": "infinite (no revenue)"}


def because(code: str, **args: Any) -> Reason:
    """A coded reason: ``code`` from :data:`CATALOGUE` with its numbers. Raises ``KeyError`` for a code
    not in the catalogue (a programming error the catalogue test also catches)."""
    if code not in CATALOGUE:
        raise KeyError(f"reason code {code!r} is not in bidder.reasons.catalogue.CATALOGUE")
    # Reason(text, code, args) without its copy of ``args`` (this call's own keyword dict)
    if _WITH_TEXT.get():
        reason = _new_str(_English, render(code, args, "en"))
    else:
        reason = _new_str(Reason, code)
    reason.code = code
    reason.args = MappingProxyType(args)
    return reason


_new_str = str.__new__


_WITH_TEXT: contextvars.ContextVar[bool] = contextvars.ContextVar("bidder_reasons_with_text", default=True)


@contextlib.contextmanager
def without_text() -> Iterator[None]:
    """Inside, :func:`because` keeps the code and the numbers but not the English text (the reason's
    ``str`` is its code). For callers that compare decisions and never show their reasons (``bidder
    replay`` renders millions); no decision reads a reason's text."""
    token = _WITH_TEXT.set(False)
    try:
        yield
    finally:
        _WITH_TEXT.reset(token)


class _English(Reason):
    """A reason made by :func:`because`: its text is its rendering in English with the default currency,
    so a reason nesting it renders it in English from that text instead of again (a composite's cost
    stays linear in its size; replay renders millions of them). Pickles as a plain :class:`Reason`."""

    __slots__ = ()


def joined(parts: Sequence[tuple[str, str]]) -> Reason:
    """``strategy: reason; strategy: reason`` (empty reasons left out); "nothing to do" when none."""
    kept = [(s, r) for s, r in parts if r]
    if not kept:
        return because("guard.nothing")
    return because("joined", parts=[{"strategy": s, "reason": r} for s, r in kept])


def guarded(reason: str, guard: str | None) -> str:
    """``reason [guard]``: a decision's reason with what the guardrails did; ``reason`` when no guard."""
    if guard is None:
        return reason
    return because("guarded", reason=reason, guard=guard)


def notes(items: Sequence[str]) -> Reason:
    """Several guard notes, ``"; "``-joined."""
    return because("notes", notes=list(items))


# -- rendering ------------------------------------------------------------------------------------------

def render(code: str, args: Mapping[str, Any], locale: str = "ru", currency: str = "RUB") -> str:
    """One reason in ``locale``. Raises (KeyError, ValueError, …) on an unknown code or bad args;
    :func:`render_stored` falls back to the stored text instead."""
    loc = locale if locale in LOCALES else "ru"
    fmt = _formatter(loc, currency)
    template = CATALOGUE[code][loc]
    parts = _compiled(template)
    if parts is None:
        return fmt.format(template, **args)
    out = []
    for literal, name, spec in parts:
        if literal:
            out.append(literal)
        if name is not None:
            out.append(fmt.format_field(args[name], spec))
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def _compiled(template: str) -> tuple[tuple[str, str | None, str], ...] | None:
    """A template split once into (literal, field name, format spec); None when a field is more than a
    plain name with a plain spec (positional, attribute or index, conversion, nested field): those go
    through :class:`string.Formatter` itself. Same output either way."""
    parts = []
    for literal, name, spec, conversion in _string.formatter_parser(template):
        if name is not None and (not name.isidentifier() or conversion or "{" in (spec or "")):
            return None
        parts.append((literal, name, spec or ""))
    return tuple(parts)


@functools.lru_cache(maxsize=64)
def _formatter(locale: str, currency: str) -> _Formatter:
    return _Formatter(locale, currency)


def render_record(record: Any, locale: str = "ru", currency: str = "RUB") -> str:
    """A stored reason record (:func:`bidder.domain.reason_record`), a :class:`Reason` or plain text."""
    if isinstance(record, Reason):
        return render(record.code, record.args, locale, currency)
    if isinstance(record, Mapping):
        if record.get("code"):
            return render(str(record["code"]), record.get("args") or {}, locale, currency)
        return str(record.get("text", ""))
    return "" if record is None else str(record)


def render_stored(code: str | None, args: Mapping[str, Any] | None, text: str | None, locale: str = "ru",
                  currency: str = "RUB") -> str:
    """A stored decision's reason: its code rendered in ``locale``; the stored text when it has no code
    (rows from before the codes, strategies not converted yet) or the code cannot be rendered."""
    if code:
        try:
            return render(code, args or {}, locale, currency)
        except (KeyError, ValueError, TypeError, IndexError, AttributeError, InvalidOperation):
            pass
    return text or ""


def localised(reason: str | None, locale: str = "ru", currency: str = "RUB") -> str:
    """An in-memory reason (a :class:`Reason` or a plain string) in ``locale``."""
    if isinstance(reason, Reason):
        return render_stored(reason.code, reason_record(reason)["args"], str(reason), locale, currency)
    return reason or ""


def reason_fields(reason: str | None) -> dict[str, Any]:
    """``{"reason_code", "reason_args"}`` of a coded reason for a JSON payload (an alert event); ``{}``
    for a plain string. :func:`render_stored` renders them back, with the ``reason`` text as fallback."""
    if isinstance(reason, Reason):
        record = reason_record(reason)
        return {"reason_code": record["code"], "reason_args": record["args"]}
    return {}


def _dec(value: Any) -> Decimal | None:
    kind = type(value)
    if kind is int:  # (the common cases first: the same value as through its text)
        return Decimal(value)
    if kind is Decimal:
        return value if value.is_finite() else None
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


_STEPS = {n: Decimal(1).scaleb(-n) if n else Decimal(1) for n in range(4)}


def _number(d: Decimal, locale: str, digits: int) -> str:
    q = _STEPS.get(digits) or Decimal(1).scaleb(-digits)
    d = d.quantize(q, rounding=ROUND_HALF_UP)
    text = format(abs(d), f",.{digits}f")
    if locale == "ru":
        text = text.replace(",", NNBSP).replace(".", ",")
    return ("-" if d < 0 else "") + text


def _duration(seconds: int, locale: str) -> str:
    units = (("д", "d", 86400), ("ч", "h", 3600), ("мин", "min", 60), ("с", "s", 1))
    parts = []
    for ru, en, size in units:
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n}{NBSP}{ru if locale == 'ru' else en}")
    return " ".join(parts) or ("0" + NBSP + ("с" if locale == "ru" else "s"))


class _Formatter(string.Formatter):
    def __init__(self, locale: str, currency: str) -> None:
        super().__init__()
        self.locale = locale
        code = (currency or "RUB").strip().upper() or "RUB"
        self.sign = CURRENCY_SIGN.get(code, code)

    def money(self, d: Decimal | None) -> str:
        if d is None:
            return UNKNOWN[self.locale]
        digits = 0 if d == d.to_integral_value() else 2
        return f"{_number(d, self.locale, digits)}{NBSP}{self.sign}"

    def drr(self, value: Any) -> str:
        """A ДРР in %: one decimal; "inf" (spend without revenue) and None (unknown) in words."""
        if value == "inf" or (isinstance(value, float) and value == float("inf")):
            return INFINITE_DRR[self.locale]
        d = _dec(value)
        if d is None:
            return UNKNOWN[self.locale]
        return _number(d, self.locale, 1) + ("%" if self.locale == "en" else NBSP + "%")

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "money":
            d = _dec(value)
            return self.money(None if d is None else d / 100)
        if format_spec == "base":
            return self.money(_dec(value))
        if format_spec == "dur":
            d = _dec(value)
            return UNKNOWN[self.locale] if d is None else _duration(int(d), self.locale)
        if format_spec == "drr":
            return self.drr(value)
        if format_spec == "pos":
            d = _dec(value)
            return UNKNOWN[self.locale] if d is None else _number(d, self.locale, 1)
        if isinstance(value, Mapping) and ("code" in value or "text" in value):
            return render_record(value, self.locale, self.sign_code)
        if isinstance(value, Reason):
            if type(value) is _English and self.locale == "en" and self.sign == CURRENCY_SIGN["RUB"]:
                return str.__str__(value)  # rendered so when it was made (see _English)
            return render(value.code, value.args, self.locale, self.sign_code)
        if isinstance(value, list | tuple):
            return "; ".join(self._element(v) for v in value)
        if format_spec == "num":
            d = _dec(value)
            return UNKNOWN[self.locale] if d is None else _number(d, self.locale, 0 if d == d.to_integral_value()
                                                                 else 2)
        text = super().format_field(value, format_spec)
        if self.locale == "ru" and isinstance(value, float | Decimal) and not isinstance(value, bool):
            text = text.replace(".", ",")
        return text

    @property
    def sign_code(self) -> str:
        for code, sign in CURRENCY_SIGN.items():
            if sign == self.sign:
                return code
        return self.sign

    def _element(self, value: Any) -> str:
        if isinstance(value, Mapping) and "strategy" in value and "reason" in value:
            return f"{value['strategy']}: {self.format_field(value['reason'], '')}"
        return self.format_field(value, "")
