"""Days that differ from the shipped working calendar (imported holidays, company closures)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import delete, extract
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import CalendarDay


async def list_calendar_days(*, session: AsyncSession) -> list[CalendarDay]:
    result = await session.exec(select(CalendarDay).order_by(col(CalendarDay.day)))
    return list(result.all())


async def replace_calendar_years(*, session: AsyncSession, years: Iterable[int]) -> int:
    """Forget every stored day of these years (a file complete for them replaces them)."""
    removed = 0
    for year in years:
        result = await session.exec(
            delete(CalendarDay).where(extract("year", col(CalendarDay.day)) == year)
        )
        removed += int(result.rowcount or 0)
    return removed


async def upsert_calendar_day(
    *, session: AsyncSession, day: date, kind: str, name: str, source: str, now: datetime
) -> bool:
    """Store one day; returns True when it was new."""
    result = await session.exec(select(CalendarDay).where(CalendarDay.day == day))
    row = result.first()
    created = row is None
    row = row or CalendarDay(day=day, kind=kind)
    row.kind, row.name, row.source, row.updated_at = kind, name, source, now
    session.add(row)
    await session.flush()
    return created
