"""Reason codes of the target_position strategy (strategies/target_position.py) and its controller
(strategies/position_control.py); merged into :data:`bidder.reasons.catalogue.CATALOGUE`.

Fragments are nested reasons carried as args so each piece renders in the reader's language:
``position.src.*`` (where a position came from), ``position.span.*`` (the stretch a reading describes),
``position.where`` (position, source, stretch and target: every reading-based reason starts with it),
``position.corridor.*`` (WB's recommendation the strategy starts from) and ``position.move.*`` (the
controller's move). Times are ``HH:MM`` strings in UTC; bids are minor-unit ints (``{x:money}``).
"""

from __future__ import annotations

from typing import Final

P = "\u00a0%"  # Russian typography: a (non-breaking) space before the percent sign

POSITION_CODES: Final[dict[str, dict[str, str]]] = {
    # fragments: the position source and the stretch of time a reading describes
    "position.src.clusters_today": {"en": "clusters_today", "ru": "статистика кластеров за сегодня"},
    "position.src.public_search": {"en": "public_search", "ru": "поиск WB"},
    "position.src.search_report": {"en": "search_report", "ru": "поисковый отчёт WB"},
    "position.span.at": {"en": "at {at} UTC", "ru": "в {at} UTC"},
    "position.span.range": {"en": "{start}-{end} UTC", "ru": "с {start} до {end} UTC"},
    "position.where": {
        "en": "position {position:pos} ({source}, {span}), target {target}",
        "ru": "позиция {position:pos} ({source}, {span}), целевая позиция {target}",
    },
    # WB's corridor: where a target with no history of its own starts (strategies/position_control.py)
    "position.corridor.none": {"en": "no WB recommendation", "ru": "рекомендации WB нет"},
    "position.corridor.band": {
        "en": "WB's CPC band for positions {first}-{last}: {bid:money}",
        "ru": "ставка WB за клик для позиций {first}–{last}: {bid:money}",
    },
    "position.corridor.no_band": {
        "en": "no WB position band covers the target",
        "ru": "ни один диапазон позиций WB не включает целевую позицию",
    },
    "position.corridor.cluster_max": {
        "en": "WB's max-reach bid for the cluster: {bid:money}",
        "ru": "ставка WB для кластера на максимальный охват: {bid:money}",
    },
    "position.corridor.cluster_medium": {
        "en": "WB's medium-reach bid for the cluster: {bid:money}",
        "ru": "ставка WB для кластера на средний охват: {bid:money}",
    },
    "position.corridor.cluster_min": {
        "en": "WB's min-reach bid for the cluster: {bid:money}",
        "ru": "ставка WB для кластера на минимальный охват: {bid:money}",
    },
    "position.corridor.top": {"en": "WB top bid {bid:money}", "ru": "ставка WB для топа: {bid:money}"},
    "position.corridor.leaders": {"en": "WB leaders bid {bid:money}", "ru": "ставка WB для лидеров: {bid:money}"},
    "position.corridor.competitive": {
        "en": "WB competitive bid {bid:money}",
        "ru": "конкурентная ставка WB: {bid:money}",
    },
    "position.corridor.unusable": {
        "en": "no usable WB recommendation",
        "ru": "подходящей рекомендации WB нет",
    },
    # the controller's moves
    "position.move.back_to_held": {
        "en": "back to {bid:money}, the cheapest bid that held the target lately",
        "ru": "возвращаемся к {bid:money} — самой дешёвой ставке, которая недавно удерживала целевую позицию",
    },
    "position.move.back_before_probe": {
        "en": "the economy probe lost the target: back to {bid:money}, the bid before it",
        "ru": "пробное снижение потеряло целевую позицию: возвращаемся к {bid:money} — ставке до него",
    },
    "position.move.up_pct": {"en": "raising up {pct:g}%", "ru": "повышаем ставку на {pct:g}" + P},
    "position.move.towards_corridor": {
        "en": "raising towards WB's corridor",
        "ru": "повышаем ставку до коридора WB",
    },
    "position.move.probe_paused": {
        "en": "economy probe paused: {bid:money} lost the target within {hours} h",
        "ru": "пробное снижение приостановлено: со ставкой {bid:money} целевая позиция терялась за последние "
              "{hours}\u00a0ч",
    },
    "position.move.probe_lost_twice": {
        "en": "economy probe paused: {bid:money} lost the target twice within {hours} h",
        "ru": "пробное снижение приостановлено: со ставкой {bid:money} целевая позиция терялась дважды за "
              "последние {hours}\u00a0ч",
    },
    "position.move.at_min": {
        "en": "already at WB's minimum {bid:money}",
        "ru": "ставка уже равна минимальной ставке WB {bid:money}",
    },
    "position.move.probe_half": {
        "en": "economy probe: half way down to {lost:money}, which lost the target lately: {bid:money}",
        "ru": "пробное снижение: на полпути к {lost:money}, с которой недавно терялась целевая позиция, — до "
              "{bid:money}",
    },
    "position.move.probe": {
        "en": "economy probe: one step down to {bid:money}",
        "ru": "пробное снижение: на шаг вниз, до {bid:money}",
    },
    # the strategy's reasons
    "position.cluster_bid_unread": {
        "en": "the cluster's current bid is not read yet (or the item is not in it)",
        "ru": "текущая ставка кластера ещё не прочитана (или товара в этом кластере нет)",
    },
    "position.nothing_to_manage": {
        "en": "no search or combined bids to manage",
        "ru": "нет ставок в поиске или единых ставок, которыми можно управлять",
    },
    "position.above_max": {
        "en": "bid {bid:money} is above max_bid {max_bid:money}",
        "ru": "ставка {bid:money} выше максимальной ставки {max_bid:money}",
    },
    "position.above_max_at": {
        "en": "{where}: bid {bid:money} is above max_bid {max_bid:money}",
        "ru": "{where}: ставка {bid:money} выше максимальной ставки {max_bid:money}",
    },
    "position.start_from_corridor": {
        "en": "no position observed yet (clusters_today or public_search); starting from {entry}",
        "ru": "позиция ещё не наблюдалась (источники: статистика кластеров за сегодня, поиск WB); начинаем с "
              "рекомендации: {entry}",
    },
    "position.no_reading": {
        "en": "no fresh position reading (clusters_today or public_search): holding",
        "ru": "нет свежих данных о позиции (источники: статистика кластеров за сегодня, поиск WB): ставку не меняем",
    },
    "position.stats_lag": {
        "en": "{where}: WB's statistics still describe the bid {paid_bid:money}, not {bid:money} (they lag): waiting",
        "ru": "{where}: статистика WB ещё описывает ставку {paid_bid:money}, а не {bid:money} (она запаздывает): ждём",
    },
    "position.wait_after_change": {
        "en": "{where}: waiting for a {source} reading after the change at {at} UTC ({before:money} -> {after:money})",
        "ru": "{where}: ждём новых данных ({source}) после изменения ставки в {at} UTC "
              "({before:money} → {after:money})",
    },
    "position.already_acted": {
        "en": "{where}: already acted on this reading",
        "ru": "{where}: по этим данным ставка уже менялась",
    },
    "position.at_max": {
        "en": "{where}: worse than the target but already at max_bid {max_bid:money}",
        "ru": "{where}: хуже целевой, но ставка уже равна максимальной {max_bid:money}",
    },
    "position.within_rounding": {
        "en": "{where}: worse than the target by less than WB's rounding of the running average (+-{err}); "
              "joined with the stretch before: {joined}; waiting for the next stretch",
        "ru": "{where}: хуже целевой меньше, чем на погрешность округления средней позиции WB (±{err}); "
              "вместе с предыдущим отрезком: {joined}; ждём следующий отрезок",
    },
    "position.raise": {"en": "{where}: worse than the target; {move}", "ru": "{where}: хуже целевой; {move}"},
    "position.on_target_wait": {
        "en": "{where}: on target ({n} of {needed} readings before probing)",
        "ru": "{where}: на целевой позиции (замеров: {n} из {needed} перед пробным снижением)",
    },
    "position.report_no_probe": {
        "en": "{where}: on target; WB's search report is too coarse and slow for an economy probe (a loss would "
              "show hours later): holding",
        "ru": "{where}: на целевой позиции; отчёт WB по поисковым запросам слишком грубый и медленный для "
              "пробного снижения (потеря позиции была бы видна через несколько часов): ставку не меняем",
    },
    "position.on_target": {"en": "{where}: on target; {move}", "ru": "{where}: на целевой позиции; {move}"},
}
