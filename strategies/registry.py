"""The explicit registry: YAML kind name -> strategy class. Adding a strategy = one line here."""

from __future__ import annotations

from strategies.base import Strategy
from strategies.roi_floor import RoiFloor
from strategies.schedule import Schedule
from strategies.spend_cap import SpendCap
from strategies.target_position import TargetPosition

REGISTRY: dict[str, type[Strategy]] = {
    TargetPosition.kind: TargetPosition,
    RoiFloor.kind: RoiFloor,
    SpendCap.kind: SpendCap,
    Schedule.kind: Schedule,
}
