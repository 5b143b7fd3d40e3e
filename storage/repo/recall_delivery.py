"""What a platform said about a recall message it was asked to send (WeCom mass-send tasks).

Written by the platform adapter, outside any handler: the task id when the task is made, the
customer's send status when it is known. A row whose status is final and that the recall job
has not applied yet is "unapplied"; the job records it on the contact and marks it applied.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import RecallDelivery

CREATED = "created"  # the task exists; the sender has not sent it yet


async def get_recall_delivery(
    *, session: AsyncSession, contact_id: int, platform: str
) -> RecallDelivery | None:
    result = await session.exec(
        select(RecallDelivery).where(
            RecallDelivery.contact_id == contact_id, RecallDelivery.platform == platform
        )
    )
    return result.first()


async def record_recall_delivery(
    *,
    session: AsyncSession,
    contact_id: int,
    platform: str,
    status: str,
    now: datetime,
    msgid: str | None = None,
    sender: str | None = None,
    send_time: datetime | None = None,
    error: str = "",
) -> RecallDelivery:
    """Insert or update the delivery of ``contact_id`` on ``platform``.

    A final status (anything but ``created``) makes the row unapplied again, so the recall
    job picks the news up. ``msgid``/``sender`` None keeps what is stored.
    """
    row = await get_recall_delivery(session=session, contact_id=contact_id, platform=platform)
    if row is None:
        row = RecallDelivery(contact_id=contact_id, platform=platform, created_at=now)
    row.status = status
    row.msgid = row.msgid if msgid is None else msgid
    row.sender = row.sender if sender is None else sender
    row.send_time = send_time or row.send_time
    row.error = error[:300]
    row.updated_at = now
    row.applied_at = None
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        # Another worker recorded it first; theirs stands.
        existing = await get_recall_delivery(
            session=session, contact_id=contact_id, platform=platform
        )
        assert existing is not None
        return existing
    return row


async def first_unapplied_delivery(*, session: AsyncSession) -> int | None:
    """Id of the oldest delivery with a final status the recall job has not applied."""
    result = await session.exec(
        select(RecallDelivery.id)
        .where(RecallDelivery.status != CREATED, col(RecallDelivery.applied_at).is_(None))
        .order_by(col(RecallDelivery.id))
        .limit(1)
    )
    return result.first()


async def take_unapplied_deliveries(
    *, session: AsyncSession, now: datetime, limit: int = 100
) -> list[RecallDelivery]:
    """Unapplied final deliveries, marked applied in the caller's transaction."""
    result = await session.exec(
        select(RecallDelivery)
        .where(RecallDelivery.status != CREATED, col(RecallDelivery.applied_at).is_(None))
        .order_by(col(RecallDelivery.id))
        .limit(limit)
    )
    rows = list(result.all())
    for row in rows:
        row.applied_at = now
        session.add(row)
    await session.flush()
    return rows
