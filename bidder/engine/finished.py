"""Finished campaigns (WB status 7) out of the hot path: each is read once after it finishes, then never.

WB's ``promotion/count`` lists every campaign a seller ever ran; a seller who has advertised for years
has hundreds or thousands of finished ones. Their statistics no longer change once their last days are
read, and their details never change. So a finished campaign gets one *final read*: its details (one
batched ``adverts`` call per 50, at most :data:`FINISHED_DETAILS_PER_CYCLE` a cycle, after the live
campaigns) and, when it is managed and finished inside the statistics window, its last days'
statistics (in whatever fullstats capacity the live campaigns leave). Then it is marked done in the
store (:mod:`bidder.store.finished`, so a restart does not read it again) and dropped from the view.

A campaign that finished before the statistics window began (WB's changeTime) and was never seen live by
this process has nothing the daemon would read: it is marked done straight from the campaign list, with
no call at all (a seller's years of history cost nothing). One the daemon saw live gets its details read
once more however long ago it finished (its status in the store changes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bidder.domain import Status

FINISHED = Status.COMPLETED
FINISHED_DETAILS_PER_CYCLE = 200  # 4 adverts calls (WB allows 5 a second)


@dataclass
class FinishedReads:
    """What the poller knows about the account's finished campaigns."""

    done: set[int] = field(default_factory=set)  # final read done (from the store, then as it happens)
    loaded: bool = False  # ``done`` was loaded from the store
    details_wanted: dict[int, datetime | None] = field(default_factory=dict)  # advert -> WB's changeTime
    stats_wanted: set[int] = field(default_factory=set)  # details read, last days' statistics still to read

    def pending(self) -> bool:
        return bool(self.details_wanted or self.stats_wanted)


def finished_inside_window(changed_at: datetime | None, today: date, window_days: int) -> bool:
    """Whether a campaign that finished at ``changed_at`` (WB's changeTime; None: unknown) has days inside
    the statistics window ending today. Unknown counts as inside (read once rather than never)."""
    if changed_at is None:
        return True
    return changed_at.date() >= today - timedelta(days=max(window_days, 1) - 1)
