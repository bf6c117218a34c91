"""The one guardrail model: bidder.guardrails.Guardrails holds every bound and default; the engine's
GuardConfig is built from it by from_guardrails and checked against the same bounds."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bidder.config import Guardrails as ConfigGuardrails
from bidder.engine.guards import GuardConfig
from bidder.guardrails import DEFAULTS, Guardrails


def test_config_re_exports_the_one_model() -> None:
    assert ConfigGuardrails is Guardrails


def test_engine_defaults_are_the_models() -> None:
    g = GuardConfig()
    assert {name: getattr(g, name) for name in DEFAULTS} == DEFAULTS
    rails = Guardrails(max_bid=Decimal("450.5"))
    built = GuardConfig.from_guardrails(rails)
    assert built == GuardConfig(max_bid=45050)
    assert built.max_bid == rails.max_bid_minor


def test_from_guardrails_carries_every_field() -> None:
    rails = Guardrails(
        max_bid=Decimal(200), max_step_pct=10, min_change_interval=timedelta(minutes=5), dead_band_pct=0,
        max_stats_age=timedelta(hours=2), min_evidence_spend=Decimal("12.5"), min_evidence_clicks=4,
        war_raises=5,
    )
    assert GuardConfig.from_guardrails(rails) == GuardConfig(
        max_bid=20000, max_step_pct=10.0, min_change_interval=timedelta(minutes=5), dead_band_pct=0.0,
        max_stats_age=timedelta(hours=2), min_evidence_spend=Decimal("12.5"), min_evidence_clicks=4,
        war_raises=5,
    )


@pytest.mark.parametrize(
    "numbers",
    [{"max_step_pct": 0}, {"max_step_pct": 101}, {"dead_band_pct": 100}, {"war_raises": 0},
     {"min_evidence_clicks": -1}, {"min_change_interval": -1}, {"max_bid": 0}],
)
def test_bounds_are_checked_on_every_path(numbers: dict) -> None:
    with pytest.raises(ValueError):
        GuardConfig.from_numbers(**numbers)
    with pytest.raises(ValueError):
        GuardConfig(**{k: (timedelta(seconds=v) if k == "min_change_interval" else v) for k, v in numbers.items()})


def test_unknown_guardrail_name_is_refused() -> None:
    with pytest.raises(TypeError, match="max_bidd"):
        GuardConfig.from_numbers(max_bidd=5)
