"""The nightly directory sync in the sandbox, as people see it: a hire on the fake platforms
can refer after the night, and a leaver is no longer known to the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests._support.sandbox import REFER, Demo, running_sandbox


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    async with running_sandbox(tmp_path) as running:
        yield running


async def next_morning(demo: Demo) -> None:
    """Move the clock to 10:00 of the next day: the night's sync (02:30) is behind us."""
    now = datetime.fromisoformat((await demo.api.get("clock")).json()["now"])
    target = (now + timedelta(days=1)).replace(hour=10, minute=0)
    response = await demo.api.post(
        "clock/advance", json={"seconds": (target - now).total_seconds()})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("platform", ["dingtalk", "wecom"])
async def test_a_hire_refers_after_the_nightly_sync_and_a_leaver_is_gone(
    demo: Demo, platform: str
) -> None:
    hired = await demo.api.post("contacts/hire", json={
        "name": "新同事", "org_path": "总部/华东/杭州店", "lead": "E030"})
    assert hired.status_code == 200, hired.text
    newcomer = hired.json()["hired"]["id"]
    left = await demo.api.post("contacts/leave", json={"person": "E021"})
    assert left.status_code == 200, left.text

    await demo.say(newcomer, platform, REFER)
    await demo.seen(newcomer, platform, "还不认识你")

    await next_morning(demo)

    await demo.say(newcomer, platform, REFER)
    await demo.seen(newcomer, platform, "推荐已提交", "张三")
    # 杭州店 is in 华东: 华东's HR reviews the newcomer's referral.
    await demo.card("E011", platform, lambda c: c["title"].startswith("推荐审核 · 张三"))
    await demo.say("E021", platform, "进度")
    await demo.seen("E021", platform, "还不认识你")


async def test_a_stopped_bot_leaves_no_platforms_to_the_nightly_job(tmp_path: Path) -> None:
    from handlers.admin.directory_sync import NIGHTLY

    async with running_sandbox(tmp_path):
        assert set(NIGHTLY.sources) == {"dingtalk", "wecom"}
    # Its HTTP client is closed: a later bot or test in this process must not use it.
    assert NIGHTLY.sources == {} and NIGHTLY.policy is None
