"""Recall of no-shows and declined offers: talent profiles, campaigns, messages, deliveries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models.base import enum_type, timestamp_field, utcnow
from storage.types import UTCDateTime


class RecallStatus(StrEnum):
    DRAFTED = "drafted"  # preview shown, nobody decided yet
    HANDED = "handed"  # given to another sender (a hiring manager), who decides
    QUEUED = "queued"  # confirmed; waiting for the sender to send it in their WeCom client
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"  # the candidate opted out or withdrew consent meanwhile


class TalentProfile(SQLModel, table=True):
    """What HR knows about a candidate worth recalling: why they did not come, what they want.

    One per candidate; a later no-show or decline of the same candidate updates it.
    """

    __tablename__ = "talent_profile"

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="candidate.id", unique=True)
    # The referral that ended in the no-show, decline or pooling (the newest one).
    referral_id: int | None = Field(default=None, foreign_key="referral.id", index=True)
    position_id: int | None = Field(default=None, foreign_key="position.id")
    org_path: str = Field(default="", index=True)
    source: str = "no_show"  # no_show | declined | pool
    category: str = Field(default="other", index=True)
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    needs: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    questions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    interest: str = ""
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # [{"action": "interview.pass", "round": 1, "score": 85, "note": "", "by": "李HR"}]
    evaluations: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    consent: bool = False
    consent_at: datetime | None = timestamp_field(nullable=True)
    opted_out_at: datetime | None = timestamp_field(nullable=True)
    owner_id: int | None = Field(default=None, foreign_key="person.id")
    # When they did not come, declined or were pooled: the cadence counts from here.
    since: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RecallCampaign(SQLModel, table=True):
    """Profiles selected by reason, position, time and tag; shown before anything is drafted."""

    __tablename__ = "recall_campaign"

    id: int | None = Field(default=None, primary_key=True)
    created_by: int = Field(foreign_key="person.id")
    filters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    stage: str = "news"
    profile_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state: str = "selected"  # selected | drafted | cancelled
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RecallContact(SQLModel, table=True):
    """One recall message: drafted from a template, decided and sent by a person; its outcome."""

    __tablename__ = "recall_contact"

    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="talent_profile.id", index=True)
    campaign_id: int | None = Field(default=None, foreign_key="recall_campaign.id", index=True)
    stage: str  # greeting | news | opening
    day: int | None = None  # cadence day that prompted it (None: a campaign)
    category: str
    template: str = ""
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    # Why no text could be drafted (a template variable missing); blocks sending until edited.
    error: str = ""
    edited: bool = False
    status: RecallStatus = Field(default=RecallStatus.DRAFTED, sa_type=enum_type(RecallStatus))
    prepared_by: int | None = Field(default=None, foreign_key="person.id")
    sender_id: int | None = Field(default=None, foreign_key="person.id")
    channel: str = ""  # wecom (add_msg_template) | manual (copied by the sender)
    decided_by: int | None = Field(default=None, foreign_key="person.id")
    confirmed_at: datetime | None = timestamp_field(nullable=True)
    sent_at: datetime | None = timestamp_field(nullable=True)
    delivered_at: datetime | None = timestamp_field(nullable=True)
    replied_at: datetime | None = timestamp_field(nullable=True)
    interested_at: datetime | None = timestamp_field(nullable=True)
    rehired_at: datetime | None = timestamp_field(nullable=True)
    opted_out_at: datetime | None = timestamp_field(nullable=True)
    failure: str = ""
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RecallDelivery(SQLModel, table=True):
    """Platform facts of a recall sent through a platform (WeCom mass-send task and its result).

    Written by the platform adapter; the recall job reads rows not yet applied and records
    the outcome on the contact.
    """

    __tablename__ = "recall_delivery"
    __table_args__ = (UniqueConstraint("contact_id", "platform"),)

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="recall_contact.id")
    platform: str
    msgid: str = ""
    sender: str = ""
    # created | sent | not_friend | limited | failed | unconfirmed
    status: str = "created"
    send_time: datetime | None = timestamp_field(nullable=True)
    error: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    applied_at: datetime | None = timestamp_field(nullable=True)
