"""What this process knows about one account, between cycles: a named, typed view.

:class:`AccountView` holds the account's configuration (and so which strategies apply to which
campaign), the campaigns as last read from WB, when each thing was last fetched, WB's bid rules and the
evaluation inputs cached from the database. The stages (:mod:`bidder.engine.poll`, ``evaluate``,
``apply``) read and update it; the database stays the source of truth and a restart rebuilds it.

:class:`CampaignInputs` is everything one campaign's evaluation reads: when it equals the previous
one, the campaign's decisions cannot have changed (only time-based thresholds can, see
``REEVALUATE_EVERY``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from bidder.domain import (
    BID_EDITABLE_STATUSES,
    BidRules,
    Campaign,
    ClusterStat,
    Decision,
    DecisionRecord,
    Placement,
    Recommendation,
    Status,
)
from bidder.engine.currency_defaults import evidence_guard, sized_strategies
from bidder.engine.finished import FinishedReads
from bidder.engine.freshness import Freshness
from bidder.engine.guards import GuardConfig
from bidder.engine.inputs import EvaluationInputs
from bidder.engine.min_bids import MinBids
from bidder.engine.positions import PositionState

HISTORY_DAYS = 7
PRIOR_DAYS = 7  # days before a money strategy's window loaded for its conversion prior (issue 15)


class CampaignInputs(NamedTuple):
    """What one campaign's evaluation reads (compared between cycles to skip unchanged campaigns; a
    named tuple, so building and comparing one per campaign costs what a plain tuple does)."""

    campaign: Campaign
    rules: BidRules
    stats_version: int
    cluster_stats: tuple[ClusterStat, ...]
    recommendations: dict[int, Recommendation]
    stats_as_of: datetime | None
    history: tuple[DecisionRecord, ...]
    operator_paused: bool
    stopped: bool
    today: date
    rules_known: bool
    positions: tuple = ()  # PositionObservation, oldest first
    cluster_bids: tuple = ()  # sorted ((nm_id, norm_query), bid)


@dataclass(frozen=True, slots=True)
class WBSteps:
    fetched_at: datetime
    cpm_step: int
    cpc_step: int


@dataclass
class AccountView:
    """One account as this process sees it. ``configure`` (a reload) starts strategies and evaluation
    inputs afresh; what was read from WB is kept."""

    account: Any  # bidder.config.AccountConfig
    guard: GuardConfig
    campaigns: dict[int, Campaign] = field(default_factory=dict)
    changed_at: dict[int, Any] = field(default_factory=dict)  # WB's changeTime per campaign (from count)
    # WB's campaign list as last read (advert -> status): campaigns known from it alone (details not read
    # yet) are still reached by the kill switch (engine/kill_switch.py)
    listed: dict[int, int] = field(default_factory=dict)
    kill_switch_done: dict[int, tuple] = field(default_factory=dict)  # engine/kill_switch.py
    details_at: dict[int, datetime] = field(default_factory=dict)
    count_at: datetime | None = None
    stats_at: dict[int, datetime] = field(default_factory=dict)
    clusters_at: dict[int, datetime] = field(default_factory=dict)
    recs_at: dict[tuple[int, int], datetime] = field(default_factory=dict)
    recs: dict[tuple[int, int], Recommendation] = field(default_factory=dict)
    min_bids: MinBids = field(default_factory=MinBids)  # WB's minimum bids, read lazily (engine.min_bids)
    finished: FinishedReads = field(default_factory=FinishedReads)  # finished campaigns' final reads
    steps: WBSteps | None = None
    currency: str | None = None
    # campaigns with write intents whose outcome is not known yet (engine/reconcile.py): nothing is
    # decided or written for them until WB has been re-read
    reconciling: set[int] = field(default_factory=set)
    # campaigns not to be written to, with the reason (engine/safety.py: unknown request-shape fields,
    # a rejected write waiting for a re-read)
    write_blocked: dict[int, str] = field(default_factory=dict)
    positions: PositionState = field(default_factory=PositionState)
    # read failures scoped to a campaign or an optional feature (engine/scoped.py)
    scoped_failures: dict[tuple[str, int], tuple[datetime, str]] = field(default_factory=dict)
    features_off: dict[str, str] = field(default_factory=dict)  # feature -> WB's answer
    features_to_alert: list[str] = field(default_factory=list)
    freshness: Freshness = field(default_factory=Freshness)
    inputs: EvaluationInputs = field(init=False)
    _strategies: dict[int, list | None] = field(init=False)  # advert -> strategies, None: not managed
    _sized_step: int | None = field(init=False, default=None)  # WB's CPM step the strategies are sized in
    _tz: ZoneInfo = field(init=False)

    def __post_init__(self) -> None:
        self.configure(self.account)

    # ------------------------------------------------------------------ configuration

    @property
    def name(self) -> str:
        return self.account.name

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    def configure(self, account: Any) -> None:
        self.account = account
        self._tz = ZoneInfo(account.timezone)
        self._strategies = {}
        self.inputs = EvaluationInputs(account.name, keeps_holds=self.reads_holds)

    def managed_strategies(self, advert_id: int) -> list | None:
        """The campaign's strategy instances (pure, so one set serves every cycle); None when the
        campaign is not managed."""
        try:
            return self._strategies[advert_id]
        except KeyError:
            account = self.account
            out = account.strategies_for(advert_id) if account.is_managed(advert_id) else None
            if out is not None and self._sized_step is not None:
                out = sized_strategies(out, self._sized_step)
            self._strategies[advert_id] = out
            return out

    def size_defaults(self, cpm_step: int) -> None:
        """WB's CPM step is known (or changed): the strategies' money defaults follow the account's
        currency (:mod:`bidder.engine.currency_defaults`); the instances are made again."""
        if cpm_step != self._sized_step:
            self._sized_step = cpm_step
            self._strategies = {}

    def strategies_for(self, advert_id: int) -> list:
        return self.managed_strategies(advert_id) or []

    def reads_holds(self, advert_id: int) -> bool:
        return any(s.reads_holds for s in self.strategies_for(advert_id))

    def needs(self, advert_id: int, attr: str) -> bool:
        return any(getattr(s, attr, False) for s in self.strategies_for(advert_id))

    def clock_driven(self, advert_id: int) -> bool:
        return any(s.clock_driven for s in self.strategies_for(advert_id))

    def window_days(self, advert_id: int) -> int:
        days = 1
        for strategy in self.strategies_for(advert_id):
            window = getattr(strategy.params, "window", None)
            if window is not None:
                # complete-day windows end yesterday, and the days before them are the evidence prior
                # (strategies/windows.py): window + today + PRIOR_DAYS, within WB's 31 days
                days = max(days, min(31, int(window.total_seconds() // 86400) + 1 + PRIOR_DAYS))
        return max(days, HISTORY_DAYS)

    def today(self, now: datetime) -> date:
        return now.astimezone(self._tz).date()

    # ------------------------------------------------------------------ campaigns

    def managed_ids(self) -> list[int]:
        return sorted(i for i, c in self.campaigns.items()
                      if self.managed_strategies(i) is not None and c.status != Status.DELETED)

    def editable_ids(self) -> list[int]:
        """Managed campaigns whose bids can change (the ones evaluated and polled for extras)."""
        return [i for i in self.managed_ids() if self.campaigns[i].status in BID_EDITABLE_STATUSES]

    def rules_for(self, camp: Campaign) -> BidRules:
        step = 0
        if self.steps is not None:
            step = self.steps.cpc_step if camp.payment_type == "cpc" else self.steps.cpm_step
        return BidRules(step=step, min_bids=self.min_bids.for_campaign(camp.advert_id))

    def decision_guard(self) -> GuardConfig:
        """The guardrails decisions apply: ``guard`` with its defaults sized in the account's currency once
        WB's steps are known (:mod:`bidder.engine.currency_defaults`)."""
        step = self.steps.cpm_step if self.steps is not None else None
        return evidence_guard(self.guard, getattr(self.account, "guardrails", None), step)

    def rules_known(self, advert_id: int) -> bool:
        """WB's bid step is known (the minimums are read only where a decision needs them:
        :mod:`bidder.engine.min_bids`)."""
        return self.steps is not None

    def recommendations_by_campaign(self) -> dict[int, dict[int, Recommendation]]:
        out: dict[int, dict[int, Recommendation]] = {}
        for (a, nm), r in self.recs.items():
            out.setdefault(a, {})[nm] = r
        return out

    def note_bid(self, d: Decision) -> None:
        """An item bid WB accepted: the cached campaign shows it until the next read."""
        camp = self.campaigns.get(d.advert_id)
        if d.norm_query is not None and d.nm_id is not None and d.bid_after is not None:
            self.positions.cluster_bids.setdefault(d.advert_id, {})[(d.nm_id, d.norm_query)] = d.bid_after
            return
        if camp is None or d.nm_id is None or d.placement is None or d.norm_query is not None:
            return
        items = []
        for it in camp.items:
            if it.nm_id == d.nm_id:
                bids = dict(it.bids)
                keys = ("search", "recommendations") if d.placement == Placement.COMBINED else (d.placement,)
                for k in keys:
                    bids[k] = d.bid_after
                it = type(it)(nm_id=it.nm_id, bids=bids, subject=it.subject)
            items.append(it)
        self.campaigns[d.advert_id] = replace(camp, items=tuple(items))

    def known_ids(self) -> set[int]:
        """Every campaign this process knows of: with details, or from WB's list alone."""
        return set(self.campaigns) | set(self.listed)

    def note_status(self, advert_id: int, status: Status) -> None:
        if advert_id in self.listed:
            self.listed[advert_id] = status
        camp = self.campaigns.get(advert_id)
        if camp is not None:
            self.campaigns[advert_id] = replace(camp, status=status)

    def evidence_at(self, advert_id: int) -> datetime | None:
        """When the campaign's statistics last changed (active campaigns), else when they were fetched."""
        camp = self.campaigns.get(advert_id)
        return self.freshness.evidence_at(advert_id, self.inputs.stats_version(advert_id),
                                          self.stats_at.get(advert_id), camp.status if camp else Status.ACTIVE)

    def evidence_times(self) -> dict[int, datetime]:
        """``evidence_at`` of every campaign with statistics (recorded with each decision)."""
        out = {}
        for advert_id in self.stats_at:
            at = self.evidence_at(advert_id)
            if at is not None:
                out[advert_id] = at
        return out

    def history_since(self, now: datetime) -> datetime:
        return now - timedelta(days=HISTORY_DAYS)
