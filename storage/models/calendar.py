"""Days that differ from the shipped working calendar (imported holidays, 调休, closures)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from storage.models.base import utcnow
from storage.types import UTCDateTime

# Kinds of CalendarDay rows (see handlers/sla/workcal.py for what each means).
CALENDAR_DAY_KINDS = ("holiday", "workday", "closure")


class CalendarDay(SQLModel, table=True):
    """A day that differs from the shipped calendar: an imported public holiday or make-up
    working day (调休), or a company closure."""

    __tablename__ = "calendar_day"

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(unique=True)
    kind: str  # holiday | workday | closure
    name: str = ""
    source: str = ""
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
