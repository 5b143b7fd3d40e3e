"""Positions and their requirements."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Position


async def get_position(*, session: AsyncSession, position_id: int) -> Position | None:
    return await session.get(Position, position_id)


async def list_open_positions(*, session: AsyncSession) -> list[Position]:
    result = await session.exec(
        select(Position).where(col(Position.open).is_(True)).order_by(col(Position.id))
    )
    return list(result.all())


async def find_open_positions(*, session: AsyncSession, word: str) -> list[Position]:
    """Open positions whose title or code equals ``word``; falls back to titles containing it."""
    positions = await list_open_positions(session=session)
    needle = word.strip().lower()
    if not needle:
        return []
    exact = [p for p in positions if needle in (p.title.lower(), p.code.lower())]
    return exact or [p for p in positions if needle in p.title.lower()]
