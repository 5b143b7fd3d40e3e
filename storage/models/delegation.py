"""Time away and delegation of tasks (委托/休假, platform leave)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models.base import timestamp_field, utcnow
from storage.types import UTCDateTime


class AwayPeriod(SQLModel, table=True):
    """A person away (休假) and/or handing their tasks to a delegate (委托) for a while.

    Written by the 委托/休假 commands and by the platform leave sync (``source``); the
    workflow reads it to route tasks and to skip people on leave when escalating.
    """

    __tablename__ = "away_period"
    __table_args__ = (UniqueConstraint("source", "external_ref"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    delegate_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    # Task kinds handed over ("hr_review", "leader_approval", "feedback", ...); empty = all.
    stages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Away from work (escalations skip them), not only handing some tasks over.
    leave: bool = True
    source: str = "command"  # command | dingtalk | wecom
    # The platform's id of the leave record, so a repeated sync updates instead of adding.
    external_ref: str | None = None
    created_by: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    cancelled_at: datetime | None = timestamp_field(nullable=True)
