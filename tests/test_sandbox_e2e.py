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
