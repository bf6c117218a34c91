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

Where things are: ``models`` (the typed models; the guardrail model is :mod:`bidder.guardrails`),
``loader`` (reading, token references, cross-field checks), ``messages`` (validation and YAML error
wording), ``positions`` (lines and field paths in the YAML tree, the collected issues), ``wording``
(values shown in messages, never a secret).
"""

from __future__ import annotations

from bidder.config.loader import ConfigCheck, check_config, load_config
from bidder.config.models import (
    MIN_EVALUATE_INTERVAL,
    MIN_STATS_INTERVAL,
    TOKEN_KEYS,
    AccountConfig,
    BidderConfig,
    CampaignConfig,
    CampaignDefaults,
    Guardrails,
    Intervals,
    StrategyEntry,
    TelegramConfig,
)

__all__ = [
    "MIN_EVALUATE_INTERVAL",
    "MIN_STATS_INTERVAL",
    "TOKEN_KEYS",
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
