"""The durable clock with a fake time: reminders, quiet hours, escalation, digest, claims."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.cli.local_chat import LocalChat
from bot.pipeline.clock import DueRunner
from handlers.sla.quiet_hours import next_delivery_time
from handlers.sla.reminders import DUE_HANDLERS
from storage.db import SessionFactory, session_scope
from storage.models import DueItem
from storage.repo.due import claim_due_items
from storage.repo.outbox import list_messages
from tests._support import db
from tests._support.clock import FakeClock

REFER = "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(clock: FakeClock) -> datetime:
    return clock.now.astimezone(SHANGHAI)


async def test_review_before_deadline_cancels_its_reminders(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await chat.say("E020", REFER)
    pending = await db.pending_due(demo, 1)
    assert sorted((d.kind, d.due_at - clock.now) for d in pending) == [
        ("sla.escalate", timedelta(hours=24)),
        ("sla.remind", timedelta(hours=12)),
        ("sla.remind", timedelta(hours=24)),
    ]
    clock.advance(hours=10)
    await chat.tap("E011", chat.inbox("E011")[-1], "通过")
    pending = await db.pending_due(demo, 1)
    assert {d.payload["stage"] for d in pending} == {"leader_approval"}
    assert min(d.due_at for d in pending) == clock.now + timedelta(hours=36)
    clock.advance(hours=20)  # past the old 24 h review deadline
    assert [m.card.title for m in await chat.tick()] == []


async def test_reminder_in_quiet_hours_waits_for_morning_and_carries_the_buttons(
    chat: LocalChat, clock: FakeClock
) -> None:
    await chat.say("E020", REFER)  # Tuesday 09:30 in Shanghai
    clock.advance(hours=12)  # 21:30: the 50 % reminder is due, but it is night
    assert local(clock).time() == time(21, 30)
    assert await chat.tick() == []
    clock.now = datetime(2026, 3, 4, 0, 29, tzinfo=UTC)  # 08:29 local
    assert await chat.tick() == []
    clock.advance(minutes=1)  # 08:30 local
    sent = await chat.tick()
    assert [(m.target, m.card.title) for m in sent] == [
        ("E011", "⏰ 催办 · 推荐审核 · 张三 · 店长")
    ]
    reminder = sent[0].card
    assert [b.label for b in reminder.buttons] == ["通过", "需补充", "驳回", "转交/加签"]
    await chat.tap("E011", reminder, "通过")  # one tap from the reminder finishes the task
    assert chat.inbox("E010")[-1].title == "推荐审批 · 张三 · 店长"


async def test_deadline_reminds_then_escalates_to_the_lead(
    chat: LocalChat, clock: FakeClock
) -> None:
    await chat.say("E020", REFER)
    clock.advance(hours=12)
    await chat.tick()  # 21:30: the 50 % reminder waits for the morning
    clock.advance(hours=11)  # 08:30: it goes out
    await chat.tick()
    clock.advance(hours=1)  # Wednesday 09:30 local: the deadline
    sent = await chat.tick()
    got = sorted((m.target, m.card.title) for m in sent)
    assert ("E011", "⏰ 催办 · 已超时 · 推荐审核 · 张三 · 店长") in got
    assert ("E002", "超时升级 · 张三 · 店长") in got  # 李HR's lead is 陈HR总监
    reminders = [m for m in chat.inbox("E011") if m.title.startswith("⏰")]
    assert len(reminders) == 2  # the 50 % one, then this
    clock.advance(hours=1)
    assert await chat.tick() == []  # nothing fires twice


async def test_daily_digest_once_per_day_for_each_hr_with_open_items(
    chat: LocalChat, clock: FakeClock, demo: SessionFactory
) -> None:
    clock.now = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # Tuesday 07:00 local
    await chat.say("E020", REFER)
    await chat.say("E020", "推荐 导购 李四 13900139000 连续三个月门店销售业绩第一")
    assert [m.card.title for m in await chat.tick()] == []  # before 09:00
    clock.now = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)  # 09:00 local
    sent = await chat.tick()
    digests = [m for m in sent if m.card.title.startswith("今日待办")]
    assert [m.target for m in digests] == ["E011"]
    assert digests[0].card.status == "待审核 2 · 超时 0 · 面试中 0"
    assert await chat.tick() == []
    digest_items = [d for d in await db.all_rows(demo, DueItem) if d.kind == "digest.daily"]
    assert len(digest_items) == 1


async def test_two_replicas_sweeping_together_run_each_item_once(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # Tuesday 01:00 local
    for n in range(6):
        await chat.say("E020", f"推荐 店长 候选{n} 1380013800{n} 曾将社区商场月客流提升30%")
    clock.advance(hours=13)  # 14:00: the 50 % reminders go out at once, not in the night
    runners = [
        DueRunner(
            session_factory=demo,
            handlers=DUE_HANDLERS,
            settings=chat.settings,
            clock=clock,
            owner=name,
            batch=2,
        )
        for name in ("a", "b")
    ]
    done = await asyncio.gather(*(r.sweep() for r in runners))
    assert sum(done) == 6
    items = [d for d in await db.all_rows(demo, DueItem) if d.done_at is not None]
    assert len(items) == 6 and {d.claimed_by for d in items} <= {"a", "b"}
    async with demo() as session:
        queued = await list_messages(session=session)
    reminder_keys = [m.idempotency_key for m in queued if m.idempotency_key.startswith("due:")]
    assert len(reminder_keys) == len(set(reminder_keys)) == 6


async def test_a_claim_whose_replica_died_is_taken_over_after_the_lease(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await chat.say("E020", REFER)
    clock.advance(hours=12)
    async with session_scope(demo) as session:
        claimed = await claim_due_items(
            session=session, now=clock.now, owner="dead", lease=timedelta(seconds=60), limit=10
        )
    assert len(claimed) == 1
    survivor = DueRunner(
        session_factory=demo,
        handlers=DUE_HANDLERS,
        settings=chat.settings,
        clock=clock,
        owner="alive",
    )
    assert await survivor.sweep() == 0  # still leased by the dead replica
    clock.advance(seconds=61)
    assert await survivor.sweep() == 1
    item = next(d for d in await db.all_rows(demo, DueItem) if d.id == claimed[0])
    assert item.claimed_by == "alive" and item.attempts == 2 and item.done_at is not None


async def test_a_failing_job_is_retried_later_not_lost(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await chat.say("E020", REFER)
    clock.advance(hours=12)
    calls: list[int] = []

    async def flaky(job, item):  # type: ignore[no-untyped-def]
        calls.append(item.id)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")

    runner = DueRunner(
        session_factory=demo,
        handlers={"sla.remind": flaky},
        settings=chat.settings,
        clock=clock,
        owner="r",
    )
    assert await runner.sweep() == 0
    clock.advance(seconds=59)
    assert await runner.sweep() == 0  # backing off
    clock.advance(seconds=2)
    assert await runner.sweep() == 1
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("at_local", "expected_local"),
    [
        (datetime(2026, 3, 3, 14, 0), datetime(2026, 3, 3, 14, 0)),  # Tuesday afternoon
        (datetime(2026, 3, 3, 21, 30), datetime(2026, 3, 4, 8, 30)),  # Tuesday night
        (datetime(2026, 3, 4, 7, 0), datetime(2026, 3, 4, 8, 30)),  # Wednesday dawn
        (datetime(2026, 3, 6, 22, 0), datetime(2026, 3, 9, 8, 30)),  # Friday night
        (datetime(2026, 3, 7, 11, 0), datetime(2026, 3, 9, 8, 30)),  # Saturday
    ],
)
def test_quiet_hours_and_weekends_shift_delivery(
    at_local: datetime, expected_local: datetime
) -> None:
    at = at_local.replace(tzinfo=SHANGHAI).astimezone(UTC)
    shifted = next_delivery_time(
        at, tz=SHANGHAI, start=time(21, 0), end=time(8, 30), weekends=True
    )
    assert shifted == expected_local.replace(tzinfo=SHANGHAI)
    assert shifted.tzinfo is not None
