"""After a crash, events stored (acked) but never handled are taken as soon as the bot starts
again, not after the 60 s grace that protects events still in flight in a live process."""

from __future__ import annotations

import asyncio
import time

from bot.cli.local_chat import LocalChat
from storage.db import SessionFactory
from storage.models import Inbox
from tests._support import db
from tests._support.clock import FakeClock
from tests.bot.pipeline.test_inbox import refer


async def _handled(chat: LocalChat, factory: SessionFactory, limit: float) -> float | None:
    """Seconds until every stored event is handled and HR has the review card, or None."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        rows = await db.all_rows(factory, Inbox)
        reviews = [c for c in chat.inbox("E011") if c.title.startswith("推荐审核")]
        if all(r.processed_at is not None for r in rows) and reviews:
            return time.perf_counter() - started
        await asyncio.sleep(0.05)
    return None


async def test_orphaned_events_are_handled_within_seconds_of_the_restart(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    for n in range(3):
        assert await chat.dispatcher.accept(refer(f"crash-{n}"))  # acked; then kill -9
    clock.advance(seconds=1)  # the restart comes later than the crash, well within 60 s
    chat.runtime.start()
    try:
        took = await _handled(chat, demo, limit=5.0)
    finally:
        await chat.runtime.stop()
    assert took is not None and took < 5.0
    assert (await db.counts(demo))["referrals"] == 1  # the same referral three times: one
    assert "推荐审核 · 张三 · 店长" in [c.title for c in chat.inbox("E011")]


async def test_fresh_events_of_a_live_process_still_get_the_grace(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    chat.runtime.start()
    await asyncio.sleep(0.3)  # the first beat has run
    assert await chat.dispatcher.accept(refer("in-flight"))  # stored by a live process
    clock.advance(seconds=5)
    await chat.runtime.tick()
    await chat.runtime.stop()
    row, = await db.all_rows(demo, Inbox)
    assert row.processed_at is None  # left to the process handling it
