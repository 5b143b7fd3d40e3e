"""Send windows shared by every replica: sends counted per key in the database.

A platform's documented limits (WeCom: 30 messages a minute and 1,000 an hour to one member;
DingTalk: 20 calls a second per API) hold for the whole deployment, so counting in one
process is not enough: after a restart, or with two replicas, each would allow the full
figure. Every check first upserts the key's ``send_window`` row, which takes that row's lock
on PostgreSQL (and the write lock on SQLite) until commit, so two replicas checking one key
run one after the other and never both take the last slot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import SendStamp, SendWindow

Limits = Sequence[tuple[int, float]]


async def take_send_slot(
    *, session: AsyncSession, key: str, limits: Limits, now: datetime,
    clock: Callable[[], datetime] | None = None,
) -> float | None:
    """Count one send for ``key`` if every ``(count, seconds)`` limit allows it.

    Returns:
        None when the send is counted, else the seconds until the fullest window frees a slot.
        The caller commits; nothing is written when the send must wait, except the lock row.
    """
    horizon = max(seconds for _, seconds in limits)
    # Core statements run on the session's connection (same transaction), typed as Core.
    conn = await session.connection()
    dialect = conn.dialect.name
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(SendWindow)
    await conn.execute(
        upsert.values(key=key, touched_at=now).on_conflict_do_update(
            index_elements=["key"], set_={"touched_at": now}
        )
    )
    if clock is not None:
        # Read the time again once the key's lock is held: a replica that waited for the lock
        # must count its send when it really happens, not when it started asking.
        now = clock()
    await conn.execute(
        delete(SendStamp).where(
            col(SendStamp.key) == key, col(SendStamp.sent_at) <= now - timedelta(seconds=horizon)
        )
    )
    wait = 0.0
    for count, seconds in limits:
        since = now - timedelta(seconds=seconds)
        used = await conn.scalar(
            select(func.count()).where(col(SendStamp.key) == key, col(SendStamp.sent_at) > since)
        )
        if (used or 0) < count:
            continue
        # The window frees a slot when the count-th newest send in it leaves.
        oldest_needed = await conn.scalar(
            select(col(SendStamp.sent_at))
            .where(col(SendStamp.key) == key, col(SendStamp.sent_at) > since)
            .order_by(col(SendStamp.sent_at).desc())
            .offset(count - 1)
            .limit(1)
        )
        if oldest_needed is not None:
            wait = max(wait, (oldest_needed - since).total_seconds())
    if wait > 0:
        return wait
    await conn.execute(insert(SendStamp).values(key=key, sent_at=now))
    return None
