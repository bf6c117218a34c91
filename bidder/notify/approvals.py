"""Approval mode in Telegram: requests with inline Approve / Reject buttons, and the answers.

:class:`ApprovalSender` sends each queued request (:mod:`bidder.store.approvals`, filled by
:class:`bidder.engine.approval.ApprovalGate`) once to every allowed chat with two inline buttons, and
marks the request sent. :class:`ApprovalAnswers` handles the button presses (callback queries) that
:class:`bidder.notify.commands.CommandLoop` receives: only from the allowed chats (others are ignored and
logged), only while the request is pending and not expired; the answer is recorded (who, when), the press
acknowledged and the request's messages edited to show the outcome. The engine applies an approved
decision at its next cycle, after a fresh check that it still holds.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bidder.clock import Clock
from bidder.domain import minor_to_base
from bidder.notify.telegram import TelegramError
from bidder.store import approvals as store

log = logging.getLogger("bidder.notify")
PREFIX = "appr"

TEXTS = {
    "ru": {
        "request": "Нужно подтверждение: {account}, кампания {advert_id}{target}: {what}.\nСтратегия {strategy}: "
                   "{reason}\nБез ответа до {until} UTC изменение будет пропущено.",
        "approve": "Подтвердить", "reject": "Отклонить",
        "approved": "Подтверждено ({by}): изменение будет применено на следующем цикле, если оно всё ещё в силе.",
        "rejected": "Отклонено ({by}).",
        "too_late": "Запрос уже закрыт: {status}.",
        "bid": "ставка {before} → {after}", "resume": "запуск кампании",
    },
    "en": {
        "request": "Approval needed: {account}, campaign {advert_id}{target}: {what}.\nStrategy {strategy}: "
                   "{reason}\nUnanswered by {until} UTC, the change is skipped.",
        "approve": "Approve", "reject": "Reject",
        "approved": "Approved ({by}): applied at the next cycle if it still holds.",
        "rejected": "Rejected ({by}).",
        "too_late": "This request is closed: {status}.",
        "bid": "bid {before} → {after}", "resume": "start the campaign",
    },
}


def _t(locale: str, key: str, **kw: Any) -> str:
    return TEXTS.get(locale, TEXTS["ru"])[key].format(**kw)


def request_text(a: store.Approval, locale: str) -> str:
    d = a.decision
    target = "" if d.get("nm_id") is None else f", nm {d['nm_id']} {d.get('placement') or ''}"
    if d.get("norm_query"):
        target += f" «{d['norm_query']}»"
    if a.action == "set_bid":
        what = _t(locale, "bid", before=minor_to_base(a.bid_before or 0), after=minor_to_base(a.bid_after or 0))
    else:
        what = _t(locale, "resume")
    return html.escape(_t(locale, "request", account=a.account, advert_id=a.advert_id, target=target, what=what,
                          strategy=d.get("strategy", ""), reason=d.get("reason", ""),
                          until=a.expires_at.strftime("%Y-%m-%d %H:%M")), quote=False)


def keyboard(a: store.Approval, locale: str) -> dict[str, Any]:
    return {"inline_keyboard": [[
        {"text": _t(locale, "approve"), "callback_data": f"{PREFIX}:{a.id}:y"},
        {"text": _t(locale, "reject"), "callback_data": f"{PREFIX}:{a.id}:n"},
    ]]}


class ApprovalSender:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: Any, chat_ids: Iterable[int], *,
                 clock: Clock, locale: str = "ru") -> None:
        self.sessions = sessions
        self.client = client
        self.chats = tuple(int(c) for c in chat_ids)
        self.clock = clock
        self.locale = locale

    async def send_pending(self) -> int:
        async with self.sessions() as s:
            due = await store.unsent(s)
        sent = 0
        for a in due:
            messages: list[list[int]] = []
            for chat in self.chats:
                try:
                    reply = await self.client.send_message(chat, request_text(a, self.locale),
                                                           reply_markup=keyboard(a, self.locale))
                except TelegramError as exc:
                    log.warning("telegram: approval request %s to chat %s failed: %s", a.id, chat, exc)
                    continue
                messages.append([chat, int(reply.get("message_id", 0))])
            if messages or not self.chats:
                async with self.sessions.begin() as s:
                    await store.set_messages(s, a.id, messages, now=self.clock.now())
                sent += 1
        return sent

    async def run(self, stop: asyncio.Event, every: float = 2.0) -> None:
        while not stop.is_set():
            try:
                await self.send_pending()
            except Exception:
                log.exception("telegram: sending approval requests failed")
            try:
                await asyncio.wait_for(stop.wait(), every)
            except TimeoutError:
                pass


class ApprovalAnswers:
    """Handles ``callback_query`` updates whose data is ``appr:<id>:y|n``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: Any, chat_ids: Iterable[int], *,
                 clock: Clock, locale: str = "ru") -> None:
        self.sessions = sessions
        self.client = client
        self.chats = frozenset(int(c) for c in chat_ids)
        self.clock = clock
        self.locale = locale
        self.ignored = 0

    async def handle(self, query: dict[str, Any]) -> bool:
        """True when the press was an answer from an allowed chat (recorded or too late)."""
        data = str(query.get("data") or "")
        parts = data.split(":")
        if len(parts) != 3 or parts[0] != PREFIX or parts[2] not in ("y", "n") or not parts[1].isdigit():
            return False
        chat = ((query.get("message") or {}).get("chat") or {}).get("id")
        if not isinstance(chat, int) or chat not in self.chats:
            self.ignored += 1
            log.warning("telegram: ignored an approval answer from chat %s (not in BIDDER_TELEGRAM_CHAT_IDS)", chat)
            return False
        sender = query.get("from") or {}
        by = f"telegram:{str(sender.get('username') or sender.get('id') or chat)[:64]}"
        now = self.clock.now()
        async with self.sessions.begin() as s:
            a, recorded = await store.answer(s, int(parts[1]), approve=parts[2] == "y", by=by, now=now)
        if a is None:
            note = _t(self.locale, "too_late", status="?")
        elif recorded:
            note = _t(self.locale, "approved" if a.status == store.APPROVED else "rejected", by=html.escape(by))
        else:
            note = _t(self.locale, "too_late", status=a.status)
        log.info("telegram: approval %s answered from chat %s: %s", parts[1], chat, a.status if a else "unknown")
        try:
            await self.client.answer_callback_query(str(query.get("id")), note)
            if a is not None:
                for chat_id, message_id in a.messages or ():
                    await self.client.edit_message_text(chat_id, message_id, f"{request_text(a, self.locale)}\n\n{note}")
        except TelegramError as exc:
            log.warning("telegram: acknowledging approval %s failed: %s", parts[1], exc)
        return True
