"""The emulator page in headless Chromium (Debian's package, driven by Playwright): a manager
refers a candidate by typing, HR taps 通过 on the card, the card updates in place, and the
referrer sees the progress. Screenshots of the main screens are written to docs/."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests._support.paths import ROOT
from tests._support.sandbox import REFER, Demo, running_sandbox

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
DOCS = ROOT / "docs"
TIMEOUT_MS = 15_000

playwright_api = pytest.importorskip("playwright.async_api")

if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
    pytest.skip("Debian's chromium is not installed here", allow_module_level=True)


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    async with running_sandbox(tmp_path) as running:
        yield running


@pytest.fixture
async def page(demo: Demo) -> AsyncIterator[object]:
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 860},
                                            locale="zh-CN", timezone_id="Asia/Shanghai")
        tab = await context.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        await tab.goto(demo.page)
        yield tab
        await browser.close()


async def be(page: object, person: str) -> None:
    await page.select_option("#person-picker", person)  # type: ignore[attr-defined]


async def shot(page: object, name: str) -> None:
    DOCS.mkdir(exist_ok=True)
    await page.screenshot(path=str(DOCS / name))  # type: ignore[attr-defined]


async def test_refer_review_and_progress_in_the_browser(demo: Demo, page: object) -> None:
    p = page  # Playwright's Page
    await be(p, "E020")
    await p.fill("#input", REFER)  # type: ignore[attr-defined]
    await p.press("#input", "Enter")  # type: ignore[attr-defined]
    submitted = p.locator(".card", has_text="推荐已提交")  # type: ignore[attr-defined]
    await submitted.first.wait_for()
    await shot(p, "sandbox-referral.png")

    await be(p, "E011")
    review = p.locator(".card", has_text="推荐审核 · 张三").first  # type: ignore[attr-defined]
    await review.wait_for()
    assert await review.locator(".card-btn").all_inner_texts() == [
        "通过", "需补充", "驳回", "转交/加签"]
    card_id = await review.get_attribute("data-card-id")
    await shot(p, "sandbox-hr-review.png")
    await review.get_by_role("button", name="通过").click()
    # Updated in place: the same card now says who passed it, and its buttons are gone.
    same = p.locator(f'.card[data-card-id="{card_id}"]')  # type: ignore[attr-defined]
    await same.filter(has_text="HR审核通过").wait_for()
    assert await p.locator(f'.card[data-card-id="{card_id}"]').count() == 1  # type: ignore[attr-defined]
    assert await same.locator(".card-btn:enabled").count() == 0
    await shot(p, "sandbox-card-updated.png")

    await be(p, "E020")
    progress = p.locator(".card", has_text="推荐进展 · 张三")  # type: ignore[attr-defined]
    await progress.filter(has_text="待领导审批").first.wait_for()
    await shot(p, "sandbox-progress.png")


async def test_the_same_chat_as_wecom(demo: Demo, page: object) -> None:
    p = page
    await p.click('[data-platform="wecom"]')  # type: ignore[attr-defined]
    await be(p, "E020")
    await p.fill("#input", REFER)  # type: ignore[attr-defined]
    await p.press("#input", "Enter")  # type: ignore[attr-defined]
    assert await p.evaluate("document.body.className") == "platform-wecom"  # type: ignore[attr-defined]
    await be(p, "E011")
    review = p.locator(".card-wecom", has_text="推荐审核 · 张三").first  # type: ignore[attr-defined]
    await review.wait_for()
    await shot(p, "sandbox-wecom.png")
    await review.get_by_role("button", name="通过").click()
    await p.locator(".card-wecom", has_text="HR审核通过").first.wait_for()  # type: ignore[attr-defined]
