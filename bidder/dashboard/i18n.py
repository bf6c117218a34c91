"""The dashboard's texts: Russian (the default) and English. ``?lang=en`` switches and sets a cookie.

Number and money formatting is shared with Telegram (:mod:`bidder.notify.i18n`).
"""

from __future__ import annotations

from typing import Any

from bidder.notify.i18n import DEFAULT_LOCALE, LOCALES, norm_locale
from bidder.reasons import Reason, localised, render_stored

__all__ = ["DEFAULT_LOCALE", "LOCALES", "STRINGS", "norm_locale", "translate"]

STRINGS: dict[str, dict[str, str]] = {
    "ru": {
        "title": "bidder — панель",
        "nav.overview": "Обзор", "nav.campaigns": "Кампании", "nav.audit": "Журнал", "nav.config": "Конфигурация",
        "nav.login": "Войти", "nav.logout": "Выйти",
        "readonly": "Только просмотр: пароль панели не задан (BIDDER_DASHBOARD_PASSWORD)",
        "readonly.login": "Только просмотр: войдите, чтобы управлять",
        "overview.title": "Обзор", "account": "Кабинет", "health": "Состояние", "last_cycle": "Последний цикл",
        "health.ok": "в порядке", "health.failing": "ошибки", "health.unknown": "нет данных",
        "tokens": "Токены", "token.read": "чтение", "token.write": "запись", "days_left": "дн. осталось",
        "token.none": "нет", "scopes": "категории",
        "quota": "Запросы к WB за последний час", "method": "метод", "calls": "запросов", "limited": "ответов 429",
        "quota.none": "запросов ещё не было",
        "today": "Сегодня", "week": "7 дней", "spend": "Расход", "revenue": "Выручка", "orders": "Заказы",
        "drr": "ДРР", "roi": "ROI", "threshold": "порог", "saved": "Сэкономлено (оценка)",
        "saved.hint": "сколько стоили бы сегодняшние показы и клики по максимальной ставке, минус расход",
        "budget": "Бюджет на день", "campaigns": "Кампании", "active": "активны", "paused": "на паузе",
        "decisions_today": "Решений сегодня", "bid_changes": "изменений ставок",
        "alerts": "Открытые предупреждения", "alerts.none": "предупреждений нет",
        "operator": "Оператор", "paused_all": "всё на паузе", "paused_n": "кампаний на паузе оператором",
        "dry_run": "Пробный режим", "on": "вкл", "off": "выкл", "default": "по умолчанию",
        "actions": "Действия", "pause_all": "Пауза всего", "resume_all": "Снять паузу со всего",
        "dry_on": "Включить пробный режим", "dry_off": "Выключить пробный режим",
        "pause": "Пауза", "resume": "Снять паузу",
        "campaigns.title": "Кампании", "filter": "Фильтр", "search": "id или название", "status": "Статус",
        "all": "все", "only_paused": "только на паузе оператора", "apply": "Показать",
        "col.id": "ID", "col.name": "Название", "col.status": "Статус", "col.bid_type": "Тип ставки",
        "col.items": "Товары", "col.bid": "Ставка", "col.position": "Позиция", "col.target": "цель",
        "col.drr": "ДРР 7 дн.", "col.roi": "ROI 7 дн.", "col.spend_today": "Расход сегодня",
        "col.spend_week": "Расход 7 дн.", "col.last": "Последнее решение",
        "page": "Страница", "of": "из", "prev": "← назад", "next": "вперёд →", "found": "найдено",
        "campaign.title": "Кампания", "items": "Товары", "placements": "Места", "payment": "Оплата",
        "chart.bids": "Ставки по товарам", "chart.position": "Позиция по товарам (средняя за день)",
        "chart.money": "Расход и выручка по дням", "chart.drr": "ДРР по дням, %",
        "chart.clusters": "Ставки по кластерам", "days7": "7 дней", "days30": "30 дней",
        "timeline": "Решения", "at": "Время", "strategy": "Стратегия", "action": "Действие",
        "reason": "Причина", "inputs": "Входные данные", "bid_change": "Ставка", "result": "Итог",
        "strategies": "Стратегии", "nothing": "нет данных",
        "proposals": "Что каждая стратегия предложила бы сейчас",
        "after_guards": "После ограничений (ничего не записано и не отправлено)",
        "preview_not_managed": "Кампания не управляется: стратегии ничего не предлагают",
        "preview_rules_unknown": "Минимальные ставки WB для кампании не прочитаны (демон не запущен или ещё не прочитал их): ставки не изменились бы",
        "preview_stale": "Время статистики неизвестно: повышений не было бы",
        "preview_failed": "Стратегия завершилась ошибкой (движок пропустил бы кампанию)", "proposed": "Предложено",
        "audit.title": "Журнал решений", "since": "с", "until": "по", "hide_holds": "скрыть удержания",
        "csv": "Скачать CSV",
        "config.title": "Действующая конфигурация", "config.secrets": "Секреты скрыты.",
        "config.settings": "Настройки процесса", "config.reload_error": "Последняя перезагрузка отклонена",
        "login.title": "Вход", "password": "Пароль", "login.bad": "Неверный пароль",
        "login.limited": "Слишком много попыток, подождите",
        "done.pause": "Пауза поставлена", "done.resume": "Пауза снята", "done.dryrun_on": "Пробный режим включён",
        "done.dryrun_off": "Пробный режим выключен", "done.unchanged": "(ничего не изменилось)",
        "action.set_bid": "ставка", "action.pause": "пауза", "action.resume": "запуск", "action.hold": "удержание",
        "status.9": "активна", "status.11": "на паузе", "status.4": "готова", "status.7": "завершена",
        "status.8": "отклонена", "status.-1": "удалена",
        "by_operator": "пауза оператора",
        "lang": "English", "error.title": "Ошибка",
    },
    "en": {
        "title": "bidder dashboard",
        "nav.overview": "Overview", "nav.campaigns": "Campaigns", "nav.audit": "Audit log", "nav.config": "Config",
        "nav.login": "Log in", "nav.logout": "Log out",
        "readonly": "Read-only: no dashboard password is configured (BIDDER_DASHBOARD_PASSWORD)",
        "readonly.login": "Read-only: log in to take actions",
        "overview.title": "Overview", "account": "Account", "health": "Health", "last_cycle": "Last cycle",
        "health.ok": "ok", "health.failing": "failing", "health.unknown": "no data",
        "tokens": "Tokens", "token.read": "read", "token.write": "write", "days_left": "days left",
        "token.none": "none", "scopes": "scopes",
        "quota": "WB requests over the last hour", "method": "method", "calls": "calls", "limited": "429 answers",
        "quota.none": "no requests yet",
        "today": "Today", "week": "7 days", "spend": "Spend", "revenue": "Revenue", "orders": "Orders",
        "drr": "ACoS (ДРР)", "roi": "ROI", "threshold": "threshold", "saved": "Saved (estimate)",
        "saved.hint": "what today's views and clicks would have cost at the max bid, minus the spend",
        "budget": "Daily budget", "campaigns": "Campaigns", "active": "active", "paused": "paused",
        "decisions_today": "Decisions today", "bid_changes": "bid changes",
        "alerts": "Open alerts", "alerts.none": "no alerts",
        "operator": "Operator", "paused_all": "everything paused", "paused_n": "campaigns paused by the operator",
        "dry_run": "Dry-run", "on": "on", "off": "off", "default": "default",
        "actions": "Actions", "pause_all": "Pause all", "resume_all": "Resume all",
        "dry_on": "Dry-run on", "dry_off": "Dry-run off",
        "pause": "Pause", "resume": "Resume",
        "campaigns.title": "Campaigns", "filter": "Filter", "search": "id or name", "status": "Status",
        "all": "all", "only_paused": "paused by the operator only", "apply": "Show",
        "col.id": "ID", "col.name": "Name", "col.status": "Status", "col.bid_type": "Bid type",
        "col.items": "Items", "col.bid": "Bid", "col.position": "Position", "col.target": "target",
        "col.drr": "ACoS 7d", "col.roi": "ROI 7d", "col.spend_today": "Spend today",
        "col.spend_week": "Spend 7d", "col.last": "Last decision",
        "page": "Page", "of": "of", "prev": "← prev", "next": "next →", "found": "found",
        "campaign.title": "Campaign", "items": "Items", "placements": "Placements", "payment": "Payment",
        "chart.bids": "Bids per item", "chart.position": "Position per item (daily average)",
        "chart.money": "Spend and revenue per day", "chart.drr": "ACoS per day, %",
        "chart.clusters": "Search-cluster bids", "days7": "7 days", "days30": "30 days",
        "timeline": "Decisions", "at": "Time", "strategy": "Strategy", "action": "Action",
        "reason": "Reason", "inputs": "Inputs", "bid_change": "Bid", "result": "Outcome",
        "strategies": "Strategies", "nothing": "no data",
        "proposals": "What each strategy would propose right now",
        "after_guards": "After the guardrails (nothing is written or sent)",
        "preview_not_managed": "The campaign is not managed: no strategy proposes anything",
        "preview_rules_unknown": "WB's minimum bids for this campaign are not read (the daemon is not running or has not read them yet): no bid would change",
        "preview_stale": "The statistics' age is unknown: nothing would be raised",
        "preview_failed": "A strategy failed (the engine would skip the campaign)", "proposed": "Proposed",
        "audit.title": "Audit log", "since": "from", "until": "to", "hide_holds": "hide holds",
        "csv": "Download CSV",
        "config.title": "Effective configuration", "config.secrets": "Secrets are redacted.",
        "config.settings": "Process settings", "config.reload_error": "The last reload was refused",
        "login.title": "Log in", "password": "Password", "login.bad": "Wrong password",
        "login.limited": "Too many attempts, wait a little",
        "done.pause": "Paused", "done.resume": "Resumed", "done.dryrun_on": "Dry-run is on",
        "done.dryrun_off": "Dry-run is off", "done.unchanged": "(nothing changed)",
        "action.set_bid": "bid", "action.pause": "pause", "action.resume": "resume", "action.hold": "hold",
        "status.9": "active", "status.11": "paused", "status.4": "ready", "status.7": "completed",
        "status.8": "declined", "status.-1": "deleted",
        "by_operator": "operator pause",
        "lang": "Русский", "error.title": "Error",
    },
}


def translate(locale: str, key: str) -> str:
    loc = norm_locale(locale)
    return STRINGS[loc].get(key) or STRINGS[DEFAULT_LOCALE].get(key) or key


def decision_reason(d: Any, locale: str, currency: str = "RUB") -> str:
    """A stored decision's reason in ``locale`` (money in the account currency's base units); its stored
    text when it has no code (rows from before the codes, strategies not converted yet)."""
    reason = getattr(d, "reason", "") or ""
    currency = getattr(d, "currency", None) or currency
    if getattr(d, "reason_code", None) is None and isinstance(reason, Reason):  # a decision not stored
        return localised(reason, norm_locale(locale), currency)
    return render_stored(getattr(d, "reason_code", None), getattr(d, "reason_args", None), str(reason),
                         norm_locale(locale), currency)
