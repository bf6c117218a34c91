"""The schedule strategy."""

from __future__ import annotations

from datetime import datetime

from bidder.domain import CampaignSnapshot, Proposal
from strategies.base import Strategy
from strategies.params import ScheduleParams


class Schedule(Strategy):
    kind = "schedule"
    Params = ScheduleParams

    def decide(self, snapshot: CampaignSnapshot, now: datetime) -> list[Proposal]:
        raise NotImplementedError("being written (issue 6)")
