"""The old name of the store's functions, kept for one release: ``from bidder.store import repo`` and
``repo.<function>`` keep working. New code imports the module of the aggregate it touches
(:mod:`bidder.store.accounts`, ``campaigns``, ``stats``, ``audit``, ``alerts``, ``operator_state``,
``cycles``); every name here is one of theirs, re-exported unchanged.
"""

from __future__ import annotations

from bidder.store.accounts import AccountInfo, ensure_account, get_account
from bidder.store.alerts import (
    DEDUP_PERIOD,
    DELIVERY_KIND,
    AlertStatus,
    StoredAlert,
    already_alerted,
    enqueue_alert,
    last_alert_kind,
    mark_alert_retry,
    mark_alert_sent,
    mark_alerts_merged,
    pending_deliveries,
    pending_events,
    purge_alerts,
)
from bidder.store.audit import (
    APPLIED_STATUSES,
    ApplyStatus,
    AuditRow,
    StoredDecision,
    campaign_records,
    decision_rows,
    history,
    pending_intents,
    record_decision,
    record_decisions,
    set_decision_status,
    set_decision_statuses,
)
from bidder.store.campaigns import bids_at, load_campaigns, save_campaigns
from bidder.store.common import UnknownAccount, to_jsonable
from bidder.store.cycles import CycleRecord, finish_cycle, last_cycles, start_cycle, stats_read_since
from bidder.store.operator_state import (
    OperatorState,
    clear_operator_state,
    get_operator_state,
    operator_states,
    set_operator_state,
)
from bidder.store.stats import (
    DailyTotal,
    daily_totals,
    load_cluster_stats,
    load_daily_stats,
    save_cluster_stats,
    save_daily_stats,
)

__all__ = [
    "APPLIED_STATUSES",
    "DEDUP_PERIOD",
    "DELIVERY_KIND",
    "AccountInfo",
    "AlertStatus",
    "ApplyStatus",
    "AuditRow",
    "CycleRecord",
    "DailyTotal",
    "OperatorState",
    "StoredAlert",
    "StoredDecision",
    "UnknownAccount",
    "already_alerted",
    "last_alert_kind",
    "bids_at",
    "campaign_records",
    "clear_operator_state",
    "daily_totals",
    "decision_rows",
    "enqueue_alert",
    "ensure_account",
    "finish_cycle",
    "get_account",
    "get_operator_state",
    "history",
    "last_cycles",
    "load_campaigns",
    "load_cluster_stats",
    "load_daily_stats",
    "mark_alert_retry",
    "mark_alert_sent",
    "mark_alerts_merged",
    "operator_states",
    "pending_deliveries",
    "pending_events",
    "pending_intents",
    "purge_alerts",
    "record_decision",
    "record_decisions",
    "save_campaigns",
    "save_cluster_stats",
    "save_daily_stats",
    "set_decision_status",
    "set_decision_statuses",
    "stats_read_since",
    "set_operator_state",
    "start_cycle",
    "to_jsonable",
]
