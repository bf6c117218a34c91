"""What a plausible bid is, in the account's own currency (issue 14, defect 11).

Bids are minor units of the seller account's currency. A fixed ruble ceiling made a UZS bid of 150,000
sum (about 1,000 ₽) "implausible" and failed the account's campaign read. Ceilings and default evidence
thresholds are therefore counted in WB's own bid steps (``GET /api/advert/v1/config``: ``cpmStep`` and
``cpcStep``), which WB sizes per currency: RUB 100 / 10 kopecks, UZS 100,000 / 500 tiyin.
"""

from __future__ import annotations

from decimal import Decimal

from bidder.domain import minor_to_base
from bidder.wb.models import WBConfig

# 100,000 CPM steps: 100,000 ₽ on RUB's 1-ruble step (ten times WB's highest CPM bid). A current bid above
# it is a broken reply, not a bid: nothing is stored or decided on it.
PLAUSIBLE_STEPS = 100_000
# Without the config (or before it was read): the RUB ceiling; a bid above it makes the client read the
# config and judge with the account's own steps.
RUB_CEILING = 10_000_000
# Default minimum evidence before a performance pause: 300 CPM steps of ad spend (300 ₽ on RUB).
EVIDENCE_STEPS = 300


def max_plausible_bid(cfg: WBConfig | None) -> int:
    if cfg is None:
        return RUB_CEILING
    return PLAUSIBLE_STEPS * max(cfg.cpm_step, cfg.cpc_step, 1)


def default_min_evidence_spend(cfg: WBConfig) -> Decimal:
    """Base units of the account's currency (what ``min_evidence_spend`` is written in)."""
    return evidence_spend_for_step(cfg.cpm_step)


NO_REVENUE_STEPS = 500  # the strategies' min_spend_without_revenue default: 500 ₽ on RUB (cpmStep 1 ₽)


def no_revenue_spend_for_step(cpm_step: int) -> Decimal:
    """``NO_REVENUE_STEPS`` of WB's CPM bid step (minor units), in base units of the same currency."""
    return minor_to_base(NO_REVENUE_STEPS * max(cpm_step, 1))


def evidence_spend_for_step(cpm_step: int) -> Decimal:
    """``EVIDENCE_STEPS`` of WB's CPM bid step (minor units), in base units of the same currency."""
    return minor_to_base(EVIDENCE_STEPS * max(cpm_step, 1))
