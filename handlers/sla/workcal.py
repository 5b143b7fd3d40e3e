"""The working calendar and working-time arithmetic; pure (no database, no clock).

China's working calendar is not "Monday to Friday": the State Council publishes each year
which days are public holidays and which weekend days are make-up working days (调休上班).
A company may add closures of its own. Deadlines counted in working time stop on every
non-working day, and (in ``hours`` mode) outside office hours.

The shipped arrangement lives in ``handlers/sla/cn_holidays.toml``; admins import newer
years with ``hrbot calendar import`` (same file format, see :func:`parse_calendar`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SHIPPED_FILE = Path(__file__).parent / "cn_holidays.toml"
DAY_KINDS = ("holiday", "workday", "closure")
# A deadline further away than this is a configuration mistake, not a plan.
_MAX_DAYS = 3 * 366


class CalendarFileError(ValueError):
    """A calendar file that cannot be used; the text names the entry."""


@dataclass(frozen=True)
class CalendarDayEntry:
    day: date
    kind: str  # holiday | workday | closure
    name: str = ""


@dataclass(frozen=True)
class CalendarData:
    """What one calendar file says: its days, and the years it is complete for."""

    entries: tuple[CalendarDayEntry, ...]
    years: frozenset[int] = frozenset()


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days.

    Precedence: a company closure beats everything, a make-up working day beats the weekend,
    a public holiday beats a weekday.
    """

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    closures: frozenset[date] = frozenset()
    names: Mapping[date, str] = field(default_factory=dict)

    def is_working_day(self, day: date) -> bool:
        if day in self.closures:
            return False
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def with_entries(self, entries: Iterable[CalendarDayEntry]) -> WorkCalendar:
        """This calendar with ``entries`` deciding their days (a later entry wins)."""
        holidays, workdays, closures = set(self.holidays), set(self.workdays), set(self.closures)
        names = dict(self.names)
        for entry in entries:
            for days in (holidays, workdays, closures):
                days.discard(entry.day)
            {"holiday": holidays, "workday": workdays, "closure": closures}[entry.kind].add(
                entry.day
            )
            names[entry.day] = entry.name
        return WorkCalendar(frozenset(holidays), frozenset(workdays), frozenset(closures), names)


@dataclass(frozen=True)
class WorkingHours:
    """The span of each working day that counts, as offsets from local midnight."""

    start: timedelta = timedelta(0)
    end: timedelta = timedelta(hours=24)

    @classmethod
    def between(cls, start: time, end: time) -> WorkingHours:
        if not start < end:
            raise ValueError("working hours must start before they end")
        return cls(_offset(start), _offset(end))

    @classmethod
    def whole_day(cls) -> WorkingHours:
        return cls()


def _offset(moment: time) -> timedelta:
    return timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second)


def _span(day: date, hours: WorkingHours, tz: ZoneInfo) -> tuple[datetime, datetime]:
    midnight = datetime.combine(day, time.min, tzinfo=tz)
    return midnight + hours.start, midnight + hours.end


def add_working_time(
    start: datetime,
    amount: timedelta,
    *,
    calendar: WorkCalendar,
    hours: WorkingHours,
    tz: ZoneInfo,
) -> datetime:
    """The moment ``amount`` of working time after ``start``.

    Time counts only on working days, within ``hours``. A deadline that uses up a day's
    span exactly ends at that span's end (18:00), not at the next day's start.

    Args:
        start: An aware moment; outside working time the clock starts at the next span.
        amount: Working time to add; zero returns ``start`` unchanged.
        calendar: Which days are working days.
        hours: The part of each working day that counts.
        tz: The zone the calendar's days and hours are in.

    Returns:
        An aware moment in ``start``'s zone.
    """
    if amount <= timedelta(0):
        return start
    local = start.astimezone(tz)
    remaining = amount
    day = local.date()
    for _ in range(_MAX_DAYS):
        if calendar.is_working_day(day):
            span_start, span_end = _span(day, hours, tz)
            cursor = max(local, span_start)
            if cursor < span_end:
                available = span_end - cursor
                if remaining <= available:
                    return (cursor + remaining).astimezone(start.tzinfo)
                remaining -= available
        day += timedelta(days=1)
    raise ValueError(f"no working time within {_MAX_DAYS} days of {start.isoformat()}")


def working_time_between(
    start: datetime,
    end: datetime,
    *,
    calendar: WorkCalendar,
    hours: WorkingHours,
    tz: ZoneInfo,
) -> timedelta:
    """How much working time lies between two moments (zero if ``end`` is not later)."""
    total = timedelta(0)
    if end <= start:
        return total
    first, last = start.astimezone(tz), end.astimezone(tz)
    day = first.date()
    while day <= last.date():
        if calendar.is_working_day(day):
            span_start, span_end = _span(day, hours, tz)
            lo, hi = max(first, span_start), min(last, span_end)
            if lo < hi:
                total += hi - lo
        day += timedelta(days=1)
    return total


def parse_calendar(text: str) -> CalendarData:
    """Read a calendar file (TOML).

    Format::

        years = [2027]                 # years the file is complete for (optional)
        [[holiday]]                    # also [[workday]] (调休上班) and [[closure]]
        name = "春节"
        from = 2027-02-05              # or: day = 2027-02-05
        to = 2027-02-11

    Raises:
        CalendarFileError: bad TOML, an unknown key, a bad date or range, a day listed twice.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CalendarFileError(f"invalid TOML: {err}") from None
    unknown = set(data) - {"years", *DAY_KINDS}
    if unknown:
        raise CalendarFileError(f"unknown key {sorted(unknown)[0]!r}")
    years = data.get("years", [])
    if not isinstance(years, list) or not all(isinstance(y, int) for y in years):
        raise CalendarFileError("years must be a list of integers")
    entries: dict[date, CalendarDayEntry] = {}
    for kind in DAY_KINDS:
        rows = data.get(kind, [])
        if not isinstance(rows, list):
            raise CalendarFileError(f"{kind} must be an array of tables ([[{kind}]])")
        for number, row in enumerate(rows, start=1):
            for entry in _entries(kind, number, row):
                if entry.day in entries:
                    raise CalendarFileError(f"{entry.day.isoformat()} is listed twice")
                entries[entry.day] = entry
    for entry in entries.values():
        if years and entry.kind != "closure" and entry.day.year not in years:
            raise CalendarFileError(
                f"{entry.kind} {entry.day.isoformat()} is outside the years {years}"
            )
    return CalendarData(tuple(sorted(entries.values(), key=lambda e: e.day)), frozenset(years))


def _entries(kind: str, number: int, row: Any) -> list[CalendarDayEntry]:
    where = f"{kind} #{number}"
    if not isinstance(row, dict):
        raise CalendarFileError(f"{where}: must be a table")
    unknown = set(row) - {"name", "day", "from", "to"}
    if unknown:
        raise CalendarFileError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    name = row.get("name", "")
    if not isinstance(name, str):
        raise CalendarFileError(f"{where}: name must be text")
    if "day" in row:
        first = last = row["day"]
    elif "from" in row and "to" in row:
        first, last = row["from"], row["to"]
    else:
        raise CalendarFileError(f"{where}: needs day, or from and to")
    for value in (first, last):
        if not isinstance(value, date) or isinstance(value, datetime):
            raise CalendarFileError(f"{where}: dates are written 2026-10-01, without quotes")
    if last < first or (last - first).days > 31:
        raise CalendarFileError(f"{where}: {first} to {last} is not a range of up to 32 days")
    return [
        CalendarDayEntry(first + timedelta(days=n), kind, name)
        for n in range((last - first).days + 1)
    ]


@cache
def shipped_calendar_data() -> CalendarData:
    """The official arrangements this release knows (read once)."""
    return parse_calendar(SHIPPED_FILE.read_text(encoding="utf-8"))


def base_calendar(public_holidays: bool) -> WorkCalendar:
    """Plain weekdays, plus the shipped public holidays and make-up days when wanted."""
    calendar = WorkCalendar()
    return calendar.with_entries(shipped_calendar_data().entries) if public_holidays else calendar
