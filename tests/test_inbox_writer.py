"""Group commit of inbox writes: a burst is stored in few transactions, each event once."""

from __future__ import annotations

import asyncio

import pytest

from bot.events import Conversation, Event, EventKind, Platform
from bot.inbox_writer import InboxWriter
from storage.db import SessionFactory
from storage.models import Inbox
from tests._support import db
from tests._support.clock import FakeClock


def message(event_id: str) -> Event:
    return Event(platform=Platform.WECOM, event_id=event_id, kind=EventKind.MESSAGE,
                 actor_id="zhangjl", conversation=Conversation(id="zhangjl"), text="帮助")


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)
async def test_a_burst_is_stored_in_few_transactions_each_event_once(
    session_factory: SessionFactory, clock: FakeClock
) -> None:
    writer = InboxWriter(session_factory, clock)
    batches: list[int] = []
    original = writer._write

    async def counting(batch):  # type: ignore[no-untyped-def]
        batches.append(len(batch))
        return await original(batch)

    writer._write = counting  # type: ignore[method-assign]
    ids = [f"m{n % 40}" for n in range(60)]  # 20 of them are retries of earlier ones
    results = await asyncio.gather(*(writer.store(message(i)) for i in ids))
    assert sum(results) == 40  # each distinct event reported new exactly once
    assert {i for i, new in zip(ids, results, strict=True) if new} == {f"m{n}" for n in range(40)}
    assert len(batches) <= 3 and sum(batches) == 60
    assert len(await db.all_rows(session_factory, Inbox)) == 40
    assert await writer.store(message("m1")) is False  # a later retry


async def test_a_failed_write_fails_every_waiter_of_its_batch(
    session_factory: SessionFactory, clock: FakeClock
) -> None:
    writer = InboxWriter(session_factory, clock)

    async def broken(batch):  # type: ignore[no-untyped-def]
        raise ConnectionError("database unreachable")

    writer._write = broken  # type: ignore[method-assign]
    outcomes = await asyncio.gather(
        *(writer.store(message(f"x{n}")) for n in range(5)), return_exceptions=True
    )
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    assert await db.all_rows(session_factory, Inbox) == []
