"""Settings: BIDDER_* from the environment and from ./.env; secrets as SecretStr."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from bidder.settings import PROD_ADVERT_URL, SANDBOX_ADVERT_URL, Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("BIDDER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env unless a test writes one


def test_defaults() -> None:
    s = Settings()
    assert s.config == Path("./bidder.yaml")
    assert s.database_url == "sqlite+aiosqlite:///./bidder.db"
    assert s.wb_advert_url is None
    assert s.dry_run is False
    assert s.telegram_bot_token is None
    assert s.telegram_chat_ids == ()
    assert s.telegram_api_url == "https://api.telegram.org"
    assert s.http_port == 8080


def test_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIDDER_CONFIG", "/etc/bidder/bidder.yaml")
    monkeypatch.setenv("BIDDER_DATABASE_URL", "postgresql+asyncpg://u:p@db/bidder")
    monkeypatch.setenv("BIDDER_WB_ADVERT_URL", "http://127.0.0.1:9999/")
    monkeypatch.setenv("BIDDER_DRY_RUN", "true")
    monkeypatch.setenv("BIDDER_TELEGRAM_BOT_TOKEN", "123456:bot-token-value")
    monkeypatch.setenv("BIDDER_TELEGRAM_CHAT_IDS", "111, -100222;333")
    monkeypatch.setenv("BIDDER_TELEGRAM_API_URL", "http://127.0.0.1:8081")
    monkeypatch.setenv("BIDDER_HTTP_PORT", "0")
    s = Settings()
    assert s.config == Path("/etc/bidder/bidder.yaml")
    assert s.database_url.startswith("postgresql+asyncpg://")
    assert s.advert_url(sandbox=False) == "http://127.0.0.1:9999"
    assert s.advert_url(sandbox=True) == "http://127.0.0.1:9999"  # an explicit URL wins
    assert s.dry_run is True
    assert isinstance(s.telegram_bot_token, SecretStr)
    assert s.telegram_bot_token.get_secret_value() == "123456:bot-token-value"
    assert "bot-token-value" not in repr(s) and "bot-token-value" not in str(s)
    assert s.telegram_chat_ids == (111, -100222, 333)
    assert s.telegram_api_url == "http://127.0.0.1:8081"
    assert s.http_port == 0


def test_advert_url_prod_or_sandbox() -> None:
    s = Settings()
    assert s.advert_url(sandbox=False) == PROD_ADVERT_URL == "https://advert-api.wildberries.ru"
    assert s.advert_url(sandbox=True) == SANDBOX_ADVERT_URL


def test_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(
        "BIDDER_CONFIG=from-dotenv.yaml\nBIDDER_DRY_RUN=1\nBIDDER_TELEGRAM_CHAT_IDS=42\nUNRELATED=x\n"
    )
    s = Settings()
    assert s.config == Path("from-dotenv.yaml")
    assert s.dry_run is True
    assert s.telegram_chat_ids == (42,)
    # the environment beats .env
    monkeypatch.setenv("BIDDER_DRY_RUN", "false")
    assert Settings().dry_run is False


def test_single_and_empty_chat_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIDDER_TELEGRAM_CHAT_IDS", "")
    assert Settings().telegram_chat_ids == ()
    monkeypatch.setenv("BIDDER_TELEGRAM_CHAT_IDS", "-1001234567890")
    assert Settings().telegram_chat_ids == (-1001234567890,)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BIDDER_TELEGRAM_CHAT_IDS", "12,abc"),
        ("BIDDER_HTTP_PORT", "65536"),
        ("BIDDER_HTTP_PORT", "-1"),
        ("BIDDER_DRY_RUN", "perhaps"),
    ],
)
def test_invalid_values(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as info:
        Settings()
    assert [e["loc"] for e in info.value.errors()] == [(name.removeprefix("BIDDER_").lower(),)]


def test_bad_chat_ids_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIDDER_TELEGRAM_CHAT_IDS", "12,abc")
    with pytest.raises(ValidationError) as info:
        Settings()
    assert "BIDDER_TELEGRAM_CHAT_IDS must be comma-separated integer chat ids" in str(info.value)
