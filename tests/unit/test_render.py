"""Rendering: every event kind in ru and en, HTML escaping of seller text, locale numbers, token scrubbing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fakes.telegram_api import parse_html

from bidder.notify import events as ev
from bidder.notify.i18n import NNBSP, fmt_money, fmt_number, fmt_pct
from bidder.notify.render import MAX_MESSAGE, esc, register_secret, render_group, scrub
from bidder.wb.tokens import mint_token

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script> & <b>Платья</b> $5 \u202e\U0001f600 </i>'


def all_events(name: str = HOSTILE) -> list[ev.Event]:
    return [
        ev.bid_changes("shop", [ev.BidChange(1, name, 25000, 28000, 5, "search", "позиция 12 > 5")], cycle_id=1),
        ev.campaign_paused("shop", 1, name, "ДРР 31% > 25%", numbers={"drr": 31, "spend": 1200, "revenue": 3870}),
        ev.campaign_resumed("shop", 1, name, "расписание", by="telegram:ivan"),
        ev.drr_alert("shop", 1, name, drr=Decimal("31.25"), limit=25, spend=1250, revenue=4000, day=date(2026, 11, 2)),
        ev.roi_alert("shop", 1, name, roi=80, floor=120, spend=100, revenue=180),
        ev.budget_reached("shop", 1, name, spent=5000, limit=5000),
        ev.account_failing("shop", "AuthFailed: HTTP 401: <token revoked>", since=NOW),
        ev.account_recovered("shop", down_seconds=3720),
        ev.token_expiring("shop", "write", datetime(2026, 11, 10, tzinfo=UTC), now=NOW),
        ev.api_drift("shop", "GET /adv/v3/fullstats", "field 'views' missing <html>"),
        ev.api_drift("shop", "GET /adv/v1/promotion/count", "", gone=True),
        ev.bidding_war("shop", 1, name, raises=3, bid=31000),
        ev.operator_action("shop", "pause", "123", by="telegram:<evil>"),
    ]


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_every_kind_renders_valid_html_with_escaped_names(locale: str) -> None:
    for e in all_events():
        text = render_group([e], locale)
        error, plain = parse_html(text)
        assert error is None, (e.kind, text)
        assert "<script>" not in text and "&lt;script&gt;" in text or e.advert_id is None
        assert len(plain) <= MAX_MESSAGE
        if e.kind in (ev.EventKind.BID_CHANGES, ev.EventKind.CAMPAIGN_PAUSED, ev.EventKind.DRR_ALERT):
            assert '<script>alert("x")</script>' in plain  # the seller sees their name as written


def test_russian_default_and_english_locale() -> None:
    e = ev.drr_alert("shop", 7, "Куртки", drr=Decimal("31.25"), limit=25, spend=12345.6, revenue=40000)
    ru = render_group([e])
    en = render_group([e], "en")
    assert "ДРР выше порога" in ru and f"12{NNBSP}346" in ru and "31,3%" in ru
    assert "above the limit" in en and "12,346" in en and "31.3%" in en


def test_number_formats() -> None:
    assert fmt_number(Decimal("1234567.891"), "ru", 2) == f"1{NNBSP}234{NNBSP}567,89"
    assert fmt_number(Decimal("1234567.891"), "en", 2) == "1,234,567.89"
    assert fmt_number(-5, "ru") == "-5"
    assert fmt_money(Decimal("250.50"), "ru") == "250,50\u00a0₽"
    assert fmt_money(1000, "en", "KZT") == "1,000\u00a0₸"
    assert fmt_pct(None, "ru") == "—"
    assert fmt_number("nan", "ru") == "—"


def test_merged_group_lists_every_event() -> None:
    changes = [ev.bid_changes("shop", [ev.BidChange(i, f"c{i}", 100, 200)], cycle_id=i) for i in range(5)]
    text = render_group(changes)
    assert text.count("•") == 5


def test_long_group_is_cut_on_a_line_boundary() -> None:
    many = [ev.BidChange(i, "x" * 200, 100, 200, reason="r" * 150) for i in range(200)]
    text = render_group([ev.bid_changes("shop", many)])
    error, plain = parse_html(text)
    assert error is None and len(text) <= MAX_MESSAGE
    assert "… и ещё" in text


def test_tokens_never_reach_a_message() -> None:
    wb = mint_token("42")
    bot = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawx"
    register_secret("a-custom-secret-value")
    events = [
        ev.account_failing("shop", f"bad token {wb} and {bot} and a-custom-secret-value"),
        ev.campaign_paused("shop", 1, f"name {wb}", f"reason Bearer {wb}"),
        ev.api_drift("shop", "GET /x", f"Authorization: {wb}"),
    ]
    for e in events:
        for loc in ("ru", "en"):
            text = render_group([e], loc)
            assert wb not in text and bot not in text and "a-custom-secret-value" not in text
            assert "[redacted]" in text
    assert scrub(f"x {wb} y") == "x [redacted] y"


def test_esc_drops_control_characters_and_cuts() -> None:
    assert esc("a\x00b\x07c") == "abc"
    assert len(esc("я" * 1000, 50)) == 50
    assert esc("<&>") == "&lt;&amp;&gt;"


def test_event_is_frozen_and_payload_jsonable() -> None:
    e = ev.drr_alert("shop", 1, "n", drr=Decimal("1.5"), limit=2, day=date(2026, 1, 2))
    assert e.payload["drr"] == "1.5" and e.dedup_key == "drr:shop:1:2026-01-02"
    with pytest.raises(AttributeError):
        e.kind = ev.EventKind.ROI_ALERT  # type: ignore[misc]
    with pytest.raises(TypeError):
        e.payload["x"] = 1  # type: ignore[index]


def test_pause_numbers_from_decision_inputs_are_labelled() -> None:
    e = ev.campaign_paused("shop", 5, "Шапки", "дневной бюджет исчерпан", by="operator",
                           numbers={"today_spend": 5100, "daily_budget": 5000, "drr_pct": 12.5, "weird<key>": "<v>"})
    text = render_group([e])
    assert "расход за сегодня 5\u202f100\u00a0₽" in text and "дневной бюджет 5\u202f000\u00a0₽" in text
    assert "ДРР 12,5%" in text and "weird&lt;key&gt; &lt;v&gt;" in text and text.split("\n")[1].endswith("— оператор")
    assert parse_html(text)[0] is None


def test_unknown_currency_falls_back_to_rubles() -> None:
    assert fmt_money(5, "ru", "") == "5\u00a0₽" and fmt_money(5, "en", "xyz") == "5\u00a0XYZ"


def test_rate_limit_wait_renders_in_both_locales():
    from datetime import UTC, datetime

    from bidder.notify import events as ev
    from bidder.notify.render import render_group

    e = ev.rate_limit_wait("shop-a", "fullstats", 86400.0, 300.0, now=datetime(2026, 11, 2, tzinfo=UTC))
    ru, en = render_group([e], "ru"), render_group([e], "en")
    assert "86400" in ru and "300" in ru and "WB просит" in ru
    assert "86400" in en and "waiting 300 s" in en
