"""`hrbot shell` keeps up with the page: multi-line referrals (paste mode or a trailing
backslash) and a clock moved by hand (`/clock +1d`, `/clock 09:00`, `/next`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.cli.local_chat import LocalChat
from bot.cli.shell import Shell
from bot.cli.shell_clock import ShellClock, target_of
from bot.core.context import Settings
from storage.db import SessionFactory
from storage.repo.people import list_people
from tests._support import db

SHANGHAI = ZoneInfo("Asia/Shanghai")
FORM = ["推荐", "岗位: 店长", "姓名: 张三", "电话: 13800138000",
        "理由: 曾将社区商场月客流提升30%"]


async def shell_for(
    demo: SessionFactory, clock: ShellClock | None = None
) -> tuple[Shell, list[str]]:
    async with demo() as session:
        people = await list_people(session=session)
    chat = LocalChat(session_factory=demo, settings=Settings(), clock=clock or ShellClock())
    lines: list[str] = []
    me = next(p for p in people if p.name == "张经理")
    return Shell(chat, people, me, lines.append), lines


async def test_a_pasted_multi_line_referral_is_one_message(demo: SessionFactory) -> None:
    shell, lines = await shell_for(demo)
    assert await shell.handle("/paste")
    assert shell.prompt == "... "
    for line in FORM:
        assert await shell.handle(line)
    assert lines[-1].startswith("请粘贴")  # nothing sent before the closing "."
    assert await shell.handle(".")
    assert shell.prompt == "张经理> "
    assert "→ 已发给 李HR：推荐审核 · 张三 · 店长" in "\n".join(lines)
    assert (await db.referral(demo, 1)).state == "hr_review"


async def test_a_trailing_backslash_continues_the_message(demo: SessionFactory) -> None:
    shell, lines = await shell_for(demo)
    for line in FORM[:-1]:
        assert await shell.handle(line + " \\")
        assert shell.prompt == "... "
    assert await shell.handle(FORM[-1])
    assert "→ 已发给 李HR：推荐审核 · 张三 · 店长" in "\n".join(lines)


async def test_the_clock_moves_and_the_next_event_arrives(demo: SessionFactory) -> None:
    clock = ShellClock()
    shell, lines = await shell_for(demo, clock)
    await shell.handle("推荐 店长 张三 13800138000 曾将社区商场月客流提升30%")
    before = clock()
    assert await shell.handle("/clock +2h")
    assert clock() - before >= timedelta(hours=2)
    assert lines[-1].startswith("现在是 ") or any(ln.startswith("现在是 ") for ln in lines[-3:])
    assert await shell.handle("/clock 09:00")
    assert clock().astimezone(SHANGHAI).strftime("%H:%M") == "09:00"
    assert await shell.handle("/clock yesterday")
    assert lines[-1] == "看不懂的时间 yesterday。例如 /clock +1d、/clock +2h、/clock 09:00。"
    # /next goes to the review reminder and the beat delivers it to 李HR.
    await shell.handle("/as 李HR")
    for _ in range(4):
        await shell.handle("/next")
        if any("催办" in line for line in lines):
            break
    assert any("催办" in line and "张三" in line for line in lines)


async def test_the_clock_says_when_messages_are_held(demo: SessionFactory) -> None:
    clock = ShellClock()
    shell, lines = await shell_for(demo, clock)
    # A Saturday 23:00 in Shanghai: held until Monday 08:30 (quiet hours and the weekend).
    saturday = datetime(2030, 1, 5, 23, 0, tzinfo=SHANGHAI)
    clock.offset = saturday.astimezone(UTC) - datetime.now(UTC)
    await shell.handle("/clock")
    assert "免打扰中：机器人的消息 01-07 08:30 送达" in lines[-1]


def test_clock_targets() -> None:
    now = datetime(2026, 3, 3, 12, 0, tzinfo=SHANGHAI)
    assert target_of("+1d", now, SHANGHAI) == now + timedelta(days=1)
    assert target_of("+30m", now, SHANGHAI) == now + timedelta(minutes=30)
    assert target_of("09:00", now, SHANGHAI) == datetime(2026, 3, 4, 9, 0, tzinfo=SHANGHAI)
    assert target_of("13:00", now, SHANGHAI) == datetime(2026, 3, 3, 13, 0, tzinfo=SHANGHAI)
    assert target_of("+0h", now, SHANGHAI) is None
    assert target_of("+999d", now, SHANGHAI) is None
    assert target_of("25:00", now, SHANGHAI) is None
