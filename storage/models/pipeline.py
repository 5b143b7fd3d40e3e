"""What the pipeline keeps: events in (inbox), messages out (outbox), due items, pending input."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.models.base import enum_type, timestamp_field, utcnow
from storage.types import EncryptedJSON, UTCDateTime


class PendingInput(SQLModel, table=True):
    """A card action waiting for typed input (a reject reason, a list of missing items)."""

    __tablename__ = "pending_input"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", unique=True)
    action: str
    params: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DueItem(SQLModel, table=True):
    __tablename__ = "due_item"
    # Only open rows are indexed, so a sweep costs the same with a million future items.
    __table_args__ = (
        Index(
            "ix_due_item_open",
            "due_at",
            postgresql_where=text("done_at IS NULL"),
            sqlite_where=text("done_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    subject: str = Field(index=True)
    referral_id: int | None = Field(default=None, foreign_key="referral.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    due_at: datetime = Field(sa_type=UTCDateTime)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    attempts: int = 0
    claimed_by: str | None = None
    claimed_until: datetime | None = timestamp_field(nullable=True)
    done_at: datetime | None = timestamp_field(nullable=True)
    cancelled: bool = False
    error: str = ""
    # Set for items that must exist once however many replicas schedule them (daily digest).
    dedupe_key: str | None = Field(default=None, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Inbox(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("platform", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    event_id: str
    # The decoded event, kept from before the platform is acked until it is handled, so a
    # crash in between loses nothing (the clock re-feeds unprocessed rows).
    payload: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(EncryptedJSON, nullable=False)
    )
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    processed_at: datetime | None = timestamp_field(nullable=True)
    outcome: str = ""


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Outbox(SQLModel, table=True):
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True)
    platform: str
    # "person" (payload target is a Person id) or "conversation" (a platform conversation id)
    target_kind: str
    target: str
    group: bool = False
    kind: str  # card | card_update | text
    payload: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(EncryptedJSON, nullable=False)
    )
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, sa_type=enum_type(OutboxStatus))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_until: datetime | None = timestamp_field(nullable=True)
    sent_at: datetime | None = timestamp_field(nullable=True)
    error: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # When HR was told this row failed for good (None: not yet, or it did not fail).
    reported_at: datetime | None = timestamp_field(nullable=True)
    # Priority lane (SendLane): answers to a person's own message or tap go before bulk.
    lane: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    # The key of the card a "card" row sends, so every copy of a card can be found again
    # and closed when its task ends ("" for rows that send no keyed card).
    card_key: str = Field(default="", index=True)


class SendLane:
    """Outbox lanes, lowest first: a bulk backlog never delays an answer to a tap."""

    REPLY = 0  # an answer to the person who just wrote or tapped, or a card update
    NOTIFY = 1  # told because of someone else's action (a task card, a progress note)
    BULK = 2  # what the clock sends: reminders, digests, reports, campaigns


class SendWindow(SQLModel, table=True):
    """One row per rate-limited key (platform, API, member): the lock sends to it share."""

    __tablename__ = "send_window"

    key: str = Field(primary_key=True)
    touched_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SendStamp(SQLModel, table=True):
    """One send counted against a key's limits; rows older than the longest window go."""

    __tablename__ = "send_stamp"
    __table_args__ = (Index("ix_send_stamp_key_sent", "key", "sent_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str
    sent_at: datetime = Field(sa_type=UTCDateTime)
