"""The reason catalogue: every decision reason code with its English and Russian template.

A template is a ``str.format`` pattern over the reason's ``args`` with these field formats:

- ``{x:money}``: ``x`` is money in integer minor units (kopecks, as bids are); rendered in the account
  currency's base units with its sign (``222 ₽``, ``222,50 ₽``);
- ``{x:base}``: ``x`` is money already in base units (statistics money, a Decimal or its string);
- ``{x:pos}``: a position (one decimal) or "unknown" when None;
- ``{x:drr}``: a ДРР in % (one decimal; None: unknown; ``"inf"``: infinite, no revenue);
- ``{x:dur}``: a duration in seconds (``1 h 30 min`` / ``1 ч 30 мин``);
- ``{x:num}``: a number (ru: decimal comma); any other format spec (``.1f``, ``g``) works as in Python,
  with the decimal comma in Russian;
- a list argument renders its elements joined by "; " (an element ``{"strategy", "reason"}`` as
  ``strategy: reason``); a nested reason renders in the same locale.

Adding a reason: add its code here with both locales (a test checks both exist with the same fields),
then emit it with :func:`bidder.reasons.because` (``reason=because("my_strategy.code", x=1)``).
"""

from __future__ import annotations

from typing import Final

from bidder.reasons.money_codes import MONEY_CODES
from bidder.reasons.position_codes import POSITION_CODES

_IN = "inside the active hours {hours} ({tz}), local time {local}: "
_OUT = "outside the active hours {hours} ({tz}), local time {local}: "
_IN_RU = "в активные часы {hours} ({tz}), местное время {local}: "
_OUT_RU = "вне активных часов {hours} ({tz}), местное время {local}: "

CATALOGUE: Final[dict[str, dict[str, str]]] = {
    # composites (built by bidder.reasons.joined / guarded / notes)
    "joined": {"en": "{parts}", "ru": "{parts}"},
    "guarded": {"en": "{reason} [{guard}]", "ru": "{reason} [{guard}]"},
    "notes": {"en": "{notes}", "ru": "{notes}"},
    # the guardrails (bidder/engine/guards.py)
    "guard.nothing": {"en": "nothing to do", "ru": "делать нечего"},
    "guard.stopped": {
        "en": "stopped: kill switch or stop file, nothing is changed",
        "ru": "остановлено аварийным выключателем или стоп-файлом: ничего не меняется",
    },
    "guard.already_paused": {
        "en": "already paused: kept paused, no resume",
        "ru": "уже на паузе: остаётся на паузе, без возобновления",
    },
    "guard.status_no_pause": {
        "en": "campaign status {status} cannot be paused",
        "ru": "кампанию в статусе {status} нельзя поставить на паузу",
    },
    "guard.no_evidence": {
        "en": "not enough evidence to pause: spend {spend:base} < {min_spend:base} and clicks {clicks} < "
              "{min_clicks}",
        "ru": "мало данных для паузы: расход {spend:base} < {min_spend:base} и кликов {clicks} < {min_clicks}",
    },
    "guard.operator_paused": {
        "en": "paused by the operator: not resuming",
        "ru": "на паузе по решению оператора: не возобновляем",
    },
    "guard.status_no_resume": {
        "en": "campaign status {status} cannot be resumed",
        "ru": "кампанию в статусе {status} нельзя возобновить",
    },
    "guard.status_no_bids": {
        "en": "campaign status {status} does not allow bid changes",
        "ru": "статус кампании {status} не позволяет менять ставки",
    },
    "guard.bid_unknown": {
        "en": "current bid unknown: nothing is changed",
        "ru": "текущая ставка неизвестна: ничего не меняется",
    },
    "guard.cap_below_min": {
        "en": "max_bid {cap:money} is below WB's minimum {floor:money}: nothing is changed",
        "ru": "max_bid {cap:money} ниже минимальной ставки WB {floor:money}: ничего не меняется",
    },
    "guard.above_cap": {
        "en": "current bid {current:money} is above max_bid {cap:money}: lowered to it",
        "ru": "текущая ставка {current:money} выше max_bid {cap:money}: снижена до него",
    },
    "guard.below_min": {
        "en": "current bid {current:money} is below WB's minimum {floor:money}: raised to it",
        "ru": "текущая ставка {current:money} ниже минимальной ставки WB {floor:money}: поднята до неё",
    },
    "guard.pausing": {
        "en": "campaign is being paused: bids are left as they are",
        "ru": "кампания ставится на паузу: ставки не меняются",
    },
    "guard.capped": {"en": "capped at max_bid {cap:money}", "ru": "ограничено max_bid {cap:money}"},
    "guard.stale": {
        "en": "statistics are stale ({age_h:.1f} h old, limit {limit_h:g} h): no raise",
        "ru": "статистика устарела ({age_h:.1f} ч, предел {limit_h:g} ч): без повышения",
    },
    "guard.stale_unknown": {
        "en": "statistics are stale (unknown, limit {limit_h:g} h): no raise",
        "ru": "время статистики неизвестно (предел {limit_h:g} ч): без повышения",
    },
    "guard.war_paused": {
        "en": "raises paused until {until} after the bidding war at {at}",
        "ru": "повышения приостановлены до {until} после войны ставок в {at}",
    },
    "guard.war_rollback": {
        "en": "bidding war: raised {raises} times within {minutes} min from {start:money} to {end:money} while "
              "the position stayed at {pos_from:pos} -> {pos_to:pos}; back to {back:money}, raises paused for "
              "{pause_h} h",
        "ru": "война ставок: ставка поднята {raises} раз за {minutes} мин с {start:money} до {end:money}, а "
              "позиция осталась {pos_from:pos} → {pos_to:pos}; возврат к {back:money}, повышения "
              "приостановлены на {pause_h} ч",
    },
    "guard.war": {
        "en": "bidding war: raised {raises} times in a row from {start:money} to {end:money} while the position "
              "stayed at {pos_from:pos} -> {pos_to:pos}; holding",
        "ru": "война ставок: ставка поднята {raises} раз подряд с {start:money} до {end:money}, а позиция "
              "осталась {pos_from:pos} → {pos_to:pos}; держим",
    },
    "guard.interval": {
        "en": "last change of this item {ago_min} min ago, min_change_interval {interval_min} min: wait",
        "ru": "последнее изменение ставки товара {ago_min} мин назад, min_change_interval {interval_min} мин: ждём",
    },
    "guard.step_clamped": {"en": "step clamped to {pct:g}%", "ru": "шаг ограничен {pct:g}\u00a0%"},
    "guard.at_min": {
        "en": "held at WB's minimum bid {floor:money}",
        "ru": "удержано на минимальной ставке WB {floor:money}",
    },
    "guard.rounded": {
        "en": "rounded to the bid step {step:money}",
        "ru": "округлено до шага ставки {step:money}",
    },
    "guard.dead_band": {
        "en": "change {diff:money} is inside the dead band (step {step:money}, {pct:g}%): no change",
        "ru": "изменение {diff:money} в пределах мёртвой зоны (шаг {step:money}, {pct:g}\u00a0%): без изменений",
    },
    # the engine (bidder/engine/evaluate.py)
    "engine.stop_file": {
        "en": "stop file {path} present: every bid is held",
        "ru": "есть стоп-файл {path}: все ставки удерживаются",
    },
    "engine.operator_pause": {
        "en": "paused by the operator; holds until resumed",
        "ru": "поставлена на паузу оператором; до возобновления",
    },
    "engine.operator_pause_list_only": {
        "en": "paused by the operator (kill switch): the campaign is known only from WB's campaign list "
              "(status {status}), its details are not read yet; a pause needs only its id",
        "ru": "поставлена на паузу оператором (аварийная остановка): кампания известна только по списку "
              "кампаний WB (статус {status}), её параметры ещё не прочитаны; для паузы достаточно её номера",
    },
    "engine.operator_pause_unknown_status": {
        "en": "paused by the operator (kill switch): WB reports status {status}, which the bidder does not "
              "know; paused to be safe",
        "ru": "поставлена на паузу оператором (аварийная остановка): WB сообщает статус {status}, "
              "неизвестный биддеру; пауза на всякий случай",
    },
    "engine.operator_hold": {
        "en": "operator pause in force: every strategy is held",
        "ru": "действует пауза оператора: все стратегии удерживаются",
    },
    "engine.operator_resume": {
        "en": "operator pause lifted: resuming the campaign it paused",
        "ru": "пауза оператора снята: возобновляем кампанию, которую она остановила",
    },
    "engine.rollback": {
        "en": "rollback to the bid in force at {to}",
        "ru": "откат к ставке, действовавшей на {to}",
    },
    "engine.wait_min_bids": {
        "en": "held: WB's minimum bids for this campaign are not read yet",
        "ru": "удержано: минимальные ставки WB для этой кампании ещё не прочитаны",
    },
    "engine.wait_bid_step": {
        "en": "held: WB's bid step is not read yet",
        "ru": "удержано: шаг ставки WB ещё не прочитан",
    },
    "engine.wait_bid_step_guard": {
        "en": "waiting for WB's bid step",
        "ru": "ждём шаг ставки WB",
    },
    "engine.wait_min_bids_guard": {
        "en": "waiting for WB's minimum bids",
        "ru": "ждём минимальные ставки WB",
    },
    # shared by strategies (strategies/common.py)
    "common.cooling": {
        "en": "bid changed {before:money} -> {after:money} at {at} UTC; waiting {cooldown:dur} for its effect on "
              "the statistics",
        "ru": "ставка изменена {before:money} → {after:money} в {at} UTC; ждём {cooldown:dur}, пока это скажется "
              "на статистике",
    },
    # the schedule strategy (strategies/schedule.py)
    "schedule.bid_unknown": {"en": "current bid unknown", "ru": "текущая ставка неизвестна"},
    "schedule.restore": {
        "en": _IN + "restoring the bid lowered outside the hours to {bid:money}",
        "ru": _IN_RU + "возвращаем ставку, сниженную вне активных часов, к {bid:money}",
    },
    "schedule.nothing": {"en": _IN + "nothing to do", "ru": _IN_RU + "делать нечего"},
    "schedule.lower": {
        "en": _OUT + "lowering the bid by {pct:g}% from {base:money} (bids are lowered, not paused, outside the hours)",
        "ru": _OUT_RU + "снижаем ставку на {pct:g}\u00a0% от {base:money} (вне часов ставки снижаются, без паузы)",
    },
    "schedule.already_lowered": {
        "en": _OUT + "bid already lowered by {pct:g}% from {base:money}",
        "ru": _OUT_RU + "ставка уже снижена на {pct:g}\u00a0% от {base:money}",
    },
    "schedule.pause": {
        "en": _OUT + "pausing the campaign until the hours start (paused, not lowered)",
        "ru": _OUT_RU + "ставим кампанию на паузу до начала часов (пауза, без снижения ставок)",
    },
    "schedule.keep_paused": {
        "en": _OUT + "the campaign stays paused until the hours start",
        "ru": _OUT_RU + "кампания остаётся на паузе до начала часов",
    },
    "schedule.not_active": {
        "en": _OUT + "campaign not active (status {status})",
        "ru": _OUT_RU + "кампания не активна (статус {status})",
    },
    "schedule.resume": {
        "en": _IN + "resuming the campaign paused by the schedule at {at} UTC",
        "ru": _IN_RU + "возобновляем кампанию, поставленную на паузу расписанием в {at} UTC",
    },
    # the money strategies (strategies/spend_cap.py, roi_floor.py, evidence.py): bidder/reasons/money_codes.py
    **MONEY_CODES,
    # target_position (strategies/target_position.py, position_control.py): bidder/reasons/position_codes.py
    **POSITION_CODES,
}
