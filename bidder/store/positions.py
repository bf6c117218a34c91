"""Observed ad positions (``positions`` table): every observation as it arrived, with its source, query,
region, when it was observed and the moment it describes. Rows are only ever added.

The one read for evaluation and replay is :func:`positions_known_at`: the observations that had arrived by
a time (``observed_at <= at``), so a replay sees exactly what the daemon knew then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.domain import PositionObservation
from bidder.store.common import CHUNK, chunks, require_account_id
from bidder.store.models import AccountRow, PositionRow


async def save_positions(session: AsyncSession, account: str, observations: Sequence[PositionObservation]) -> None:
    """Append observations (no de-duplication: the same value read twice was observed twice)."""
    if not observations:
        return
    account_id = await require_account_id(session, account)
    rows = [
        {
            "account_id": account_id, "source": o.source, "advert_id": o.advert_id, "nm_id": o.nm_id,
            "query": o.query, "region": o.region, "position": float(o.position), "bid": o.bid,
            "sample": o.sample, "spend": o.spend, "clicks": o.clicks, "observed_at": o.observed_at, "describes_at": o.describes_at,
        }
        for o in observations
    ]
    for part in chunks(rows, CHUNK):
        await session.execute(insert(PositionRow), list(part))


async def positions_known_at(session: AsyncSession, account: str, at: datetime, *, since: datetime | None = None,
                             advert_ids: Iterable[int] | None = None) -> list[PositionObservation]:
    """The observations that had arrived by ``at`` (``observed_at <= at``, and ``>= since`` when given),
    oldest first; ``advert_ids`` narrows to campaigns. Unknown account: nothing."""
    stmt = (
        select(PositionRow)
        .join(AccountRow, AccountRow.id == PositionRow.account_id)
        .where(AccountRow.name == account, PositionRow.observed_at <= at)
        .order_by(PositionRow.observed_at, PositionRow.id)
    )
    if since is not None:
        stmt = stmt.where(PositionRow.observed_at >= since)
    if advert_ids is not None:
        stmt = stmt.where(PositionRow.advert_id.in_(sorted(set(advert_ids))))
    return [_observation(r) for r in (await session.execute(stmt)).scalars()]


def _observation(r: PositionRow) -> PositionObservation:
    return PositionObservation(
        source=r.source, advert_id=r.advert_id, nm_id=r.nm_id, query=r.query, position=r.position,
        observed_at=r.observed_at, describes_at=r.describes_at, region=r.region, bid=r.bid, sample=r.sample,
        spend=r.spend, clicks=r.clicks,
    )
