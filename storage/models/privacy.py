"""The trail of who read or did what to a candidate's personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from storage.models.base import utcnow
from storage.types import UTCDateTime


class AuditRecord(SQLModel, table=True):
    """Who read or did what to a candidate's personal data, when, from which platform.

    Transitions stay in ``referral_event``; this holds reads of the full profile, refusals,
    consent, exports, erasures and retention. Details never repeat the personal data itself.
    """

    __tablename__ = "audit_record"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    actor: str = ""  # "cli:<os user>" or "system:retention" when no person acted
    platform: str = ""
    action: str  # view | denied | consent | export | erase | anonymize
    # No foreign keys: the trail must outlive whatever it is about.
    candidate_id: int | None = Field(default=None, index=True)
    referral_id: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
