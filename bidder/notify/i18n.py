"""Locale-aware texts and number formatting. Russian is the default; ``en`` for everyone else.

Only formatting lives here: nothing is escaped (render.py escapes every seller-provided string).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"
NBSP = "\u00a0"
NNBSP = "\u202f"  # narrow no-break space: Russian thousands separator

CURRENCY_SIGN = {"RUB": "₽", "KZT": "₸", "BYN": "Br", "UZS": "сум", "KGS": "сом", "AMD": "֏", "USD": "$",
                 "EUR": "€"}


def norm_locale(locale: str | None) -> str:
    loc = (locale or DEFAULT_LOCALE).lower().split("_")[0].split("-")[0]
    return loc if loc in LOCALES else DEFAULT_LOCALE


def _dec(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def fmt_number(value: object, locale: str, digits: int = 0) -> str:
    """12345.678 -> ru '12 345,68' (narrow nbsp), en '12,345.68'. None -> '—'."""
    d = _dec(value)
    if d is None:
        return "—"
    q = Decimal(1).scaleb(-digits) if digits else Decimal(1)
    d = d.quantize(q, rounding=ROUND_HALF_UP)
    sign = "-" if d < 0 else ""
    text = format(abs(d), f",.{digits}f")
    if norm_locale(locale) == "ru":
        text = text.replace(",", NNBSP).replace(".", ",")
    return sign + text


def fmt_money(value: object, locale: str, currency: str = "RUB", digits: int | None = None) -> str:
    d = _dec(value)
    if d is None:
        return "—"
    if digits is None:
        digits = 0 if abs(d) >= 1000 else 2
        if d == d.to_integral_value():
            digits = 0
    code = (currency or "RUB").strip().upper() or "RUB"  # unknown yet (empty): WB's default, rubles
    sign = CURRENCY_SIGN.get(code, code)
    return f"{fmt_number(d, locale, digits)}{NBSP}{sign}"


def fmt_minor(value: int | None, locale: str, currency: str = "RUB") -> str:
    """A bid in minor units (kopecks) as money."""
    if value is None:
        return "—"
    return fmt_money(Decimal(value) / 100, locale, currency)


def fmt_pct(value: object, locale: str, digits: int = 1) -> str:
    d = _dec(value)
    if d is None:
        return "—"
    return f"{fmt_number(d, locale, digits)}%"


def fmt_date(day: date | str | None, locale: str) -> str:
    if day is None:
        return "—"
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day[:10])
        except ValueError:
            return "—"
    return day.strftime("%d.%m.%Y") if norm_locale(locale) == "ru" else day.isoformat()


def fmt_datetime(at: datetime | str | None, locale: str, tz: str = "Europe/Moscow") -> str:
    if at is None:
        return "—"
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at)
        except ValueError:
            return "—"
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    try:
        local = at.astimezone(ZoneInfo(tz))
    except Exception:  # unknown zone: show UTC
        local, tz = at.astimezone(UTC), "UTC"
    label = {"Europe/Moscow": "МСК" if norm_locale(locale) == "ru" else "MSK"}.get(tz, tz)
    pattern = "%d.%m %H:%M" if norm_locale(locale) == "ru" else "%m-%d %H:%M"
    return f"{local.strftime(pattern)} {label}"


def fmt_duration(seconds: float | int | None, locale: str) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    ru = norm_locale(locale) == "ru"
    if s < 120:
        return f"{s} с" if ru else f"{s} s"
    if s < 7200:
        return f"{s // 60} мин" if ru else f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} ч" if ru else f"{s // 3600} h"
    return f"{s // 86400} дн." if ru else f"{s // 86400} d"


def plural_ru(n: int, one: str, few: str, many: str) -> str:
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


# Message catalogue. Placeholders are filled with already formatted and escaped strings.
TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "bid_changes.title": "🔁 <b>Изменения ставок</b> · {account}",
        "bid_changes.dry": " (пробный режим, в WB не отправлено)",
        "bid_changes.more": "… и ещё {n}",
        "paused.title": "⏸ <b>Кампания остановлена</b> · {account}",
        "resumed.title": "▶️ <b>Кампания запущена</b> · {account}",
        "bid_changes.sent": " (отправлено в WB, ещё не подтверждено)",
        "bid_changes.confirmed": " (подтверждено: WB показывает новые ставки)",
        "bid_changes.sent_tail": "WB принял запросы; ставки применяются в течение 30 секунд и будут подтверждены "
                                 "следующим чтением кампаний.",
        "paused.title_sent": "⏸ <b>Пауза отправлена в WB</b> · {account}",
        "resumed.title_sent": "▶️ <b>Запуск отправлен в WB</b> · {account}",
        "status.sent_tail": "WB принял запрос; статус меняется в течение минуты и будет подтверждён следующим "
                            "чтением кампании.",
        "status.confirmed": "подтверждено WB",
        "status.confirmed_title": " (подтверждено: WB показывает новый статус)",
        "status.sent": "отправлено, ещё не подтверждено",
        "reason": "Причина: {reason}",
        "by.operator": "оператор {by}",
        "drr.title": "⚠️ <b>ДРР выше порога</b> · {account}",
        "drr.line": "{campaign}: ДРР {drr} (порог {limit}), расход {spend}, выручка {revenue}",
        "roi.title": "⚠️ <b>ROI ниже порога</b> · {account}",
        "roi.line": "{campaign}: ROI {roi} (минимум {floor}), расход {spend}, выручка {revenue}",
        "budget.title": "💸 <b>Дневной бюджет исчерпан</b> · {account}",
        "budget.line": "{campaign}: потрачено {spent} из {limit}",
        "daily_limit.title": "⚠️ <b>Дневной лимит WB мал для текущих ставок</b> · {account}",
        "daily_limit.line": "{campaign}: лимит {limit}, WB рекомендует не меньше {required}; расход может идти "
                            "неравномерно",
        "failing.title": "🔴 <b>Аккаунт не работает</b> · {account}",
        "failing.body": "Ошибка: {error}\nСтавки этого аккаунта не меняются, пока он не восстановится.",
        "recovered.title": "🟢 <b>Аккаунт снова работает</b> · {account}",
        "recovered.body": "Не работал: {down}",
        "token.title": "🔑 <b>Токен WB скоро истекает</b> · {account}",
        "token.body": "Токен {which} истекает {when} (осталось {days} дн.). Выпустите новый в личном кабинете WB.",
        "token.read": "на чтение",
        "token.write": "на запись",
        "ratelimit.title": "⏳ <b>WB просит ждать слишком долго</b> · {account}",
        "ratelimit.line": "{method}: WB просит подождать {asked} с; ждём {applied} с и пробуем снова, остальные методы работают",
        "drift.title": "🧩 <b>WB изменил API</b> · {account}",
        "drift.gone": "{method}: метод больше не существует (404)",
        "drift.schema": "{method}: ответ больше не разбирается ({detail})",
        "drift.tail": "Затронутые действия пропускаются; проверьте обновления bidder.",
        "refused.title": "⚠️ <b>WB отклонил запрос</b> · {account}",
        "refused.pause": "пауза кампании {target}: WB отказал ({reason}); этот же запрос больше не отправляем",
        "refused.start": "запуск кампании {target}: WB отказал ({reason}); этот же запрос больше не отправляем",
        "refused.bid": "изменение ставки, кампания {target}: WB отказал ({reason}); этот же запрос больше не "
                       "отправляем",
        "war.title": "⚔️ <b>Война ставок</b> · {account}",
        "war.line": "{campaign}: повышений подряд — {raises}, ставка {bid}; конкурент отвечает. Ставка удерживается.",
        "op.title": "✅ <b>Команда оператора</b> · {account}",
        "op.failed": "❌ <b>Команда не выполнена</b> · {account}",
        "op.line": "{action}{target} — {by}",
        "action.pause": "пауза",
        "action.resume": "возобновление",
        "action.dryrun_on": "пробный режим включён",
        "action.dryrun_off": "пробный режим выключен",
        "target.all": "все кампании",
        "target.campaign": "кампания {id}",
        "status.title": "📊 <b>Состояние</b> · {at}",
        "status.account": "<b>{account}</b>: {health}, кампаний под управлением: {managed}",
        "status.today": "Сегодня: расход {spend}, выручка {revenue}, ДРР {drr}, заказов {orders}",
        "status.cycle": "Последний цикл: {at} ({result})",
        "status.nocycle": "Циклов ещё не было",
        "status.ok": "работает",
        "status.failing": "ошибка",
        "status.unknown": "нет данных",
        "status.dry": "Режим: пробный (ставки в WB не отправляются)",
        "status.live": "Режим: боевой",
        "status.paused_all": "⏸ Остановлено оператором: все кампании",
        "status.paused": "⏸ Остановлено оператором: {ids}",
        "history.title": "🗂 <b>История кампании {id}</b>",
        "history.empty": "Решений по кампании {id} нет.",
        "history.line": "{at} · {action} {what} · {reason}",
        "digest.title": "🗓 <b>Итоги за {day}</b>",
        "digest.account": "<b>{account}</b>: расход {spend}, выручка {revenue}, ДРР {drr}, заказов {orders}",
        "digest.changes": "Крупнейшие изменения ставок:",
        "digest.paused": "На паузе: {list}",
        "digest.nopaused": "Кампаний на паузе нет.",
        "digest.nochanges": "Ставки не менялись.",
        "report.caption": "Отчёт за {days} дн.: расход, выручка, ДРР и ставки",
        "help": (
            "<b>Команды bidder</b>\n"
            "/status — аккаунты, расход и ДРР за сегодня, последний цикл\n"
            "/pause &lt;кампания|all&gt; — остановить (держится до /resume)\n"
            "/resume &lt;кампания|all&gt; — снять остановку оператора\n"
            "/dryrun on|off — пробный режим (ставки не отправляются в WB)\n"
            "/history &lt;кампания&gt; — последние решения с причинами\n"
            "/report — график за 7 дней\n"
            "/help — эта справка"
        ),
        "usage.pause": "Использование: /pause &lt;номер кампании|all&gt;",
        "usage.resume": "Использование: /resume &lt;номер кампании|all&gt;",
        "usage.dryrun": "Использование: /dryrun on|off",
        "usage.history": "Использование: /history &lt;номер кампании&gt;",
        "unknown": "Неизвестная команда. /help — список команд.",
        "error": "Не получилось выполнить команду, попробуйте позже.",
        "ok.pause": "⏸ Остановлено: {target}. Держится до /resume.",
        "ok.resume": "▶️ Остановка снята: {target}.",
        "ok.dryrun_on": "🧪 Пробный режим включён: ставки в WB не отправляются.",
        "ok.dryrun_off": "🚀 Пробный режим выключен: ставки применяются.",
        "unknown_campaign": "Кампания {id} не найдена среди управляемых.",
        "numbers.spend": "расход",
        "numbers.revenue": "выручка",
        "numbers.drr": "ДРР",
        "numbers.roi": "ROI",
        "numbers.orders": "заказов",
        "numbers.budget": "бюджет",
        "numbers.limit": "лимит",
        "numbers.today_spend": "расход за сегодня",
        "numbers.daily_budget": "дневной бюджет",
        "numbers.max_drr": "макс. ДРР",
        "numbers.min_roi": "мин. ROI",
        "chart.spend": "Расход",
        "chart.revenue": "Выручка",
        "chart.drr": "ДРР, %",
        "chart.bids": "Ставка",
    },
    "en": {
        "bid_changes.title": "🔁 <b>Bid changes</b> · {account}",
        "bid_changes.dry": " (dry run, not sent to WB)",
        "bid_changes.more": "… and {n} more",
        "paused.title": "⏸ <b>Campaign paused</b> · {account}",
        "resumed.title": "▶️ <b>Campaign resumed</b> · {account}",
        "bid_changes.sent": " (sent to WB, not confirmed yet)",
        "bid_changes.confirmed": " (confirmed: WB shows the new bids)",
        "bid_changes.sent_tail": "WB accepted the requests; bids apply within 30 seconds and are confirmed by the "
                                 "next read of the campaigns.",
        "paused.title_sent": "⏸ <b>Pause sent to WB</b> · {account}",
        "resumed.title_sent": "▶️ <b>Start sent to WB</b> · {account}",
        "status.sent_tail": "WB accepted the request; the status changes within a minute and is confirmed by the "
                            "next read of the campaign.",
        "status.confirmed": "confirmed by WB",
        "status.confirmed_title": " (confirmed: WB shows the new status)",
        "status.sent": "sent, not confirmed yet",
        "reason": "Reason: {reason}",
        "by.operator": "operator {by}",
        "drr.title": "⚠️ <b>ACoS (ДРР) above the limit</b> · {account}",
        "drr.line": "{campaign}: ДРР {drr} (limit {limit}), spend {spend}, revenue {revenue}",
        "roi.title": "⚠️ <b>ROI below the floor</b> · {account}",
        "roi.line": "{campaign}: ROI {roi} (floor {floor}), spend {spend}, revenue {revenue}",
        "budget.title": "💸 <b>Daily budget reached</b> · {account}",
        "budget.line": "{campaign}: spent {spent} of {limit}",
        "daily_limit.title": "⚠️ <b>WB daily limit too small for the current bids</b> · {account}",
        "daily_limit.line": "{campaign}: limit {limit}, WB recommends at least {required}; spend may run unevenly",
        "failing.title": "🔴 <b>Account failing</b> · {account}",
        "failing.body": "Error: {error}\nThis account's bids are left alone until it recovers.",
        "recovered.title": "🟢 <b>Account recovered</b> · {account}",
        "recovered.body": "Down for: {down}",
        "token.title": "🔑 <b>WB token expires soon</b> · {account}",
        "token.body": "The {which} token expires {when} ({days} days left). Issue a new one in the WB seller portal.",
        "token.read": "read",
        "token.write": "write",
        "ratelimit.title": "⏳ <b>WB asks for a very long wait</b> · {account}",
        "ratelimit.line": "{method}: WB asks to wait {asked} s; waiting {applied} s and trying again, other methods keep going",
        "drift.title": "🧩 <b>WB changed its API</b> · {account}",
        "drift.gone": "{method}: the endpoint is gone (404)",
        "drift.schema": "{method}: the reply no longer parses ({detail})",
        "drift.tail": "Affected actions are skipped; check for a bidder update.",
        "refused.title": "⚠️ <b>WB refused a request</b> · {account}",
        "refused.pause": "pause of campaign {target}: WB refused ({reason}); the same request is not sent again",
        "refused.start": "start of campaign {target}: WB refused ({reason}); the same request is not sent again",
        "refused.bid": "bid change, campaign {target}: WB refused ({reason}); the same request is not sent again",
        "war.title": "⚔️ <b>Bidding war</b> · {account}",
        "war.line": "{campaign}: {raises} raises in a row, bid {bid}; a competitor answers. Holding the bid.",
        "op.title": "✅ <b>Operator command</b> · {account}",
        "op.failed": "❌ <b>Command failed</b> · {account}",
        "op.line": "{action}{target} — {by}",
        "action.pause": "pause",
        "action.resume": "resume",
        "action.dryrun_on": "dry run on",
        "action.dryrun_off": "dry run off",
        "target.all": "all campaigns",
        "target.campaign": "campaign {id}",
        "status.title": "📊 <b>Status</b> · {at}",
        "status.account": "<b>{account}</b>: {health}, managed campaigns: {managed}",
        "status.today": "Today: spend {spend}, revenue {revenue}, ДРР {drr}, orders {orders}",
        "status.cycle": "Last cycle: {at} ({result})",
        "status.nocycle": "No cycles yet",
        "status.ok": "ok",
        "status.failing": "failing",
        "status.unknown": "no data",
        "status.dry": "Mode: dry run (no bids are sent to WB)",
        "status.live": "Mode: live",
        "status.paused_all": "⏸ Paused by the operator: all campaigns",
        "status.paused": "⏸ Paused by the operator: {ids}",
        "history.title": "🗂 <b>History of campaign {id}</b>",
        "history.empty": "No decisions for campaign {id}.",
        "history.line": "{at} · {action} {what} · {reason}",
        "digest.title": "🗓 <b>Summary for {day}</b>",
        "digest.account": "<b>{account}</b>: spend {spend}, revenue {revenue}, ДРР {drr}, orders {orders}",
        "digest.changes": "Biggest bid changes:",
        "digest.paused": "Paused: {list}",
        "digest.nopaused": "No paused campaigns.",
        "digest.nochanges": "No bid changes.",
        "report.caption": "{days}-day report: spend, revenue, ДРР and bids",
        "help": (
            "<b>bidder commands</b>\n"
            "/status — accounts, today's spend and ДРР, last cycle\n"
            "/pause &lt;campaign|all&gt; — pause (holds until /resume)\n"
            "/resume &lt;campaign|all&gt; — lift the operator pause\n"
            "/dryrun on|off — dry run (no bids are sent to WB)\n"
            "/history &lt;campaign&gt; — the last decisions with reasons\n"
            "/report — 7-day chart\n"
            "/help — this help"
        ),
        "usage.pause": "Usage: /pause &lt;campaign id|all&gt;",
        "usage.resume": "Usage: /resume &lt;campaign id|all&gt;",
        "usage.dryrun": "Usage: /dryrun on|off",
        "usage.history": "Usage: /history &lt;campaign id&gt;",
        "unknown": "Unknown command. /help lists the commands.",
        "error": "The command failed; please try again later.",
        "ok.pause": "⏸ Paused: {target}. Holds until /resume.",
        "ok.resume": "▶️ Resumed: {target}.",
        "ok.dryrun_on": "🧪 Dry run on: no bids are sent to WB.",
        "ok.dryrun_off": "🚀 Dry run off: bids are applied.",
        "unknown_campaign": "Campaign {id} is not among the managed ones.",
        "numbers.spend": "spend",
        "numbers.revenue": "revenue",
        "numbers.drr": "ДРР",
        "numbers.roi": "ROI",
        "numbers.orders": "orders",
        "numbers.budget": "budget",
        "numbers.limit": "limit",
        "numbers.today_spend": "spent today",
        "numbers.daily_budget": "daily budget",
        "numbers.max_drr": "max ДРР",
        "numbers.min_roi": "min ROI",
        "chart.spend": "Spend",
        "chart.revenue": "Revenue",
        "chart.drr": "ДРР, %",
        "chart.bids": "Bid",
    },
}


def t(locale: str, key: str, **values: object) -> str:
    loc = norm_locale(locale)
    template = TEXTS[loc].get(key) or TEXTS[DEFAULT_LOCALE][key]
    return template.format(**values) if values else template
