"""The scenario demos (sandbox/demos/*.json) played to their end against the real bot, through
the same JSON API the page uses: each demo is an end-to-end test of its situation."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.demos import load_demos, message_text
from tests._support.sandbox import Demo, running_sandbox

DEMOS = load_demos()
CASES = [(d["id"], p) for d in DEMOS for p in d["platforms"]]


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    async with running_sandbox(tmp_path) as running:
        yield running


async def play(demo: Demo, demo_id: str, platform: str) -> list[dict[str, Any]]:
    started = await demo.api.post(f"demos/{demo_id}/start")
    assert started.status_code == 200, started.text
    body = started.json()
    results = []
    for index, _ in enumerate(body["demo"]["steps"]):
        response = await demo.api.post(f"demos/{demo_id}/steps/{index}", json={
            "platform": platform, "run": body["run"]}, timeout=30)
        assert response.status_code == 200, (index, response.text)
        results.append(response.json())
    return results


def texts(box: dict[str, Any]) -> str:
    return "\n".join(message_text(m) for m in box["messages"])


@pytest.mark.parametrize(("demo_id", "platform"), CASES)
async def test_each_demo_plays_to_its_end(demo: Demo, demo_id: str, platform: str) -> None:
    began = time.monotonic()
    results = await play(demo, demo_id, platform)
    assert all(r["platform"] == platform for r in results)
    # What each person sees at the end, read back independently of the player.
    referrer = texts(await demo.inbox("E020", platform))
    hr = texts(await demo.inbox("E011", platform))
    if demo_id == "r1":
        # The 需补充 card is closed in place once answered: it was seen when its step ran.
        assert "推荐还差一点" in referrer
        assert any("需要补充材料 · 张三" in str(r["seen"]) for r in results)
        assert "印象城" in hr and "面试中" in results[-1]["seen"]
    elif demo_id == "r2":
        manager = texts(await demo.inbox("E021", platform))
        # Cards change in place: the manager's feedback card now records the decision.
        assert "用人经理：录用 · 孙店长" in manager and "技术能力符合要求" in manager
        assert "候选人反馈 · 张三" in results[4]["seen"] and "已入职" in results[-1]["seen"]
    else:
        assert "没有有经验的带教" in results[8]["seen"]
        assert "团队氛围/缺少带教" in hr and "问候 · 第30天" in hr
        assert "已发送" in results[-1]["seen"]
        # The month between the no-show and the prompt passed on the sandbox clock.
        assert results[10]["sandbox_seconds"] >= 30 * 86400
    assert time.monotonic() - began < 60


async def test_a_step_already_done_by_hand_says_so(demo: Demo) -> None:
    # The visitor took over and tapped 通过 themselves: the demo's step cannot find the
    # button and says what to do instead of failing silently.
    body = (await demo.api.post("demos/r2/start")).json()
    await demo.api.post("demos/r2/steps/0", json={"platform": "dingtalk", "run": body["run"]})
    review = await demo.card("E011", "dingtalk", lambda c: c["title"].startswith("推荐审核"))
    await demo.tap("E011", "dingtalk", review, "通过")
    await demo.card("E011", "dingtalk", lambda c: c["id"] == review["id"]
                    and not any(b["enabled"] for b in c["buttons"]))
    response = await demo.api.post("demos/r2/steps/1", json={
        "platform": "dingtalk", "run": body["run"]}, timeout=30)
    assert response.status_code == 409 and "跳过" in response.json()["error"]


async def test_unknown_demos_and_steps_are_404(demo: Demo) -> None:
    assert (await demo.api.post("demos/r9/start")).status_code == 404
    response = await demo.api.post("demos/r1/steps/99", json={})
    assert response.status_code == 404 and "第 99 步" in response.json()["error"]
    listed = (await demo.api.get("demos")).json()["demos"]
    assert [d["id"] for d in listed][:3] == ["r1", "r2", "r3"]
