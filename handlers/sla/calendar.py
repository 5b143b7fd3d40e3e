"""The deployment's working calendar: shipped public holidays, imported years, company closures;
and deadlines counted in the configured kind of time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.context import Context, JobContext, Settings
from handlers.sla.quiet_hours import next_delivery_time
from handlers.sla.workcal import (
    CalendarDayEntry,
    WorkCalendar,
    WorkingHours,
    add_working_time,
    parse_calendar,
    shipped_calendar_data,
)
from storage.repo.calendar_days import (
    list_calendar_days,
    replace_calendar_years,
    upsert_calendar_day,
)


async def load_work_calendar(session: AsyncSession, settings: Settings) -> WorkCalendar:
    """The shipped calendar with every imported day and closure on top.

    A year for which holidays were imported is taken from the import alone, so a corrected
    arrangement can also remove a day the shipped file had.
    """
    rows = await list_calendar_days(session=session)
    imported_years = {row.day.year for row in rows if row.kind == "holiday"}
    calendar = WorkCalendar()
    if settings.public_holidays:
        calendar = calendar.with_entries(
            e for e in shipped_calendar_data().entries if e.day.year not in imported_years
        )
    return calendar.with_entries(CalendarDayEntry(row.day, row.kind, row.name) for row in rows)


def working_hours(settings: Settings) -> WorkingHours:
    if settings.sla_time == "working_hours":
        return WorkingHours.between(settings.work_start, settings.work_end)
    return WorkingHours.whole_day()


@dataclass
class Clockwork:
    """Adds SLA time the way the deployment counts it; loads the calendar at most once."""

    session: AsyncSession
    settings: Settings
    _calendar: WorkCalendar | None = field(default=None, init=False)

    async def calendar(self) -> WorkCalendar:
        if self._calendar is None:
            self._calendar = await load_work_calendar(self.session, self.settings)
        return self._calendar

    async def add(self, start: datetime, amount: timedelta) -> datetime:
        """``start`` + ``amount`` of SLA time (wall-clock unless working time is configured)."""
        if self.settings.sla_time == "wall":
            return start + amount
        return add_working_time(
            start,
            amount,
            calendar=await self.calendar(),
            hours=working_hours(self.settings),
            tz=self.settings.tz,
        )


def clockwork(ctx: Context | JobContext) -> Clockwork:
    return Clockwork(ctx.session, ctx.settings)


async def delivery_time(ctx: Context | JobContext, at: datetime | None = None) -> datetime:
    """When a notification due ``at`` (default now) may go out: not at night, not on a day off."""
    s = ctx.settings
    calendar = await load_work_calendar(ctx.session, s) if s.quiet_weekends else None
    return next_delivery_time(
        at or ctx.now,
        tz=s.tz,
        start=s.quiet_start,
        end=s.quiet_end,
        weekends=s.quiet_weekends,
        calendar=calendar,
    )


async def is_working_day(ctx: Context | JobContext, at: datetime) -> bool:
    calendar = await load_work_calendar(ctx.session, ctx.settings)
    return calendar.is_working_day(at.astimezone(ctx.settings.tz).date())


@dataclass(frozen=True)
class CalendarImport:
    years: tuple[int, ...]
    replaced: int
    counts: dict[str, int]


async def import_calendar(
    *, session: AsyncSession, text: str, source: str, now: datetime
) -> CalendarImport:
    """Store a calendar file's days; a file complete for some years replaces those years.

    Raises:
        handlers.sla.workcal.CalendarFileError: the file is not a usable calendar (nothing is
            stored).
    """
    data = parse_calendar(text)
    replaced = await replace_calendar_years(session=session, years=sorted(data.years))
    counts = {"holiday": 0, "workday": 0, "closure": 0}
    for entry in data.entries:
        await upsert_calendar_day(
            session=session,
            day=entry.day,
            kind=entry.kind,
            name=entry.name,
            source=source,
            now=now,
        )
        counts[entry.kind] += 1
    return CalendarImport(tuple(sorted(data.years)), replaced, counts)
