"""Outbox rows: written in the event's transaction, claimed and sent by the worker."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Outbox, OutboxStatus, SendLane
from storage.sql import execute


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
    lane: int = SendLane.NOTIFY,
    card_key: str = "",
) -> Outbox:
    row = Outbox(
        lane=lane,
        idempotency_key=idempotency_key,
        platform=platform,
        target_kind=target_kind,
        target=target,
        group=group,
        kind=kind,
        payload=payload,
        card_key=card_key,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def claim_messages(
    *, session: AsyncSession, now: datetime, lease: timedelta, limit: int = 50
) -> list[Outbox]:
    """Claim due rows in one statement; a claim that outlives its lease (a dead worker) can be
    taken again. PostgreSQL skips rows another replica is claiming instead of waiting.

    Order: lane first (an answer to a tap before a reminder, a reminder before bulk), then
    queue order; within the claimed batch recipients take turns.
    """
    due = (
        col(Outbox.status) == OutboxStatus.PENDING,
        col(Outbox.next_attempt_at) <= now,
        or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) < now),
    )
    # Lanes in the claim itself; inside a claimed batch recipients take turns (below). A
    # window function would give turns across the whole backlog, but PostgreSQL cannot
    # combine one with FOR UPDATE SKIP LOCKED, and replicas must never wait on each other.
    pick = (
        select(Outbox.id)
        .where(*due)
        .order_by(col(Outbox.lane), col(Outbox.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    result = await session.exec(
        update(Outbox)
        .where(col(Outbox.id).in_(pick.scalar_subquery()))
        .values(claimed_until=now + lease)
        .returning(col(Outbox.id))
        .execution_options(synchronize_session=False)
    )
    ids = sorted(row[0] for row in result.all())
    if not ids:
        return []
    rows = await session.exec(
        select(Outbox).where(col(Outbox.id).in_(ids)).order_by(col(Outbox.id))
    )
    return _in_send_order(list(rows.all()))


def _in_send_order(rows: list[Outbox]) -> list[Outbox]:
    """The claimed batch in the order it should go out: by lane, then by turn per recipient."""
    turns: dict[tuple[int, str], int] = {}
    keyed = []
    for row in rows:  # already by id, so each recipient's rows keep their own order
        turn = turns.get((row.lane, row.target), 0)
        turns[(row.lane, row.target)] = turn + 1
        keyed.append(((row.lane, turn, row.id or 0), row))
    return [row for _, row in sorted(keyed, key=lambda pair: pair[0])]


async def mark_message_sent(*, session: AsyncSession, row_id: int, now: datetime) -> None:
    await session.exec(
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


async def hold_message(
    *, session: AsyncSession, row_id: int, until: datetime, reason: str
) -> None:
    """Re-queue a message we held back ourselves; not a failed attempt."""
    await session.exec(
        update(Outbox)
        .where(col(Outbox.id) == row_id)
        .values(next_attempt_at=until, claimed_until=None, error=reason[:500])
        .execution_options(synchronize_session=False)
    )


async def list_messages(
    *, session: AsyncSession, status: OutboxStatus | None = None
) -> list[Outbox]:
    query = select(Outbox).order_by(col(Outbox.id))
    if status is not None:
        query = query.where(Outbox.status == status)
    return list((await session.exec(query)).all())


async def first_unreported_failure(*, session: AsyncSession) -> int | None:
    """Id of the oldest row that failed for good and HR has not been told of (None: none)."""
    result = await session.exec(
        select(Outbox.id)
        .where(Outbox.status == OutboxStatus.FAILED, col(Outbox.reported_at).is_(None))
        .order_by(col(Outbox.id))
        .limit(1)
    )
    return result.first()


async def take_unreported_failures(
    *, session: AsyncSession, now: datetime, limit: int = 50
) -> list[Outbox]:
    """Rows that failed for good and were not reported yet, marked reported (same transaction)."""
    result = await session.exec(
        select(Outbox)
        .where(Outbox.status == OutboxStatus.FAILED, col(Outbox.reported_at).is_(None))
        .order_by(col(Outbox.id))
        .limit(limit)
    )
    rows = list(result.all())
    for row in rows:
        row.reported_at = now
        session.add(row)
    await session.flush()
    return rows


async def list_card_deliveries(
    *, session: AsyncSession, key_prefix: str
) -> list[tuple[str, str, str, bool, str]]:
    """Where cards whose key starts with ``key_prefix`` were sent (not failed for good):
    distinct ``(platform, target kind, target, group, card key)``."""
    # A range instead of LIKE: the plain index serves it on SQLite and PostgreSQL alike.
    query = (
        sa_select(
            col(Outbox.platform), col(Outbox.target_kind), col(Outbox.target),
            col(Outbox.group), col(Outbox.card_key),
        )
        .where(
            col(Outbox.kind) == "card",
            col(Outbox.card_key) >= key_prefix,
            col(Outbox.card_key) < key_prefix + "\uffff",
            col(Outbox.status) != OutboxStatus.FAILED,
        )
        .distinct()
    )
    return [tuple(row) for row in (await execute(session, query)).all()]
