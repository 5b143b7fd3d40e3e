"""To-dos (待办) follow the steps that wait on someone: HR review and leader approval open one
in the assignee's to-do list, and the step being done completes it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlmodel import select

from bot.cli.local_chat import LocalChat
from bot.core.context import Settings
from bot.pipeline.messenger import OutboundMessage
from storage.db import SessionFactory
from storage.models import Person
from tests._support.clock import FakeClock
from tests._support.referrals import act, submit


@pytest.fixture
def todo_chat(demo: SessionFactory, clock: FakeClock) -> LocalChat:
    return LocalChat(
        session_factory=demo, settings=Settings(task_platforms=("dingtalk",)), clock=clock
    )


def tasks(chat: LocalChat) -> list[OutboundMessage]:
    return [m for m in chat.messenger.sent if m.kind.startswith("task_")]


def summary(messages: list[OutboundMessage]) -> list[tuple[str, str, str]]:
    return [(m.kind, m.target, m.card.key or "") for m in messages]


async def test_review_then_approval_open_and_close_todos(
    todo_chat: LocalChat, demo: SessionFactory
) -> None:
    rid = await submit(todo_chat)
    opened = tasks(todo_chat)
    assert [(k, t) for k, t, _ in summary(opened)] == [("task_open", "un_li")]
    review = opened[0]
    assert review.platform == "dingtalk" and review.target_kind == "task_owner"
    assert review.card.title == "推荐审核 · 张三 · 店长"
    assert f"编号 #{rid}" in review.card.body and "截止" not in review.card.title
    assert "13800138000" not in review.card.body  # no phone numbers in a to-do list

    await act(todo_chat, demo, rid, "E011", "通过")
    after_pass = summary(tasks(todo_chat))[1:]
    assert after_pass[0] == ("task_done", "un_li", review.card.key)
    assert after_pass[1][:2] == ("task_open", "un_zhao")
    approval_key = after_pass[1][2]
    assert approval_key != review.card.key

    await act(todo_chat, demo, rid, "E010", "同意")
    assert summary(tasks(todo_chat))[3:] == [("task_done", "un_zhao", approval_key)]


async def test_a_second_review_round_is_a_new_todo(
    todo_chat: LocalChat, demo: SessionFactory
) -> None:
    rid = await submit(todo_chat)
    await act(todo_chat, demo, rid, "E011", "需补充", "近三年业绩")
    first = summary(tasks(todo_chat))
    assert [k for k, _, _ in first] == ["task_open", "task_done"]
    assert first[0][2] == first[1][2]
    await todo_chat.say("E020", f"补充 {rid} 2023年门店销售额增长40%")
    reopened = summary(tasks(todo_chat))[2:]
    assert [(k, t) for k, t, _ in reopened] == [("task_open", "un_li")]
    assert reopened[0][2] != first[0][2]


async def test_withdrawing_completes_the_open_todo(
    todo_chat: LocalChat, demo: SessionFactory
) -> None:
    rid = await submit(todo_chat)
    await todo_chat.say("E020", f"撤回 {rid} 候选人已接受其他offer")
    assert [k for k, _, _ in summary(tasks(todo_chat))] == ["task_open", "task_done"]


async def test_no_todos_without_a_todo_platform(chat: LocalChat) -> None:
    await submit(chat)
    assert tasks(chat) == []


async def test_no_todo_for_someone_without_a_union_id(
    todo_chat: LocalChat, demo: SessionFactory
) -> None:
    async with demo() as session:
        person = (await session.exec(select(Person).where(Person.employee_no == "E011"))).one()
        person.dingtalk_union_id = None
        session.add(person)
        await session.commit()
    await submit(todo_chat)
    assert tasks(todo_chat) == []
    # The task card itself still reaches HR.
    assert any(c.title.startswith("推荐审核") for c in todo_chat.inbox("E011"))


def test_settings_name_no_todo_platform_by_default() -> None:
    assert Settings().task_platforms == ()
    assert replace(Settings(), task_platforms=("dingtalk",)).task_platforms == ("dingtalk",)
