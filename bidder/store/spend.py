"""Today's spend per campaign against its complete-day window: the data of ``bidder status`` and
Telegram ``/status`` (the view itself, with budgets and caps from the config, is bidder/notify/spend_view.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bidder.store.campaigns import load_campaigns
from bidder.store.stats import daily_totals

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class CampaignSpend:
    advert_id: int
    name: str
    payment_type: str
    status: int
    spent_today: Decimal  # base units, as last read from WB (up to one statistics sync old)
    window_spend: Decimal  # the complete days before today (``window_days``)
    window_revenue: Decimal
    window_orders: int
    window_clicks: int


async def campaign_spend(session: AsyncSession, account: str, today: date, window_days: int = 3) -> list[CampaignSpend]:
    """Every stored campaign of ``account`` with today's spend and the ``window_days`` complete days before it
    (days in the account's time zone; ``today`` is the caller's local date)."""
    first = today - timedelta(days=max(1, window_days))
    sums: dict[int, list] = {}
    for t in await daily_totals(session, account, first, today):
        acc = sums.setdefault(t.advert_id, [ZERO, ZERO, ZERO, 0, 0])
        if t.day == today:
            acc[0] += t.spend
        else:
            acc[1] += t.spend
            acc[2] += t.revenue
            acc[3] += t.orders
            acc[4] += t.clicks
    out = []
    for c in await load_campaigns(session, account):
        s = sums.get(c.advert_id, [ZERO, ZERO, ZERO, 0, 0])
        out.append(CampaignSpend(c.advert_id, c.name, c.payment_type, c.status, *s))
    return out
