"""Workflow cases: one row per instance of any workflow, its append-only event log, and the
directory's history of who sat where (a transfer changes an org on its effective date).

``case`` is generic on purpose: the workflow definition (``handlers.workflow``) gives the
state strings their meaning, so a new workflow needs no table of its own for its steps.
Workflow-specific facts (a transfer's target org and dates) live in ``data``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from storage.models.base import utcnow
from storage.types import UTCDateTime


class Case(SQLModel, table=True):
    __tablename__ = "case"
    __table_args__ = (Index("ix_case_workflow_state", "workflow", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    workflow: str = Field(max_length=32)
    # The person (or thing, "person:12") the case is about; one open case per subject and
    # workflow is the definitions' rule, checked by the engine.
    subject: str = Field(index=True)
    subject_person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    state: str = Field(max_length=32)
    version: int = 1
    assignee_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    # Whom the assignee holds the task for (a delegate acting for the resolved approver).
    acting_for_id: int | None = Field(default=None, foreign_key="person.id")
    stage_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    stage_entered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Org path the case belongs to: scope checks and reports read it.
    org_path: str = Field(index=True)
    created_by: int = Field(foreign_key="person.id")
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class CaseEvent(SQLModel, table=True):
    """Append-only: one row per transition or noteworthy act on a case."""

    __tablename__ = "case_event"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    action: str
    from_state: str | None = None
    to_state: str | None = None
    from_version: int | None = None
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    platform: str = ""
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OrgAssignment(SQLModel, table=True):
    """Where a person sat and when: ``Person.org_path`` is the current row, these the history."""

    __tablename__ = "org_assignment"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    org_path: str
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    # The case that moved them there (None: the directory import).
    case_id: int | None = Field(default=None, foreign_key="case.id")
