"""Handling yields to acks: under a burst handlers wait, trickle, and catch up afterwards."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bot.core.events import Conversation, Event, EventKind, Platform
from bot.pipeline.intake import EventIntake


def message(n: int) -> Event:
    return Event(platform=Platform.WECOM, event_id=f"m{n}", kind=EventKind.MESSAGE,
                 actor_id="zhangjl", conversation=Conversation(id="zhangjl"), text="帮助")


class Recorder:
    """A dispatcher that stores at once (or when released) and notes when each event is fed."""

    def __init__(self) -> None:
        self.fed: dict[str, float] = {}
        self.held: dict[str, asyncio.Event] = {}

    async def accept(self, event: Event) -> bool:
        gate = self.held.get(event.event_id)
        if gate is not None:
            await gate.wait()
        await asyncio.sleep(0)
        return True

    async def feed(self, event: Event) -> Any:
        self.fed[event.event_id] = time.monotonic()


def intake_over(recorder: Recorder, **options: Any) -> EventIntake:
    return EventIntake(recorder, **options)  # type: ignore[arg-type]


async def stream(intake: EventIntake, first: int, count: int, gap: float) -> float:
    """``count`` events, one every ``gap`` seconds; returns when the last was acked."""
    for n in range(first, first + count):
        assert await intake.take(message(n))
        await asyncio.sleep(gap)
    return time.monotonic()


async def test_a_lone_event_is_handled_at_once() -> None:
    recorder = Recorder()
    intake = intake_over(recorder)
    started = time.monotonic()
    await intake.take(message(1))
    await intake.drain()
    assert recorder.fed["m1"] - started < 0.05
    assert not intake.busy()


async def test_handlers_wait_during_a_burst_and_all_catch_up_after_it() -> None:
    recorder = Recorder()
    intake = intake_over(recorder, busy_rate=50, trickle_seconds=60)
    ended = await stream(intake, 0, 80, 0.002)  # about 500 a second, for 0.16 s or more
    during = [n for n, at in recorder.fed.items() if at < ended]
    # Only the first few, before the rate estimate passed 50/s, started during the burst.
    assert len(during) <= 20
    assert intake.busy()
    await intake.drain()
    assert len(recorder.fed) == 80  # every one handled once the burst was over
    assert not intake.busy()


async def test_a_burst_that_does_not_end_still_hands_one_event_per_trickle() -> None:
    recorder = Recorder()
    intake = intake_over(recorder, busy_rate=50, trickle_seconds=0.05)
    task = asyncio.create_task(stream(intake, 0, 300, 0.002))
    await asyncio.sleep(0.15)  # well into the burst: handlers are waiting by now
    window_start = time.monotonic()
    before = len(recorder.fed)
    await asyncio.sleep(0.4)
    trickled = len(recorder.fed) - before
    window = time.monotonic() - window_start
    assert 2 <= trickled <= window / 0.05 + 2  # progress, one at a time, not a flood
    ended = await task
    await intake.drain()
    assert len(recorder.fed) == 300
    assert all(recorder.fed[f"m{n}"] <= ended for n in range(before))


async def test_handlers_wait_while_stores_queue_up() -> None:
    recorder = Recorder()
    intake = intake_over(recorder, busy_rate=10_000, trickle_seconds=60)
    recorder.held = {"m1": asyncio.Event(), "m2": asyncio.Event()}
    slow = [asyncio.create_task(intake.take(message(n))) for n in (1, 2)]
    await asyncio.sleep(0.01)
    assert intake.busy()  # two stores in flight at once
    assert await intake.take(message(3))  # stored: acked, but not handled yet
    await asyncio.sleep(0.1)
    assert recorder.fed == {}
    released = time.monotonic()
    for gate in recorder.held.values():
        gate.set()
    assert all(await asyncio.gather(*slow))
    await intake.drain()
    assert set(recorder.fed) == {"m1", "m2", "m3"}
    assert recorder.fed["m3"] >= released


async def test_the_ack_rate_decays_when_acks_stop() -> None:
    intake = intake_over(Recorder(), busy_rate=50)
    for n in range(40):
        await intake.take(message(n))
    assert intake.ack_rate() > 50
    await asyncio.sleep(0.5)  # two time constants
    assert intake.ack_rate() < 40 * 0.15 / 0.25
    await intake.drain()


async def test_a_full_backlog_warns_once_per_burst(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    intake = intake_over(recorder, max_waiting=10, busy_rate=50, trickle_seconds=0.02)
    caplog.set_level("DEBUG", logger="hrbot.dispatch")
    await stream(intake, 0, 150, 0.002)  # trickled handlers free a slot now and then
    await intake.drain()
    await intake.take(message(1000))  # after the burst: below the cap again
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("handling backlog full (10)")
    assert warnings[1].startswith("handling backlog drained;")
    left = int(warnings[1].split("; ")[1].split()[0])
    await intake.drain()
    assert left + len(recorder.fed) == 151  # each event either handled or left stored
