"""End to end over loopback: the real bot (`hrbot serve --sandbox` assembly: Stream client,
encrypted WeCom callbacks, outbox, clock) against the sandbox's fake platforms, driven only
through the sandbox's JSON API, as a script or the web page would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests._support.sandbox import REFER, WAIT, Demo, running_sandbox


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    async with running_sandbox(tmp_path) as running:
        yield running


def titled(prefix: str) -> Callable[[dict[str, Any]], bool]:
    return lambda card: card["title"].startswith(prefix)


@pytest.mark.parametrize("platform", ["dingtalk", "wecom"])
async def test_a_full_referral_through_the_fake_platform(demo: Demo, platform: str) -> None:
    said = await demo.say("E020", platform, REFER)
    assert said["ok"]
    await demo.seen("E020", platform, "推荐已提交", "张三")

    review = await demo.card("E011", platform, titled("推荐审核 · 张三"))
    assert [b["label"] for b in review["buttons"]] == ["通过", "需补充", "驳回", "转交/加签"]
    await demo.tap("E011", platform, review, "通过")
    # The tapped card changes in place: same card, new state, no buttons left to tap.
    done = await demo.card(
        "E011", platform, lambda c: c["id"] == review["id"] and c["status"] != review["status"])
    assert not [b for b in done["buttons"] if b.get("enabled", True)]

    approval = await demo.card("E010", platform, titled("推荐审批 · 张三"))
    await demo.tap("E010", platform, approval, "同意")
    # The referrer sees the progress: the leader approved, interviews are next.
    await demo.seen("E020", platform, "推荐进展 · 张三", "领导审批通过 · 赵总", "面试中")


async def test_dingtalk_todos_open_and_close_with_the_step(demo: Demo) -> None:
    await demo.say("E020", "dingtalk", REFER)
    review = await demo.card("E011", "dingtalk", titled("推荐审核 · 张三"))
    async with asyncio.timeout(WAIT):
        while not (todos := (await demo.inbox("E011", "dingtalk"))["todos"]):
            await asyncio.sleep(0.05)
    assert todos[0]["subject"] == "推荐审核 · 张三 · 店长" and not todos[0]["done"]
    await demo.tap("E011", "dingtalk", review, "通过")
    async with asyncio.timeout(WAIT):
        while not (await demo.inbox("E011", "dingtalk"))["todos"][0]["done"]:
            await asyncio.sleep(0.05)


async def test_advancing_the_clock_brings_reminders(demo: Demo) -> None:
    await demo.say("E020", "dingtalk", REFER)
    await demo.card("E011", "dingtalk", titled("推荐审核 · 张三"))
    # Past the 24 h review deadline, on a weekday morning: quiet hours and weekends would hold
    # the reminder back (until 08:30 / Monday), which is right but not what this shows.
    now = datetime.fromisoformat((await demo.api.get("clock")).json()["now"])
    target = (now + timedelta(hours=25)).replace(hour=10, minute=0)
    while target < now + timedelta(hours=25) or target.weekday() >= 5:
        target += timedelta(days=1)
    response = await demo.api.post(
        "clock/advance", json={"seconds": (target - now).total_seconds()})
    assert response.status_code == 200, response.text
    reminder = await demo.card("E011", "dingtalk", titled("⏰ 催办"))
    assert "张三" in reminder["title"]


async def test_a_candidate_adding_the_referrer_on_wecom_is_linked_and_welcomed(
    demo: Demo,
) -> None:
    await demo.say("E020", "wecom", REFER)
    await demo.seen("E020", "wecom", "推荐已提交", "张三")
    # The referrer's 联系我 QR code for candidate 1 carries state "cand-1".
    response = await demo.api.post("contact_added", json={
        "employee": "E020", "name": "张三", "state": "cand-1"})
    assert response.status_code == 200, response.text
    external = response.json()["candidate"]["external_userid"]
    async with asyncio.timeout(WAIT):
        while True:
            answer = (await demo.api.get("candidate", params={"external_userid": external}))
            received = answer.json()["candidate"]["messages"]
            if received:
                break
            await asyncio.sleep(0.05)
    assert received[0]["text"].startswith("张三您好，我是张经理，感谢添加！")
    assert received[0]["from_userid"] == "zhangjl"


async def until_daytime(demo: Demo, days: float) -> None:
    """Advance the sandbox (and bot) clock by at least ``days`` to a weekday 10:00."""
    now = datetime.fromisoformat((await demo.api.get("clock")).json()["now"])
    target = (now + timedelta(days=days)).replace(hour=10, minute=0)
    while target < now + timedelta(days=days) or target.weekday() >= 5:
        target += timedelta(days=1)
    response = await demo.api.post(
        "clock/advance", json={"seconds": (target - now).total_seconds()})
    assert response.status_code == 200, response.text


async def no_show_on(demo: Demo, platform: str) -> None:
    """张三 referred, approved, offered, then recorded as a no-show for lack of mentoring."""
    await demo.say("E020", platform, REFER)
    steps = (("E011", "推荐审核 · 张三", "通过"), ("E010", "推荐审批 · 张三", "同意"),
             ("E011", "面试安排 · 张三", "发offer"), ("E011", "offer跟进 · 张三", "未到岗"))
    for who, title, label in steps:
        card = await demo.card(who, platform, lambda c, t=title, b=label: c["title"].startswith(t)
                               and any(x["label"] == b for x in c["buttons"]))
        await demo.tap(who, platform, card, label)
    choice = await demo.card("E011", platform, titled("未到岗原因 · 张三"))
    if not any(b["label"] == "团队氛围/缺少带教" for b in choice["buttons"]):
        await demo.tap("E011", platform, choice, "更多原因…")
        choice = await demo.card("E011", platform, lambda c: c["title"].startswith(
            "未到岗原因 · 张三") and any(b["label"] == "团队氛围/缺少带教" for b in c["buttons"]))
    await demo.tap("E011", platform, choice, "团队氛围/缺少带教")
    await until_daytime(demo, 0)  # the profile card waits out quiet hours like any card
    profile = await demo.card("E011", platform, titled("人才档案 · 张三"))
    await demo.tap("E011", platform, profile, "记录原话")
    await demo.seen("E011", platform, "记录候选人的原话 · 张三", "等待你的回复")
    await demo.say("E011", platform, "团队太年轻，没有有经验的带教")
    # Tap the card as it is after the note: an older version of it is stale by design.
    profile = await demo.card("E011", platform, lambda c: c["title"].startswith(
        "人才档案 · 张三") and "没有有经验的带教" in c["body"] + str(c["fields"]))
    await demo.tap("E011", platform, profile, "同意联系")
    await demo.card("E011", platform, lambda c: c["title"].startswith("人才档案 · 张三")
                    and "同意联系" not in [b["label"] for b in c["buttons"]])


@pytest.fixture
async def wecom_only(tmp_path: Path) -> AsyncIterator[Demo]:
    async with running_sandbox(tmp_path, platforms=("wecom",)) as running:
        yield running


async def test_a_recall_sent_on_wecom_reaches_the_candidate(wecom_only: Demo) -> None:
    demo = wecom_only
    await no_show_on(demo, "wecom")
    # The candidate added 李HR on WeCom through a QR code made for them.
    added = await demo.api.post("contact_added", json={
        "employee": "E011", "name": "张三", "state": "cand-1"})
    assert added.status_code == 200, added.text
    external = added.json()["candidate"]["external_userid"]

    await until_daytime(demo, 31)
    preview = await demo.card("E011", "wecom", titled("召回预览 · 张三"))
    await demo.tap("E011", "wecom", preview, "发送")
    # Nothing reaches the candidate until 李HR confirms the mass-send task in the client.
    async with asyncio.timeout(WAIT):
        while not (tasks := (await demo.inbox("E011", "wecom"))["tasks"]):
            await asyncio.sleep(0.05)
    # Day 30 is a greeting in 李HR's name, no job talk yet.
    assert tasks[0]["text"].startswith("张三你好，我是李HR") and tasks[0]["status"] == "pending"
    candidate = (await demo.api.get("candidate", params={"external_userid": external})).json()
    assert [m for m in candidate["candidate"]["messages"] if m["msgid"] == tasks[0]["msgid"]] == []
    confirmed = await demo.api.post("confirm", json={"person": "E011", "msgid": tasks[0]["msgid"]})
    assert confirmed.status_code == 200, confirmed.text
    candidate = (await demo.api.get("candidate", params={"external_userid": external})).json()
    [recall] = [m for m in candidate["candidate"]["messages"] if m["msgid"] == tasks[0]["msgid"]]
    assert recall["text"] == tasks[0]["text"] and recall["from_userid"] == "lihr"
    # The bot polls get_groupmsg_send_result and tells HR it was delivered.
    await until_daytime(demo, 1)
    await demo.seen("E011", "wecom", "召回 · 张三", "已送达")


async def test_a_recall_outside_wecom_is_copied_and_marked_sent(demo: Demo) -> None:
    await no_show_on(demo, "dingtalk")
    await until_daytime(demo, 31)
    preview = await demo.card("E011", "dingtalk", titled("召回预览 · 张三"))
    await demo.tap("E011", "dingtalk", preview, "发送")
    copy = await demo.card("E011", "dingtalk", titled("请复制并发送 · 张三"))
    assert copy["body"].startswith("张三你好，我是李HR")
    await demo.tap("E011", "dingtalk", copy, "已发送")
    await demo.seen("E011", "dingtalk", "召回 · 张三", "已发送")
