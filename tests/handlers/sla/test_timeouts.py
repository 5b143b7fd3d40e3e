"""Timeout policy per step (``[timeouts]``): remind only, escalate, reassign up the chain, or
approve a low-risk step as the system with a visible "系统超时自动通过"."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.cli.local_chat import LocalChat
from bot.config.schema import ConfigError, load_config
from bot.core.context import JobContext, Settings
from handlers.sla.timeouts import timeout_policy
from storage.db import SessionFactory
from tests._support import db
from tests._support.clock import FakeClock
from tests._support.referrals import (
    events_of,
    hhmm,
    only_card,
    person_ids,
    referral_at,
    referral_row,
    submit,
    task_card,
)


def chat_with(demo: SessionFactory, clock: FakeClock, **timeouts: str) -> LocalChat:
    return LocalChat(session_factory=demo, settings=Settings(timeouts=timeouts), clock=clock)


async def test_low_risk_step_is_approved_by_the_system_after_its_deadline(
    demo: SessionFactory, clock: FakeClock
) -> None:
    chat = chat_with(demo, clock, leader_approval="approve")
    ids = await person_ids(demo)
    rid = await referral_at(chat, demo, "leader_approval")
    old = await task_card(chat, demo, rid, "E010")
    clock.advance(hours=72)
    sent = await chat.tick()

    row = await referral_row(demo, rid)
    assert (row.state, row.assignee_id) == ("interviewing", ids["E011"])
    event = (await events_of(demo, rid))[-1]
    assert (event.action, event.actor_id, event.data["auto"]) == (
        "approval.approve", None, "timeout")
    notice = only_card(sent, "推荐进展 · 张三 · 店长")
    assert f"领导审批通过 · 系统超时自动通过 · {clock.now.strftime('%m')}" in notice.body
    told = only_card(sent, "已超时 · 系统超时自动通过")
    assert [m.target for m in sent if m.card is told] == ["E010"]
    assert [m.target for m in sent if m.card.title == "面试安排 · 张三 · 店长"] == ["E011"]
    assert not [m for m in sent if m.card.title.startswith("超时升级")]
    stale = only_card(await chat.tap("E010", old, "同意"), "已处理 · 张三")
    assert stale.body.startswith(f"已于 {hhmm(clock.now)}")
    assert "系统超时自动通过：领导审批通过" in stale.body


async def test_timeout_hands_the_task_to_the_next_one_up_with_a_fresh_deadline(
    demo: SessionFactory, clock: FakeClock
) -> None:
    chat = chat_with(demo, clock, hr_review="reassign")
    ids = await person_ids(demo)
    rid = await submit(chat)
    clock.advance(hours=24)
    sent = await chat.tick()
    row = await referral_row(demo, rid)
    assert (row.state, row.assignee_id) == ("hr_review", ids["E002"])  # 李HR's lead, also HR
    assert row.stage_due_at == clock.now + timedelta(hours=24)
    move = (await events_of(demo, rid))[-1]
    assert (move.action, move.actor_id, move.data["from_assignee_id"]) == (
        "task.timeout", None, ids["E011"])
    # Issue 16: 李HR's review card and reminder are closed with the same words.
    closed = [m for m in sent if m.kind == "card_update"]
    assert sorted(m.card.key.split("-", 1)[1] for m in closed) == [
        "review_task", "review_task-r100"]  # the 50 % one fell in the night: never sent
    assert all(m.target == "E011" and [b.label for b in m.card.buttons] == ["查看 #1"]
               for m in closed)
    sent = [m for m in sent if m.kind != "card_update"]
    told = only_card(sent, "已超时 · 系统已转交给 陈HR总监")
    assert [m.target for m in sent if m.card is told] == ["E011"]
    assert [m.target for m in sent if m.card.title == "推荐审核 · 张三 · 店长"] == ["E002"]
    assert not [m for m in sent if m.card.title.startswith("超时升级")]
    assert {d.payload["assignee_id"] for d in await db.pending_due(demo, rid)} == {ids["E002"]}


async def test_nobody_to_reassign_to_falls_back_to_escalation_skipping_leave(
    demo: SessionFactory, clock: FakeClock
) -> None:
    chat = chat_with(demo, clock, hr_review="reassign")
    ids = await person_ids(demo)
    await chat.say("E002", "休假 03-03 至 03-06")  # the only other HR who covers the store
    rid = await submit(chat)
    clock.advance(hours=24)
    sent = await chat.tick()
    assert (await referral_row(demo, rid)).assignee_id == ids["E011"]
    assert [(m.target, m.card.title) for m in sent if m.card.title.startswith("超时升级")] == [
        ("E001", "超时升级 · 张三 · 店长")]


async def test_remind_only_never_escalates(demo: SessionFactory, clock: FakeClock) -> None:
    chat = chat_with(demo, clock, hr_review="remind")
    rid = await submit(chat)
    clock.advance(hours=24)
    sent = await chat.tick()
    got = [(m.target, m.card.title) for m in sent]
    assert ("E011", "⏰ 催办 · 已超时 · 推荐审核 · 张三 · 店长") in got
    assert not [title for _, title in got if title.startswith("超时升级")]
    clock.advance(days=2)
    assert not [m for m in await chat.tick() if m.card.title.startswith("超时升级")]
    assert (await referral_row(demo, rid)).state == "hr_review"


async def test_only_low_risk_steps_may_be_auto_approved(
    demo: SessionFactory, clock: FakeClock
) -> None:
    with pytest.raises(ConfigError, match=r"timeouts\.feedback: approve is only allowed"):
        load_config(env={"HRBOT_TIMEOUTS_FEEDBACK": "approve"})
    config = load_config(env={"HRBOT_TIMEOUTS_HR_REVIEW": "approve"})
    assert config.timeouts.as_dict()["hr_review"] == "approve"
    # Settings built by hand skip config validation; the timeout still refuses to approve.
    settings = Settings(timeouts={"feedback": "approve", "needs_info": "approve"})
    async with demo() as session:
        job = JobContext(session=session, now=clock.now, settings=settings)
        assert timeout_policy(job, "feedback") == "escalate"
        assert timeout_policy(job, "needs_info") == "escalate"
        assert timeout_policy(job, "hr_review") == "escalate"  # not configured: the default
