"""Stale and concurrent taps on actions that keep the referral's state (asking the hiring
manager, another interview round, co-signing): the state alone cannot tell an old card from a
new one, so only the version does. A repeated or racing tap changes nothing and says who acted.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.cli.local_chat import LocalChat
from bot.core.context import Settings
from storage.db import SessionFactory
from tests._support.clock import FakeClock
from tests._support.referrals import (
    act,
    events_of,
    referral_at,
    referral_row,
    share_messenger,
    snapshot,
    task_card,
)

BOTH = pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)


async def _moves(demo: SessionFactory, rid: int, action: str) -> int:
    return len([e for e in await events_of(demo, rid) if e.action == action])


async def test_repeated_same_state_taps_are_stale(chat: LocalChat, demo: SessionFactory) -> None:
    rid = await referral_at(chat, demo, "interviewing")
    interview = await task_card(chat, demo, rid, "E011")
    await chat.tap("E011", interview, "请用人经理反馈")  # interviewing → interviewing
    after = await snapshot(demo, rid)
    assert (await referral_row(demo, rid)).state == "interviewing"
    for who in ("E011", "E002"):  # a double tap, a colleague's late tap on the same old card
        sent = await chat.tap(who, interview, "请用人经理反馈")
        assert [m.card.title for m in sent] == ["已处理 · 张三"], who
        assert sent[0].card.body.startswith("已由 李HR 于 ")
    assert await snapshot(demo, rid) == after
    assert await _moves(demo, rid, "feedback.request") == 1

    feedback = await task_card(chat, demo, rid, "E021")
    await act(chat, demo, rid, "E021", "再面一轮", "沟通能力还需要再看一轮")  # keeps the state
    after = await snapshot(demo, rid)
    sent = await chat.tap("E021", feedback, "再面一轮")
    assert [m.card.title for m in sent] == ["已处理 · 张三"]
    assert await snapshot(demo, rid) == after
    assert await _moves(demo, rid, "feedback.another") == 1


@BOTH
async def test_concurrent_same_state_taps_one_wins(demo: SessionFactory, clock: FakeClock) -> None:
    one, two = (LocalChat(session_factory=demo, settings=Settings(), clock=clock)
                for _ in range(2))
    share_messenger(one, two)
    rid = await referral_at(one, demo, "interviewing")
    card = await task_card(one, demo, rid, "E011")
    version = (await referral_row(demo, rid)).version
    await asyncio.gather(one.tap("E011", card, "请用人经理反馈"),
                         two.tap("E002", card, "请用人经理反馈"))
    row = await referral_row(demo, rid)
    assert (row.state, row.version) == ("interviewing", version + 1)
    assert await _moves(demo, rid, "feedback.request") == 1
    asked = [m for m in one.messenger.sent if m.target == "E021"
             and m.card.title.startswith("候选人反馈")]
    assert len(asked) == 1, [m.card.title for m in one.messenger.sent if m.target == "E021"]


async def test_cosigned_approval_cannot_be_tapped_twice(
    chat: LocalChat, demo: SessionFactory
) -> None:
    rid = await referral_at(chat, demo, "leader_approval")
    await chat.say("E010", f"加签 {rid} 王总")
    card = await task_card(chat, demo, rid, "E010")
    await chat.tap("E010", card, "同意")  # leader_approval → leader_approval, now 王总's
    after = await snapshot(demo, rid)
    sent = await chat.tap("E010", card, "同意")  # the old card again: must not skip 王总
    assert [m.card.title for m in sent] == ["已处理 · 张三"]
    assert await snapshot(demo, rid) == after
    row = await referral_row(demo, rid)
    assert row.state == "leader_approval"
    assert await _moves(demo, rid, "approval.approve") == 1
