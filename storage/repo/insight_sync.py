"""Reads and writes of the insight sync: changed referrals in, facts, checks, breaches out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Candidate,
    Person,
    PoolEntry,
    PoolTag,
    Position,
    Referral,
    ReferralBonus,
    ReferralCheck,
    ReferralEvent,
    ReferralFact,
    SlaBreach,
    TalentProfile,
)
from storage.sql import execute, table_of


async def upsert(
    session: AsyncSession,
    model: type[SQLModel],
    values: dict[str, Any],
    keys: Sequence[str],
    overwrite: Sequence[str] | None = None,
) -> None:
    """INSERT, or UPDATE the row with the same ``keys`` (both dialects' ON CONFLICT).

    Args:
        overwrite: Columns to overwrite on conflict (default: all but ``keys``; empty: none).
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = table_of(model)
    statement = insert(table).values(**values)
    names = [k for k in values if k not in keys] if overwrite is None else overwrite
    changes = {k: statement.excluded[k] for k in names}
    await session.exec(
        statement.on_conflict_do_update(index_elements=list(keys), set_=changes)
        if changes
        else statement.on_conflict_do_nothing(index_elements=list(keys))
    )


async def changed_referrals(
    *, session: AsyncSession, since: datetime | None, limit: int
) -> list[Referral]:
    """Referrals updated at or after ``since`` whose fact row is missing or older."""
    fact = table_of(ReferralFact)
    query = (
        select(Referral)
        .outerjoin(fact, fact.c.referral_id == Referral.id)
        .where(or_(fact.c.referral_id.is_(None), fact.c.synced_at != Referral.updated_at))
        .order_by(col(Referral.updated_at), col(Referral.id))
        .limit(limit)
    )
    if since is not None:
        query = query.where(col(Referral.updated_at) >= since)
    return list((await execute(session, query)).scalars().all())


async def changed_profiles(*, session: AsyncSession, since: datetime) -> list[int]:
    """Candidates whose recall profile (and so their pool tags) changed since ``since``."""
    result = await execute(
        session,
        select(col(TalentProfile.candidate_id)).where(col(TalentProfile.updated_at) >= since),
    )
    return [int(r) for r in result.scalars().all()]


async def _by_ids(session: AsyncSession, model: Any, column: Any, ids: Iterable[int]) -> list[Any]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows: list[Any] = []
    for start in range(0, len(wanted), 500):  # keeps each IN list well under driver limits
        chunk = wanted[start : start + 500]
        result = await execute(session, select(model).where(column.in_(chunk)))
        rows += list(result.scalars().all())
    return rows


async def events_by_referral(
    *, session: AsyncSession, referral_ids: Iterable[int]
) -> dict[int, list[ReferralEvent]]:
    events: dict[int, list[ReferralEvent]] = {}
    rows = await _by_ids(session, ReferralEvent, col(ReferralEvent.referral_id), referral_ids)
    for event in sorted(rows, key=lambda e: (e.at, e.id or 0)):
        events.setdefault(event.referral_id, []).append(event)
    return events


async def candidates_by_id(
    *, session: AsyncSession, ids: Iterable[int]
) -> dict[int, Candidate]:
    return {c.id: c for c in await _by_ids(session, Candidate, col(Candidate.id), ids)}


async def people_by_id(*, session: AsyncSession, ids: Iterable[int]) -> dict[int, Person]:
    return {p.id: p for p in await _by_ids(session, Person, col(Person.id), ids)}


async def all_positions(*, session: AsyncSession) -> dict[int, Position]:
    result = await execute(session, select(Position))
    return {p.id: p for p in result.scalars().all()}


async def referrals_by_id(*, session: AsyncSession, ids: Iterable[int]) -> dict[int, Referral]:
    return {r.id: r for r in await _by_ids(session, Referral, col(Referral.id), ids)}


async def referrals_of_candidates(
    *, session: AsyncSession, candidate_ids: Iterable[int]
) -> dict[int, list[Referral]]:
    found: dict[int, list[Referral]] = {}
    rows = await _by_ids(session, Referral, col(Referral.candidate_id), candidate_ids)
    for referral in sorted(rows, key=lambda r: (r.created_at, r.id or 0)):
        found.setdefault(referral.candidate_id, []).append(referral)
    return found


async def facts_by_referral(
    *, session: AsyncSession, referral_ids: Iterable[int]
) -> dict[int, ReferralFact]:
    rows = await _by_ids(session, ReferralFact, col(ReferralFact.referral_id), referral_ids)
    return {f.referral_id: f for f in rows}


async def profiles_by_candidate(
    *, session: AsyncSession, candidate_ids: Iterable[int]
) -> dict[int, TalentProfile]:
    rows = await _by_ids(session, TalentProfile, col(TalentProfile.candidate_id), candidate_ids)
    return {p.candidate_id: p for p in rows}


async def tags_by_candidate(
    *, session: AsyncSession, candidate_ids: Iterable[int]
) -> dict[int, list[PoolTag]]:
    found: dict[int, list[PoolTag]] = {}
    for tag in await _by_ids(session, PoolTag, col(PoolTag.candidate_id), candidate_ids):
        found.setdefault(tag.candidate_id, []).append(tag)
    return found


async def save_fact(*, session: AsyncSession, values: dict[str, Any]) -> None:
    await upsert(session, ReferralFact, values, ("referral_id",))


async def replace_checks(
    *, session: AsyncSession, referral_id: int, rows: Sequence[dict[str, Any]]
) -> None:
    await session.exec(
        delete(ReferralCheck).where(col(ReferralCheck.referral_id) == referral_id)
    )
    for row in rows:
        await upsert(session, ReferralCheck, {"referral_id": referral_id, **row},
                     ("referral_id", "label"))


async def replace_breaches(
    *, session: AsyncSession, referral_id: int, rows: Sequence[dict[str, Any]]
) -> None:
    await session.exec(
        delete(SlaBreach).where(col(SlaBreach.referral_id) == referral_id)
    )
    for row in rows:
        await upsert(session, SlaBreach, {"referral_id": referral_id, **row},
                     ("referral_id", "stage", "entered_at"))


async def save_pool_entry(*, session: AsyncSession, values: dict[str, Any]) -> None:
    await upsert(session, PoolEntry, values, ("candidate_id",))


async def replace_derived_tags(
    *, session: AsyncSession, candidate_id: int, tags: Sequence[str], org_key: str,
    updated_at: datetime, now: datetime,
) -> None:
    """Derived tags become exactly ``tags``; manual and hidden ones are kept, and every tag
    of the candidate takes the entry's ``org_key`` (where they were last referred) and
    ``updated_at`` (what searches order by)."""
    await session.exec(
        delete(PoolTag).where(
            col(PoolTag.candidate_id) == candidate_id,
            col(PoolTag.source) == "derived",
            col(PoolTag.tag).not_in(list(tags) or [""]),
        )
    )
    await session.exec(
        update(PoolTag)
        .where(
            col(PoolTag.candidate_id) == candidate_id,
            or_(col(PoolTag.org_key) != org_key, col(PoolTag.updated_at) != updated_at),
        )
        .values(org_key=org_key, updated_at=updated_at)
    )
    for tag in tags:
        await upsert(
            session, PoolTag,
            {"candidate_id": candidate_id, "tag": tag, "source": "derived", "org_key": org_key,
             "created_at": now, "updated_at": updated_at},
            ("candidate_id", "tag"),
            overwrite=("org_key", "updated_at"),  # a manual or hidden tag stays HR's
        )


async def ensure_bonus(*, session: AsyncSession, values: dict[str, Any]) -> None:
    """Create the bonus of a hire once; a later sync never overwrites HR's decisions."""
    await upsert(session, ReferralBonus, values, ("referral_id",), overwrite=())
