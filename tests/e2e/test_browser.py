"""The emulator page in headless Chromium (Debian's package, driven by Playwright), at a
desktop and a phone viewport: a manager refers a candidate by typing, HR taps 通过 on the
card, the card updates in place, the referrer sees the progress; the scenario demos play to
their end; the clock explains quiet hours; charts are drawn.

Screenshots go to a temporary folder; ``make screenshots`` sets ``HRBOT_SCREENSHOTS=docs`` to
refresh the README's images."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from tests._support.sandbox import REFER, Demo, running_sandbox

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 20_000
DEMO_TIMEOUT_MS = 120_000
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844},
             "narrow": {"width": 360, "height": 740}}

playwright_api = pytest.importorskip("playwright.async_api")

if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
    pytest.skip("Debian's chromium is not installed here", allow_module_level=True)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: a temporary folder unless HRBOT_SCREENSHOTS names one."""
    folder = Path(os.environ.get("HRBOT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    async with running_sandbox(tmp_path) as running:
        yield running


async def open_page(demo: Demo, viewport: str) -> AsyncIterator[object]:
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = await browser.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN",
                                            timezone_id="Asia/Shanghai",
                                            is_mobile=viewport == "phone")
        tab = await context.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        await tab.goto(demo.page)
        yield tab
        await browser.close()


@pytest.fixture(params=["desktop", "phone"])
async def page(request: pytest.FixtureRequest, demo: Demo) -> AsyncIterator[object]:
    async for tab in open_page(demo, request.param):
        tab.viewport_name = request.param  # type: ignore[attr-defined]
        yield tab


@pytest.fixture
async def desktop(demo: Demo) -> AsyncIterator[object]:
    async for tab in open_page(demo, "desktop"):
        yield tab


async def be(page: object, person: str) -> None:
    await page.select_option("#person-picker", person)  # type: ignore[attr-defined]


async def shot(page: object, folder: Path, name: str) -> None:
    viewport = getattr(page, "viewport_name", "desktop")
    suffix = "" if viewport == "desktop" else f"-{viewport}"
    await page.screenshot(path=str(folder / f"{name}{suffix}.png"))  # type: ignore[attr-defined]


async def fits_width(page: object) -> None:
    """Nothing wider than the screen: no clipped cards, no sideways scrolling."""
    overflow = await page.evaluate(  # type: ignore[attr-defined]
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0


async def test_refer_review_and_progress_in_the_browser(
    demo: Demo, page: object, shots: Path
) -> None:
    p = page  # Playwright's Page
    # The page opens as 张经理, as the README's walk-through says.
    assert await p.input_value("#person-picker") == "E020"  # type: ignore[attr-defined]
    await p.fill("#input", REFER)  # type: ignore[attr-defined]
    await p.press("#input", "Enter")  # type: ignore[attr-defined]
    submitted = p.locator(".card", has_text="推荐已提交")  # type: ignore[attr-defined]
    await submitted.first.wait_for()
    # What 张经理 typed is theirs (drawn on the right), the bot's answer is not.
    assert await p.locator(".msg.mine", has_text="推荐 店长 张三").count() == 1  # type: ignore[attr-defined]
    assert await p.locator(".msg.mine .card").count() == 0  # type: ignore[attr-defined]
    await fits_width(p)
    await shot(p, shots, "sandbox-referral")

    # 李HR has unread messages, and the picker says so.
    unread = p.locator("#person-picker option[value=E011]")  # type: ignore[attr-defined]
    assert "条新消息" in await unread.inner_text()
    await be(p, "E011")
    review = p.locator(".card", has_text="推荐审核 · 张三").first  # type: ignore[attr-defined]
    await review.wait_for()
    assert await review.locator(".card-btn").all_inner_texts() == [
        "通过", "需补充", "驳回", "转交/加签"]
    card_id = await review.get_attribute("data-card-id")
    await fits_width(p)
    await shot(p, shots, "sandbox-hr-review")
    await review.get_by_role("button", name="通过").click()
    # Updated in place: the same card now says who passed it, and its buttons are gone.
    same = p.locator(f'.card[data-card-id="{card_id}"]')  # type: ignore[attr-defined]
    await same.filter(has_text="HR审核通过").wait_for()
    assert await p.locator(f'.card[data-card-id="{card_id}"]').count() == 1  # type: ignore[attr-defined]
    assert await same.locator(".card-btn:enabled").count() == 0
    await shot(p, shots, "sandbox-card-updated")

    await be(p, "E020")
    progress = p.locator(".card", has_text="推荐进展 · 张三")  # type: ignore[attr-defined]
    await progress.filter(has_text="待领导审批").first.wait_for()
    await shot(p, shots, "sandbox-progress")
    # The browser's favicon request is answered and is not a platform call.
    calls = (await demo.api.get("calls", params={"path": "/favicon.ico"})).json()["calls"]
    assert calls == []


async def test_the_same_chat_as_wecom(demo: Demo, desktop: object, shots: Path) -> None:
    p = desktop
    await p.click('[data-platform="wecom"]')  # type: ignore[attr-defined]
    await p.fill("#input", REFER)  # type: ignore[attr-defined]
    await p.press("#input", "Enter")  # type: ignore[attr-defined]
    assert await p.evaluate("document.body.className") == "platform-wecom"  # type: ignore[attr-defined]
    await be(p, "E011")
    review = p.locator(".card-wecom", has_text="推荐审核 · 张三").first  # type: ignore[attr-defined]
    await review.wait_for()
    await shot(p, shots, "sandbox-wecom")
    await review.get_by_role("button", name="通过").click()
    await p.locator(".card-wecom", has_text="HR审核通过").first.wait_for()  # type: ignore[attr-defined]
    # On DingTalk 李HR has no chat yet: the page says where it is instead of an empty pane.
    await p.click('[data-platform="dingtalk"]')  # type: ignore[attr-defined]
    note = p.locator(".messages .empty", has_text="在企业微信上有")  # type: ignore[attr-defined]
    await note.wait_for()
    await note.get_by_role("button").click()
    await p.locator(".card-wecom", has_text="推荐审核 · 张三").first.wait_for()  # type: ignore[attr-defined]


async def play_demo(p: object, demo_id: str) -> None:
    await p.click("#demo-open")  # type: ignore[attr-defined]
    await p.click(f'[data-demo="{demo_id}"]')  # type: ignore[attr-defined]
    await p.wait_for_selector('#demo-panel[data-state="done"]',  # type: ignore[attr-defined]
                              timeout=DEMO_TIMEOUT_MS)


@pytest.mark.parametrize(("demo_id", "platform"), [
    ("r1", "dingtalk"), ("r2", "dingtalk"), ("r3", "dingtalk"), ("r1", "wecom")])
async def test_each_demo_plays_in_the_browser(
    demo: Demo, desktop: object, shots: Path, demo_id: str, platform: str
) -> None:
    p = desktop
    await p.click(f'[data-platform="{platform}"]')  # type: ignore[attr-defined]
    await play_demo(p, demo_id)
    assert await p.evaluate("document.body.className") == f"platform-{platform}"  # type: ignore[attr-defined]
    assert "演示结束" in await p.inner_text("#demo-narration")  # type: ignore[attr-defined]
    assert await p.inner_text("#demo-figure")  # type: ignore[attr-defined]
    seen = await p.inner_text("#messages")  # type: ignore[attr-defined]
    person = await p.input_value("#person-picker")  # type: ignore[attr-defined]
    if demo_id == "r1":
        assert person == "E020" and "领导审批通过" in seen
    elif demo_id == "r2":
        assert person == "E020" and "已入职" in seen
    else:
        assert person == "E011" and "已发送" in seen
        assert "时钟快进了" in await p.inner_text("#demo-narration")  # type: ignore[attr-defined]
    await shot(p, shots, f"sandbox-demo-{demo_id}" + ("" if platform == "dingtalk" else "-wecom"))


async def test_a_demo_on_a_phone_pauses_and_hands_over(demo: Demo, shots: Path) -> None:
    async for p in open_page(demo, "phone"):
        p.viewport_name = "phone"  # type: ignore[attr-defined]
        await p.click("#demo-open")  # type: ignore[attr-defined]
        await p.click('[data-demo="r1"]')  # type: ignore[attr-defined]
        await p.click("#demo-takeover")  # type: ignore[attr-defined]
        await p.wait_for_selector('#demo-panel[data-state="paused"]')  # type: ignore[attr-defined]
        assert await p.is_visible("#demo-hint")  # type: ignore[attr-defined]
        # The step under way finishes; then the demo waits and says what comes next.
        await p.locator("#demo-narration", has_text="下一步").wait_for()  # type: ignore[attr-defined]
        step = await p.inner_text("#demo-step")  # type: ignore[attr-defined]
        await p.wait_for_timeout(3000)  # type: ignore[attr-defined]
        # Paused means paused: no step was played meanwhile.
        assert await p.inner_text("#demo-step") == step  # type: ignore[attr-defined]
        await fits_width(p)
        await shot(p, shots, "sandbox-demo-r1")
        await p.click("#demo-play")  # type: ignore[attr-defined]
        await p.wait_for_selector('#demo-panel[data-state="done"]',  # type: ignore[attr-defined]
                                  timeout=DEMO_TIMEOUT_MS)
        await fits_width(p)


async def test_the_narrowest_phone_still_fits(demo: Demo) -> None:
    async for p in open_page(demo, "narrow"):
        await demo.say("E020", "dingtalk", REFER)
        await p.locator(".card", has_text="推荐已提交").first.wait_for()  # type: ignore[attr-defined]
        await p.click("#demo-open")  # type: ignore[attr-defined]
        await p.locator(".demo-choice").first.wait_for()  # type: ignore[attr-defined]
        await fits_width(p)
        # Labels keep their words together: no field label is broken one character a line.
        heights = await p.eval_on_selector_all(  # type: ignore[attr-defined]
            ".field .label", "els => els.map(e => e.getBoundingClientRect().height)")
        assert heights and max(heights) < 30


async def test_the_clock_says_when_messages_are_held(
    demo: Demo, page: object, shots: Path
) -> None:
    p = page
    # A late evening from Monday to Thursday: the bot holds its messages until the morning
    # and the page says so; the next morning is a working day, so nothing is held then.
    while True:
        response = await demo.api.post("clock/advance", json={"days": 0, "at": "23:00"})
        assert response.status_code == 200, response.text
        if datetime.fromisoformat(response.json()["now"]).weekday() < 4:
            break
    note = p.locator("#quiet-note")  # type: ignore[attr-defined]
    await note.filter(has_text="08:30").wait_for()
    assert "免打扰" in await p.inner_text("#quiet-rule")  # type: ignore[attr-defined]
    await p.fill("#input", REFER)  # type: ignore[attr-defined]
    await p.press("#input", "Enter")  # type: ignore[attr-defined]
    # The review deadline is coming: "即将发生" lists it with whom it is for.
    upcoming = p.locator("#upcoming .due", has_text="催办提醒")  # type: ignore[attr-defined]
    await upcoming.first.wait_for()
    assert "李HR" in await upcoming.first.inner_text()
    await shot(p, shots, "sandbox-clock")
    await p.click("text=到明天 09:00")  # type: ignore[attr-defined]
    await p.locator("#clock", has_text="09:00").wait_for()  # type: ignore[attr-defined]
    await note.wait_for(state="hidden")


async def test_the_stats_chart_is_drawn(demo: Demo, desktop: object, shots: Path) -> None:
    p = desktop
    await demo.say("E020", "dingtalk", REFER)
    await be(p, "E011")
    await p.locator(".card", has_text="推荐审核 · 张三").first.wait_for()  # type: ignore[attr-defined]
    await p.fill("#input", "统计")  # type: ignore[attr-defined]
    await p.press("#input", "Enter")  # type: ignore[attr-defined]
    image = p.locator(".bubble.image img").first  # type: ignore[attr-defined]
    await image.wait_for()
    await p.wait_for_function(  # type: ignore[attr-defined]
        "() => { const i = document.querySelector('.bubble.image img');"
        " return i && i.complete && i.naturalWidth > 100; }")
    await image.scroll_into_view_if_needed()
    await shot(p, shots, "sandbox-chart")


async def test_two_panes_show_the_referrer_and_hr_side_by_side(
    demo: Demo, desktop: object, shots: Path
) -> None:
    p = desktop
    await p.click("#split-toggle")  # type: ignore[attr-defined]
    assert await p.input_value("#second-picker") == "E011"  # type: ignore[attr-defined]
    await p.fill("#input", REFER)  # type: ignore[attr-defined]
    await p.press("#input", "Enter")  # type: ignore[attr-defined]
    review = p.locator("#messages-2 .card", has_text="推荐审核 · 张三").first  # type: ignore[attr-defined]
    await review.wait_for()
    # 李HR taps in the right pane; 张经理 sees the progress in the left one.
    await review.get_by_role("button", name="通过").click()
    await p.locator("#messages .card", has_text="待领导审批").first.wait_for()  # type: ignore[attr-defined]
    assert await p.locator("#messages .msg.flash").count() >= 1  # type: ignore[attr-defined]
    await fits_width(p)
    await shot(p, shots, "sandbox-two-pane")
