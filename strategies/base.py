"""The strategy interface."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from bidder.domain import Action, CampaignSnapshot, Proposal


class StrategyParams(BaseModel):
    """Base of every strategy's parameters: frozen, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Strategy:
    """A bid strategy. Subclasses set ``kind`` and ``Params`` and implement :meth:`decide`.

    ``decide`` must be pure and deterministic: the same snapshot and ``now`` give the same proposals.
    Money in ``params`` is in base units (rubles) as sellers write it; proposals carry minor units.
    """

    kind: ClassVar[str]
    Params: ClassVar[type[StrategyParams]]
    # True when the strategy needs search-cluster stats / bid recommendations fetched for its campaign.
    needs_clusters: ClassVar[bool] = False
    needs_recommendations: ClassVar[bool] = False
    # True when its proposals change with the time of day alone (a schedule): the engine then evaluates
    # the campaign every cycle, not only when its data changed (see bidder.engine.cycle.REEVALUATE_EVERY).
    clock_driven: ClassVar[bool] = False
    # True when it reads HOLD records in ``snapshot.history`` (roi_floor counts its evaluations at the
    # minimum bid from them). Holds are most of the audit trail; the engine keeps them in memory only for
    # campaigns with such a strategy.
    reads_holds: ClassVar[bool] = False
    # What of its proposals the engine may act on in a cycle whose reads from WB failed (the safety pass,
    # bidder.engine.safety): True for all of them (they need only the clock and the stored campaign), a
    # set of actions (e.g. only its pauses), or False (nothing: the campaign holds until reads succeed).
    safe_without_fresh_reads: ClassVar[bool | frozenset[Action]] = False

    def __init__(self, params: StrategyParams) -> None:
        self.params = params

    def decide(self, snapshot: CampaignSnapshot, now: datetime) -> list[Proposal]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"
