"""bidder.config: the shipped example, the model API, token sources and the error contract."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bidder.config import (
    AccountConfig,
    BidderConfig,
    Guardrails,
    Intervals,
    TelegramConfig,
    check_config,
    load_config,
)
from bidder.errors import ConfigError
from bidder.wb.tokens import mint_token
from strategies.registry import REGISTRY
from strategies.schedule import Schedule

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bidder.yaml"
READ = mint_token("seller-1", read_only=True, token_id="read-token-id")
WRITE = mint_token("seller-1", token_id="write-token-id")
ENV = {"WB_READ_TOKEN": READ, "WB_WRITE_TOKEN": WRITE}


def write(tmp_path: Path, text: str, name: str = "bidder.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


MINIMAL = """
accounts:
  - name: shop-a
    read_token: ${WB_READ_TOKEN}
    guardrails: {max_bid: 800}
"""


def errors_of(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=ENV if env is None else env)
    return [str(i) for i in info.value.issues]


# ------------------------------------------------------------------------------------ the example


def test_example_config_loads() -> None:
    cfg = load_config(EXAMPLE, env=ENV)
    assert isinstance(cfg, BidderConfig)
    assert cfg.warnings == ()
    assert cfg.source == EXAMPLE
    (account,) = cfg.accounts
    assert account.name == "shop-a"
    assert account.read_token.get_secret_value() == READ
    assert account.write_token is not None and account.write_token.get_secret_value() == WRITE
    assert not account.read_only
    assert account.timezone == "Europe/Moscow"
    g = account.guardrails
    assert (g.max_bid, g.max_step_pct, g.min_change_interval) == (Decimal(800), 25, timedelta(minutes=10))
    assert g.max_bid_minor == 80000
    assert [c.id for c in account.campaigns] == [1000001, 1000002, 1000003, 1000004]


def test_example_strategies_per_campaign() -> None:
    account = load_config(EXAMPLE, env=ENV).accounts[0]
    kinds = {i: [s.kind for s in account.strategies_for(i)] for i in (1000001, 1000002, 1000003, 1000004, 42)}
    assert kinds == {
        1000001: ["target_position"],
        1000002: ["roi_floor", "spend_cap"],
        1000003: ["spend_cap"],
        1000004: ["spend_cap", "schedule"],  # no own list: the defaults, plus its schedule
        42: ["spend_cap"],  # not listed: the defaults
    }
    (tp,) = account.strategies_for(1000001)
    assert isinstance(tp, REGISTRY["target_position"])
    assert tp.params.position == 3 and tp.params.max_bid == Decimal(600)
    cap = account.strategies_for(1000003)[0]
    assert cap.params.daily_budget == Decimal(3000) and cap.params.window == timedelta(days=3)
    sched = account.strategies_for(1000004)[-1]
    assert isinstance(sched, Schedule) and sched.params.active_hours == "08:00-23:00"
    # fresh instances every call
    assert account.strategies_for(1000001)[0] is not tp
    assert all(account.is_managed(i) for i in (1000001, 1000004, 42))


def test_example_secrets_and_no_token_in_repr() -> None:
    cfg = load_config(EXAMPLE, env=ENV)
    assert sorted(cfg.secrets()) == sorted([READ, WRITE])
    text = repr(cfg) + str(cfg) + cfg.model_dump_json()
    assert READ not in text and WRITE not in text


def test_example_missing_env_names_both_variables() -> None:
    lines = errors_of(EXAMPLE, env={})
    assert [line.split(": ", 1)[1] for line in lines] == [
        "accounts[0].read_token: environment variable WB_READ_TOKEN is not set",
        "accounts[0].write_token: environment variable WB_WRITE_TOKEN is not set",
    ]


# ------------------------------------------------------------------------------------ defaults


def test_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL), env=ENV)
    assert cfg.intervals == Intervals()
    assert (cfg.intervals.campaigns, cfg.intervals.stats, cfg.intervals.clusters) == (
        timedelta(minutes=5),
        timedelta(minutes=3),
        timedelta(minutes=15),
    )
    assert (cfg.intervals.recommendations, cfg.intervals.evaluate) == (
        timedelta(minutes=30),
        timedelta(minutes=1),
    )
    assert cfg.telegram == TelegramConfig()
    assert (cfg.telegram.locale, cfg.telegram.digest_time, cfg.telegram.digest_timezone) == (
        "ru",
        "09:00",
        "Europe/Moscow",
    )
    assert cfg.telegram.merge_window == timedelta(seconds=60)
    assert cfg.stop_file == Path("./STOP")
    account = cfg.accounts[0]
    assert account.write_token is None and account.read_only
    g = account.guardrails
    assert g == Guardrails(max_bid=Decimal(800))
    assert (g.max_step_pct, g.dead_band_pct, g.max_stats_age) == (25, 3, timedelta(hours=6))
    assert (g.min_evidence_spend, g.min_evidence_clicks, g.war_raises) == (Decimal(300), 30, 3)
    assert g.min_evidence_spend_minor == 30000
    # no default strategies: unlisted campaigns are not managed
    assert not account.is_managed(1) and account.strategies_for(1) == []


def test_full_shape(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        accounts:
          - name: shop-a
            read_token: ${WB_READ_TOKEN}
            write_token: ${WB_WRITE_TOKEN}
            timezone: Asia/Novosibirsk
            guardrails:
              max_bid: 450.5
              max_step_pct: 10
              min_change_interval: 600        # plain numbers are seconds
              dead_band_pct: 0
              max_stats_age: 2h
              min_evidence_spend: 100.25
              min_evidence_clicks: 5
              war_raises: 4
            defaults:
              strategies:
                - spend_cap: {max_drr_pct: 20}
              schedule: {active_hours: "09:00-21:00"}
            campaigns:
              - id: 1
                strategies: []                # explicitly none: only the defaults' schedule applies
              - id: 2
                managed: false
              - id: 3
                schedule: {active_hours: "00:00-06:00,22:00-24:00", outside: lower, lower_pct: 40}
        intervals: {campaigns: 10m, stats: 5m, clusters: 1h, recommendations: 2h, evaluate: 30s}
        telegram: {locale: en, digest_time: "8:30", digest_timezone: Asia/Novosibirsk, merge_window: 2m}
        stop_file: /run/bidder/STOP
        """,
    )
    cfg = load_config(path, env=ENV)
    a = cfg.accounts[0]
    assert a.guardrails.max_bid_minor == 45050
    assert a.guardrails.min_evidence_spend_minor == 10025
    assert a.guardrails.min_change_interval == timedelta(minutes=10)
    assert [s.kind for s in a.strategies_for(1)] == ["schedule"]
    # the defaults' schedule has no time zone of its own: it takes the account's
    assert a.strategies_for(1)[0].params.timezone == "Asia/Novosibirsk"
    assert not a.is_managed(2) and a.strategies_for(2) == []
    s3 = a.strategies_for(3)
    assert [s.kind for s in s3] == ["spend_cap", "schedule"]
    assert s3[1].params.outside == "lower" and s3[1].params.lower_pct == 40
    assert a.strategies_for(99)[1].params.active_hours == "09:00-21:00"
    assert a.campaign(3) is not None and a.campaign(4) is None
    assert cfg.intervals.evaluate == timedelta(seconds=30)
    assert cfg.telegram.digest_time == "08:30"
    assert cfg.stop_file == Path("/run/bidder/STOP")
    assert cfg.account("shop-a") is a
    with pytest.raises(KeyError):
        cfg.account("nope")


def test_schedule_with_own_timezone_keeps_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL
        + """
    timezone: Asia/Vladivostok
    campaigns:
      - id: 7
        schedule: {active_hours: "08:00-23:00", timezone: Europe/Moscow}
""",
    )
    a = load_config(path, env=ENV).accounts[0]
    assert a.strategies_for(7)[-1].params.timezone == "Europe/Moscow"


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        x-guard: &guard {max_bid: 500, max_step_pct: 20}
        accounts:
          - name: a
            read_token: ${WB_READ_TOKEN}
            guardrails: *guard
          - name: b
            read_token: ${WB_READ_TOKEN}
            guardrails:
              <<: *guard
              max_bid: 600
        """,
    )
    # x- keys are not allowed: unknown keys are errors, even for anchors
    assert errors_of(path) == [
        f"{path}:1: x-guard: unknown key 'x-guard'; valid keys: accounts, intervals, telegram, stop_file"
    ]
    text = path.read_text().replace("x-guard: &guard {max_bid: 500, max_step_pct: 20}\n", "")
    text = text.replace("guardrails: *guard", "guardrails: &guard {max_bid: 500, max_step_pct: 20}")
    path.write_text(text)
    cfg = load_config(path, env=ENV)
    assert cfg.accounts[1].guardrails.max_bid == 600 and cfg.accounts[1].guardrails.max_step_pct == 20


# ------------------------------------------------------------------------------------ tokens


def test_file_tokens_absolute_and_relative(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "read").write_text(f"  {READ}\n")
    absolute = tmp_path / "write"
    absolute.write_text(WRITE + "\n")
    path = write(
        tmp_path,
        f"""
        accounts:
          - name: shop-a
            read_token: file:secrets/read
            write_token: "file:{absolute}"
            guardrails: {{max_bid: 800}}
        """,
    )
    a = load_config(path, env={}).accounts[0]
    assert a.read_token.get_secret_value() == READ
    assert a.write_token is not None and a.write_token.get_secret_value() == WRITE


def test_empty_token_file_and_empty_variable(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n")
    path = write(
        tmp_path,
        """
        accounts:
          - name: shop-a
            read_token: file:empty
            write_token: ${EMPTY}
            guardrails: {max_bid: 800}
        """,
    )
    assert errors_of(path, env={"EMPTY": "  "}) == [
        f"{path}:3: accounts[0].read_token: token file {tmp_path / 'empty'} is empty",
        f"{path}:4: accounts[0].write_token: environment variable EMPTY is empty",
    ]


def test_literal_token_is_a_warning_and_never_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("${WB_READ_TOKEN}", READ))
    result = check_config(path, env={})
    assert result.ok and result.config is not None
    assert [str(w) for w in result.warnings] == [
        f"{path}:3: accounts[0].read_token: warning: a literal token in the config file; "
        "prefer ${VAR} or file:/path so the file holds no secret"
    ]
    assert result.config.warnings == tuple(result.warnings)
    assert result.config.accounts[0].read_token.get_secret_value() == READ
    assert all(READ not in str(w) for w in result.warnings)


def test_no_token_value_in_any_error(tmp_path: Path) -> None:
    """Even when the config is broken around them, resolved tokens never appear in messages."""
    path = write(
        tmp_path,
        f"""
        accounts:
          - name: shop-a
            read_token: {READ}
            write_token: ${{WB_WRITE_TOKEN}}
            guardrails: {{max_bid: oops}}
            toekns: {WRITE}
          - name: shop-a
            read_token: [{READ}]
            guardrails: {{max_bid: 1}}
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env=ENV)
    text = str(info.value) + repr(info.value.issues)
    assert READ not in text and WRITE not in text
    assert f"{path}:8: accounts[1].read_token: expected a string, got a list" in str(info.value).splitlines()


def test_token_values_are_secretstr(tmp_path: Path) -> None:
    a = load_config(write(tmp_path, MINIMAL), env=ENV).accounts[0]
    assert READ not in repr(a) and READ not in str(a.read_token)
    assert isinstance(a, AccountConfig)


# ------------------------------------------------------------------------------------ errors


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert errors_of(path) == [f"{path}: no such file"]


def test_issues_sorted_by_line_and_config_error_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        telegram: {locale: xx}
        accounts:
          - name: shop-a
            read_token: ${NOPE}
            guardrails: {max_bid: 0}
        intervals: {stats: 10s}
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    lines = [str(i) for i in info.value.issues]
    assert [i.line for i in info.value.issues] == [1, 4, 5, 6]
    assert str(info.value) == "\n".join(lines)
    assert lines[0] == f"{path}:1: telegram.locale: must be 'ru' or 'en', got 'xx'"
    assert lines[2] == f"{path}:5: accounts[0].guardrails.max_bid: must be greater than 0, got 0"


def test_max_bid_check_uses_each_accounts_own_guardrail(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        accounts:
          - name: a
            read_token: ${WB_READ_TOKEN}
            guardrails: {max_bid: 1000}
            defaults:
              strategies:
                - target_position: {position: 1, max_bid: 1000}
          - name: b
            read_token: ${WB_READ_TOKEN}
            guardrails: {max_bid: 500}
            defaults:
              strategies:
                - target_position: {position: 1, max_bid: 500.01}
        """,
    )
    assert errors_of(path) == [
        f"{path}:13: accounts[1].defaults.strategies[0].target_position.max_bid: "
        "500.01 is above the account's guardrails.max_bid (500)"
    ]


def test_same_campaign_id_in_two_accounts_is_fine(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        accounts:
          - name: a
            read_token: ${WB_READ_TOKEN}
            guardrails: {max_bid: 100}
            campaigns: [{id: 5}]
          - name: b
            read_token: ${WB_READ_TOKEN}
            guardrails: {max_bid: 100}
            campaigns: [{id: 5}]
        """,
    )
    cfg = load_config(path, env=ENV)
    assert [a.campaigns[0].id for a in cfg.accounts] == [5, 5]


def test_loader_fields_cannot_be_set_from_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "warnings: []\n")
    assert errors_of(path) == [
        f"{path}:5: warnings: unknown key 'warnings'; valid keys: accounts, intervals, telegram, stop_file"
    ]


def test_every_registered_kind_is_accepted(tmp_path: Path) -> None:
    params = {
        "target_position": "{position: 2, max_bid: 100}",
        "roi_floor": "{min_roi_pct: 10, margin_pct: 30}",
        "spend_cap": "{max_drr_pct: 10}",
        "schedule": '{active_hours: "10:00-20:00"}',
    }
    assert set(params) == set(REGISTRY), "a new strategy kind needs a line here"
    items = "\n".join(f"        - {k}: {v}" for k, v in params.items())
    path = write(tmp_path, MINIMAL + "    defaults:\n      strategies:\n" + items + "\n")
    got = [s.kind for s in load_config(path, env=ENV).accounts[0].strategies_for(1)]
    assert got == list(params)


def test_strategy_kind_without_params_uses_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "    defaults:\n      strategies:\n        - spend_cap:\n")
    assert errors_of(path) == [
        f"{path}:7: accounts[0].defaults.strategies[0].spend_cap.max_drr_pct: required, but missing"
    ]


def test_file_path_may_name_an_environment_variable(tmp_path) -> None:
    from bidder.config import load_config
    from bidder.errors import ConfigError
    from bidder.wb.tokens import mint_token

    token = mint_token("seller-1", read_only=True)
    (tmp_path / "wb-read-token").write_text(token + "\n")
    cfg = tmp_path / "bidder.yaml"
    cfg.write_text(
        "accounts:\n  - name: a\n    read_token: file:${CREDENTIALS_DIRECTORY}/wb-read-token\n"
        "    guardrails: {max_bid: 100}\n"
    )
    loaded = load_config(cfg, {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert loaded.accounts[0].read_token.get_secret_value() == token
    try:
        load_config(cfg, {})
    except ConfigError as exc:
        assert str(exc) == (
            f"{cfg}:3: accounts[0].read_token: environment variable CREDENTIALS_DIRECTORY in the file: path "
            "is not set (systemd sets it only inside the service, for LoadCredential=)"
        )
    else:
        raise AssertionError("a missing variable must be a config error")
