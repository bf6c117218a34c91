"""The YAML strategy config: ruamel.yaml (line numbers) -> typed pydantic models.

Every problem is reported at once, each as ``file:line: field.path: message`` (:class:`ConfigIssue`).
Tokens are written as ``${VAR}`` (environment), ``file:/path`` (systemd credentials, Docker secrets) or,
with a warning, literally; they end up as :class:`SecretStr` and never appear in a message.

Public API::

    load_config(path, env=os.environ) -> BidderConfig        # raises ConfigError(errors)
    check_config(path, env=os.environ) -> ConfigCheck         # .config (None on errors), .errors, .warnings
    BidderConfig: accounts, intervals, telegram, stop_file, source, warnings; .account(name); .secrets()
    AccountConfig: name, read_token, write_token, timezone, guardrails, defaults, campaigns;
                   .read_only, .strategies_for(advert_id), .is_managed(advert_id), .campaign(advert_id)
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, create_model, field_validator
from pydantic import model_validator as _model_validator
from pydantic_core import PydanticCustomError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bidder.domain import base_to_minor
from bidder.durations import Duration
from bidder.errors import ConfigError, ConfigIssue
from bidder.wb.redact import redact
from strategies.base import Strategy, StrategyParams
from strategies.params import ScheduleParams
from strategies.registry import REGISTRY
from strategies.schedule import Schedule

_VAR_IN_PATH = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

__all__ = [
    "AccountConfig",
    "BidderConfig",
    "CampaignConfig",
    "CampaignDefaults",
    "ConfigCheck",
    "Guardrails",
    "Intervals",
    "StrategyEntry",
    "TelegramConfig",
    "check_config",
    "load_config",
]

MIN_STATS_INTERVAL = timedelta(minutes=3)
MIN_EVALUATE_INTERVAL = timedelta(seconds=30)
TOKEN_KEYS = ("read_token", "write_token")
_VAR = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _check_tz(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Moscow)") from None
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------- models


class Intervals(_Model):
    """How often each poll / evaluation runs."""

    campaigns: Duration = timedelta(minutes=5)
    stats: Duration = timedelta(minutes=3)
    clusters: Duration = timedelta(minutes=15)
    recommendations: Duration = timedelta(minutes=30)
    evaluate: Duration = timedelta(minutes=1)

    @field_validator("campaigns", "clusters", "recommendations")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @field_validator("stats")
    @classmethod
    def _stats(cls, value: timedelta) -> timedelta:
        if value < MIN_STATS_INTERVAL:
            raise ValueError("must be at least 3m (WB refreshes advertising statistics no faster)")
        return value

    @field_validator("evaluate")
    @classmethod
    def _evaluate(cls, value: timedelta) -> timedelta:
        if value < MIN_EVALUATE_INTERVAL:
            raise ValueError("must be at least 30s")
        return value


class TelegramConfig(_Model):
    """Telegram behaviour (the bot token and chat ids are settings: BIDDER_TELEGRAM_*)."""

    locale: Literal["ru", "en"] = "ru"
    digest_time: str = "09:00"  # HH:MM in digest_timezone
    digest_timezone: str = "Europe/Moscow"
    merge_window: Duration = timedelta(seconds=60)

    @field_validator("digest_time", mode="before")
    @classmethod
    def _time(cls, value: object) -> object:
        if isinstance(value, time):
            return value.strftime("%H:%M")
        if isinstance(value, int) and not isinstance(value, bool):  # YAML 1.1 style 9:00 -> 540 minutes
            value = f"{value // 60:02d}:{value % 60:02d}" if 0 <= value < 1440 else value
        m = _HHMM.match(str(value).strip()) if isinstance(value, str) else None
        if not m:
            raise ValueError(f"invalid time {value!r}: expected HH:MM, e.g. 09:00")
        return f"{int(m.group(1)):02d}:{m.group(2)}"

    @property
    def digest_at(self) -> time:
        hh, mm = self.digest_time.split(":")
        return time(int(hh), int(mm))

    _tz = field_validator("digest_timezone")(classmethod(lambda cls, v: _check_tz(v)))

    @field_validator("merge_window")
    @classmethod
    def _merge(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value


class Guardrails(_Model):
    """Rails above every strategy. Money in base units (rubles) as written; *_minor in kopecks."""

    max_bid: Decimal = Field(gt=0, description="never bid above this, base units")
    max_step_pct: float = Field(default=25, gt=0, le=100, description="no single change larger than this")
    min_change_interval: Duration = timedelta(minutes=10)
    dead_band_pct: float = Field(default=3, ge=0, lt=100, description="ignore changes smaller than this")
    max_stats_age: Duration = timedelta(hours=6)
    min_evidence_spend: Decimal = Field(default=Decimal(300), ge=0)
    min_evidence_clicks: int = Field(default=30, ge=0)
    war_raises: int = Field(default=3, ge=1, description="consecutive raises before a bid war is declared")

    @field_validator("min_change_interval", "max_stats_age")
    @classmethod
    def _non_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    @property
    def max_bid_minor(self) -> int:
        return base_to_minor(self.max_bid)

    @property
    def min_evidence_spend_minor(self) -> int:
        return base_to_minor(self.min_evidence_spend)


class _StrategyEntryBase(_Model):
    """One item of a ``strategies:`` list: a one-key mapping ``{kind: {params}}``."""

    @_model_validator(mode="before")
    @classmethod
    def _one_kind(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value in REGISTRY:
                raise PydanticCustomError(
                    "strategy_shape", f"'{value}' needs its parameters: - {value}: {{...}}"
                )
            raise PydanticCustomError("strategy_kind", _unknown_kind(value))
        if not isinstance(value, Mapping):
            raise PydanticCustomError(
                "strategy_shape", f"expected a one-key mapping {{kind: {{params}}}}, got {_describe(value)}"
            )
        if len(value) != 1:
            kinds = ", ".join(str(k) for k in value) or "nothing"
            raise PydanticCustomError(
                "strategy_shape",
                f"each list item must hold exactly one strategy kind (got {kinds}); start each with its own '- '",
            )
        ((kind, params),) = value.items()
        if kind not in REGISTRY:
            raise PydanticCustomError("strategy_kind", _unknown_kind(str(kind)))
        return {kind: {} if params is None else params}

    @property
    def kind(self) -> str:
        ((kind, _),) = ((k, v) for k, v in self.__dict__.items() if v is not None)
        return kind

    @property
    def params(self) -> StrategyParams:
        return getattr(self, self.kind)

    def build(self) -> Strategy:
        return REGISTRY[self.kind](self.params)


StrategyEntry: type[_StrategyEntryBase] = create_model(  # type: ignore[call-overload]
    "StrategyEntry",
    __base__=_StrategyEntryBase,
    **{kind: (cls.Params | None, None) for kind, cls in REGISTRY.items()},
)


def _unknown_kind(kind: str) -> str:
    valid = ", ".join(sorted(REGISTRY))
    near = difflib.get_close_matches(kind, list(REGISTRY), n=1)
    hint = f"did you mean '{near[0]}'? " if near else ""
    return f"unknown strategy kind '{kind}'; {hint}valid kinds: {valid}"


class CampaignDefaults(_Model):
    """Strategies for every campaign of the account that is not listed under ``campaigns``."""

    strategies: list[StrategyEntry] = Field(default_factory=list)  # type: ignore[valid-type]
    schedule: ScheduleParams | None = None
    managed: bool = True


class CampaignConfig(_Model):
    id: int = Field(gt=0, le=2**63 - 1)  # WB's advert id
    strategies: list[StrategyEntry] | None = None  # type: ignore[valid-type]  # None: the defaults' list
    schedule: ScheduleParams | None = None  # None: the defaults' schedule, if any
    managed: bool = True


class AccountConfig(_Model):
    name: str = Field(min_length=1)
    read_token: SecretStr
    write_token: SecretStr | None = None  # without it the account runs read-only (dry-run)
    timezone: str = "Europe/Moscow"
    guardrails: Guardrails
    defaults: CampaignDefaults = Field(default_factory=CampaignDefaults)
    campaigns: list[CampaignConfig] = Field(default_factory=list)

    _tz = field_validator("timezone")(classmethod(lambda cls, v: _check_tz(v)))

    @property
    def read_only(self) -> bool:
        return self.write_token is None

    def campaign(self, advert_id: int) -> CampaignConfig | None:
        for c in self.campaigns:
            if c.id == advert_id:
                return c
        return None

    def is_managed(self, advert_id: int) -> bool:
        """Listed campaigns follow their ``managed`` flag; others are managed when the defaults say so
        and give at least one strategy or a schedule."""
        c = self.campaign(advert_id)
        if c is not None:
            return c.managed
        return self.defaults.managed and bool(self.defaults.strategies or self.defaults.schedule)

    def strategies_for(self, advert_id: int) -> list[Strategy]:
        """Fresh strategy instances: the campaign's own list (else the defaults'), then its schedule
        (else the defaults'). An unmanaged campaign gets none. A schedule without its own time zone
        uses the account's."""
        if not self.is_managed(advert_id):
            return []
        c = self.campaign(advert_id)
        entries = c.strategies if c is not None and c.strategies is not None else self.defaults.strategies
        schedule = c.schedule if c is not None and c.schedule is not None else self.defaults.schedule
        out = [e.build() for e in entries]
        if schedule is not None:
            if "timezone" not in schedule.model_fields_set:
                schedule = schedule.model_copy(update={"timezone": self.timezone})
            out.append(Schedule(schedule))
        return out


class BidderConfig(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    accounts: list[AccountConfig] = Field(min_length=1)
    intervals: Intervals = Field(default_factory=Intervals)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    stop_file: Path = Path("./STOP")
    # Filled by the loader, not from YAML keys (they are excluded from the YAML key check).
    source: Path | None = Field(default=None, exclude=True)
    warnings: tuple[ConfigIssue, ...] = Field(default=(), exclude=True)

    LOADER_FIELDS: ClassVar[frozenset[str]] = frozenset({"source", "warnings"})

    def account(self, name: str) -> AccountConfig:
        for a in self.accounts:
            if a.name == name:
                return a
        raise KeyError(name)

    def secrets(self) -> list[str]:
        """Every token string in the config (for log redaction)."""
        out = []
        for a in self.accounts:
            for tok in (a.read_token, a.write_token):
                if tok is not None and tok.get_secret_value():
                    out.append(tok.get_secret_value())
        return out


# --------------------------------------------------------------------------------------------- loading


@dataclass
class ConfigCheck:
    path: Path
    config: BidderConfig | None = None
    errors: list[ConfigIssue] = field(default_factory=list)
    warnings: list[ConfigIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def load_config(path: Path | str, env: Mapping[str, str] = os.environ) -> BidderConfig:
    """Load and validate the YAML config. Raises :class:`ConfigError` with every error, sorted by line.
    Warnings (e.g. literal tokens) are in ``BidderConfig.warnings``."""
    result = check_config(path, env)
    if result.errors or result.config is None:
        raise ConfigError(result.errors)
    return result.config


def check_config(path: Path | str, env: Mapping[str, str] = os.environ) -> ConfigCheck:
    path = Path(path)
    check = ConfigCheck(path=path)
    where = str(path)
    issues = _Issues(where)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        issues.error(None, "", "no such file")
        return _finish(check, issues)
    except (OSError, UnicodeDecodeError) as exc:
        issues.error(None, "", f"cannot read the file: {getattr(exc, 'strerror', None) or exc}")
        return _finish(check, issues)

    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as exc:
        issues.error(*_yaml_error(exc))
        return _finish(check, issues)
    except YAMLError as exc:
        issues.error(None, "", f"YAML syntax error: {redact(_oneline(str(exc)))}")
        return _finish(check, issues)

    if tree is None:
        issues.error(1, "", "the file is empty; expected a mapping with an 'accounts' list")
        return _finish(check, issues)
    if not isinstance(tree, CommentedMap):
        issues.error(_line(tree, ()), "", f"expected a mapping at the top level, got {_describe(tree)}")
        return _finish(check, issues)

    data = _plain(tree)
    _resolve_tokens(tree, data, env, path.parent, issues)
    _cross_checks(tree, data, issues)
    for key in BidderConfig.LOADER_FIELDS & set(data):
        issues.error(_line(tree, (key,)), key, _unknown_key(key, _yaml_fields(BidderConfig)))
        del data[key]

    config = None
    try:
        config = BidderConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        suggested = {
            (*tuple(e["loc"])[:-1], near)
            for e in errors
            if e["type"] == "extra_forbidden"
            for near in difflib.get_close_matches(str(e["loc"][-1]), _fields_at(tuple(e["loc"])[:-1]), n=1)
        }
        for err in errors:
            loc = tuple(err["loc"])
            if err["type"] == "missing" and loc in suggested:
                continue  # the typo's "did you mean" already says it
            issues.error(_line(tree, loc), _path(loc), _message(err, loc))
    if config is not None and not issues.errors:
        check.config = config.model_copy(
            update={"source": path, "warnings": tuple(issues.sorted(issues.warnings))}
        )
    return _finish(check, issues)


# --------------------------------------------------------------------------------------------- helpers


class _Issues:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []
        self.cols: dict[ConfigIssue, int] = {}

    def _make(self, line: int | None, path: str, message: str) -> ConfigIssue:
        issue = ConfigIssue(self.file, None if line is None else int(line), path, message)
        self.cols.setdefault(issue, getattr(line, "col", 0))
        return issue

    def error(self, line: int | None, path: str, message: str) -> None:
        issue = self._make(line, path, message)
        if issue not in self.errors:
            self.errors.append(issue)

    def warning(self, line: int | None, path: str, message: str) -> None:
        self.warnings.append(self._make(line, path, f"warning: {message}"))

    def sorted(self, issues: list[ConfigIssue]) -> list[ConfigIssue]:
        """By line, then column, then the order found."""
        order = {issue: n for n, issue in enumerate(issues)}
        return sorted(issues, key=lambda i: (i.line or 0, self.cols.get(i, 0), order[i]))


def _finish(check: ConfigCheck, issues: _Issues) -> ConfigCheck:
    check.errors = issues.sorted(issues.errors)
    check.warnings = issues.sorted(issues.warnings)
    if check.errors:
        check.config = None
    return check


def _yaml_error(exc: MarkedYAMLError) -> tuple[int | None, str, str]:
    """Line and message of a YAML error; never echoes a value (a duplicate key's values are dropped)."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = _oneline(exc.problem or "invalid YAML")
    dup = re.match(r'found duplicate key "(.*?)" with value', problem)
    if dup:
        start = f" in the mapping that starts at line {exc.context_mark.line + 1}" if exc.context_mark else ""
        return line, "", f"duplicate key '{dup.group(1)}'{start}"
    if exc.context:
        ctx_line = exc.context_mark.line + 1 if exc.context_mark is not None else None
        at = f" at line {ctx_line}" if ctx_line is not None and ctx_line != line else ""
        problem += f" ({_oneline(exc.context)}{at})"
    return line, "", f"YAML syntax error: {redact(problem)}"


def _oneline(text: str) -> str:
    return " ".join(text.split())


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers and scalars -> plain dict / list / str / int / float / bool."""
    if isinstance(node, Mapping):
        return {_key(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


class _Line(int):
    """A 1-based line number that also carries the column (used only to order issues on one line)."""

    col: int = 0


def _at(line: int, col: int) -> _Line:
    out = _Line(line)
    out.col = col
    return out


def _key(key: Any) -> str:
    """A mapping key as text: YAML allows 1, null or true as keys; the config's keys are all names."""
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _find_key(node: CommentedMap, part: Any) -> Any:
    if part in node:
        return part
    for key in node:
        if _key(key) == part:
            return key
    return _MISSING


_MISSING = object()


def _line(tree: Any, loc: tuple) -> _Line | None:
    """1-based line of the deepest existing node along ``loc`` (the key's line for mapping keys)."""
    node = tree
    line = (
        _at(tree.lc.line + 1, tree.lc.col or 0) if hasattr(tree, "lc") and tree.lc.line is not None else None
    )
    for part in loc:
        key = _find_key(node, part) if isinstance(node, CommentedMap) else _MISSING
        if key is not _MISSING:
            try:
                line = _at(node.lc.key(key)[0] + 1, node.lc.key(key)[1])
            except (KeyError, TypeError, AttributeError):
                pass  # a merged (<<) key has no position of its own
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            try:
                line = _at(node.lc.item(part)[0] + 1, node.lc.item(part)[1])
            except (KeyError, TypeError, AttributeError):
                pass
            node = node[part]
        else:
            break
    return line


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(value: Any, *, secret: bool = False) -> str:
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


def _n(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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


def _message(err: Mapping[str, Any], loc: tuple) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    secret = any(isinstance(p, str) and p in TOKEN_KEYS for p in loc)
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        return _unknown_key(str(loc[-1]), _fields_at(loc[:-1]))
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_describe(value, secret=secret)}"
    got = "" if secret else f", got {_describe(value)}"
    if kind == "greater_than":
        return f"must be greater than {_n(ctx['gt'])}{got}"
    if kind == "greater_than_equal":
        return f"must be at least {_n(ctx['ge'])}{got}"
    if kind == "less_than":
        return f"must be less than {_n(ctx['lt'])}{got}"
    if kind == "less_than_equal":
        return f"must be at most {_n(ctx['le'])}{got}"
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


def _unknown_key(key: str, valid: list[str]) -> str:
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    if near:
        return f"unknown key '{key}'; did you mean '{near[0]}'?"
    return f"unknown key '{key}'; valid keys: {', '.join(valid)}"


def _yaml_fields(model: type[BaseModel]) -> list[str]:
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


def _fields_at(loc: tuple) -> list[str]:
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
        return _yaml_fields(tp)
    return []


def _resolve_tokens(
    tree: CommentedMap, data: dict, env: Mapping[str, str], base: Path, issues: _Issues
) -> None:
    """Replace ``${VAR}`` and ``file:/path`` token values in ``data`` (in place). Never echoes a value."""
    accounts = data.get("accounts")
    if not isinstance(accounts, list):
        return
    for i, account in enumerate(accounts):
        if not isinstance(account, dict):
            continue
        for key in TOKEN_KEYS:
            value = account.get(key)
            if not isinstance(value, str):
                continue
            loc = ("accounts", i, key)
            line, where = _line(tree, loc), _path(loc)
            resolved = _resolve_one(value, env, base, line, where, issues)
            account[key] = resolved if resolved is not None else "<unresolved>"


def _resolve_one(
    value: str, env: Mapping[str, str], base: Path, line: int | None, where: str, issues: _Issues
) -> str | None:
    raw = value.strip()
    if raw.startswith("$"):
        m = _VAR.match(raw)
        if not m:
            issues.error(line, where, "invalid variable reference; write ${NAME} with letters, digits and _")
            return None
        name = m.group(1)
        if name not in env:
            issues.error(line, where, f"environment variable {name} is not set")
            return None
        if not env[name].strip():
            issues.error(line, where, f"environment variable {name} is empty")
            return None
        return env[name].strip()
    if raw.startswith("file:"):
        spec = raw[5:].strip()
        for var in _VAR_IN_PATH.findall(spec):
            if var not in env:
                hint = " (systemd sets it only inside the service, for LoadCredential=)" if var == "CREDENTIALS_DIRECTORY" else ""
                issues.error(line, where, f"environment variable {var} in the file: path is not set{hint}")
                return None
            spec = spec.replace("${" + var + "}", env[var])
        file = Path(spec).expanduser()
        if not str(file) or str(file) == ".":
            example = f"file:/run/credentials/bidder/{where.rsplit('.', 1)[-1]}"
            issues.error(line, where, f"file: needs a path, e.g. {example}")
            return None
        if not file.is_absolute():
            file = base / file
        try:
            content = file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            issues.error(line, where, f"cannot read token file {file}: {reason}")
            return None
        if not content:
            issues.error(line, where, f"token file {file} is empty")
            return None
        return content
    if not raw:
        issues.error(line, where, "must not be empty")
        return None
    issues.warning(
        line,
        where,
        "a literal token in the config file; prefer ${VAR} or file:/path so the file holds no secret",
    )
    return raw


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _cross_checks(tree: CommentedMap, data: dict, issues: _Issues) -> None:
    """Checks across fields, on the raw data so they run even when other parts are broken."""
    accounts = data.get("accounts")
    if not isinstance(accounts, list):
        return
    seen_names: dict[str, int] = {}
    for i, account in enumerate(accounts):
        if not isinstance(account, dict):
            continue
        name = account.get("name")
        if isinstance(name, str):
            if name in seen_names:
                issues.error(
                    _line(tree, ("accounts", i, "name")),
                    _path(("accounts", i, "name")),
                    f"duplicate account name '{name}' (first used by accounts[{seen_names[name]}])",
                )
            else:
                seen_names[name] = i
        guard = account.get("guardrails")
        max_bid = _decimal(guard.get("max_bid")) if isinstance(guard, dict) else None

        sources: list[tuple[tuple, Any]] = []
        defaults = account.get("defaults")
        if isinstance(defaults, dict):
            sources.append((("accounts", i, "defaults", "strategies"), defaults.get("strategies")))
        campaigns = account.get("campaigns")
        if isinstance(campaigns, list):
            seen_ids: dict[int, int] = {}
            for j, camp in enumerate(campaigns):
                if not isinstance(camp, dict):
                    continue
                cid = camp.get("id")
                if isinstance(cid, int) and not isinstance(cid, bool):
                    if cid in seen_ids:
                        loc = ("accounts", i, "campaigns", j, "id")
                        issues.error(
                            _line(tree, loc),
                            _path(loc),
                            f"duplicate campaign id {cid} (already at campaigns[{seen_ids[cid]}])",
                        )
                    else:
                        seen_ids[cid] = j
                sources.append((("accounts", i, "campaigns", j, "strategies"), camp.get("strategies")))
        if max_bid is None:
            continue
        for prefix, entries in sources:
            if not isinstance(entries, list):
                continue
            for k, entry in enumerate(entries):
                if not isinstance(entry, dict) or len(entry) != 1:
                    continue
                ((kind, params),) = entry.items()
                if not isinstance(params, dict) or "max_bid" not in params:
                    continue
                bid = _decimal(params["max_bid"])
                if bid is not None and bid > max_bid:
                    loc = (*prefix, k, kind, "max_bid")
                    issues.error(
                        _line(tree, loc),
                        _path(loc),
                        f"{_num(bid)} is above the account's guardrails.max_bid ({_num(max_bid)})",
                    )


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")
