"""Directory: people and their org scopes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Person

# Which Person column holds the user id each platform sends us.
_PLATFORM_COLUMNS = {
    "dingtalk": "dingtalk_user_id",
    "wecom": "wecom_userid",
    "shell": "employee_no",
}


def in_scope(scope_path: str, org_path: str) -> bool:
    """True when ``org_path`` lies at or below ``scope_path`` (compared by path component)."""
    scope = [p for p in scope_path.split("/") if p]
    target = [p for p in org_path.split("/") if p]
    return target[: len(scope)] == scope


def platform_address(person: Person, platform: str) -> str | None:
    column = _PLATFORM_COLUMNS.get(platform)
    return getattr(person, column) if column else None


# A to-do list is addressed by another id than messages: DingTalk to-dos take the unionId.
_TASK_COLUMNS = {"dingtalk": "dingtalk_union_id"}


def task_address(person: Person, platform: str) -> str | None:
    """The id ``platform``'s to-do API knows ``person`` by (None: none on record)."""
    column = _TASK_COLUMNS.get(platform)
    return getattr(person, column) if column else None


async def get_person(*, session: AsyncSession, person_id: int | None) -> Person | None:
    return None if person_id is None else await session.get(Person, person_id)


async def get_person_by_platform_id(
    *, session: AsyncSession, platform: str, user_id: str
) -> Person | None:
    column = _PLATFORM_COLUMNS.get(platform)
    if column is None or not user_id:
        return None
    result = await session.exec(
        select(Person).where(getattr(Person, column) == user_id, col(Person.active).is_(True))
    )
    return result.first()


async def get_person_by_employee_no(*, session: AsyncSession, employee_no: str) -> Person | None:
    result = await session.exec(select(Person).where(Person.employee_no == employee_no))
    return result.first()


async def find_people_by_name(*, session: AsyncSession, name: str) -> list[Person]:
    result = await session.exec(
        select(Person).where(Person.name == name, col(Person.active).is_(True))
    )
    return list(result.all())


async def list_people(*, session: AsyncSession) -> list[Person]:
    return list((await session.exec(select(Person).order_by(col(Person.id)))).all())


async def nearest_with_role(
    *, session: AsyncSession, role: str, org_path: str, exclude: Sequence[int] = ()
) -> Person | None:
    """The person holding ``role`` whose scope covers ``org_path`` most narrowly."""
    people = await session.exec(select(Person).where(col(Person.active).is_(True)))
    covering = [
        p
        for p in people.all()
        if role in p.roles and in_scope(p.org_path, org_path) and p.id not in exclude
    ]
    if not covering:
        return None
    return max(
        covering, key=lambda p: (len([s for s in p.org_path.split("/") if s]), -(p.id or 0))
    )
