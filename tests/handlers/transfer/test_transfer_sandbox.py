"""A transfer played in the sandbox on each platform, as the people involved would: the real bot
(Stream client, encrypted WeCom callbacks, outbox, clock) driven only through the sandbox's JSON
API. Apply, three approvals by card, the effective day, and a rejection with its reason."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests._support.sandbox import WAIT, Demo, running_sandbox

PLATFORMS = pytest.mark.parametrize("platform", ["dingtalk", "wecom"])


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    async with running_sandbox(tmp_path) as running:
        yield running


def titled(prefix: str) -> Callable[[dict[str, Any]], bool]:
    return lambda card: card["title"].startswith(prefix) and bool(card["buttons"])


async def sandbox_now(demo: Demo) -> datetime:
    return datetime.fromisoformat((await demo.api.get("clock")).json()["now"])


def working_day_after(now: datetime, days: int) -> date:
    day = (now + timedelta(days=days)).date()
    # Weekends and the New Year holiday are not working days in the shipped calendar.
    while day.weekday() >= 5 or (day.month, day.day) in {(1, 1), (1, 2), (1, 3)}:
        day += timedelta(days=1)
    return day


async def approve(demo: Demo, platform: str, who: str, label: str) -> None:
    card = await demo.card(who, platform, titled("调岗申请 · 调岗 · 张经理"))
    await demo.tap(who, platform, card, label)
    # The tapped card changes in place: no live buttons are left on it.
    done = await demo.card(who, platform, lambda c: c["id"] == card["id"]
                           and c["status"] != card["status"])
    assert not [b for b in done["buttons"] if b.get("enabled", True)]


@PLATFORMS
async def test_a_transfer_from_application_to_the_new_store(demo: Demo, platform: str) -> None:
    effective = working_day_after(await sandbox_now(demo), 8)
    said = await demo.say("E020", platform, f"@hrbot 调岗 我 杭州店 {effective} 支援杭州新店开业")
    assert said["ok"]
    await demo.seen("E020", platform, "调岗申请已提交", "已到部门审核（赵总）")

    await approve(demo, platform, "E010", "审核通过")
    await demo.seen("E020", platform, "部门审核通过", "现在到人事审批（李HR）")
    await approve(demo, platform, "E011", "审批通过")
    await approve(demo, platform, "E001", "签字同意")
    await demo.seen("E030", platform, "领导签字同意", "张经理")

    now = await sandbox_now(demo)
    target = datetime.combine(effective, now.timetz()).replace(hour=10, minute=0)
    response = await demo.api.post(
        "clock/advance", json={"seconds": (target - now).total_seconds()})
    assert response.status_code == 200, response.text
    # The clock speaks first on the deployment's first platform (DingTalk here): a job has
    # no conversation whose platform it could answer on.
    await demo.seen("E030", "dingtalk", "新同事到岗 · 张经理 · 杭州店")
    await demo.seen("E020", "dingtalk", "调岗生效")


@PLATFORMS
async def test_a_rejection_asks_for_the_reason_and_the_applicant_sees_it(
    demo: Demo, platform: str
) -> None:
    effective = working_day_after(await sandbox_now(demo), 8)
    await demo.say("E020", platform, f"@hrbot 调岗 我 杭州店 {effective} 支援杭州新店开业")
    card = await demo.card("E010", platform, titled("调岗申请 · 调岗 · 张经理"))

    await demo.tap("E010", platform, card, "驳回")
    await demo.seen("E010", platform, "请直接回复原因")
    await demo.say("E010", platform, "门店人手不足，暂缓")

    await demo.seen("E020", platform, "驳回 · 赵总", "原因：门店人手不足，暂缓")


async def test_dingtalk_todo_opens_and_closes_with_each_step(demo: Demo) -> None:
    effective = working_day_after(await sandbox_now(demo), 8)
    await demo.say("E020", "dingtalk", f"@hrbot 调岗 我 杭州店 {effective} 支援杭州新店开业")
    card = await demo.card("E010", "dingtalk", titled("调岗申请 · 调岗 · 张经理"))
    async with asyncio.timeout(WAIT):
        while not (todos := (await demo.inbox("E010", "dingtalk"))["todos"]):
            await asyncio.sleep(0.05)
    assert todos[0]["subject"] == "部门审核 · 调岗 · 张经理 · 上海一店 → 杭州店"
    assert not todos[0]["done"]

    await demo.tap("E010", "dingtalk", card, "审核通过")

    async with asyncio.timeout(WAIT):
        while not (await demo.inbox("E010", "dingtalk"))["todos"][0]["done"]:
            await asyncio.sleep(0.05)
    async with asyncio.timeout(WAIT):
        while not (await demo.inbox("E011", "dingtalk"))["todos"]:
            await asyncio.sleep(0.05)
