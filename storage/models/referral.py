"""Positions, candidates and referrals: the workflow's own tables and its audit trail."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlalchemy import event as sa_event
from sqlmodel import Field, SQLModel

from storage.crypto import blind_index
from storage.models.base import enum_type, timestamp_field, utcnow
from storage.types import EncryptedJSON, EncryptedString, EncryptedText, UTCDateTime


class ReferralState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    HR_REVIEW = "hr_review"
    NEEDS_INFO = "needs_info"
    LEADER_APPROVAL = "leader_approval"
    INTERVIEWING = "interviewing"
    OFFER = "offer"
    HIRED = "hired"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    NO_SHOW = "no_show"


TERMINAL_STATES = frozenset(
    {ReferralState.HIRED, ReferralState.REJECTED, ReferralState.WITHDRAWN, ReferralState.NO_SHOW}
)


class Position(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True)
    title: str = Field(index=True)
    org_path: str = Field(index=True)
    requirements: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # stage name -> hours; missing stages fall back to the deployment's SLA defaults
    sla_hours: dict[str, float] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    hiring_manager_id: int | None = Field(default=None, foreign_key="person.id")
    leader_id: int | None = Field(default=None, foreign_key="person.id")
    leader_approval: bool = True
    open: bool = True


class Candidate(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    # Sealed at rest with HRBOT_DATA_KEY; found through the blind indexes below.
    phone: str | None = Field(default=None, sa_type=EncryptedString)
    email: str | None = Field(default=None, sa_type=EncryptedString)
    education: str | None = None
    # [{"start": "2019-03-01", "end": null, "company": "", "industry": "", "title": ""}]
    work_history: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    achievements: str = Field(default="", sa_column=Column(Text, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str = "referral"
    # Set when the candidate adds an employee on WeCom (联系我 QR code or phone match).
    wecom_external_userid: str | None = Field(default=None, index=True)
    consent: bool = False
    consent_at: datetime | None = timestamp_field(nullable=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    phone_hash: str | None = Field(default=None, index=True)
    email_hash: str | None = Field(default=None, index=True)
    # Set when retention or an erasure request removed the personal data (the row stays).
    anonymized_at: datetime | None = timestamp_field(nullable=True)


class Referral(SQLModel, table=True):
    __table_args__ = (Index("ix_referral_state_assignee", "state", "assignee_id"),)

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    position_id: int = Field(foreign_key="position.id", index=True)
    referrer_id: int = Field(foreign_key="person.id", index=True)
    reason: str = Field(sa_column=Column(EncryptedText, nullable=False))
    state: ReferralState = Field(
        default=ReferralState.SUBMITTED, sa_type=enum_type(ReferralState), index=True
    )
    version: int = 1
    assignee_id: int | None = Field(default=None, foreign_key="person.id")
    stage_due_at: datetime | None = timestamp_field(nullable=True)
    stage_entered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    interview_round: int = 0
    no_show_reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = timestamp_field(nullable=True)


class ReferralEvent(SQLModel, table=True):
    """Append-only audit trail: one row per transition or noteworthy act."""

    __tablename__ = "referral_event"

    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    action: str
    from_state: str | None = None
    to_state: str | None = None
    note: str = Field(default="", sa_column=Column(EncryptedText, nullable=False))
    data: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(EncryptedJSON, nullable=False)
    )
    platform: str = ""
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Attachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", index=True)
    kind: str = "resume"
    filename: str = ""
    platform: str = ""
    ref: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReferralDraft(SQLModel, table=True):
    """What a person typed for a referral that is not complete yet, kept until it is."""

    __tablename__ = "referral_draft"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", unique=True)
    fields: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(EncryptedJSON, nullable=False)
    )
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def _index_contacts(_mapper: Any, _connection: Any, candidate: Candidate) -> None:
    # Kept in step with every write of phone/email, so duplicate detection never misses a row.
    candidate.phone_hash = blind_index(candidate.phone) if candidate.phone else None
    candidate.email_hash = blind_index(candidate.email) if candidate.email else None


sa_event.listen(Candidate, "before_insert", _index_contacts)
sa_event.listen(Candidate, "before_update", _index_contacts)
