"""Process settings from the environment (prefix BIDDER_) and an optional .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROD_ADVERT_URL = "https://advert-api.wildberries.ru"
SANDBOX_ADVERT_URL = "https://advert-api-sandbox.wildberries.ru"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BIDDER_", env_file=".env", extra="ignore")

    config: Path = Path("./bidder.yaml")
    database_url: str = "sqlite+aiosqlite:///./bidder.db"
    wb_advert_url: str | None = Field(default=None, description="unset: prod, or the sandbox for test tokens")
    dry_run: bool = False
    telegram_bot_token: SecretStr | None = None
    telegram_chat_ids: Annotated[tuple[int, ...], NoDecode] = ()
    telegram_api_url: str = "https://api.telegram.org"
    http_port: int = Field(default=8080, ge=0, le=65535)
    http_host: str = "127.0.0.1"  # 0.0.0.0 in containers, so Prometheus can scrape /metrics
    dashboard_password: SecretStr | None = None  # unset: the web dashboard is read-only
    # Several workers on PostgreSQL (docs/SCALING.md): a seller lease lives this long without a heartbeat
    lease_ttl: float = Field(default=60.0, ge=1.0, le=3600.0, description="seconds; heartbeat every ttl/3")
    worker_id: str | None = None  # unset: host:pid:random
    # more host names the dashboard answers to (comma-separated; 127.0.0.1, localhost and http_host always)
    dashboard_hosts: str = ""

    @field_validator("telegram_chat_ids", mode="before")
    @classmethod
    def _chat_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            try:
                return tuple(int(p) for p in parts)
            except ValueError:
                raise ValueError("BIDDER_TELEGRAM_CHAT_IDS must be comma-separated integer chat ids") from None
        if isinstance(value, int):
            return (value,)
        return value

    def advert_url(self, sandbox: bool) -> str:
        """The Promotion API base URL: explicit setting first, else prod or the sandbox host."""
        if self.wb_advert_url:
            return self.wb_advert_url.rstrip("/")
        return SANDBOX_ADVERT_URL if sandbox else PROD_ADVERT_URL
