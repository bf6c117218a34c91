"""Reading the recorded evaluations and observations for ``bidder replay``, fast on SQLite.

A week of a 200-campaign account is about 700,000 evaluation rows and 1.5 million observation rows.
Through the columns' own types SQLAlchemy parses every SQLite ``DATETIME`` text with a regular expression
and converts it again to aware UTC (:class:`bidder.store.types.UTCDateTime`), and decodes every JSON value
through its processor chain: that was most of the time replay spent reading. On SQLite these loaders
select the stored text as it is and parse it with :meth:`datetime.fromisoformat` (the text SQLAlchemy
writes, ``YYYY-MM-DD HH:MM:SS.ffffff`` naive UTC) and :func:`json.loads`: the same values as
:func:`bidder.store.observations.load_observations` and :func:`~bidder.store.observations.load_evaluations`
return (a test compares them), which every other database still uses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import String, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from bidder.store import observations as obs
from bidder.store.common import chunks, find_account_id
from bidder.store.models import EvaluationRow, ObservationRow

_loads = json.loads
_iso = datetime.fromisoformat


def _text(column: object) -> object:
    return type_coerce(column, String)


class _Parsed(dict):
    """Text -> parsed value, each text parsed once per load (the rows of one evaluation share its time,
    and a campaign's decisions repeat from one evaluation to the next). The values are immutable."""

    def __init__(self, parse: Callable[[str], Any]) -> None:
        super().__init__()
        self.parse = parse

    def __missing__(self, text: str) -> Any:
        value = self[text] = self.parse(text)
        return value


def _utc_text(v: str) -> datetime:
    return _iso(v).replace(tzinfo=UTC)


def _decisions(v: str) -> tuple[tuple[Any, ...], ...]:
    return tuple(tuple(d) for d in _loads(v) or ())


def _sqlite(session: AsyncSession) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "sqlite"


async def load_observations(session: AsyncSession, account: str, advert_ids: Iterable[int], *,
                            until: datetime) -> list[obs.Observation]:
    """:func:`bidder.store.observations.load_observations` (ordered by ``known_at``, id)."""
    if not _sqlite(session):
        return await obs.load_observations(session, account, advert_ids, until=until)
    account_id = await find_account_id(session, account)
    if account_id is None:
        return []
    o = ObservationRow
    # neither the time nor an ORDER BY in SQL: either makes SQLite walk the account's (account_id, known_at)
    # index over every campaign instead of the (account_id, advert_id, ...) one over the campaigns asked for
    stmt = select(o.advert_id, o.kind, o.key, _text(o.observed_at), _text(o.known_at), o.digest, _text(o.payload),
                  o.id).where(o.account_id == account_id)
    conn = await session.connection()
    out: list[obs.Observation] = []
    observation, utc = obs.Observation, _Parsed(_utc_text)
    utc[None] = None  # type: ignore[index]
    for chunk in chunks(sorted(set(advert_ids))):
        rows = [(utc[known], rid, aid, kind, key, observed, dg, payload)
                for aid, kind, key, observed, known, dg, payload, rid in await conn.execute(stmt.where(
                    o.advert_id.in_(chunk)))]
        rows.sort(key=lambda r: (r[0], r[1]))  # ORDER BY known_at, id
        out.extend(observation(aid, kind, key, utc[observed], known, dg, None if payload is None else _loads(payload))
                   for known, _rid, aid, kind, key, observed, dg, payload in rows if known <= until)
    out.sort(key=lambda x: x.known_at)
    return out


async def load_evaluations(session: AsyncSession, account: str, advert_ids: Iterable[int], *,
                           since: datetime, until: datetime) -> list[obs.EvaluationRecord]:
    """:func:`bidder.store.observations.load_evaluations` (ordered by time, id)."""
    if not _sqlite(session):
        return await obs.load_evaluations(session, account, advert_ids, since=since, until=until)
    account_id = await find_account_id(session, account)
    if account_id is None:
        return []
    e = EvaluationRow
    stmt = (select(e.advert_id, _text(e.at), _text(e.stats_as_of), _text(e.stats_since), e.operator_paused, e.stopped,
                   e.rules_known, e.failed, _text(e.decisions), e.id)
            .where(e.account_id == account_id, e.at >= since, e.at <= until,
                   e.advert_id.in_(sorted(set(advert_ids)))))  # no ORDER BY: it would take the (account_id, at) index
    conn = await session.connection()
    record, utc, day, decided = obs.EvaluationRecord, _Parsed(_utc_text), _Parsed(date.fromisoformat), _Parsed(_decisions)
    utc[None] = day[None] = None  # type: ignore[index]
    decided[None] = ()  # type: ignore[index]
    out = [record(aid, utc[at], utc[as_of], day[st_since], bool(paused), bool(stopped), bool(known), bool(failed),
                  decided[decisions], rid)
           for aid, at, as_of, st_since, paused, stopped, known, failed, decisions, rid in await conn.execute(stmt)]
    out.sort(key=lambda r: (r.at, r.id))  # ORDER BY at, id
    return out
