"""A sweep: the same market (a named scenario, or one calibrated from the database) run once per value of
one parameter, everything else equal (scenario, seed, config), and the figures side by side.

Which strategies run: with ``--config``, each campaign's own strategies and the account's guardrails
from it, the swept field set in every strategy of its kind (or in the guardrails); without, every
campaign of the market gets the swept strategy alone with that field set (its other fields at their
defaults) under default guardrails (``DEFAULT_MAX_BID``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bidder.engine.guards import GuardConfig
from bidder.sim.market import Market, ScenarioSpec
from bidder.sweep.params import GUARDRAILS, SweepError, SweptParam, check_values, with_value
from bidder.sweep.simulate import CampaignFigures, run_market
from strategies.registry import REGISTRY

DEFAULT_MAX_BID = 2000  # base units: the guardrails' max_bid when no config is given
TIMEZONE = "Europe/Moscow"


@dataclass(frozen=True, slots=True)
class SweepSetup:
    spec: ScenarioSpec
    param: SweptParam
    account: Any | None  # bidder.config AccountConfig, or None
    days: float
    every: timedelta
    seed: int


def _base_params(param: SweptParam, account: Any | None, advert_ids: list[int]) -> dict[str, Any] | None:
    if account is None:
        return None
    if param.kind == GUARDRAILS:
        return account.guardrails.model_dump()
    for aid in advert_ids:
        for s in account.strategies_for(aid):
            if s.kind == param.kind:
                return s.params.model_dump()
    raise SweepError(f"--param {param.path}: no campaign of account {account.name!r} in this market runs "
                     f"{param.kind} (the config's campaigns and defaults)")


def policy(setup: SweepSetup, value: Any) -> tuple[Callable[[int], list], GuardConfig]:
    """(strategies per campaign, guardrails) with the swept field at ``value``."""
    p, account = setup.param, setup.account
    if account is None:
        if p.kind == GUARDRAILS:
            raise SweepError(f"--param {p.path}: sweeping a guardrail needs --config (the strategies it guards)")
        cls = REGISTRY[p.kind]
        params = cls.Params.model_validate({p.field: value})
        return (lambda aid: [cls(params)]), GuardConfig.from_numbers(max_bid=DEFAULT_MAX_BID)
    rails = account.guardrails
    if p.kind == GUARDRAILS:
        rails = with_value(rails, p.field, value)
    guard = GuardConfig.from_guardrails(rails)

    def strategies(aid: int) -> list:
        out = []
        for s in account.strategies_for(aid):
            if s.kind == p.kind:
                s = REGISTRY[s.kind](with_value(s.params, p.field, value))
            out.append(s)
        return out

    return strategies, guard


def prepare(setup: SweepSetup) -> None:
    """Check every value against the config model before anything runs (raises :class:`SweepError`)."""
    ids = Market(setup.spec, setup.seed).advert_ids(setup.spec.sellers[0].name)
    check_values(setup.param, _base_params(setup.param, setup.account, ids))
    for v in setup.param.values:
        strategies, _ = policy(setup, v)
        if not any(strategies(aid) for aid in ids):
            raise SweepError(f"--param {setup.param.path}: no campaign of the market has a strategy to run")


def run_value(setup: SweepSetup, value: Any) -> list[CampaignFigures]:
    strategies, guard = policy(setup, value)
    name = setup.account.name if setup.account is not None else setup.spec.sellers[0].name
    tz = setup.account.timezone if setup.account is not None else TIMEZONE
    return run_market(setup.spec, setup.seed, days=setup.days, every=setup.every, strategies=strategies,
                      guard=guard, account=name, timezone=tz)


def run_sweep(setup: SweepSetup) -> list[tuple[Any, list[CampaignFigures]]]:
    prepare(setup)
    return [(v, run_value(setup, v)) for v in setup.param.values]
