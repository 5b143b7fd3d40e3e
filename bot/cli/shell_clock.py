"""The terminal shell's clock: moved by hand (``/clock +1d``, ``/clock 09:00``, ``/next``) so
reminders, digests and recall prompts show up without waiting days."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.cli.local_chat import LocalChat
from bot.serve.sandbox_view import upcoming_items
from handlers.sla.calendar import load_work_calendar
from handlers.sla.quiet_hours import next_delivery_time

_STEP = re.compile(r"^\+(\d+(?:\.\d+)?)([dhm])$")
_HH_MM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
MAX_STEP = timedelta(days=366)


class ShellClock:
    """The real time plus however far the shell moved it; never goes back."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def target_of(arg: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """Where ``/clock ARG`` goes: ``+1d``/``+2h``/``+30m``, or the next ``HH:MM`` (local)."""
    step = _STEP.match(arg)
    if step is not None:
        delta = timedelta(**{_UNITS[step[2]]: float(step[1])})
        return now + delta if timedelta(0) < delta <= MAX_STEP else None
    at = _HH_MM.match(arg)
    if at is None:
        return None
    local = now.astimezone(tz)
    target = datetime.combine(local.date(), time(int(at[1]), int(at[2])), tzinfo=tz)
    return target if target > local else target + timedelta(days=1)


async def next_due(chat: LocalChat, now: datetime) -> datetime | None:
    """When the bot next does something a person would notice (a due item, or a message
    held by quiet hours going out) after ``now``; None when nothing is coming."""
    async with chat.runtime.runner.session_factory() as session:
        items = await upcoming_items(session, limit=50)
    later = [i["due_ms"] for i in items if i["due_ms"] > now.timestamp() * 1000]
    return datetime.fromtimestamp(min(later) / 1000 + 1, UTC) if later else None


async def held_until(chat: LocalChat, at: datetime) -> datetime | None:
    """When a message sent at ``at`` really goes out, if quiet hours or a day off hold it."""
    s = chat.settings
    async with chat.runtime.runner.session_factory() as session:
        calendar = await load_work_calendar(session, s)
    out = next_delivery_time(at, tz=s.tz, start=s.quiet_start, end=s.quiet_end,
                             weekends=s.quiet_weekends, calendar=calendar)
    return out if out > at else None
