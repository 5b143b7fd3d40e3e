"""Away periods: leave (休假) and delegation (委托), from commands or a platform's leave data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AwayPeriod


async def add_away_period(*, session: AsyncSession, period: AwayPeriod) -> AwayPeriod:
    session.add(period)
    await session.flush()
    return period


async def get_away_period(*, session: AsyncSession, period_id: int) -> AwayPeriod | None:
    return await session.get(AwayPeriod, period_id)


async def list_active_periods(
    *, session: AsyncSession, person_ids: Sequence[int], at: datetime
) -> list[AwayPeriod]:
    """Periods of these people running at ``at`` (not cancelled), oldest first."""
    if not person_ids:
        return []
    result = await session.exec(
        select(AwayPeriod)
        .where(
            col(AwayPeriod.person_id).in_(list(person_ids)),
            col(AwayPeriod.cancelled_at).is_(None),
            col(AwayPeriod.starts_at) <= at,
            col(AwayPeriod.ends_at) > at,
        )
        .order_by(col(AwayPeriod.starts_at), col(AwayPeriod.id))
    )
    return list(result.all())


async def list_overlapping_periods(
    *,
    session: AsyncSession,
    starts_at: datetime,
    ends_at: datetime,
    person_id: int | None = None,
    delegate_id: int | None = None,
) -> list[AwayPeriod]:
    """Live periods overlapping [starts_at, ends_at) of a person, or naming a delegate."""
    query = select(AwayPeriod).where(
        col(AwayPeriod.cancelled_at).is_(None),
        col(AwayPeriod.starts_at) < ends_at,
        col(AwayPeriod.ends_at) > starts_at,
    )
    if person_id is not None:
        query = query.where(AwayPeriod.person_id == person_id)
    if delegate_id is not None:
        query = query.where(AwayPeriod.delegate_id == delegate_id)
    result = await session.exec(query.order_by(col(AwayPeriod.starts_at), col(AwayPeriod.id)))
    return list(result.all())


async def list_periods_of(
    *, session: AsyncSession, person_id: int, now: datetime
) -> list[AwayPeriod]:
    """Current and future periods a person set, or in which they are the delegate."""
    result = await session.exec(
        select(AwayPeriod)
        .where(
            or_(AwayPeriod.person_id == person_id, AwayPeriod.delegate_id == person_id),
            col(AwayPeriod.cancelled_at).is_(None),
            col(AwayPeriod.ends_at) > now,
        )
        .order_by(col(AwayPeriod.starts_at), col(AwayPeriod.id))
    )
    return list(result.all())


async def find_external_period(
    *, session: AsyncSession, source: str, external_ref: str
) -> AwayPeriod | None:
    result = await session.exec(
        select(AwayPeriod).where(
            AwayPeriod.source == source, AwayPeriod.external_ref == external_ref
        )
    )
    return result.first()


async def cancel_away_period(
    *, session: AsyncSession, period: AwayPeriod, now: datetime
) -> AwayPeriod:
    period.cancelled_at = now
    session.add(period)
    await session.flush()
    return period


async def record_platform_leave(
    *,
    session: AsyncSession,
    source: str,
    person_id: int,
    external_ref: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
) -> bool:
    """Store a leave the platform reported, once; returns True when it was new."""
    if await find_external_period(session=session, source=source, external_ref=external_ref):
        return False
    session.add(
        AwayPeriod(
            person_id=person_id,
            starts_at=starts_at,
            ends_at=ends_at,
            leave=True,
            source=source,
            external_ref=external_ref,
            created_at=now,
        )
    )
    await session.flush()
    return True


async def list_platform_periods(
    *, session: AsyncSession, source: str, now: datetime
) -> list[AwayPeriod]:
    """Live periods from a platform that have not ended yet."""
    result = await session.exec(
        select(AwayPeriod).where(
            AwayPeriod.source == source,
            col(AwayPeriod.cancelled_at).is_(None),
            col(AwayPeriod.ends_at) > now,
        )
    )
    return list(result.all())
