"""The spend view of an account: today's spend against daily budgets, and ДРР / ROI of the complete days
against the caps and floors of the campaign's strategies. Shown by ``bidder status`` and Telegram
``/status`` (Russian by default). Data: :func:`bidder.store.spend.campaign_spend`; limits: the config."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bidder.store.spend import campaign_spend

WINDOW_DAYS = 3

_TEXT = {
    "ru": {
        "title": "Расход сегодня · {account} ({day}, {tz})",
        "total": "Итого сегодня: {spend}",
        "none": "Нет кампаний с данными.",
        "line": "{name} ({id}): сегодня {spend}",
        "budget": "бюджет {budget} ({pct} %)",
        "over": "ПРЕВЫШЕН",
        "drr": "ДРР за {days} полн. дн. {drr} (порог {cap})",
        "drr_none": "ДРР за {days} полн. дн. — нет выручки (порог {cap})",
        "roi": "ROI {roi} (минимум {floor})",
        "paused": "на паузе",
    },
    "en": {
        "title": "Spend today · {account} ({day}, {tz})",
        "total": "Total today: {spend}",
        "none": "No campaigns with data.",
        "line": "{name} ({id}): today {spend}",
        "budget": "budget {budget} ({pct} %)",
        "over": "OVER",
        "drr": "ДРР over {days} complete days {drr} (cap {cap})",
        "drr_none": "ДРР over {days} complete days: no revenue (cap {cap})",
        "roi": "ROI {roi} (floor {floor})",
        "paused": "paused",
    },
}


@dataclass(frozen=True, slots=True)
class SpendLine:
    advert_id: int
    name: str
    status: int
    spent_today: Decimal
    daily_budget: Decimal | None
    max_drr_pct: float | None
    drr_pct: float | None  # complete days
    min_roi_pct: float | None
    roi_pct: float | None
    window_days: int


@dataclass(frozen=True, slots=True)
class AccountSpend:
    account: str
    day: str
    timezone: str
    currency: str
    lines: tuple[SpendLine, ...]

    @property
    def total(self) -> Decimal:
        return sum((x.spent_today for x in self.lines), Decimal(0))


def _params(strategies: Sequence[Any], name: str) -> Any | None:
    for s in strategies:
        if getattr(s, "kind", None) == name:
            return s.params
    return None


async def account_spend(session: Any, account: Any, now: datetime, *, currency: str = "RUB") -> AccountSpend:
    """``account``: an AccountConfig (name, timezone, is_managed, strategies_for)."""
    tz = getattr(account, "timezone", "Europe/Moscow")
    today = now.astimezone(ZoneInfo(tz)).date()
    lines = []
    for c in await campaign_spend(session, account.name, today, WINDOW_DAYS):
        managed = account.is_managed(c.advert_id)
        strategies = account.strategies_for(c.advert_id) if managed else []
        cap, roi = _params(strategies, "spend_cap"), _params(strategies, "roi_floor")
        if not managed and c.spent_today <= 0:
            continue
        drr = float(c.window_spend / c.window_revenue * 100) if c.window_revenue > 0 else None
        roi_pct = None
        if roi is not None and c.window_spend > 0:
            roi_pct = float((c.window_revenue * Decimal(str(roi.margin_pct)) / 100 - c.window_spend) / c.window_spend * 100)
        lines.append(SpendLine(
            c.advert_id, c.name, c.status, c.spent_today,
            None if cap is None else cap.daily_budget, None if cap is None else cap.max_drr_pct, drr,
            None if roi is None else roi.min_roi_pct, roi_pct, WINDOW_DAYS,
        ))
    lines.sort(key=lambda x: (-x.spent_today, x.advert_id))
    return AccountSpend(account.name, today.isoformat(), tz, currency, tuple(lines))


def _money(x: Decimal | None, currency: str) -> str:
    if x is None:
        return "—"
    sign = "₽" if currency == "RUB" else currency
    return f"{x:,.2f}".replace(",", "\u202f") + f" {sign}"


def render_spend(view: AccountSpend, locale: str = "ru", *, limit: int = 30) -> str:
    """Plain text (no markup): one line per campaign, the most spending first."""
    T = _TEXT.get(locale, _TEXT["ru"])
    out = [T["title"].format(account=view.account, day=view.day, tz=view.timezone),
           T["total"].format(spend=_money(view.total, view.currency))]
    if not view.lines:
        out.append(T["none"])
    for x in view.lines[:limit]:
        parts = [T["line"].format(name=x.name or "—", id=x.advert_id, spend=_money(x.spent_today, view.currency))]
        if x.daily_budget is not None:
            pct = float(x.spent_today / x.daily_budget * 100)
            parts.append(T["budget"].format(budget=_money(x.daily_budget, view.currency), pct=f"{pct:.0f}")
                         + (f" {T['over']}" if x.spent_today > x.daily_budget else ""))
        if x.max_drr_pct is not None:
            parts.append(T["drr"].format(days=x.window_days, drr=f"{x.drr_pct:.1f} %", cap=f"{x.max_drr_pct:g} %")
                         if x.drr_pct is not None else T["drr_none"].format(days=x.window_days, cap=f"{x.max_drr_pct:g} %"))
        if x.min_roi_pct is not None and x.roi_pct is not None:
            parts.append(T["roi"].format(roi=f"{x.roi_pct:.1f} %", floor=f"{x.min_roi_pct:g} %"))
        if x.status == 11:
            parts.append(T["paused"])
        out.append("• " + "; ".join(parts))
    if len(view.lines) > limit:
        out.append(f"… +{len(view.lines) - limit}")
    return "\n".join(out)
