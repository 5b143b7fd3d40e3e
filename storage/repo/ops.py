"""Cheap readings for health checks and metrics: one small query each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import DueItem, Outbox, OutboxStatus
from storage.sql import execute


@dataclass(frozen=True)
class QueueReadings:
    outbox_depth: int
    outbox_oldest_age: float  # seconds; 0 when nothing waits
    due_lag: float  # seconds the most overdue pending item is late; 0 when none


async def ping(*, session: AsyncSession) -> None:
    """Raise unless the database answers a trivial query."""
    await execute(session, text("SELECT 1"))


async def outbox_backlog(*, session: AsyncSession) -> tuple[int, datetime | None]:
    """(pending messages, creation time of the oldest one)."""
    result = await session.exec(
        select(func.count(), func.min(Outbox.created_at)).where(
            Outbox.status == OutboxStatus.PENDING
        )
    )
    count, oldest = result.one()
    return int(count or 0), _aware(oldest)


async def earliest_overdue(*, session: AsyncSession, now: datetime) -> datetime | None:
    """``due_at`` of the oldest due item that is due and not done (None: none)."""
    result = await session.exec(
        select(func.min(DueItem.due_at)).where(
            col(DueItem.done_at).is_(None), col(DueItem.due_at) <= now
        )
    )
    return _aware(result.one())


async def read_queues(*, session: AsyncSession, now: datetime) -> QueueReadings:
    """Outbox depth and age, and due-item lag, as of ``now``."""
    depth, oldest = await outbox_backlog(session=session)
    overdue = await earliest_overdue(session=session, now=now)
    return QueueReadings(
        outbox_depth=depth,
        outbox_oldest_age=(now - oldest).total_seconds() if oldest else 0.0,
        due_lag=(now - overdue).total_seconds() if overdue else 0.0,
    )


def _aware(value: object) -> datetime | None:
    # Defensive: a driver may hand an aggregate back without the column type's processing.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
