"""Dates people type for a period: `12-01 至 12-07`, `2026-12-01到2026-12-07`, `12月1日`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.core.errors import UserFacingError

_DATE = r"(?:\d{4}[-/.年])?\d{1,2}[-/.月]\d{1,2}日?"
_RANGE = re.compile(rf"({_DATE})(?:\s*(?:至|到|~|～|—|-|to)\s*({_DATE}))?", re.IGNORECASE)
_PARTS = re.compile(r"(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?")


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    before: str  # the text before the dates (a name)
    after: str  # the text after them (kinds, or 委托 NAME)


def parse_period(text: str, today: date) -> Period | None:
    """``李四 12-01 至 12-07 审批`` → the days and the words around them (None: no dates).

    Raises:
        UserFacingError: dates that do not exist, or a range that ends before it starts.
    """
    match = _RANGE.search(text)
    if match is None:
        return None
    first = _date(match.group(1), today.year)
    last = _date(match.group(2), first.year) if match.group(2) else first
    if last < first and not _has_year(match.group(2)):
        last = last.replace(year=last.year + 1)
    if not _has_year(match.group(1)) and last < today:
        first, last = first.replace(year=first.year + 1), last.replace(year=last.year + 1)
    if last < first:
        raise UserFacingError("delegation_refused", {"reason": "bad_dates"})
    return Period(first, last, text[: match.start()].strip(), text[match.end() :].strip())


def _has_year(text: str | None) -> bool:
    parts = _PARTS.fullmatch(text) if text else None
    return bool(parts and parts.group(1))


def _date(text: str, default_year: int) -> date:
    parts = _PARTS.fullmatch(text)
    try:
        assert parts is not None
        year = int(parts.group(1)) if parts.group(1) else default_year
        return date(year, int(parts.group(2)), int(parts.group(3)))
    except (AssertionError, ValueError):
        raise UserFacingError("delegation_refused", {"reason": "bad_dates"}) from None
