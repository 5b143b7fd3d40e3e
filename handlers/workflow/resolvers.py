"""Named assignee resolvers: who holds a step, by name, so definitions stay data.

Each takes the case and the people who must not hold the step (the applicant, anyone who
already decided a gate of it) and returns a person, or None when nobody fits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Case, Person
from storage.repo.people import get_person, in_scope, list_people, nearest_with_role

Resolver = Callable[[AsyncSession, Case, Collection[int]], Awaitable[Person | None]]


async def _subject(session: AsyncSession, case: Case) -> Person | None:
    return await get_person(session=session, person_id=case.subject_person_id)


async def subject_lead(
    session: AsyncSession, case: Case, exclude: Collection[int]
) -> Person | None:
    """The subject's lead, or the next one up when the lead may not hold it."""
    person = await _subject(session, case)
    seen: set[int] = set()
    while person is not None and person.lead_id is not None and person.lead_id not in seen:
        seen.add(person.lead_id)
        lead = await get_person(session=session, person_id=person.lead_id)
        if lead is not None and lead.active and lead.id not in exclude:
            return lead
        person = lead
    return None


async def hr_of_subject_org(
    session: AsyncSession, case: Case, exclude: Collection[int]
) -> Person | None:
    return await nearest_with_role(
        session=session, role="hr", org_path=case.org_path, exclude=list(exclude)
    )


async def division_leader(
    session: AsyncSession, case: Case, exclude: Collection[int]
) -> Person | None:
    """The leader whose scope covers the case's org most narrowly."""
    return await nearest_with_role(
        session=session, role="leader", org_path=case.org_path, exclude=list(exclude)
    )


async def target_store_manager(
    session: AsyncSession, case: Case, exclude: Collection[int]
) -> Person | None:
    """The manager of the org the case moves someone to (exactly that org).

    Never the person moved: once they arrive they sit in that org themselves.
    """
    target = str(case.data.get("to_org", ""))
    managers = [
        p for p in await list_people(session=session)
        if p.active and p.org_path == target and "hiring_manager" in p.roles
        and p.id not in exclude and p.id != case.subject_person_id
    ]
    return managers[0] if managers else None


async def hr_of_target_org(
    session: AsyncSession, case: Case, exclude: Collection[int]
) -> Person | None:
    return await nearest_with_role(
        session=session, role="hr", org_path=str(case.data.get("to_org", case.org_path)),
        exclude=list(exclude),
    )


async def applicant(session: AsyncSession, case: Case, exclude: Collection[int]) -> Person | None:
    return await get_person(session=session, person_id=case.created_by)


async def subject(session: AsyncSession, case: Case, exclude: Collection[int]) -> Person | None:
    return await _subject(session, case)


RESOLVERS: dict[str, Resolver] = {
    "subject_lead": subject_lead,
    "hr_of_subject_org": hr_of_subject_org,
    "hr_of_target_org": hr_of_target_org,
    "division_leader": division_leader,
    "target_store_manager": target_store_manager,
    "applicant": applicant,
    "subject": subject,
}


def has_role_over(person: Person, role: str, org_path: str) -> bool:
    """``person`` holds ``role`` with a scope covering ``org_path``."""
    return role in person.roles and in_scope(person.org_path, org_path)
