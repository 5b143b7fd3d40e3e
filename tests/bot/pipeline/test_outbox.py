"""The outbox worker: retries with backoff, gives up after a limit, and treats a wait we
impose on ourselves (a rate limit) as a wait, not a failure."""

from __future__ import annotations

from datetime import timedelta

from bot.cli.local_chat import LocalChat
from bot.core.events import Conversation, Event, EventKind, Platform
from bot.pipeline.messenger import OutboundMessage, TransientDeliveryError
from bot.pipeline.outbox import MAX_ATTEMPTS, OutboxWorker
from storage.db import SessionFactory
from storage.models import Outbox, OutboxStatus
from tests._support import db
from tests._support.clock import FakeClock


class Refusing:
    def __init__(self, retry_after: float | None) -> None:
        self.retry_after = retry_after
        self.calls = 0
        self.attempts_seen: list[int] = []

    async def deliver(self, message: OutboundMessage) -> None:
        self.calls += 1
        self.attempts_seen.append(message.attempts)
        raise TransientDeliveryError("later", retry_after=self.retry_after)


async def queue_one(chat: LocalChat) -> None:
    await chat.dispatcher.feed(Event(
        platform=Platform.SHELL, event_id="o-1", kind=EventKind.MESSAGE, actor_id="E020",
        conversation=Conversation(id="E020"), text="帮助",
    ))


async def test_throttled_sends_back_off_then_fail_for_good(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await queue_one(chat)
    messenger = Refusing(retry_after=None)
    worker = OutboxWorker(session_factory=demo, messenger=messenger, clock=clock)
    for _ in range(MAX_ATTEMPTS):
        await worker.drain()
        clock.advance(minutes=11)
    row = (await db.all_rows(demo, Outbox))[0]
    assert messenger.calls == MAX_ATTEMPTS
    assert row.status == OutboxStatus.FAILED and row.attempts == MAX_ATTEMPTS
    # Each try knows how many failed before it (DingTalk re-delivers a card on a retry).
    assert messenger.attempts_seen == list(range(MAX_ATTEMPTS))


async def test_a_self_imposed_wait_is_not_a_failed_attempt(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await queue_one(chat)
    messenger = Refusing(retry_after=30)
    worker = OutboxWorker(session_factory=demo, messenger=messenger, clock=clock)
    for _ in range(MAX_ATTEMPTS + 3):
        await worker.drain()
        clock.advance(seconds=31)
    row = (await db.all_rows(demo, Outbox))[0]
    assert messenger.calls == MAX_ATTEMPTS + 3
    assert row.status == OutboxStatus.PENDING and row.attempts == 0
    assert row.next_attempt_at == clock.now - timedelta(seconds=1)
