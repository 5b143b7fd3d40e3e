"""Contact lookups: what WeCom's externalcontact/get said about a new external contact."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ContactLookup


async def record_lookup(
    *, session: AsyncSession, external_userid: str, employee_userid: str,
    mobiles: Sequence[str], now: datetime,
) -> ContactLookup:
    row = ContactLookup(
        external_userid=external_userid, employee_userid=employee_userid,
        mobiles=list(mobiles), fetched_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def first_unapplied_lookup(*, session: AsyncSession) -> int | None:
    result = await session.exec(
        select(ContactLookup.id).where(col(ContactLookup.applied_at).is_(None))
        .order_by(col(ContactLookup.id)).limit(1)
    )
    return result.first()


async def take_unapplied_lookups(
    *, session: AsyncSession, now: datetime, limit: int = 100
) -> list[ContactLookup]:
    """Lookups not applied yet, marked applied in the caller's transaction."""
    result = await session.exec(
        select(ContactLookup).where(col(ContactLookup.applied_at).is_(None))
        .order_by(col(ContactLookup.id)).limit(limit)
    )
    rows = list(result.all())
    for row in rows:
        row.applied_at = now
        session.add(row)
    await session.flush()
    return rows
