"""Due items: every future action, written and cancelled with the transition that causes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
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
    result = await session.exec(  # type: ignore[call-overload]
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
