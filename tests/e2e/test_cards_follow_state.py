"""Issue 16: cards never lie. A task finished elsewhere (from a reminder card, by a typed
command, by a timeout) leaves no card of it with live buttons, old ones included, and the
referrer's 推荐已提交 card follows the referral. Played in the sandbox on each platform,
reading every card each person holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests._support.sandbox import REFER, WAIT, Demo, running_sandbox
from tests.e2e.test_sandbox_e2e import no_show_on


@pytest.fixture(params=["dingtalk", "wecom"])
def platform(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def demo(tmp_path: Path, platform: str) -> AsyncIterator[Demo]:
    # Clock-driven cards go to a person's first configured platform: one platform per run.
    async with running_sandbox(tmp_path, platforms=(platform,)) as running:
        yield running


def shown(card: dict[str, Any]) -> str:
    """Status line and body as the client shows them (renderers may fold one into the other)."""
    return f"{card['status']}\n{card['body']}"


def live(card: dict[str, Any]) -> list[str]:
    return [b["label"] for b in card["buttons"] if b.get("enabled", True)]


async def task_cards(demo: Demo, person: str, platform: str, name: str) -> list[dict[str, Any]]:
    """Every card of ``person`` about candidate ``name`` that carried task buttons once."""
    return [c for c in await demo.cards(person, platform)
            if name in c["title"] and not c["title"].startswith("推荐已提交")]


async def until_closed(demo: Demo, person: str, platform: str, name: str) -> list[dict]:
    """Wait until no card of ``person`` about ``name`` offers a task button; return them."""
    async with asyncio.timeout(WAIT):
        while True:
            cards = await task_cards(demo, person, platform, name)
            # Buttons that only show progress are fine on a closed card.
            if cards and not [c for c in cards
                              if [b for b in live(c) if not b.startswith("查看")]]:
                return cards
            await asyncio.sleep(0.05)


async def advance(demo: Demo, **delta: float) -> None:
    response = await demo.api.post("clock/advance", json=delta)
    assert response.status_code == 200, response.text


async def weekday_morning(demo: Demo) -> None:
    """To the next weekday 09:30, so reminders are not held back by quiet time."""
    now = datetime.fromisoformat((await demo.api.get("clock")).json()["now"])
    target = (now + timedelta(days=1)).replace(hour=9, minute=30)
    while target.weekday() >= 5:
        target += timedelta(days=1)
    await advance(demo, seconds=(target - now).total_seconds())


async def test_a_task_done_from_the_reminder_closes_the_original_card_too(
    demo: Demo, platform: str
) -> None:
    await weekday_morning(demo)
    await demo.say("E020", platform, REFER)
    original = await demo.card(
        "E011", platform, lambda c: c["title"].startswith("推荐审核 · 张三"))
    await advance(demo, hours=12)  # 21:30: the 50 % reminder waits for the morning
    await advance(demo, hours=11, minutes=1)  # 08:31: it arrives with the task's buttons
    reminder = await demo.card("E011", platform, lambda c: c["title"].startswith("⏰"))
    assert "通过" in live(reminder)
    await demo.tap("E011", platform, reminder, "通过")

    cards = await until_closed(demo, "E011", platform, "张三")
    # The original card, not tapped, now says what happened and who did it.
    # (WeCom: the response code WeCom returned with the card updates it in place.)
    first = next(c for c in cards if c["id"] == original["id"])
    assert "HR审核通过 · 李HR" in shown(first) and live(first) == []
    # The referrer's own card moved on from 待HR审核.
    submitted = await demo.card("E020", platform, lambda c: c["title"] == "推荐已提交 · 张三"
                                and "待HR审核" not in shown(c))
    assert "待领导审批 · 赵总" in shown(submitted)


async def test_a_typed_command_closes_the_task_card(demo: Demo, platform: str) -> None:
    await demo.say("E020", platform, REFER)
    await demo.card("E011", platform, lambda c: c["title"].startswith("推荐审核 · 张三"))
    await demo.say("E011", platform, "驳回 1 零售经验不足")
    cards = await until_closed(demo, "E011", platform, "张三")
    assert any("HR驳回 · 李HR" in shown(c) for c in cards)
    submitted = await demo.card("E020", platform, lambda c: c["title"] == "推荐已提交 · 张三"
                                and "待HR审核" not in shown(c))
    assert "未通过" in shown(submitted) and submitted["footer"].startswith("进展会另行通知")


async def test_a_typed_answer_is_acknowledged_in_view_and_the_prompt_closes(
    demo: Demo, platform: str
) -> None:
    await demo.say("E020", platform, REFER)
    review = await demo.card("E011", platform, lambda c: c["title"].startswith("推荐审核 · 张三"))
    await demo.tap("E011", platform, review, "需补充")
    await demo.seen("E011", platform, "要求补充材料 · 张三", "等待你的回复")
    await demo.say("E011", platform, "近三年业绩；离职原因（如有）")
    # Below what HR typed: what was saved, as typed, and where the referral is now.
    async with asyncio.timeout(WAIT):
        while True:
            messages = (await demo.inbox("E011", platform))["messages"]
            typed = max(i for i, m in enumerate(messages) if not m["from_bot"])
            # A card without buttons reaches WeCom as a markdown message.
            after = [shown(m["card"]) if m["card"] else m["text"]
                     for m in messages[typed + 1:] if m["from_bot"]]
            if after:
                break
            await asyncio.sleep(0.05)
    assert "要求补充材料 · 李HR" in after[0] and "近三年业绩；离职原因（如有）" in after[0]
    # No card of the task still waits: the review card and (DingTalk) the prompt are closed.
    await until_closed(demo, "E011", platform, "张三")
    if platform == "dingtalk":
        assert not [c for c in await demo.cards("E011", platform) if "等待你的回复" in shown(c)]
    # The referrer is asked for exactly those items, as typed.
    await demo.seen("E020", platform, "近三年业绩", "离职原因（如有）")


async def test_a_note_typed_for_a_profile_is_acknowledged(demo: Demo, platform: str) -> None:
    await no_show_on(demo, platform)  # ends with HR typing the candidate's own words
    ack = await demo.seen(
        "E011", platform, "已记录", "已记入 张三 的人才档案", "团队太年轻，没有有经验的带教")
    assert "等待你的回复" not in ack
    if platform == "dingtalk":  # the prompt itself, updated in place, stopped waiting
        assert not [c for c in await demo.cards("E011", platform) if "等待你的回复" in shown(c)]


async def test_a_reassigned_task_leaves_the_first_holder_no_live_card(
    demo: Demo, platform: str
) -> None:
    await demo.say("E020", platform, REFER)
    original = await demo.card(
        "E011", platform, lambda c: c["title"].startswith("推荐审核 · 张三"))
    await demo.say("E011", platform, "转交 1 陈HR总监")
    moved = await demo.card("E011", platform, lambda c: c["id"] == original["id"]
                            and c["title"].startswith("待办已转交 · 陈HR总监"))
    assert live(moved) == ["查看 #1"]
    # The new holder finishes it; the first holder's card still tells the truth.
    task = await demo.card("E002", platform, lambda c: c["title"].startswith("推荐审核 · 张三"))
    await demo.tap("E002", platform, task, "通过")
    await until_closed(demo, "E002", platform, "张三")
    assert [live(c) for c in await demo.cards("E011", platform)
            if c["id"] == original["id"]] == [["查看 #1"]]


async def test_a_profile_card_held_over_the_weekend_counts_days_when_read(
    demo: Demo, platform: str
) -> None:
    now = datetime.fromisoformat((await demo.api.get("clock")).json()["now"])
    friday = (now + timedelta(days=(4 - now.weekday()) % 7 or 7)).replace(hour=22, minute=0)
    await advance(demo, seconds=(friday - now).total_seconds())
    await demo.say("E020", platform, REFER)
    steps = (("E011", "推荐审核 · 张三", "通过"), ("E010", "推荐审批 · 张三", "同意"),
             ("E011", "面试安排 · 张三", "发offer"), ("E011", "offer跟进 · 张三", "未到岗"))
    for who, title, label in steps:
        card = await demo.card(who, platform, lambda c, t=title, b=label: c["title"].startswith(t)
                               and b in live(c))
        await demo.tap(who, platform, card, label)
    choice = await demo.card("E011", platform, lambda c: c["title"].startswith("未到岗原因"))
    await demo.tap("E011", platform, choice, live(choice)[0])
    await asyncio.sleep(1.0)  # the profile is made on the next clock beat, Friday night
    await advance(demo, days=2, hours=10, minutes=40)  # Monday 08:40
    profile = await demo.card("E011", platform, lambda c: c["title"].startswith("人才档案 · 张三"))
    source = next(f["value"] for f in profile["fields"] if f["label"] == "来源")
    assert source.endswith("（2 天前）")  # not "（0 天前）" as when the card was made
