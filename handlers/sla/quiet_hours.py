"""When a reminder may be delivered: never in the night window, never on a day off if so set.

Days off are weekends, or, given a working calendar, every non-working day: public holidays
are skipped and make-up working days (调休上班) count as working days. Quiet hours shift
delivery, never deadlines.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from handlers.sla.workcal import WorkCalendar


def _is_quiet(moment: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start > end:  # the window wraps midnight, e.g. 21:00-08:30
        return moment >= start or moment < end
    return start <= moment < end


def _day_off(day: date, calendar: WorkCalendar | None) -> bool:
    return not calendar.is_working_day(day) if calendar is not None else day.weekday() >= 5


def next_delivery_time(
    at: datetime,
    *,
    tz: ZoneInfo,
    start: time,
    end: time,
    weekends: bool,
    calendar: WorkCalendar | None = None,
) -> datetime:
    """The earliest moment at or after ``at`` outside quiet hours (and days off).

    Args:
        at: When the message would go out.
        tz: The zone quiet hours and days are in.
        start: Start of the quiet window (local).
        end: End of the quiet window (local); held messages go out at this time.
        weekends: Also hold messages on days off.
        calendar: Which days are days off; None means Saturday and Sunday.
    """
    local = at.astimezone(tz)
    if _is_quiet(local.time(), start, end):
        day = local.date() if local.time() < end else local.date() + timedelta(days=1)
        local = datetime.combine(day, end, tzinfo=tz)
    for _ in range(366):
        if not (weekends and _day_off(local.date(), calendar)):
            break
        local = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=tz)
    return local.astimezone(at.tzinfo) if at.tzinfo else local
