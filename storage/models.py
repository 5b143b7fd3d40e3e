"""All tables. Timestamps are timezone-aware UTC; JSON columns hold lists and dicts."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Enum, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.types import EncryptedString, UTCDateTime

# Named constraints, so later migrations (SQLite batch mode included) can alter or drop them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _enum(enum: type[StrEnum]) -> Enum:
    # Store the values ("hr_review"), not the member names, as plain VARCHAR: reports can
    # filter on the words people see, and a new state needs no ALTER TYPE on PostgreSQL.
    return Enum(
        enum,
        values_callable=lambda members: [m.value for m in members],
        native_enum=False,
        create_constraint=False,
        length=32,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_type=UTCDateTime,
        nullable=nullable,
        index=index,
    )


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


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    employee_no: str = Field(unique=True, index=True)
    name: str = Field(index=True)
    org_path: str = Field(index=True)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    dingtalk_user_id: str | None = Field(default=None, unique=True, index=True)
    dingtalk_union_id: str | None = Field(default=None, index=True)
    wecom_userid: str | None = Field(default=None, unique=True, index=True)
    lead_id: int | None = Field(default=None, foreign_key="person.id")
    active: bool = True


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
    consent_at: datetime | None = _ts(nullable=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    phone_hash: str | None = Field(default=None, index=True)
    email_hash: str | None = Field(default=None, index=True)
    # Set when retention or an erasure request removed the personal data (the row stays).
    anonymized_at: datetime | None = _ts(nullable=True)


class Referral(SQLModel, table=True):
    __table_args__ = (Index("ix_referral_state_assignee", "state", "assignee_id"),)

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    position_id: int = Field(foreign_key="position.id", index=True)
    referrer_id: int = Field(foreign_key="person.id", index=True)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    state: ReferralState = Field(
        default=ReferralState.SUBMITTED, sa_type=_enum(ReferralState), index=True
    )
    version: int = 1
    assignee_id: int | None = Field(default=None, foreign_key="person.id")
    stage_due_at: datetime | None = _ts(nullable=True)
    stage_entered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    interview_round: int = 0
    no_show_reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = _ts(nullable=True)


class ReferralEvent(SQLModel, table=True):
    """Append-only audit trail: one row per transition or noteworthy act."""

    __tablename__ = "referral_event"

    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    action: str
    from_state: str | None = None
    to_state: str | None = None
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
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
    fields: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


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
    due_at: datetime = Field(sa_type=UTCDateTime)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    attempts: int = 0
    claimed_by: str | None = None
    claimed_until: datetime | None = _ts(nullable=True)
    done_at: datetime | None = _ts(nullable=True)
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
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    processed_at: datetime | None = _ts(nullable=True)
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
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The key of the card a "card" row sends, so every copy of a card can be found again
    # and closed when its task ends ("" for rows that send no keyed card).
    card_key: str = Field(default="", index=True)
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, sa_type=_enum(OutboxStatus))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_until: datetime | None = _ts(nullable=True)
    sent_at: datetime | None = _ts(nullable=True)
    error: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # When HR was told this row failed for good (None: not yet, or it did not fail).
    reported_at: datetime | None = _ts(nullable=True)


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
    consent_at: datetime | None = _ts(nullable=True)
    opted_out_at: datetime | None = _ts(nullable=True)
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
    status: RecallStatus = Field(default=RecallStatus.DRAFTED, sa_type=_enum(RecallStatus))
    prepared_by: int | None = Field(default=None, foreign_key="person.id")
    sender_id: int | None = Field(default=None, foreign_key="person.id")
    channel: str = ""  # wecom (add_msg_template) | manual (copied by the sender)
    decided_by: int | None = Field(default=None, foreign_key="person.id")
    confirmed_at: datetime | None = _ts(nullable=True)
    sent_at: datetime | None = _ts(nullable=True)
    delivered_at: datetime | None = _ts(nullable=True)
    replied_at: datetime | None = _ts(nullable=True)
    interested_at: datetime | None = _ts(nullable=True)
    rehired_at: datetime | None = _ts(nullable=True)
    opted_out_at: datetime | None = _ts(nullable=True)
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
    send_time: datetime | None = _ts(nullable=True)
    error: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    applied_at: datetime | None = _ts(nullable=True)


# Insight tables (statistics, talent pool, bonuses) live in their own module; importing it here
# puts them on the same metadata for create_all and the migration check.
import storage.insight_models  # noqa: E402,F401

# Kinds of CalendarDay rows (see handlers/sla/workcal.py for what each means).
CALENDAR_DAY_KINDS = ("holiday", "workday", "closure")

from datetime import date  # noqa: E402


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
    cancelled_at: datetime | None = _ts(nullable=True)


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



class ContactLookup(SQLModel, table=True):
    """What WeCom said about a new external contact (the mobiles the employee noted for them),
    recorded by the adapter and applied by a clock job that links the candidate."""

    __tablename__ = "contact_lookup"

    id: int | None = Field(default=None, primary_key=True)
    external_userid: str = Field(index=True)
    employee_userid: str = ""
    mobiles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    fetched_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    applied_at: datetime | None = _ts(nullable=True)

from sqlalchemy import event as _sa_event  # noqa: E402

from storage.crypto import blind_index  # noqa: E402


def _index_contacts(_mapper: Any, _connection: Any, candidate: Candidate) -> None:
    # Kept in step with every write of phone/email, so duplicate detection never misses a row.
    candidate.phone_hash = blind_index(candidate.phone) if candidate.phone else None
    candidate.email_hash = blind_index(candidate.email) if candidate.email else None


_sa_event.listen(Candidate, "before_insert", _index_contacts)
_sa_event.listen(Candidate, "before_update", _index_contacts)
