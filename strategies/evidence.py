"""The evidence model of the money strategies: how sure are we that a campaign is over a limit?

Pure (standard library; bidder.reasons for the coded reason fragments). Orders given clicks are Poisson
with an unknown conversion rate ``cr`` (orders per click); ``cr`` has a Gamma prior, so the posterior
after ``clicks`` and ``orders`` is ``Gamma(a0 + orders, b0 + clicks)`` (Gamma–Poisson). A money limit
(a ДРР cap, an ROI floor) over a window is a revenue threshold ``R*``: with the average order value
``aov`` the window is over the limit when ``cr x clicks x aov < R*``, i.e. when ``cr < cr* = R* / (clicks x aov)``. So

    P(breach) = P(cr < cr*) = regularized lower incomplete gamma(a, b x cr*)

and the strategies act only when that probability reaches the configured confidence (default 90 %).

Prior: the campaign's own longer history (the days before the window in the snapshot), worth at most
``prior_clicks`` clicks, on top of Jeffreys' ``Gamma(0.5, 0)``. With no history the prior is Jeffreys'
alone: 41 clicks and 0 orders against an expected 1.6 orders at the limit give 93 % (the issue's example).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from bidder.domain import Reason
from bidder.reasons import because

JEFFREYS_SHAPE = 0.5


@functools.lru_cache(maxsize=1 << 16)  # pure; complete-day windows repeat the same numbers all day (replay)
def gamma_p(a: float, x: float) -> float:
    """The regularized lower incomplete gamma function P(a, x) (Numerical Recipes' series / fraction)."""
    if a <= 0:
        raise ValueError("shape must be positive")
    if x <= 0:
        return 0.0
    gln = math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(1000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return min(1.0, total * math.exp(-x + a * math.log(x) - gln))
    # continued fraction for Q(a, x) (modified Lentz)
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return max(0.0, 1.0 - math.exp(-x + a * math.log(x) - gln) * h)


@dataclass(frozen=True, slots=True)
class Prior:
    """Gamma prior on the conversion rate (orders per click): shape ``a``, rate ``b`` (in clicks)."""

    a: float = JEFFREYS_SHAPE
    b: float = 0.0

    @classmethod
    def from_history(cls, clicks: int, orders: int, weight_clicks: float) -> Prior:
        """Jeffreys' prior plus the history's clicks and orders, scaled down to ``weight_clicks`` clicks."""
        if clicks <= 0 or weight_clicks <= 0:
            return cls()
        w = min(1.0, weight_clicks / clicks)
        return cls(JEFFREYS_SHAPE + orders * w, clicks * w)

    @property
    def mean(self) -> float | None:
        return self.a / self.b if self.b > 0 else None


@dataclass(frozen=True, slots=True)
class Verdict:
    """How probable it is that a window is on the bad side of a revenue threshold."""

    probability: float  # P(true revenue below the threshold)
    clicks: int
    orders: int
    expected_orders: float  # orders the window needed to be exactly at the limit
    posterior_mean_cr: float | None

    def words(self) -> Reason:
        """``41 clicks, 0 orders, expected 1.6`` as a coded reason (``evidence.verdict``)."""
        return because("evidence.verdict", clicks=self.clicks, orders=self.orders,
                       expected=round(self.expected_orders, 4))

    @property
    def percent(self) -> int:
        """The probability as a whole percentage, never 100 (certainty is not on offer)."""
        return min(round(self.probability * 100), 99)

    def confidence(self) -> Reason:
        """`` with 93% confidence: 41 clicks, 0 orders, expected 1.6`` (``evidence.confidence``)."""
        return because("evidence.confidence", confidence=self.percent, verdict=self.words())


def breach(clicks: int, orders: int, required_revenue: float, aov: float, prior: Prior) -> Verdict | None:
    """P(revenue at the true conversion rate < ``required_revenue``) over ``clicks``.

    ``aov`` is the average order value (base units). None when it cannot be judged (no clicks or no
    order value known).
    """
    if clicks <= 0 or aov <= 0:
        return None
    need_orders = max(0.0, required_revenue / aov)
    cr_star = need_orders / clicks
    a, b = prior.a + orders, prior.b + clicks
    return Verdict(gamma_p(a, b * cr_star), clicks, orders, need_orders, a / b)

