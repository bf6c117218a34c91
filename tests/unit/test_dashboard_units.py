"""Dashboard pieces without a server: password hashing, sessions, the login limiter, redaction, the
texts of both locales, and the Grafana JSON naming only metrics the daemon exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import SecretStr

from bidder.dashboard import auth
from bidder.dashboard.i18n import STRINGS, translate
from bidder.dashboard.redact import MASK, database_url, redacted_settings
from bidder.metrics import Metrics
from bidder.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_password_hash_verifies_and_hides() -> None:
    h = auth.PasswordHash.of("s3cret-pass")
    assert h.verify("s3cret-pass") and not h.verify("s3cret-pasS") and not h.verify("")
    assert "s3cret" not in repr(h) and "s3cret" not in str(vars(h) if hasattr(h, "__dict__") else "")
    assert auth.PasswordHash.of("x")._salt != auth.PasswordHash.of("x")._salt


def test_sessions_expire_and_drop() -> None:
    now = [0.0]
    s = auth.Sessions(ttl=10, monotonic=lambda: now[0])
    a = s.create()
    assert s.get(a.token) is a and a.csrf != a.token
    assert s.get("nope") is None and s.get(None) is None
    now[0] = 11
    assert s.get(a.token) is None
    b = s.create()
    s.drop(b.token)
    assert s.get(b.token) is None


def test_login_limiter_per_client_and_overall() -> None:
    now = [0.0]
    lim = auth.LoginLimiter(attempts=3, window=60, monotonic=lambda: now[0])
    for _ in range(3):
        assert lim.allowed("a")
        lim.failed("a")
    assert not lim.allowed("a") and lim.allowed("b")
    now[0] = 61
    assert lim.allowed("a")
    for i in range(12):
        lim.failed(f"c{i}")
    assert not lim.allowed("fresh")  # 4 × attempts failures overall within the window


def test_settings_and_urls_redacted() -> None:
    settings = Settings(_env_file=None, database_url="postgresql+asyncpg://bidder:pgpass@db/bidder",
                        telegram_bot_token="123:tg-secret", dashboard_password=SecretStr("dash-pass"))
    text = redacted_settings(settings, ["123:tg-secret"])
    assert "pgpass" not in text and "tg-secret" not in text and "dash-pass" not in text
    assert MASK in text and "db/bidder" in text
    assert "pgpass" not in database_url("postgresql://u:pgpass@h/d")


def test_both_locales_have_every_text() -> None:
    assert set(STRINGS["ru"]) == set(STRINGS["en"])
    assert translate("en", "nav.overview") == "Overview" and translate("xx", "nav.overview") == "Обзор"
    templates = (ROOT / "bidder" / "dashboard" / "templates").glob("*.html")
    used = {k for p in templates for k in re.findall(r"\bt\('([a-z0-9_.]+)'\)", p.read_text(encoding="utf-8"))}
    assert used <= set(STRINGS["ru"]), used - set(STRINGS["ru"])


def test_grafana_dashboard_uses_exported_metrics() -> None:
    dash = json.loads((ROOT / "deploy" / "grafana" / "bidder-dashboard.json").read_text(encoding="utf-8"))
    m = Metrics()
    m.cycle("a", 1.0, True, 0.0)
    m.api_call("count", 200)
    m.rate_limited("count")
    m.decision("hold")
    m.bid_changed("a")
    m.write_intent("applied")
    exported = set(re.findall(r"^(bidder_[a-z_]+)", m.render().decode(), re.M))
    used = {name for p in dash["panels"] for t in p["targets"] for name in re.findall(r"bidder_[a-z_]+", t["expr"])}
    assert used and used <= exported, used - exported
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])
