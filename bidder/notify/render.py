"""Events and control results -> Telegram HTML (parse_mode=HTML).

Every string that comes from outside (campaign names, reasons, WB error details, account names,
operator names) goes through :func:`esc`. Every finished message goes through :func:`scrub` (:mod:`bidder.redact`),
which removes anything shaped like a bot token or a WB token (a JWT) and any secret registered with
:func:`register_secret`, so no token can reach a chat even if a caller put one in a payload.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from bidder.notify.events import Event, EventKind
from bidder.notify.i18n import (
    fmt_datetime,
    fmt_duration,
    fmt_minor,
    fmt_money,
    fmt_number,
    fmt_pct,
    norm_locale,
    t,
)
from bidder.reasons import render_stored
from bidder.redact import MESSAGE_REPLACEMENT, scrub
from bidder.redact import register_secret as register_secret  # re-exported for callers of this module

MAX_MESSAGE = 4096  # Telegram's limit for a text message, in characters after entity parsing
MAX_CAPTION = 1024
MAX_NAME = 80  # a campaign name longer than this is cut (names are seller-provided)
MAX_DETAIL = 300
# a pause is rare and the seller must see why in full: the Russian reason of a spend_cap / roi_floor pause
# with its numbers and confidence runs to ~330 characters (its action, "ставим кампанию на паузу", is last)
MAX_PAUSE_REASON = 400

REDACTED = MESSAGE_REPLACEMENT


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def esc(value: object, limit: int = MAX_DETAIL) -> str:
    """Escape a seller-provided or external string for HTML parse mode (after cutting it)."""
    text = "" if value is None else str(value)
    text = "".join(ch for ch in text if ch in "\n\t" or (ord(ch) >= 32 and not 0xD800 <= ord(ch) <= 0xDFFF))
    return html.escape(_cut(scrub(text), limit), quote=False)


def campaign_label(advert_id: object, name: object) -> str:
    name_s = esc(name, MAX_NAME) if name else ""
    return f"«{name_s}» ({esc(advert_id)})" if name_s else f"№{esc(advert_id)}"


def truncate_html(lines: Sequence[str], locale: str, limit: int = MAX_MESSAGE) -> str:
    """Join lines; when too long, drop whole lines from the end (never cutting inside a tag or an
    entity) and say how many were left out."""
    if sum(len(line) + 1 for line in lines) - 1 <= limit:
        return "\n".join(lines)
    out: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        more = t(locale, "bid_changes.more", n=len(lines) - i)
        if size + len(line) + 1 + len(more) > limit:
            out.append(more)
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


# payload "numbers" keys -> (label key, kind). Unknown keys are shown as "key value", escaped.
_NUMBER_KEYS: dict[str, tuple[str, str]] = {
    "spend": ("numbers.spend", "money"),
    "today_spend": ("numbers.today_spend", "money"),
    "revenue": ("numbers.revenue", "money"),
    "budget": ("numbers.budget", "money"),
    "daily_budget": ("numbers.daily_budget", "money"),
    "limit": ("numbers.limit", "money"),
    "drr": ("numbers.drr", "pct"),
    "drr_pct": ("numbers.drr", "pct"),
    "max_drr_pct": ("numbers.max_drr", "pct"),
    "roi": ("numbers.roi", "pct"),
    "roi_pct": ("numbers.roi", "pct"),
    "min_roi_pct": ("numbers.min_roi", "pct"),
    "orders": ("numbers.orders", "int"),
}


def _numbers(numbers: Mapping[str, Any], locale: str, currency: str) -> str:
    parts = []
    for key, value in list(numbers.items())[:12]:
        if value is None:
            continue
        label_key, kind = _NUMBER_KEYS.get(key, ("", "text"))
        label = t(locale, label_key) if label_key else esc(key, 40)
        if kind == "money":
            shown = fmt_money(value, locale, currency)
        elif kind == "pct":
            shown = fmt_pct(value, locale)
        elif kind == "int":
            shown = fmt_number(value, locale)
        else:
            shown = esc(value, 60)
        parts.append(f"{label} {shown}")
    return ", ".join(parts)


def _placement(change: Mapping[str, Any]) -> str:
    bits = []
    if change.get("nm_id"):
        bits.append(f"nm {esc(change['nm_id'])}")
    if change.get("norm_query"):
        bits.append(f"«{esc(change['norm_query'], 60)}»")
    elif change.get("placement"):
        bits.append(esc(change["placement"], 30))
    return f" [{', '.join(bits)}]" if bits else ""


def _arrow(before: object, after: object, locale: str, currency: str) -> str:
    b = fmt_minor(int(before), locale, currency) if before is not None else "—"
    a = fmt_minor(int(after), locale, currency) if after is not None else "—"
    sign = ""
    if before is not None and after is not None:
        sign = " ↑" if int(after) > int(before) else (" ↓" if int(after) < int(before) else "")
    return f"{b} → {a}{sign}"


def reason_text(payload: Mapping[str, Any], locale: str, currency: str = "RUB") -> str:
    """A payload's decision reason in ``locale`` (its code and numbers); its English text when it has no
    code (a strategy not converted yet, an event queued before the codes)."""
    return render_stored(payload.get("reason_code"), payload.get("reason_args"), str(payload.get("reason") or ""),
                         norm_locale(locale), currency)


def render_group(events: Sequence[Event], locale: str = "ru", *, tz: str = "Europe/Moscow") -> str:
    """One message for a group of events of the same kind and account (the outbox merges them)."""
    if not events:
        return ""
    kind = events[0].kind
    account = esc(events[0].account, 60)
    lines: list[str] = []
    # what WB said: "sent" (it accepted the request; a later read confirms it) or "confirmed" (a read showed
    # it); events queued before this distinction carry neither and keep the plain titles
    states = {e.payload.get("confirmed") for e in events}
    dry = any(e.payload.get("dry_run") for e in events)
    sent = not dry and False in states
    if kind == EventKind.BID_CHANGES:
        state = "bid_changes.dry" if dry else "bid_changes.sent" if sent else \
            "bid_changes.confirmed" if states == {True} else None
        lines.append(t(locale, "bid_changes.title", account=account) + (t(locale, state) if state else ""))
        for e in events:
            currency = str(e.payload.get("currency") or "RUB")
            for c in e.payload.get("changes", ()):
                line = f"• {campaign_label(c.get('advert_id'), c.get('name'))}{_placement(c)}: " \
                       f"{_arrow(c.get('before'), c.get('after'), locale, currency)}"
                if c.get("reason"):
                    line += f" — {esc(reason_text(c, locale, currency), 160)}"
                lines.append(line)
        if sent:
            lines.append(t(locale, "bid_changes.sent_tail"))
    elif kind in (EventKind.CAMPAIGN_PAUSED, EventKind.CAMPAIGN_RESUMED):
        key = "paused.title" if kind == EventKind.CAMPAIGN_PAUSED else "resumed.title"
        suffix = "bid_changes.dry" if dry else "status.confirmed_title" if states == {True} else None
        lines.append(t(locale, key + "_sent" if sent else key, account=account) + (t(locale, suffix) if suffix else ""))
        mixed = sent and True in states
        for e in events:
            p = e.payload
            line = f"• {campaign_label(p.get('advert_id'), p.get('name'))}"
            if p.get("reason"):
                line += ": " + esc(reason_text(p, locale, str(p.get("currency") or "RUB")), MAX_PAUSE_REASON)
            nums = _numbers(p.get("numbers") or {}, locale, str(p.get("currency") or "RUB"))
            if nums:
                line += f" ({nums})"
            by = str(p.get("by") or "")
            if by == "operator":
                line += f" — {t(locale, 'by.operator', by='').rstrip()}"
            elif by and by != "strategy":
                line += f" — {t(locale, 'by.operator', by=esc(by, 60))}"
            if mixed:
                line += f" [{t(locale, 'status.confirmed' if p.get('confirmed') else 'status.sent')}]"
            lines.append(line)
        if sent:
            lines.append(t(locale, "status.sent_tail"))
    elif kind == EventKind.DRR_ALERT:
        lines.append(t(locale, "drr.title", account=account))
        for e in events:
            p = e.payload
            lines.append("• " + t(locale, "drr.line", campaign=campaign_label(p.get("advert_id"), p.get("name")),
                                  drr=fmt_pct(p.get("drr"), locale), limit=fmt_pct(p.get("limit"), locale),
                                  spend=fmt_money(p.get("spend"), locale), revenue=fmt_money(p.get("revenue"), locale)))
    elif kind == EventKind.ROI_ALERT:
        lines.append(t(locale, "roi.title", account=account))
        for e in events:
            p = e.payload
            lines.append("• " + t(locale, "roi.line", campaign=campaign_label(p.get("advert_id"), p.get("name")),
                                  roi=fmt_pct(p.get("roi"), locale), floor=fmt_pct(p.get("floor"), locale),
                                  spend=fmt_money(p.get("spend"), locale), revenue=fmt_money(p.get("revenue"), locale)))
    elif kind == EventKind.BUDGET_REACHED:
        lines.append(t(locale, "budget.title", account=account))
        for e in events:
            p = e.payload
            lines.append("• " + t(locale, "budget.line", campaign=campaign_label(p.get("advert_id"), p.get("name")),
                                  spent=fmt_money(p.get("spent"), locale), limit=fmt_money(p.get("limit"), locale)))
    elif kind == EventKind.DAILY_LIMIT:
        lines.append(t(locale, "daily_limit.title", account=account))
        for e in events:
            p = e.payload
            lines.append("• " + t(locale, "daily_limit.line", campaign=campaign_label(p.get("advert_id"), p.get("name")),
                                  limit=fmt_money(p.get("limit"), locale), required=fmt_money(p.get("required"), locale)))
    elif kind == EventKind.ACCOUNT_FAILING:
        lines.append(t(locale, "failing.title", account=account))
        errors = list(dict.fromkeys(str(e.payload.get("error") or "") for e in events))
        lines.append(t(locale, "failing.body", error="; ".join(esc(x, MAX_DETAIL) for x in errors)))
    elif kind == EventKind.ACCOUNT_RECOVERED:
        lines.append(t(locale, "recovered.title", account=account))
        down = events[-1].payload.get("down_seconds")
        if down is not None:
            lines.append(t(locale, "recovered.body", down=fmt_duration(down, locale)))
    elif kind == EventKind.TOKEN_EXPIRING:
        lines.append(t(locale, "token.title", account=account))
        seen = set()
        for e in events:
            p = e.payload
            which = "write" if p.get("which") == "write" else "read"
            if which in seen:
                continue
            seen.add(which)
            lines.append(t(locale, "token.body", which=t(locale, f"token.{which}"),
                           when=fmt_datetime(p.get("expires_at"), locale, tz), days=esc(p.get("days_left"))))
    elif kind == EventKind.RATE_LIMIT_WAIT:
        lines.append(t(locale, "ratelimit.title", account=account))
        for e in events:
            p = e.payload
            lines.append("• " + t(locale, "ratelimit.line", method=esc(str(p.get("method") or ""), 80),
                                  asked=esc(f"{float(p.get('asked') or 0):.0f}"),
                                  applied=esc(f"{float(p.get('applied') or 0):.0f}")))
    elif kind == EventKind.API_DRIFT:
        lines.append(t(locale, "drift.title", account=account))
        for e in events:
            p = e.payload
            key = "drift.gone" if p.get("gone") else "drift.schema"
            method = str(p.get("method") or "")
            detail = str(p.get("detail") or "")
            if method and detail.startswith(method + ": "):
                detail = detail[len(method) + 2:]
            lines.append("• " + t(locale, key, method=esc(method, 80), detail=esc(detail, 200)))
        lines.append(t(locale, "drift.tail"))
    elif kind == EventKind.BIDDING_WAR:
        lines.append(t(locale, "war.title", account=account))
        for e in events:
            p = e.payload
            lines.append("• " + t(locale, "war.line", campaign=campaign_label(p.get("advert_id"), p.get("name")),
                                  raises=esc(p.get("raises")), bid=fmt_minor(p.get("bid"), locale)))
    elif kind == EventKind.WB_REFUSED:
        lines.append(t(locale, "refused.title", account=account))
        for detail in dict.fromkeys(_refused_line(e.payload, locale) for e in events):
            lines.append("• " + detail)
    elif kind == EventKind.OPERATOR_ACTION:
        ok = all(e.payload.get("ok", True) for e in events)
        lines.append(t(locale, "op.title" if ok else "op.failed", account=account))
        for e in events:
            p = e.payload
            lines.append("• " + render_action(p.get("action"), p.get("target"), p.get("by"), locale)
                         + (f" ({esc(p.get('detail'), 200)})" if p.get("detail") else ""))
    else:  # pragma: no cover - every kind is handled above
        lines.append(esc(kind))
    return scrub(truncate_html(lines, locale))


def _refused_line(payload: Mapping[str, Any], locale: str) -> str:
    """A refused write in the reader's language (what, which campaign, WB's reason as WB said it); other
    refusals (a feature turned off) as their English detail."""
    w = payload.get("write")
    if not isinstance(w, Mapping) or w.get("action") not in ("pause", "start", "bid"):
        return esc(str(payload.get("detail") or ""), MAX_DETAIL)
    target = campaign_label(w.get("advert_id"), None) + (f" nm {esc(w['nm_id'])}" if w.get("nm_id") else "")
    return t(locale, f"refused.{w['action']}", target=target, reason=esc(str(w.get("reason") or ""), MAX_DETAIL))


def render_action(action: object, target: object, by: object, locale: str) -> str:
    action_s = str(action or "")
    label = t(locale, f"action.{action_s}") if action_s in {"pause", "resume", "dryrun_on", "dryrun_off"} \
        else esc(action_s, 40)
    target_s = render_target(target, locale)
    return t(locale, "op.line", action=label, target=f" {target_s}" if target_s else "", by=esc(by, 60))


def render_target(target: object, locale: str) -> str:
    if target in (None, "", "all"):
        return t(locale, "target.all") if target == "all" else ""
    return t(locale, "target.campaign", id=esc(target, 20))


def render_events(events: Iterable[Event], locale: str = "ru") -> list[str]:
    """Group by (kind, account) in first-seen order and render one message per group."""
    groups: dict[tuple[str, str], list[Event]] = {}
    for e in events:
        groups.setdefault((e.kind.value, e.account), []).append(e)
    return [render_group(g, locale) for g in groups.values()]


def plain(text: str) -> str:
    """HTML message -> plain text for the console sink."""
    return html.unescape(re.sub(r"</?[a-zA-Z][^>]*>", "", text))


def money_or_dash(value: Decimal | None, locale: str, currency: str = "RUB") -> str:
    return fmt_money(value, locale, currency)


# ---- control results (answers to commands; the CLI can print them through plain()) --------------------


def render_status(report: Any, locale: str = "ru", *, tz: str = "Europe/Moscow") -> str:
    lines = [t(locale, "status.title", at=fmt_datetime(report.at, locale, tz))]
    for a in report.accounts:
        health = t(locale, {"ok": "status.ok", "failing": "status.failing"}.get(a.health, "status.unknown"))
        lines.append(t(locale, "status.account", account=esc(a.name, 60), health=health, managed=a.managed))
        lines.append(t(locale, "status.today", spend=fmt_money(a.spend, locale, a.currency),
                       revenue=fmt_money(a.revenue, locale, a.currency), drr=fmt_pct(a.drr, locale),
                       orders=fmt_number(a.orders, locale)))
        c = a.last_cycle
        if c is None:
            lines.append(t(locale, "status.nocycle"))
        else:
            result = (t(locale, "status.ok") if c.ok else
                      (t(locale, "status.failing") + (f": {esc(c.error, 200)}" if c.error else ""))
                      if c.ok is not None else "…")
            lines.append(t(locale, "status.cycle", at=fmt_datetime(c.finished_at or c.started_at, locale, a.timezone),
                           result=result))
        if a.paused_all:
            lines.append(t(locale, "status.paused_all"))
        elif a.paused:
            lines.append(t(locale, "status.paused", ids=", ".join(esc(i) for i in a.paused[:50])))
    lines.append(t(locale, "status.dry" if report.dry_run else "status.live"))
    return scrub(truncate_html(lines, locale))


def render_history(advert_id: int, decisions: Sequence[Any], locale: str = "ru", *,
                   tz: str = "Europe/Moscow", currency: str = "RUB") -> str:
    if not decisions:
        return t(locale, "history.empty", id=esc(advert_id))
    lines = [t(locale, "history.title", id=esc(advert_id))]
    for d in decisions:
        dec = d.decision
        what = ""
        if dec.bid_before is not None or dec.bid_after is not None:
            what = _arrow(dec.bid_before, dec.bid_after, locale, currency)
        status = f" [{esc(d.apply_status, 30)}]" if d.apply_status not in ("applied", "held") else ""
        lines.append(t(locale, "history.line", at=fmt_datetime(d.at, locale, tz), action=esc(dec.action, 20),
                       what=what + _placement({"nm_id": dec.nm_id, "placement": dec.placement,
                                               "norm_query": dec.norm_query}),
                       reason=esc(dec.reason or "—", 200)) + status)
    return scrub(truncate_html(lines, locale))


def render_result(result: Any, locale: str = "ru") -> str:
    target = render_target(result.target, locale) if result.target else ""
    text = t(locale, f"ok.{result.action}", target=target) if result.action in ("pause", "resume") \
        else t(locale, f"ok.{result.action}")
    return scrub(text)
