"""Loading the YAML strategy config: ruamel.yaml (line numbers) -> the typed models, every problem at once.

Each problem is a :class:`ConfigIssue` ``file:line: field.path: message``. Token references (``${VAR}``,
``file:/path``, or literally with a warning) are resolved here and never appear in a message. Checks
that span fields (duplicate names and ids, strategy ``max_bid`` above the guardrail) run on the raw data,
so they are reported even when other parts of the file are broken.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bidder.config.messages import fields_at, unknown_key, validation_message, yaml_error, yaml_fields
from bidder.config.models import TOKEN_KEYS, BidderConfig
from bidder.config.positions import Issues, line_of, path_text, plain
from bidder.config.wording import describe, oneline, plain_decimal
from bidder.errors import ConfigError, ConfigIssue
from bidder.redact import redact

__all__ = ["ConfigCheck", "check_config", "load_config"]

_VAR_IN_PATH = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_VAR = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


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
    issues = Issues(where)
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
        issues.error(*yaml_error(exc))
        return _finish(check, issues)
    except YAMLError as exc:
        issues.error(None, "", f"YAML syntax error: {redact(oneline(str(exc)))}")
        return _finish(check, issues)

    if tree is None:
        issues.error(1, "", "the file is empty; expected a mapping with an 'accounts' list")
        return _finish(check, issues)
    if not isinstance(tree, CommentedMap):
        issues.error(line_of(tree, ()), "", f"expected a mapping at the top level, got {describe(tree)}")
        return _finish(check, issues)

    data = plain(tree)
    _resolve_tokens(tree, data, env, path.parent, issues)
    _cross_checks(tree, data, issues)
    for key in BidderConfig.LOADER_FIELDS & set(data):
        issues.error(line_of(tree, (key,)), key, unknown_key(key, yaml_fields(BidderConfig)))
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
            for near in difflib.get_close_matches(str(e["loc"][-1]), fields_at(tuple(e["loc"])[:-1]), n=1)
        }
        for err in errors:
            loc = tuple(err["loc"])
            if err["type"] == "missing" and loc in suggested:
                continue  # the typo's "did you mean" already says it
            issues.error(line_of(tree, loc), path_text(loc), validation_message(err, loc))
    if config is not None and not issues.errors:
        check.config = config.model_copy(
            update={"source": path, "warnings": tuple(issues.sorted(issues.warnings))}
        )
    return _finish(check, issues)



def _finish(check: ConfigCheck, issues: Issues) -> ConfigCheck:
    check.errors = issues.sorted(issues.errors)
    check.warnings = issues.sorted(issues.warnings)
    if check.errors:
        check.config = None
    return check


def _resolve_tokens(
    tree: CommentedMap, data: dict, env: Mapping[str, str], base: Path, issues: Issues
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
            line, where = line_of(tree, loc), path_text(loc)
            resolved = _resolve_one(value, env, base, line, where, issues)
            account[key] = resolved if resolved is not None else "<unresolved>"
        report = (account.get("positions") or {}).get("search_report") if isinstance(
            account.get("positions"), dict) else None
        if isinstance(report, dict) and isinstance(report.get("token"), str):  # the Analytics read token
            loc = ("accounts", i, "positions", "search_report", "token")
            resolved = _resolve_one(report["token"], env, base, line_of(tree, loc), path_text(loc), issues)
            report["token"] = resolved if resolved is not None else "<unresolved>"


def _resolve_one(
    value: str, env: Mapping[str, str], base: Path, line: int | None, where: str, issues: Issues
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


def _cross_checks(tree: CommentedMap, data: dict, issues: Issues) -> None:
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
                    line_of(tree, ("accounts", i, "name")),
                    path_text(("accounts", i, "name")),
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
                            line_of(tree, loc),
                            path_text(loc),
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
                        line_of(tree, loc),
                        path_text(loc),
                        f"{plain_decimal(bid)} is above the account's guardrails.max_bid ({plain_decimal(max_bid)})",
                    )

