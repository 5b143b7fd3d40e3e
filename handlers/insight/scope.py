"""What a statistics command asks for: which part of the org, which time window.

``统计`` alone is the asker's whole scope over the last 365 days. Words narrow it:
an org unit inside the scope (``华东``, ``总部/华东/上海一店``), a start date (``2026-01-01``,
a second date ends the window), ``90天``/``90d``, ``本周``, ``本月``, ``今年`` or ``全部``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.errors import UserFacingError
from storage.models import Person, Position
from storage.repo.people import in_scope
from storage.sql import execute

DEFAULT_DAYS = 365
_DAYS = re.compile(r"^(?:近|last)?(\d{1,4})(?:天|日|d|days?)$", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})[-./](\d{1,2})[-./](\d{1,2})$")
_ALL = frozenset({"全部", "全部时间", "all", "all-time"})
_WEEK = frozenset({"本周", "week", "this-week"})
_MONTH = frozenset({"本月", "month", "this-month"})
_YEAR = frozenset({"今年", "本年", "year", "this-year"})


@dataclass(frozen=True)
class StatsQuery:
    org_path: str
    since: datetime | None
    until: datetime | None


def _midnight(day: datetime, tz: ZoneInfo) -> datetime:
    return datetime.combine(day.date(), time(0), tzinfo=tz)


def _date(token: str, tz: ZoneInfo) -> datetime | None:
    m = _DATE.match(token)
    if not m:
        return None
    try:
        return datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=tz)
    except ValueError:
        return None


async def org_paths(session: AsyncSession) -> set[str]:
    """Every org unit the directory and the positions mention, with all their ancestors."""
    found: set[str] = set()
    for column in (col(Person.org_path), col(Position.org_path)):
        for path in (await execute(session, select(column).distinct())).scalars().all():
            parts = [p for p in str(path).split("/") if p]
            found |= {"/".join(parts[: i + 1]) for i in range(len(parts))}
    return found


async def resolve_org(session: AsyncSession, scope: str, word: str) -> str:
    """The org unit ``word`` names inside ``scope``.

    Raises:
        UserFacingError: ``stats_usage`` when it names none, several, or one outside scope.
    """
    word = word.strip("/")
    known = sorted(p for p in await org_paths(session) if in_scope(scope, p))
    if "/" in word:
        matches = [p for p in known if p == word]
    else:
        matches = [p for p in known if p.rsplit("/", 1)[-1] == word]
    if len(matches) != 1:
        raise UserFacingError(
            "stats_usage", {"word": word, "choices": matches[:8], "scope": scope}
        )
    return matches[0]


async def parse_query(
    session: AsyncSession, person: Person, text: str, *, now: datetime, tz: ZoneInfo
) -> StatsQuery:
    """Read the words after ``统计`` (see the module docstring)."""
    org = person.org_path
    local = now.astimezone(tz)
    since: datetime | None = local - timedelta(days=DEFAULT_DAYS)
    until: datetime | None = None
    dates: list[datetime] = []
    for token in text.split():
        lowered = token.lower()
        days = _DAYS.match(lowered)
        if lowered in _ALL:
            since = None
        elif days:
            since = local - timedelta(days=int(days[1]))
        elif lowered in _WEEK:
            since = _midnight(local - timedelta(days=local.weekday()), tz)
        elif lowered in _MONTH:
            since = _midnight(local.replace(day=1), tz)
        elif lowered in _YEAR:
            since = _midnight(local.replace(month=1, day=1), tz)
        elif (day := _date(token, tz)) is not None:
            dates.append(day)
        else:
            org = await resolve_org(session, person.org_path, token)
    if dates:
        since = dates[0]
        # A second date is the last day shown, so the window ends at the next midnight.
        until = dates[1] + timedelta(days=1) if len(dates) > 1 else None
    return StatsQuery(org_path=org, since=since, until=until)
