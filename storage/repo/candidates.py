"""Candidates: found by normalised phone or email, so one person is one row.

Phone and email are encrypted at rest; lookups match their blind indexes (``storage.crypto``).
"""

from __future__ import annotations

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.crypto import blind_indexes
from storage.models import Candidate


async def find_candidate(
    *, session: AsyncSession, phone: str | None, email: str | None
) -> Candidate | None:
    clauses = []
    if phone:
        clauses.append(col(Candidate.phone_hash).in_(blind_indexes(phone)))
    if email:
        clauses.append(col(Candidate.email_hash).in_(blind_indexes(email)))
    if not clauses:
        return None
    result = await session.exec(select(Candidate).where(or_(*clauses)).order_by(col(Candidate.id)))
    return result.first()


async def get_candidate(*, session: AsyncSession, candidate_id: int) -> Candidate | None:
    return await session.get(Candidate, candidate_id)


async def save_candidate(*, session: AsyncSession, candidate: Candidate) -> Candidate:
    session.add(candidate)
    await session.flush()
    return candidate
