"""Workflow cases, their append-only event log, and org history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Case, CaseEvent, OrgAssignment


async def create_case(*, session: AsyncSession, case: Case) -> Case:
    session.add(case)
    await session.flush()
    return case


async def get_case(*, session: AsyncSession, case_id: int) -> Case | None:
    return await session.get(Case, case_id)


async def move_case(
    *,
    session: AsyncSession,
    case_id: int,
    expected_state: str,
    expected_version: int,
    values: dict[str, Any],
) -> bool:
    """Apply a step only if nobody else did first (state and version still as read).

    Returns False when the case moved on meanwhile; the caller answers "already handled"
    and changes nothing. Steps that keep the state (co-signing) still bump the version, so
    two taps on one card never both count.
    """
    result = await session.exec(
        update(Case)
        .where(
            col(Case.id) == case_id,
            col(Case.state) == expected_state,
            col(Case.version) == expected_version,
        )
        .values(version=expected_version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


async def add_case_event(*, session: AsyncSession, event: CaseEvent) -> CaseEvent:
    session.add(event)
    await session.flush()
    return event


async def list_case_events(*, session: AsyncSession, case_id: int) -> list[CaseEvent]:
    result = await session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id)
        .order_by(col(CaseEvent.at), col(CaseEvent.id))
    )
    return list(result.all())


async def find_case_version_event(
    *, session: AsyncSession, case_id: int, from_version: int
) -> CaseEvent | None:
    """The event of the step that left ``from_version`` (who handled a card, and when)."""
    result = await session.exec(
        select(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.from_version == from_version
        )
    )
    return result.first()


async def list_open_cases(
    *,
    session: AsyncSession,
    workflow: str,
    open_states: frozenset[str],
    subject_person_id: int | None = None,
) -> list[Case]:
    query = select(Case).where(
        Case.workflow == workflow, col(Case.state).in_(sorted(open_states))
    )
    if subject_person_id is not None:
        query = query.where(Case.subject_person_id == subject_person_id)
    return list((await session.exec(query.order_by(col(Case.id)))).all())


async def list_cases_about(
    *, session: AsyncSession, workflow: str, person_id: int, limit: int = 20
) -> list[Case]:
    """Cases the person is the subject of or created, newest first."""
    result = await session.exec(
        select(Case)
        .where(
            Case.workflow == workflow,
            (col(Case.subject_person_id) == person_id) | (col(Case.created_by) == person_id),
        )
        .order_by(col(Case.id).desc())
        .limit(limit)
    )
    return list(result.all())


async def list_assigned_cases(
    *, session: AsyncSession, assignee_id: int, open_states: frozenset[str]
) -> list[Case]:
    result = await session.exec(
        select(Case)
        .where(Case.assignee_id == assignee_id, col(Case.state).in_(sorted(open_states)))
        .order_by(col(Case.stage_due_at), col(Case.id))
    )
    return list(result.all())


async def current_org_assignment(
    *, session: AsyncSession, person_id: int
) -> OrgAssignment | None:
    result = await session.exec(
        select(OrgAssignment)
        .where(OrgAssignment.person_id == person_id, col(OrgAssignment.ends_at).is_(None))
        .order_by(col(OrgAssignment.id).desc())
    )
    return result.first()


async def record_org_move(
    *,
    session: AsyncSession,
    person_id: int,
    from_org: str,
    to_org: str,
    at: datetime,
    case_id: int | None,
    since: datetime,
) -> OrgAssignment:
    """Close the person's current stint (opening one from ``since`` if none was on record)."""
    current = await current_org_assignment(session=session, person_id=person_id)
    if current is None:
        current = OrgAssignment(person_id=person_id, org_path=from_org, starts_at=since)
    current.ends_at = at
    session.add(current)
    new = OrgAssignment(person_id=person_id, org_path=to_org, starts_at=at, case_id=case_id)
    session.add(new)
    await session.flush()
    return new


async def list_org_history(*, session: AsyncSession, person_id: int) -> list[OrgAssignment]:
    result = await session.exec(
        select(OrgAssignment)
        .where(OrgAssignment.person_id == person_id)
        .order_by(col(OrgAssignment.starts_at), col(OrgAssignment.id))
    )
    return list(result.all())


async def list_cases_in_scope(
    *, session: AsyncSession, workflow: str, org_path: str
) -> list[Case]:
    """Cases of ``workflow`` whose org lies at or below ``org_path``."""
    scope = org_path.rstrip("/")
    result = await session.exec(
        select(Case)
        .where(
            Case.workflow == workflow,
            (col(Case.org_path) == scope) | col(Case.org_path).startswith(scope + "/"),
        )
        .order_by(col(Case.id))
    )
    return list(result.all())
