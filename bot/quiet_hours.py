"""When a reminder may be delivered: never in the night window, never on a weekend if so set.

Quiet hours shift delivery, never deadlines.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def _is_quiet(moment: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start > end:  # the window wraps midnight, e.g. 21:00-08:30
        return moment >= start or moment < end
    return start <= moment < end


def next_delivery_time(
    at: datetime, *, tz: ZoneInfo, start: time, end: time, weekends: bool
) -> datetime:
    """The earliest moment at or after ``at`` outside quiet hours (and weekends)."""
    local = at.astimezone(tz)
    if _is_quiet(local.time(), start, end):
        day = local.date() if local.time() < end else local.date() + timedelta(days=1)
        local = datetime.combine(day, end, tzinfo=tz)
    while weekends and local.weekday() >= 5:
        local = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=tz)
    return local.astimezone(at.tzinfo) if at.tzinfo else local
