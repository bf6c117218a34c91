"""Daily limits (``GET``/``PUT /api/advert/v0/daily-limits``, REFERENCE-2026-10 §3.11): wire models.

Money is integer minor units. Lenient like the other reply models (unknown fields ignored), but the
fields the engine decides on (``enabled``, ``dailyLimit``, ``valid``, ``requiredLimit``) are required:
a reply without them is SchemaDrift, never a guess.
"""

from __future__ import annotations

from bidder.wb.models import DailyLimit, DailyLimitSet
from bidder.wb.schemas.base import Int0, NullList, Str, Wire


class DailyLimitAdvert(Wire):
    advertId: int
    enabled: bool
    dailyLimit: Int0 = 0
    spentToday: Int0 = 0
    currency: Str = ""
    carryOverEnabled: bool = False
    valid: bool
    requiredLimit: int

    def to_domain(self) -> DailyLimit:
        return DailyLimit(self.advertId, self.enabled, self.dailyLimit, self.spentToday, self.currency,
                          self.carryOverEnabled, self.valid, self.requiredLimit)


class DailyLimitsResponse(Wire):
    adverts: NullList(DailyLimitAdvert) = []


class DailyLimitSetOut(Wire):
    advertId: int
    belowMinLimit: bool
    requiredLimit: int

    def to_domain(self) -> DailyLimitSet:
        return DailyLimitSet(self.advertId, self.belowMinLimit, self.requiredLimit)


class DailyLimitsPutResponse(Wire):
    adverts: NullList(DailyLimitSetOut) = []
