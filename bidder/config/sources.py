"""Account settings of the optional position sources (YAML ``accounts[].positions``).

The official sources need nothing here: today's search-cluster statistics are read with the account's
Promotion read token. WB's Analytics search report (``search_report``) needs a token with the Analytics
category and is off unless enabled. The public storefront search is not an official API (see README "Where positions
come from"): it is off unless ``public_search.enabled`` is true, and goes through ``proxy`` when given.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from bidder.durations import Duration


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PublicSearchConfig(_Model):
    enabled: bool = False
    url: str = "https://u-search.wb.ru"
    proxy: SecretStr | None = None  # http://user:password@host:port (a secret: may carry a password)
    dest: str = "-1257786"  # the delivery region (Moscow); positions are compared within one region only
    min_interval: Duration = timedelta(seconds=10)  # at most one call per this long
    every: Duration = timedelta(minutes=5)  # each (campaign, query) read at most this often
    pages: int = Field(default=1, ge=1, le=5)

    @field_validator("min_interval")
    @classmethod
    def _slow(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=2):
            raise ValueError("must be at least 2s: the public search blocks fast clients")
        return value


class SearchReportConfig(_Model):
    """WB's Analytics search report (``POST /api/v2/search-report/product/orders``): the item's average
    place per search text and day. Needs a token with the Analytics category (``token``, a reference like
    the account's tokens: ``${VAR}`` or ``file:/path``) and, per WB, a Jam subscription."""

    enabled: bool = False
    token: SecretStr | None = None
    url: str = "https://seller-analytics-api.wildberries.ru"
    every: Duration = timedelta(hours=2)  # WB refreshes the report every 2 hours (since 2026-10-12)

    @field_validator("every")
    @classmethod
    def _refresh(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=20):
            raise ValueError("must be at least 20m: WB refreshes the search report every 2 hours")
        return value


class PositionSources(_Model):
    public_search: PublicSearchConfig = Field(default_factory=PublicSearchConfig)
    search_report: SearchReportConfig = Field(default_factory=SearchReportConfig)
