"""Insight tables: what statistics, the talent pool and referral bonuses read.

Everything here except manual tags, bonus decisions and settings is derived from referrals and
their audit trail (``handlers.insight.sync`` keeps it current), so a statistic never has to walk
the event log. ``org_key`` is an org path with a trailing "/" (``总部/华东/上海一店/``): a scope
is then one ``LIKE '总部/华东/%'`` prefix, which PostgreSQL answers from a ``text_pattern_ops``
index whatever the database collation. The scope indexes carry the columns their queries read
(``INCLUDE``), so a region's figures are an index-only scan of its slice: one region's rows
are spread over the whole table, and reading them from the heap would cost as much as reading
every row. ``org_key`` is TEXT, not VARCHAR, because PostgreSQL does not answer a LIKE on a
VARCHAR column index-only from a ``text_pattern_ops`` index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models.base import utcnow
from storage.models.referral import Referral
from storage.sql import table_of
from storage.types import UTCDateTime

_PREFIX_OPS = {"org_key": "text_pattern_ops"}
_STAGE_COLUMNS = [
    "hr_review_s", "needs_info_s", "leader_approval_s", "interviewing_s", "feedback_s",
    "offer_s",
]

# The sync finds changed referrals by their last update.
Index("ix_referral_updated_at", table_of(Referral).c.updated_at)


def _pk_of(target: str) -> Any:
    # One row per referral/candidate keyed by that id: no surrogate key, one index less.
    return Field(
        primary_key=True, foreign_key=target, sa_column_kwargs={"autoincrement": False}
    )


class ReferralFact(SQLModel, table=True):
    """One row per referral: where it sits, how far it got, how long each stage took."""

    __tablename__ = "referral_fact"
    __table_args__ = (
        Index(
            "ix_referral_fact_scope", "org_key", "created_at", postgresql_ops=_PREFIX_OPS,
            postgresql_include=[
                "state", "reached", "referrer_id", "position_id", "source", "score",
                *_STAGE_COLUMNS,
            ],
        ),
    )

    referral_id: int = _pk_of("referral.id")
    org_key: str = Field(sa_type=Text)
    position_id: int
    referrer_id: int
    source: str = ""
    state: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    # Bit per state ever entered (handlers.insight.facts.STAGE_BITS).
    reached: int = 0
    # Seconds spent in each stage, completed visits only (None: never left it).
    hr_review_s: int | None = None
    needs_info_s: int | None = None
    leader_approval_s: int | None = None
    interviewing_s: int | None = None
    feedback_s: int | None = None
    offer_s: int | None = None
    score: int | None = None  # best interview score recorded
    # The referral's updated_at this row reflects; a newer one means "sync again".
    synced_at: datetime = Field(sa_type=UTCDateTime)


class ReferralCheck(SQLModel, table=True):
    """Each requirement's verdict for a referral, as the rule engine saw it when referred."""

    __tablename__ = "referral_check"
    __table_args__ = (
        UniqueConstraint("referral_id", "label"),
        Index(
            "ix_referral_check_scope", "org_key", "created_at", postgresql_ops=_PREFIX_OPS,
            postgresql_include=["label", "outcome", "hired"],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id")
    org_key: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    label: str
    outcome: str = Field(max_length=16)
    hired: bool = False


class SlaBreach(SQLModel, table=True):
    """A finished stage visit that took longer than its SLA, charged to its assignee."""

    __tablename__ = "sla_breach"
    __table_args__ = (
        UniqueConstraint("referral_id", "stage", "entered_at"),
        Index("ix_sla_breach_scope", "org_key", "entered_at", postgresql_ops=_PREFIX_OPS),
    )

    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", index=True)
    org_key: str = Field(sa_type=Text)
    stage: str
    assignee_id: int | None = None
    entered_at: datetime = Field(sa_type=UTCDateTime)
    sla_s: int
    took_s: int


class PoolEntry(SQLModel, table=True):
    """A candidate in the talent pool: where they were last referred, tags, search text."""

    __tablename__ = "talent_pool"
    __table_args__ = (
        Index(
            "ix_talent_pool_scope", "org_key", "updated_at", postgresql_ops=_PREFIX_OPS,
            postgresql_include=["candidate_id", "search"],
        ),
    )

    candidate_id: int = _pk_of("candidate.id")
    org_key: str = Field(sa_type=Text)
    status: str = Field(max_length=32)  # state of the latest referral
    referral_id: int | None = None
    position_id: int | None = None
    referrer_id: int | None = None
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Folded words HR may search by: name, tags, positions, employers, titles, education.
    search: str = Field(default="", sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PoolTag(SQLModel, table=True):
    """A tag on a candidate: ``manual`` (HR), ``derived`` (from facts) or ``hidden`` (HR
    removed a derived one, which keeps it from coming back)."""

    __tablename__ = "pool_tag"
    __table_args__ = (
        UniqueConstraint("candidate_id", "tag"),
        # A tag search intersects slices of this index and sorts them by recency without
        # reading a pool row, then fetches only the rows it shows.
        Index(
            "ix_pool_tag_scope", "tag", "org_key", postgresql_ops=_PREFIX_OPS,
            postgresql_include=["candidate_id", "source", "updated_at"],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="candidate.id")
    tag: str
    source: str = Field(default="derived", max_length=16)
    org_key: str = Field(sa_type=Text)
    created_by: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The candidate's pool entry's updated_at, copied so searches can order by it here.
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PositionWatch(SQLModel, table=True):
    """The last opening of a position the pool was matched against (one suggestion each)."""

    __tablename__ = "position_watch"

    position_id: int = _pk_of("position.id")
    open: bool = True
    signature: str = ""  # requirements and place; a change is a new opening to match
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReferralBonus(SQLModel, table=True):
    """A referral bonus: earned by a hire, payable once probation is over."""

    __tablename__ = "referral_bonus"
    __table_args__ = (
        Index("ix_referral_bonus_scope", "org_key", "eligible_at", postgresql_ops=_PREFIX_OPS),
    )

    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", unique=True)
    candidate_id: int = Field(foreign_key="candidate.id")
    # Who gets the credit: the first referrer of the candidate (within the credit window).
    referrer_id: int = Field(foreign_key="person.id", index=True)
    first_referral_id: int | None = None
    org_key: str = Field(sa_type=Text)
    hired_at: datetime = Field(sa_type=UTCDateTime)
    eligible_at: datetime = Field(sa_type=UTCDateTime)
    amount: int = 0
    status: str = Field(default="open", max_length=16)  # open | paid | void
    decided_by: int | None = Field(default=None, foreign_key="person.id")
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    note: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InsightSetting(SQLModel, table=True):
    """Settings HR leads change from chat (weekly report time, probation days...)."""

    __tablename__ = "insight_setting"

    key: str = Field(primary_key=True)
    value: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    updated_by: int | None = Field(default=None, foreign_key="person.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InsightChart(SQLModel, table=True):
    """A rendered chart (PNG) a card points at; adapters upload it the way each platform needs."""

    __tablename__ = "insight_chart"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(unique=True)
    png: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
