"""Due items: every future action, written and cancelled with the transition that causes it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import DueItem


async def schedule_due_item(
    *,
    session: AsyncSession,
    kind: str,
    subject: str,
    due_at: datetime,
    referral_id: int | None = None,
    payload: dict[str, Any] | None = None,
    now: datetime,
) -> DueItem:
    item = DueItem(
        kind=kind,
        subject=subject,
        due_at=due_at,
        referral_id=referral_id,
        payload=payload or {},
        created_at=now,
    )
    session.add(item)
    await session.flush()
    return item


async def cancel_due_items(*, session: AsyncSession, subject: str, now: datetime) -> int:
    """Cancel everything still pending for ``subject`` (the task it waited on is moot)."""
    result = await session.exec(
        update(DueItem)
        .where(col(DueItem.subject) == subject, col(DueItem.done_at).is_(None))
        .values(done_at=now, cancelled=True)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


async def list_pending_due_items(
    *, session: AsyncSession, subject: str | None = None
) -> list[DueItem]:
    query = select(DueItem).where(col(DueItem.done_at).is_(None)).order_by(col(DueItem.due_at))
    if subject is not None:
        query = query.where(DueItem.subject == subject)
    return list((await session.exec(query)).all())


async def claim_due_items(
    *, session: AsyncSession, now: datetime, owner: str, lease: timedelta, limit: int
) -> list[int]:
    """Atomically claim up to ``limit`` due rows for ``owner``; returns their ids.

    PostgreSQL skips rows another replica holds (FOR UPDATE SKIP LOCKED); SQLite serialises
    writers, so the conditional UPDATE alone is enough. A claim whose lease ran out (its
    replica died) is open to anyone again.
    """
    pick = (
        select(DueItem.id)
        .where(
            col(DueItem.done_at).is_(None),
            col(DueItem.due_at) <= now,
            or_(col(DueItem.claimed_until).is_(None), col(DueItem.claimed_until) < now),
        )
        .order_by(col(DueItem.due_at))
        .limit(limit)
    )
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    result = await session.exec(
        update(DueItem)
        .where(col(DueItem.id).in_(pick.scalar_subquery()))
        .values(claimed_by=owner, claimed_until=now + lease, attempts=DueItem.attempts + 1)
        .returning(col(DueItem.id))
        .execution_options(synchronize_session=False)
    )
    return sorted(row[0] for row in result.all())


async def finish_due_item(
    *, session: AsyncSession, item_id: int, owner: str, now: datetime, error: str = ""
) -> bool:
    """Mark done if ``owner`` still holds the claim; False means another replica took it."""
    result = await session.exec(
        update(DueItem)
        .where(
            col(DueItem.id) == item_id,
            col(DueItem.claimed_by) == owner,
            col(DueItem.done_at).is_(None),
        )
        .values(done_at=now, claimed_until=None, error=error[:500])
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


async def release_due_item(
    *, session: AsyncSession, item_id: int, owner: str, retry_at: datetime, error: str
) -> None:
    """Give a failed item back, to be tried again at ``retry_at``."""
    await session.exec(
        update(DueItem)
        .where(col(DueItem.id) == item_id, col(DueItem.claimed_by) == owner)
        .values(claimed_until=retry_at, error=error[:500])
        .execution_options(synchronize_session=False)
    )


async def schedule_once(
    *,
    session: AsyncSession,
    dedupe_key: str,
    kind: str,
    subject: str,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
    now: datetime,
) -> bool:
    """Insert an item unless one with ``dedupe_key`` exists (several replicas may try)."""
    exists = await session.exec(select(DueItem.id).where(DueItem.dedupe_key == dedupe_key))
    if exists.first() is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(
                DueItem(
                    kind=kind,
                    subject=subject,
                    due_at=due_at,
                    payload=payload or {},
                    dedupe_key=dedupe_key,
                    created_at=now,
                )
            )
            await session.flush()
    except IntegrityError:
        return False
    return True


async def list_fallen_due_items(
    *, session: AsyncSession, subject: str, kind: str, now: datetime
) -> list[DueItem]:
    """Items of ``kind`` for ``subject`` that fell due by ``now``, run or not, not cancelled."""
    query = select(DueItem).where(
        DueItem.subject == subject,
        DueItem.kind == kind,
        col(DueItem.due_at) <= now,
        col(DueItem.cancelled).is_(False),
    )
    return list((await session.exec(query)).all())
