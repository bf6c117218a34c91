"""The effective configuration and settings as text with every secret redacted.

Secrets are ``SecretStr`` (pydantic renders them as ``**********``); as a second line of defence every
known secret string is replaced wherever it appears, and a database URL loses its password.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

MASK = "**********"
SECRET_WORDS = ("token", "password", "secret")


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for s in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(s, MASK)
    return text


def _mask_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (MASK if any(w in str(k).lower() for w in SECRET_WORDS) and v not in (None, "", [], ())
                    else _mask_keys(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_keys(v) for v in value]
    return value


def _yaml(data: Any) -> str:
    import io

    from ruamel.yaml import YAML

    y = YAML()  # round-trip dumper: keeps the models' field order
    y.default_flow_style = False
    y.allow_unicode = True
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()


def redacted_config(cfg: Any, secrets: Iterable[str] = ()) -> str:
    """The effective config as YAML (unset options left out, durations in ISO 8601)."""
    if cfg is None:
        return ""
    data = cfg.model_dump(mode="json", exclude={"source", "warnings"}, exclude_none=True)
    try:
        text = _yaml(_mask_keys(data))
    except Exception:
        text = json.dumps(_mask_keys(data), ensure_ascii=False, indent=2, default=str)
    return _scrub(text, secrets)


def database_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return MASK if "@" in url else url


def redacted_settings(settings: Any, secrets: Iterable[str] = ()) -> str:
    if settings is None:
        return ""
    data = settings.model_dump(mode="json")
    if isinstance(data.get("database_url"), str):
        data["database_url"] = database_url(data["database_url"])
    return _scrub(json.dumps(_mask_keys(data), ensure_ascii=False, indent=2, default=str), secrets)
