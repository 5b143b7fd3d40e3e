"""The durable inbox: every platform event once, from before its ack until it is handled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Inbox


async def record_event(
    *, session: AsyncSession, platform: str, event_id: str, payload: dict[str, Any], now: datetime
) -> bool:
    """Store an event; False if it was already there (a platform retry)."""
    try:
        async with session.begin_nested():
            session.add(
                Inbox(platform=platform, event_id=event_id, payload=payload, received_at=now)
            )
            await session.flush()
    except IntegrityError:
        return False
    return True


async def lock_event(*, session: AsyncSession, platform: str, event_id: str) -> Inbox | None:
    """The inbox row, locked for this transaction (PostgreSQL; SQLite locks the database)."""
    query = select(Inbox).where(Inbox.platform == platform, Inbox.event_id == event_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def list_unprocessed_events(
    *, session: AsyncSession, received_before: datetime, limit: int = 100
) -> list[Inbox]:
    result = await session.exec(
        select(Inbox)
        .where(col(Inbox.processed_at).is_(None), col(Inbox.received_at) < received_before)
        .order_by(col(Inbox.id))
        .limit(limit)
    )
    return list(result.all())


async def record_events(
    *, session: AsyncSession, events: list[tuple[str, str, dict[str, Any]]], now: datetime
) -> set[tuple[str, str]]:
    """Store many (platform, event_id, payload) at once; returns the keys that were new.

    One statement whatever the batch size: a key already stored (a retry) is skipped by the
    database, and only inserted rows come back.
    """
    if not events:
        return set()
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(Inbox)
        .values(
            [
                {
                    "platform": p,
                    "event_id": e,
                    "payload": payload,
                    "received_at": now,
                    "outcome": "",
                }
                for p, e, payload in events
            ]
        )
        .on_conflict_do_nothing(index_elements=["platform", "event_id"])
        .returning(Inbox.platform, Inbox.event_id)
    )
    result = await session.exec(statement)  # type: ignore[call-overload]
    return {(row[0], row[1]) for row in result.all()}
