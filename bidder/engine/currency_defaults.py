"""Guardrail defaults sized in the account's own currency (issue 14, defect 11).

What a seller writes under ``guardrails:`` is theirs, in the account currency's base units. The defaults
were rubles: ``min_evidence_spend`` 300 meant 300 ₽ on a ruble account and 300 sum (about 2 ₽) on a UZS
one, so a UZS campaign could be paused for "poor performance" on almost no spend. When the config does
not set ``min_evidence_spend``, the evaluation takes it from WB's own CPM bid step
(``GET /api/advert/v1/config``, which WB sizes per currency; :func:`bidder.wb.plausible.default_min_evidence_spend`:
300 steps): 300 ₽ on RUB (as before), 300,000 sum on UZS (cpmStep 100,000 tiyin).

The strategies' money defaults (``min_spend_without_revenue``: 500 ₽, spend with no revenue that counts
as a breach) are sized the same way (:func:`sized_strategies`: 500 steps).

Until WB's config has been read the configured value applies (the same as before this change); bid
changes are held anyway until the bid step is known (``engine.wait_bid_step``). A value the seller wrote
is never replaced.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bidder.engine.guards import GuardConfig
from bidder.wb.plausible import evidence_spend_for_step, no_revenue_spend_for_step

# strategy parameters whose default is money, and the default in WB's CPM steps of the account's currency
SIZED_PARAMS = {"min_spend_without_revenue": no_revenue_spend_for_step}


def evidence_guard(guard: GuardConfig, guardrails: Any, cpm_step: int | None) -> GuardConfig:
    """``guard`` with ``min_evidence_spend`` in WB's steps of the account's currency, unless the config
    (``guardrails``, :class:`bidder.guardrails.Guardrails`) set it or the step is not known yet."""
    if not cpm_step or "min_evidence_spend" in getattr(guardrails, "model_fields_set", ()):
        return guard
    spend = evidence_spend_for_step(cpm_step)
    return guard if spend == guard.min_evidence_spend else replace(guard, min_evidence_spend=spend)


def sized_strategies(strategies: list, cpm_step: int | None) -> list:
    """``strategies`` with the money defaults of their parameters (``SIZED_PARAMS``) in WB's steps of the
    account's currency; a value the config set, or an unknown step, leaves a strategy as it is."""
    if not cpm_step:
        return strategies
    out = []
    for strategy in strategies:
        params = getattr(strategy, "params", None)
        update = {name: size(cpm_step) for name, size in SIZED_PARAMS.items()
                  if params is not None and name in type(params).model_fields
                  and name not in params.model_fields_set and getattr(params, name) != size(cpm_step)}
        out.append(type(strategy)(params.model_copy(update=update)) if update else strategy)
    return out
