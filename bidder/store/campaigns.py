"""Campaigns, their items with the current bids, and the bid history (snapshots) for rollback and charts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload

from bidder.domain import Campaign, Item, Placement
from bidder.store.common import chunks, require_account_id
from bidder.store.models import AccountRow, BidSnapshotRow, CampaignItemRow, CampaignRow

_BID_PLACEMENTS = (Placement.SEARCH.value, Placement.RECOMMENDATIONS.value)


_ItemState = tuple[str, int | None, int | None]  # subject, bid_search, bid_recommendations


async def _stored_campaign_items(
    conn: AsyncConnection, account_id: int, advert_ids: Sequence[int]
) -> tuple[dict[int, int], dict[int, dict[int, _ItemState]], dict[tuple[int, int], int]]:
    """For the stored ones of ``advert_ids``: advert_id -> campaigns.id, advert_id -> nm_id -> item
    state, and (advert_id, nm_id) -> campaign_items.id. One outer-joined SELECT per chunk."""
    c, i = CampaignRow.__table__.c, CampaignItemRow.__table__.c
    campaign_ids: dict[int, int] = {}
    items: dict[int, dict[int, _ItemState]] = {}
    item_ids: dict[tuple[int, int], int] = {}
    for chunk in chunks(advert_ids):
        result = await conn.execute(
            select(c.advert_id, c.id, i.id, i.nm_id, i.subject, i.bid_search, i.bid_recommendations)
            .select_from(CampaignRow.__table__.outerjoin(CampaignItemRow.__table__, i.campaign_id == c.id))
            .where(c.account_id == account_id, c.advert_id.in_(chunk))
        )
        for advert_id, campaign_id, item_id, nm_id, *state in result:
            campaign_ids[advert_id] = campaign_id
            stored = items.setdefault(advert_id, {})
            if item_id is not None:
                stored[nm_id] = tuple(state)
                item_ids[advert_id, nm_id] = item_id
    return campaign_ids, items, item_ids


def _expire_campaign_rows(session: AsyncSession, campaign_ids: set[int], item_ids: set[int]) -> None:
    """Core writes bypass the identity map: expire the ORM instances of the rows just rewritten, so the
    next load of them (with or without ``populate_existing``) reads the stored values."""
    identity_map = session.identity_map
    if not len(identity_map):
        return
    for key, obj in list(identity_map.items()):
        cls, pk = key[0], key[1]
        if (cls is CampaignRow and pk[0] in campaign_ids) or (cls is CampaignItemRow and pk[0] in item_ids):
            session.expire(obj)


async def save_campaigns(
    session: AsyncSession, account: str, campaigns: Sequence[Campaign], at: datetime
) -> int:
    """Upsert campaigns and their items (a campaign's ``items`` replace the stored ones) and append a
    bid snapshot for every bid that differs from the stored current bid (or is new). Campaigns not in
    ``campaigns`` are left alone. Returns the number of snapshots appended.

    Core statements only (no ORM instances): one SELECT of the stored campaigns and items, then per
    chunk an UPDATE (executemany) of the known campaigns, an INSERT of the new ones (returning their
    ids), a DELETE of items no longer listed, an UPDATE of changed items, an INSERT of new items and an
    INSERT of the snapshots. Unchanged items are not written; campaign and item ids are kept."""
    account_id = await require_account_id(session, account)
    if not campaigns:
        return 0
    conn = await session.connection()
    stored_ids, stored, item_ids = await _stored_campaign_items(
        conn, account_id, sorted({c.advert_id for c in campaigns})
    )

    # Apply the campaigns in order, as the ORM version did: a campaign listed twice is compared against
    # (and replaced by) its previous occurrence, an nm listed twice against its previous occurrence.
    rows: dict[int, dict[str, Any]] = {}
    current: dict[int, dict[int, _ItemState]] = {}
    snapshots: list[dict[str, Any]] = []
    for c in campaigns:
        rows[c.advert_id] = {
            "account_id": account_id,
            "advert_id": c.advert_id,
            "name": c.name,
            "type": c.type,
            "status": c.status,
            "bid_type": c.bid_type,
            "payment_type": c.payment_type,
            "currency": c.currency,
            "placements": sorted(c.placements),
            "changed_at": c.changed_at,
            "updated_at": at,
        }
        old = current[c.advert_id] if c.advert_id in current else stored.get(c.advert_id, {})
        new: dict[int, _ItemState] = {}
        for item in c.items:
            before = new.get(item.nm_id) or old.get(item.nm_id)
            state = (item.subject, item.bids.get("search"), item.bids.get("recommendations"))
            new[item.nm_id] = state
            was = before[1:] if before is not None else (None, None)
            for placement, bid, prev in zip(_BID_PLACEMENTS, state[1:], was, strict=True):
                if bid is not None and prev != bid:
                    snapshots.append(
                        {
                            "at": at,
                            "account_id": account_id,
                            "advert_id": c.advert_id,
                            "nm_id": item.nm_id,
                            "placement": placement,
                            "bid": int(bid),
                        }
                    )
        current[c.advert_id] = new

    campaigns_t, items_t = CampaignRow.__table__, CampaignItemRow.__table__
    updates = [{"b_id": stored_ids[a], **r} for a, r in rows.items() if a in stored_ids]
    inserts = [r for a, r in rows.items() if a not in stored_ids]
    if updates:
        stmt = update(campaigns_t).where(campaigns_t.c.id == bindparam("b_id"))
        for chunk in chunks(updates):
            await conn.execute(stmt, list(chunk))
    campaign_ids = dict(stored_ids)
    if inserts:
        stmt = insert(campaigns_t).returning(campaigns_t.c.advert_id, campaigns_t.c.id)
        for chunk in chunks(inserts):
            campaign_ids.update((await conn.execute(stmt, list(chunk))).all())

    gone: list[int] = []
    changed: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    for advert_id, new in current.items():
        old = stored.get(advert_id, {})
        gone.extend(item_ids[advert_id, nm_id] for nm_id in old if nm_id not in new)
        for nm_id, state in sorted(new.items()):  # new items get ids in nm_id order, as before
            if nm_id in old and old[nm_id] == state:
                continue
            values = {"subject": state[0], "bid_search": state[1], "bid_recommendations": state[2]}
            if nm_id in old:
                changed.append({"b_id": item_ids[advert_id, nm_id], **values})
            else:
                added.append({"campaign_id": campaign_ids[advert_id], "nm_id": nm_id, **values})
    for chunk in chunks(gone):
        await conn.execute(delete(items_t).where(items_t.c.id.in_(chunk)))
    if changed:
        stmt = update(items_t).where(items_t.c.id == bindparam("b_id"))
        for chunk in chunks(changed):
            await conn.execute(stmt, list(chunk))
    for chunk in chunks(added):
        await conn.execute(insert(items_t), list(chunk))
    for chunk in chunks(snapshots):
        await conn.execute(insert(BidSnapshotRow.__table__), list(chunk))

    _expire_campaign_rows(session, set(stored_ids.values()), set(item_ids.values()))
    return len(snapshots)


def _campaign(row: CampaignRow) -> Campaign:
    items = tuple(
        Item(
            nm_id=it.nm_id,
            bids={
                p: b
                for p, b in (("search", it.bid_search), ("recommendations", it.bid_recommendations))
                if b is not None
            },
            subject=it.subject,
        )
        for it in sorted(row.items, key=lambda i: i.nm_id)
    )
    return Campaign(
        advert_id=row.advert_id,
        name=row.name,
        type=row.type,
        status=row.status,
        bid_type=row.bid_type,
        payment_type=row.payment_type,
        currency=row.currency,
        placements=frozenset(row.placements or ()),
        items=items,
        changed_at=row.changed_at,
    )


async def load_campaigns(
    session: AsyncSession, account: str, advert_ids: Iterable[int] | None = None
) -> list[Campaign]:
    """The stored campaigns of an account (ordered by advert_id), with items and current bids."""
    stmt = (
        select(CampaignRow)
        .join(AccountRow, AccountRow.id == CampaignRow.account_id)
        .where(AccountRow.name == account)
        .options(selectinload(CampaignRow.items))
        .order_by(CampaignRow.advert_id)
        .execution_options(populate_existing=True)
    )
    if advert_ids is not None:
        stmt = stmt.where(CampaignRow.advert_id.in_(list(advert_ids)))
    return [_campaign(row) for row in await session.scalars(stmt)]


async def bids_at(
    session: AsyncSession, account: str, when: datetime, advert_id: int | None = None
) -> dict[tuple[int, int, str], int]:
    """The bids in force at ``when``: for each (advert_id, nm_id, placement) the latest snapshot at or
    before ``when``. Keys never observed before ``when`` are absent."""
    s = BidSnapshotRow
    rn = (
        func.row_number()
        .over(partition_by=(s.advert_id, s.nm_id, s.placement), order_by=(s.at.desc(), s.id.desc()))
        .label("rn")
    )
    inner = (
        select(s.advert_id, s.nm_id, s.placement, s.bid, rn)
        .join(AccountRow, AccountRow.id == s.account_id)
        .where(AccountRow.name == account, s.at <= when)
    )
    if advert_id is not None:
        inner = inner.where(s.advert_id == advert_id)
    sub = inner.subquery()
    rows = await session.execute(
        select(sub.c.advert_id, sub.c.nm_id, sub.c.placement, sub.c.bid).where(sub.c.rn == 1)
    )
    return {(r.advert_id, r.nm_id, r.placement): r.bid for r in rows}
