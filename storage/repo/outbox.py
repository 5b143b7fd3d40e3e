"""Outbox rows: written in the event's transaction, claimed and sent by the worker."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Outbox, OutboxStatus


async def enqueue_message(
    *,
    session: AsyncSession,
    idempotency_key: str,
    platform: str,
    target_kind: str,
    target: str,
    group: bool,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
) -> Outbox:
    row = Outbox(
        idempotency_key=idempotency_key,
        platform=platform,
        target_kind=target_kind,
        target=target,
        group=group,
        kind=kind,
        payload=payload,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def claim_messages(
    *, session: AsyncSession, now: datetime, lease: timedelta, limit: int = 50
) -> list[Outbox]:
    """Claim due rows; a claim that outlives its lease (a dead worker) can be taken again."""
    candidates = await session.exec(
        select(Outbox.id)
        .where(
            Outbox.status == OutboxStatus.PENDING,
            col(Outbox.next_attempt_at) <= now,
            or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) < now),
        )
        .order_by(col(Outbox.id))
        .limit(limit)
    )
    claimed: list[Outbox] = []
    for row_id in candidates.all():
        result = await session.exec(  # type: ignore[call-overload]
            update(Outbox)
            .where(
                col(Outbox.id) == row_id,
                col(Outbox.status) == OutboxStatus.PENDING,
                or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) < now),
            )
            .values(claimed_until=now + lease)
        )
        if result.rowcount == 1:
            row = await session.get(Outbox, row_id)
            if row is not None:
                claimed.append(row)
    return claimed


async def mark_message_sent(*, session: AsyncSession, row_id: int, now: datetime) -> None:
    await session.exec(  # type: ignore[call-overload]
        update(Outbox)
        .where(col(Outbox.id) == row_id)
        .values(status=OutboxStatus.SENT, sent_at=now, claimed_until=None, error="")
    )


async def mark_message_failed(
    *, session: AsyncSession, row_id: int, now: datetime, error: str, retry_in: timedelta | None
) -> None:
    """Record a failed attempt; ``retry_in`` None gives up for good."""
    row = await session.get(Outbox, row_id)
    if row is None:
        return
    row.attempts += 1
    row.error = error[:500]
    row.claimed_until = None
    if retry_in is None:
        row.status = OutboxStatus.FAILED
    else:
        row.next_attempt_at = now + retry_in
    session.add(row)


async def list_messages(
    *, session: AsyncSession, status: OutboxStatus | None = None
) -> list[Outbox]:
    query = select(Outbox).order_by(col(Outbox.id))
    if status is not None:
        query = query.where(Outbox.status == status)
    return list((await session.exec(query)).all())
