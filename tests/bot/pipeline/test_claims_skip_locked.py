"""Two workers claiming at once never claim the same row (PostgreSQL, SKIP LOCKED).

The first claim is held open (its rows locked, not committed) while the second runs. With
``FOR UPDATE SKIP LOCKED`` the second takes other rows at once; without it, the second waits
on the first's locks and, once they are released, claims the very same rows from its stale
snapshot, which is what these tests catch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import SessionFactory
from storage.repo.due import claim_due_items, schedule_due_item
from storage.repo.outbox import claim_messages, enqueue_message

POSTGRES = pytest.mark.parametrize("db_kind", ["postgres"], indirect=True)
NOW = datetime(2026, 3, 3, 1, 30, tzinfo=UTC)
LEASE = timedelta(seconds=60)
Claim = Callable[[AsyncSession], Awaitable[list[int]]]


async def _outbox_claim(session: AsyncSession) -> list[int]:
    rows = await claim_messages(session=session, now=NOW, lease=LEASE, limit=5)
    return [r.id or 0 for r in rows]


async def _due_claim(session: AsyncSession) -> list[int]:
    return await claim_due_items(session=session, now=NOW, owner="w", lease=LEASE, limit=5)


async def _two_at_once(factory: SessionFactory, claim: Claim) -> tuple[list[int], list[int]]:
    async with factory() as first, factory() as second:
        held = await claim(first)  # locked, not committed

        async def other() -> list[int]:
            ids = await claim(second)
            await second.commit()
            return ids

        racing = asyncio.create_task(other())
        # With SKIP LOCKED the second is done long before this; without, it waits on locks.
        await asyncio.wait({racing}, timeout=1.0)
        await first.commit()
        return held, await asyncio.wait_for(racing, timeout=10)


@POSTGRES
async def test_outbox_claims_never_overlap(session_factory: SessionFactory) -> None:
    async with session_factory() as session:
        for n in range(10):
            await enqueue_message(session=session, idempotency_key=f"k{n}", platform="shell",
                                  target_kind="person", target="1", group=False, kind="card",
                                  payload={"card": {"title": "t"}}, now=NOW)
        await session.commit()
    held, other = await _two_at_once(session_factory, _outbox_claim)
    assert len(held) == 5 and len(other) == 5
    assert set(held) & set(other) == set()


@POSTGRES
async def test_due_claims_never_overlap(session_factory: SessionFactory) -> None:
    async with session_factory() as session:
        for n in range(10):
            await schedule_due_item(session=session, kind="sla.remind", subject=f"s{n}",
                                    due_at=NOW - timedelta(minutes=1), now=NOW)
        await session.commit()
    held, other = await _two_at_once(session_factory, _due_claim)
    assert len(held) == 5 and len(other) == 5
    assert set(held) & set(other) == set()
