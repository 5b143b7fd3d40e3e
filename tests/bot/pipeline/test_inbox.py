"""The durable inbox: stored before the ack, handled once, recovered after a crash."""

from __future__ import annotations

import asyncio

from bot.cli.local_chat import LocalChat
from bot.core.events import Conversation, Event, EventKind, Platform
from bot.pipeline.intake import EventIntake
from storage.db import SessionFactory
from storage.models import Inbox
from tests._support import db
from tests._support.clock import FakeClock


def refer(event_id: str) -> Event:
    return Event(platform=Platform.SHELL, event_id=event_id, kind=EventKind.MESSAGE,
                 actor_id="E020", conversation=Conversation(id="E020"),
                 text="推荐 店长 张三 13800138000 曾将社区商场月客流提升30%")


async def test_accept_stores_once_and_feed_handles_once(
    chat: LocalChat, demo: SessionFactory
) -> None:
    event = refer("cb-1")
    assert await chat.dispatcher.accept(event) is True
    assert await chat.dispatcher.accept(event) is False  # the platform retried
    sent = await chat.feed(event)
    assert sent[0].card.title == "推荐已提交 · 张三"
    assert await chat.feed(event) == []
    rows = await db.all_rows(demo, Inbox)
    assert len(rows) == 1 and rows[0].processed_at is not None
    assert rows[0].outcome == "command:推荐"


async def test_an_acked_event_lost_in_a_crash_is_handled_by_the_next_beat(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    event = refer("cb-2")
    assert await chat.dispatcher.accept(event)  # acked; then the process died
    assert await chat.dispatcher.redeliver() == 0  # too fresh: maybe still in flight
    clock.advance(seconds=61)
    assert await chat.dispatcher.redeliver() == 1
    assert await chat.dispatcher.redeliver() == 0
    assert (await db.counts(demo))["referrals"] == 1
    await chat.worker.drain()
    assert chat.inbox("E011")[-1].title == "推荐审核 · 张三 · 店长"


def test_event_round_trips_through_its_stored_form() -> None:
    event = refer("cb-3")
    assert Event.from_dict(event.to_dict()) == event


async def test_a_burst_beyond_the_backlog_is_stored_and_handled_later(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    intake = EventIntake(chat.dispatcher, max_waiting=2)
    events = [
        Event(platform=Platform.SHELL, event_id=f"burst-{n}", kind=EventKind.MESSAGE,
              actor_id="E020", conversation=Conversation(id="E020"), text="帮助")
        for n in range(5)
    ]
    assert all(await asyncio.gather(*(intake.take(e) for e in events)))  # arriving at once
    assert len(intake._tasks) == 2
    await intake.drain()
    rows = await db.all_rows(demo, Inbox)
    assert len(rows) == 5 and sum(r.processed_at is not None for r in rows) == 2
    clock.advance(seconds=61)
    assert await chat.dispatcher.redeliver() == 3
