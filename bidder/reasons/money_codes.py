"""Reason codes of the money strategies (strategies/spend_cap.py, strategies/roi_floor.py) and the
evidence model they share (strategies/evidence.py); merged into :data:`bidder.reasons.catalogue.CATALOGUE`.

Fragments (``*.nums``, ``evidence.*``, ``spend_cap.projected`` …) are nested reasons: a top-level reason
carries them as args (``{nums}``, ``{conf}``) so each piece renders in the reader's language. An optional
fragment left out is passed as ``""``. ``{x:drr}`` is a ДРР in % (None: unknown; ``"inf"``: no revenue).
"""

from __future__ import annotations

from typing import Final

P = "\u00a0%"  # Russian typography: a (non-breaking) space before the percent sign

MONEY_CODES: Final[dict[str, dict[str, str]]] = {
    # shared by the strategies
    "common.bid_unknown": {"en": "current bid unknown", "ru": "текущая ставка неизвестна"},
    # the evidence model (strategies/evidence.py)
    "evidence.verdict": {
        "en": "{clicks} clicks, {orders} orders, expected {expected:.1f}",
        "ru": "клики: {clicks}, заказы: {orders}, ожидалось {expected:.1f}",
    },
    "evidence.confidence": {
        "en": " with {confidence}% confidence: {verdict}",
        "ru": " с уверенностью {confidence}" + P + ": {verdict}",
    },
    # spend_cap: fragments
    "spend_cap.nums": {
        "en": "ДРР {drr:drr} over {days} complete days (spend {spend:base}, revenue {revenue:base})",
        "ru": "ДРР {drr:drr} за {days} полн. дн. (расход {spend:base}, выручка {revenue:base})",
    },
    "spend_cap.projected": {
        "en": " (projected {projected:base} in {lookahead:dur})",
        "ru": " (прогноз {projected:base} через {lookahead:dur})",
    },
    "spend_cap.all_at_min": {
        "en": " with every item at WB's minimum bid",
        "ru": ", а все товары уже на минимальной ставке WB",
    },
    "spend_cap.over_cap": {
        "en": "{nums} is above the cap {cap:g}%{conf}",
        "ru": "{nums} выше предела {cap:g}" + P + "{conf}",
    },
    "spend_cap.hard_guard": {
        "en": "today's spend {spend:base} is {x:g}x the mean day of the window with today's ДРР {drr:drr} over the "
              "cap {cap:g}% (hard guard)",
        "ru": "расход за сегодня {spend:base} в {x:g} раза выше среднего дня окна, а ДРР за сегодня {drr:drr} выше "
              "предела {cap:g}" + P + " (жёсткая защита от перерасхода)",
    },
    "spend_cap.why_new_day": {
        "en": "a new day ({day}): today's spend is under the daily budget {budget:base} and {nums} is not a probable "
              "breach of the cap {cap:g}%",
        "ru": "новый день ({day}): расход за сегодня ниже дневного бюджета {budget:base}, а {nums} вероятно не "
              "превышает предел {cap:g}" + P,
    },
    "spend_cap.why_healthy": {
        "en": "{nums} is under the cap {cap:g}% less the restore margin {margin:g}%",
        "ru": "{nums} ниже предела {cap:g}" + P + " с запасом на возобновление {margin:g}" + P,
    },
    # spend_cap: the campaign
    "spend_cap.budget_pause": {
        "en": "spent {spent:base} today ({day}, {tz}){ahead}, reaching the daily budget {budget:base}: pausing until "
              "the next day",
        "ru": "сегодня ({day}, {tz}) потрачено {spent:base}{ahead}, дневной бюджет {budget:base} исчерпан: ставим "
              "кампанию на паузу до следующего дня",
    },
    "spend_cap.budget_stay_paused": {
        "en": "spent {spent:base} today ({day}, {tz}){ahead}, reaching the daily budget {budget:base}: staying paused "
              "until the next day",
        "ru": "сегодня ({day}, {tz}) потрачено {spent:base}{ahead}, дневной бюджет {budget:base} исчерпан: кампания "
              "остаётся на паузе до следующего дня",
    },
    "spend_cap.drr_pause": {
        "en": "{nums} is above the cap {cap:g}%{conf}{at_min}: pausing the campaign",
        "ru": "{nums} выше предела {cap:g}" + P + "{conf}{at_min}: ставим кампанию на паузу",
    },
    "spend_cap.drr_stay_paused": {
        "en": "{nums} is above the cap {cap:g}%{conf}{at_min}: staying paused",
        "ru": "{nums} выше предела {cap:g}" + P + "{conf}{at_min}: кампания остаётся на паузе",
    },
    "spend_cap.resume": {
        "en": "{why}: resuming the campaign paused at {at} UTC",
        "ru": "{why}: возобновляем кампанию, поставленную на паузу в {at} UTC",
    },
    "spend_cap.resume_limit": {
        "en": "{why}, but {changes} pauses and resumes today reach the limit {limit}: staying paused until tomorrow",
        "ru": "{why}, но пауз и возобновлений сегодня уже {changes} при пределе {limit}: кампания остаётся на паузе "
              "до завтра",
    },
    # spend_cap: an item
    "spend_cap.incomplete": {
        "en": "statistics incomplete (WB left out a money field) in {days} complete days: not enough data",
        "ru": "статистика неполная (WB не прислал денежное поле) за {days} полн. дн.: мало данных",
    },
    "spend_cap.no_spend": {
        "en": "no ad spend in {days} complete days: not enough data",
        "ru": "нет рекламного расхода за {days} полн. дн.: мало данных",
    },
    "spend_cap.thin_spend": {
        "en": "spend {spend:base} without revenue is under {threshold:base} in {days} complete days: not enough data",
        "ru": "расход без выручки {spend:base} за {days} полн. дн. меньше порога {threshold:base}: мало данных",
    },
    "spend_cap.at_min": {
        "en": "{what}, and the bid is at WB's minimum {floor:money}",
        "ru": "{what}, а ставка уже равна минимальной ставке WB {floor:money}",
    },
    "spend_cap.lower": {
        "en": "{what}: lowering the bid by {cut:.0f}%",
        "ru": "{what}: снижаем ставку на {cut:.0f}" + P,
    },
    "spend_cap.raise_back": {
        "en": "{nums} is well under the cap {cap:g}%: raising back toward {bid:money}",
        "ru": "{nums} заметно ниже предела {cap:g}" + P + ": возвращаем ставку к {bid:money}",
    },
    "spend_cap.not_probable": {
        "en": "{nums} is above the cap {cap:g}% but not a probable breach ({probability}% < {confidence:g}%: "
              "{verdict})",
        "ru": "{nums} выше предела {cap:g}" + P + ", но превышение не доказано (уверенность {probability}" + P
              + " < {confidence:g}" + P + ": {verdict})",
    },
    "spend_cap.not_probable_no_orders": {
        "en": "{nums} is above the cap {cap:g}% but not a probable breach (? < {confidence:g}%: no orders)",
        "ru": "{nums} выше предела {cap:g}" + P + ", но превышение не доказано (уверенность неизвестна < "
              "{confidence:g}" + P + ": заказов нет)",
    },
    "spend_cap.within": {
        "en": "{nums} is within the cap {cap:g}%",
        "ru": "{nums} в пределах {cap:g}" + P,
    },
    # roi_floor: fragments
    "roi_floor.nums": {
        "en": "ROI {roi:.1f}% (spend {spend:base}, revenue {revenue:base}, margin {margin:g}%)",
        "ru": "ROI {roi:.1f}" + P + " (расход {spend:base}, выручка {revenue:base}, маржа {margin:g}" + P + ")",
    },
    "roi_floor.confident": {
        "en": "{nums} with {confidence}% confidence ({verdict})",
        "ru": "{nums} с уверенностью {confidence}" + P + " ({verdict})",
    },
    # roi_floor: reasons
    "roi_floor.incomplete": {
        "en": "statistics incomplete (WB left out a money field) in the last {days} complete days: ROI unknown",
        "ru": "статистика неполная (WB не прислал денежное поле) за последние {days} полн. дн.: ROI неизвестен",
    },
    "roi_floor.no_spend": {
        "en": "no ad spend in the last {days} complete days: ROI unknown",
        "ru": "нет рекламного расхода за последние {days} полн. дн.: ROI неизвестен",
    },
    "roi_floor.no_orders": {
        "en": "ROI {roi:.1f}% over {days} complete days (spend {spend:base}, {clicks} clicks) but no order seen yet: "
              "the order value is unknown, not enough evidence",
        "ru": "ROI {roi:.1f}" + P + " за {days} полн. дн. (расход {spend:base}, клики: {clicks}), но заказов ещё не "
              "было: стоимость заказа неизвестна, данных недостаточно",
    },
    "roi_floor.pause": {
        "en": "ROI {roi:.1f}% is below the floor {floor:g}% over {days} complete days (spend {spend:base}, revenue "
              "{revenue:base}, margin {margin:g}%) with {confidence}% confidence: {verdict}; every item at WB's "
              "minimum bid for {evaluations} evaluations: pausing the campaign",
        "ru": "ROI {roi:.1f}" + P + " ниже минимума {floor:g}" + P + " за {days} полн. дн. (расход {spend:base}, "
              "выручка {revenue:base}, маржа {margin:g}" + P + ") с уверенностью {confidence}" + P + ": {verdict}; "
              "все товары на минимальной ставке WB (проверок подряд: {evaluations}): ставим кампанию на паузу",
    },
    "roi_floor.lower": {
        "en": "{nums} is below the floor {floor:g}%: lowering the bid by {step:g}%",
        "ru": "{nums} ниже минимума {floor:g}" + P + ": снижаем ставку на {step:g}" + P,
    },
    "roi_floor.at_min": {
        "en": "{nums} is below the floor {floor:g}%; at WB's minimum bid and below the ROI floor {min_bid:money} "
              "({evaluations} of {pause_after} evaluations before a pause)",
        "ru": "{nums} ниже минимума {floor:g}" + P + "; ставка уже равна минимальной ставке WB {min_bid:money}, а ROI "
              "всё ещё ниже минимума (проверка {evaluations} из {pause_after} перед паузой)",
    },
    "roi_floor.not_probable": {
        "en": "{nums} is below the floor {floor:g}% but not probably: {probability}% < {confidence:g}% ({verdict})",
        "ru": "{nums} ниже минимума {floor:g}" + P + ", но это не доказано: уверенность {probability}" + P + " < "
              "{confidence:g}" + P + " ({verdict})",
    },
    "roi_floor.raise_back": {
        "en": "{nums} is comfortably above the floor {floor:g}%: raising back toward {bid:money}",
        "ru": "{nums} уверенно выше минимума {floor:g}" + P + ": возвращаем ставку к {bid:money}",
    },
    "roi_floor.comfortable": {
        "en": "{nums} is comfortably above the floor {floor:g}%",
        "ru": "{nums} уверенно выше минимума {floor:g}" + P,
    },
    "roi_floor.above": {
        "en": "{nums} is at or above the floor {floor:g}%",
        "ru": "{nums} не ниже минимума {floor:g}" + P,
    },
}
