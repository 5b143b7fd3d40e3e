"""Group commit of inbox writes: a burst is stored in few transactions, each event once."""

from __future__ import annotations

import asyncio
import gc
import json
from dataclasses import fields
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.core.events import (
    Attachment,
    CardAction,
    Conversation,
    ConversationKind,
    Event,
    EventKind,
    Platform,
)
from bot.pipeline.inbox_writer import InboxWriter, payload
from storage.db import SessionFactory, make_engine, make_session_factory, session_scope
from storage.models import Inbox
from storage.repo.inbox import record_event
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


def full_event() -> Event:
    """Every field set to something other than its default."""
    return Event(
        platform=Platform.DINGTALK, event_id="e-1", kind=EventKind.CARD_ACTION, actor_id="u1",
        conversation=Conversation(id="c1", kind=ConversationKind.GROUP), text="推荐 店长",
        mentions=("u2", "u3"),
        attachments=(Attachment("file", "简历.pdf", "code-1"), Attachment("image", "", "code-2")),
        action=CardAction("review.pass", {"rid": "7"}, card_key="r7v1-review"),
        reply_handle={"nested": {"list": [1, {"a": "b"}]}, "n": 3},
    )


def test_the_stored_payload_is_exactly_to_dict() -> None:
    event = full_event()
    assert payload(event) == event.to_dict()
    assert set(payload(event)) == {f.name for f in fields(Event)}
    assert Event.from_dict(json.loads(json.dumps(payload(event)))) == event
    bare = message("m1")
    assert payload(bare) == bare.to_dict()


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)
async def test_rows_written_by_the_writer_read_back_like_orm_rows(
    session_factory: SessionFactory, clock: FakeClock
) -> None:
    writer = InboxWriter(session_factory, clock)
    assert writer._engine is not None  # the driver-level path is the one under test
    assert await writer.store(full_event())
    async with session_scope(session_factory) as session:
        await record_event(session=session, platform="wecom", event_id="orm-1",
                           payload=full_event().to_dict(), now=clock())
    fast, orm = sorted(await db.all_rows(session_factory, Inbox), key=lambda r: r.event_id)
    assert (fast.platform, fast.event_id, fast.processed_at, fast.outcome) == (
        "dingtalk", "e-1", None, ""
    )
    assert fast.payload == orm.payload
    assert fast.received_at == orm.received_at == clock()
    async with session_factory() as session:
        stored = (await session.exec(text("SELECT received_at, payload FROM inbox"))).all()
    assert stored[0] == stored[1]  # the same text in the database, not just equal values


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)
async def test_every_store_is_answered_after_its_connection_is_back_in_the_pool(
    session_factory: SessionFactory, clock: FakeClock
) -> None:
    writer = InboxWriter(session_factory, clock)
    engine = writer._engine
    assert engine is not None
    for round_ in range(3):
        results = await asyncio.gather(
            *(writer.store(message(f"r{round_}-{n}")) for n in range(50))
        )
        assert all(results)
        # A clean shutdown disposes of the engine right after the last ack; a connection
        # still checked out then would be left open.
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_wave_arriving_over_a_few_loop_turns_is_one_transaction(
    session_factory: SessionFactory, clock: FakeClock
) -> None:
    writer = InboxWriter(session_factory, clock)
    batches: list[int] = []
    original = writer._write

    async def counting(batch):  # type: ignore[no-untyped-def]
        batches.append(len(batch))
        return await original(batch)

    writer._write = counting  # type: ignore[method-assign]

    async def after(turns: int, n: int) -> bool:
        for _ in range(turns):
            await asyncio.sleep(0)
        return await writer.store(message(f"w{n}"))

    assert all(await asyncio.gather(*(after(n % 3, n) for n in range(30))))
    assert batches == [30]


async def test_an_unreachable_database_fails_each_store_instead_of_hanging(
    tmp_path: Path, clock: FakeClock
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/inbox.db")
    writer = InboxWriter(make_session_factory(engine), clock)
    try:
        for _ in range(2):
            outcomes = await asyncio.wait_for(
                asyncio.gather(*(writer.store(message(f"x{n}")) for n in range(3)),
                               return_exceptions=True),
                timeout=10,
            )
            assert all(isinstance(o, OperationalError) for o in outcomes)
    finally:
        await engine.dispose()
        # aiosqlite finishes a failed connect on its own thread: let it hand its result back
        # while this test's loop is alive, not into the next test's.
        gc.collect()
        for _ in range(20):
            await asyncio.sleep(0.01)
