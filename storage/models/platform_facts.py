"""What the platform adapters persist through ports: card instances, API calls, contact lookups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models.base import timestamp_field, utcnow
from storage.types import EncryptedJSON, UTCDateTime


class CardInstance(SQLModel, table=True):
    """Where a card went, so an update replaces it in place on each platform."""

    __tablename__ = "card_instance"
    __table_args__ = (UniqueConstraint("card_key", "platform", "recipient"),)

    id: int | None = Field(default=None, primary_key=True)
    card_key: str = Field(index=True)
    platform: str
    recipient: str
    platform_ref: str = ""  # DingTalk outTrackId / WeCom task_id
    response_code: str = ""  # WeCom: newest single-use code for update_template_card
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApiUsage(SQLModel, table=True):
    """Metered platform API calls per calendar month, for plans with a monthly quota."""

    __tablename__ = "api_usage"
    __table_args__ = (UniqueConstraint("platform", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    period: str  # "2026-11", the month in the platform's own time zone
    calls: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ContactLookup(SQLModel, table=True):
    """What WeCom said about a new external contact (the mobiles the employee noted for them),
    recorded by the adapter and applied by a clock job that links the candidate."""

    __tablename__ = "contact_lookup"

    id: int | None = Field(default=None, primary_key=True)
    external_userid: str = Field(index=True)
    employee_userid: str = ""
    mobiles: list[str] = Field(
        default_factory=list, sa_column=Column(EncryptedJSON, nullable=False)
    )
    fetched_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    applied_at: datetime | None = timestamp_field(nullable=True)


class CallbackSignature(SQLModel, table=True):
    """A signed callback seen once: its signature may come again only with the same body.

    DingTalk's HTTP-mode signatures cover the timestamp, not the body, and stay valid for an
    hour; a row per signature, shared by every replica, lets a retry (same body) through and
    refuses the pair replayed with another body.
    """

    __tablename__ = "callback_signature"
    __table_args__ = (UniqueConstraint("platform", "signature"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    signature: str  # sha256 of timestamp and signature header
    body_digest: str
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
