"""The roi_floor strategy."""

from __future__ import annotations

from datetime import datetime

from bidder.domain import CampaignSnapshot, Proposal
from strategies.base import Strategy
from strategies.params import RoiFloorParams


class RoiFloor(Strategy):
    kind = "roi_floor"
    Params = RoiFloorParams

    def decide(self, snapshot: CampaignSnapshot, now: datetime) -> list[Proposal]:
        raise NotImplementedError("being written (issue 6)")
