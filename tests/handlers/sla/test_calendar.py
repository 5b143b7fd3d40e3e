"""The working calendar: the shipped State Council arrangements, working-time SLA arithmetic
(hand-computed across the 2025 National Day holiday and its make-up days), quiet hours that
skip holidays, deadlines in the workflow, and `hrbot calendar import`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli import commands as cli
from bot.cli.local_chat import LocalChat
from bot.config.schema import ConfigError, load_config
from bot.config.settings import settings_from_config
from bot.core.context import Settings
from handlers.sla.calendar import load_work_calendar
from handlers.sla.quiet_hours import next_delivery_time
from handlers.sla.workcal import (
    CalendarFileError,
    WorkingHours,
    add_working_time,
    base_calendar,
    parse_calendar,
    shipped_calendar_data,
    working_time_between,
)
from storage.db import SessionFactory, make_engine, make_session_factory
from tests._support import db
from tests._support.clock import FakeClock
from tests._support.referrals import submit

SH = ZoneInfo("Asia/Shanghai")
CN = base_calendar(public_holidays=True)
OFFICE = WorkingHours.between(time(9), time(18))
DAYS = WorkingHours.whole_day()


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2025) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def days(kind: str, year: int) -> list[date]:
    entries = shipped_calendar_data().entries
    return [e.day for e in entries if e.kind == kind and e.day.year == year]


def test_shipped_arrangements_match_the_state_council_notices() -> None:
    assert shipped_calendar_data().years == {2025, 2026}
    assert days("workday", 2025) == [date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27),
                                     date(2025, 9, 28), date(2025, 10, 11)]
    assert days("workday", 2026) == [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28),
                                     date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)]
    assert len(days("holiday", 2025)) == 1 + 8 + 3 + 5 + 3 + 8
    assert len(days("holiday", 2026)) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert all(d.weekday() >= 5 for d in days("workday", 2025) + days("workday", 2026))
    national_day = [at(10, d).date() for d in range(1, 9)]
    assert all(not CN.is_working_day(d) for d in national_day)
    assert CN.is_working_day(date(2025, 9, 28)) and CN.is_working_day(date(2025, 10, 11))
    assert not CN.is_working_day(date(2025, 9, 27)) and not CN.is_working_day(date(2025, 10, 12))
    spring_2026 = [date(2026, 2, 15) + timedelta(days=n) for n in range(9)]
    assert all(not CN.is_working_day(d) for d in spring_2026)
    assert CN.is_working_day(date(2026, 10, 8)) and not CN.is_working_day(date(2026, 10, 7))


# 2025 National Day + Mid-Autumn: Oct 1 (Wed) - Oct 8 (Wed) off; Sun Sep 28 and Sat Oct 11
# are working days. Office hours 09:00-18:00 (9 working hours a day).
NATIONAL_DAY_TABLE = [
    # start, SLA, deadline, how
    (at(9, 26, 10), 24, at(9, 29, 16), "Fri 8h + Sun 28 (make-up) 9h + Mon 7h"),
    (at(9, 27, 11), 9, at(9, 28, 18), "Sat off; Sun 28 fully used ends at 18:00"),
    (at(9, 30, 17), 8, at(10, 9, 16), "Tue 1h, Oct 1-8 off, Thu 9th 7h"),
    (at(9, 30, 18), 1, at(10, 9, 10), "after hours on the eve: starts Oct 9 09:00"),
    (at(10, 1, 10), 4, at(10, 9, 13), "submitted on the holiday"),
    (at(10, 10, 15), 24, at(10, 14, 12), "Fri 3h + Sat 11 (make-up) 9h + Mon 9h + Tue 3h"),
    (at(10, 8, 23), 72, at(10, 17, 18), "8 days x 9h: Oct 9, 10, Sat 11, 13-17"),
]


@pytest.mark.parametrize(("start", "hours", "deadline", "how"), NATIONAL_DAY_TABLE,
                         ids=[row[3] for row in NATIONAL_DAY_TABLE])
def test_working_hours_across_national_day(
    start: datetime, hours: int, deadline: datetime, how: str
) -> None:
    got = add_working_time(start, timedelta(hours=hours), calendar=CN, hours=OFFICE, tz=SH)
    assert got == deadline
    assert working_time_between(start, got, calendar=CN, hours=OFFICE, tz=SH) == timedelta(
        hours=hours)


# Whole working days: the clock only stops on days off.
WORKING_DAYS_TABLE = [
    (at(9, 30, 10), 72, at(10, 11, 10), "Tue 14h, holiday, Thu 24h, Fri 24h, Sat 11 10h"),
    (at(9, 27, 15), 24, at(9, 29, 0), "Sat off; all of Sun 28"),
    (at(10, 9, 9, 30), 48, at(10, 11, 9, 30), "Thu, Fri, into the make-up Saturday"),
    (at(10, 11, 12), 24, at(10, 13, 12), "Sat 11 12h, Sun off, Mon 12h"),
]


@pytest.mark.parametrize(("start", "hours", "deadline", "how"), WORKING_DAYS_TABLE,
                         ids=[row[3] for row in WORKING_DAYS_TABLE])
def test_working_days_across_national_day(
    start: datetime, hours: int, deadline: datetime, how: str
) -> None:
    got = add_working_time(start, timedelta(hours=hours), calendar=CN, hours=DAYS, tz=SH)
    assert got == deadline


def test_2026_holidays_and_make_up_days() -> None:
    # Spring Festival 2026: Sat Feb 14 is a working day, Feb 15-23 off.
    assert add_working_time(at(2, 13, 17, year=2026), timedelta(hours=2), calendar=CN,
                            hours=OFFICE, tz=SH) == at(2, 14, 10, year=2026)
    assert add_working_time(at(2, 14, 17, year=2026), timedelta(hours=2), calendar=CN,
                            hours=OFFICE, tz=SH) == at(2, 24, 10, year=2026)
    # National Day 2026: Oct 1-7 off, Sat Oct 10 worked.
    assert add_working_time(at(9, 30, 17, year=2026), timedelta(hours=2), calendar=CN,
                            hours=OFFICE, tz=SH) == at(10, 8, 10, year=2026)


def test_zero_time_and_utc_input() -> None:
    start = at(10, 3, 12).astimezone(UTC)
    assert add_working_time(start, timedelta(0), calendar=CN, hours=OFFICE, tz=SH) == start
    got = add_working_time(start, timedelta(hours=1), calendar=CN, hours=OFFICE, tz=SH)
    assert got == at(10, 9, 10) and got.tzinfo == UTC


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at(10, 1, 10), at(10, 9, 8, 30)),  # a holiday morning
        (at(9, 30, 22), at(10, 9, 8, 30)),  # the night before the holiday
        (at(10, 11, 10), at(10, 11, 10)),  # the make-up Saturday is a working day
        (at(10, 10, 23), at(10, 11, 8, 30)),  # ... so Friday night's reminder goes then
        (at(9, 27, 11), at(9, 28, 8, 30)),  # Sat Sep 27 off, Sun 28 worked
    ],
)
def test_reminders_never_land_on_a_holiday(moment: datetime, expected: datetime) -> None:
    got = next_delivery_time(moment.astimezone(UTC), tz=SH, start=time(21), end=time(8, 30),
                             weekends=True, calendar=CN)
    assert got == expected


def test_without_a_calendar_weekends_alone_are_off() -> None:
    got = next_delivery_time(at(10, 11, 10), tz=SH, start=time(21), end=time(8, 30),
                             weekends=True)
    assert got == at(10, 13, 8, 30)


def test_calendar_and_timeouts_reach_the_handlers_settings() -> None:
    config = load_config(env={
        "HRBOT_CALENDAR_SLA_TIME": "working_hours", "HRBOT_CALENDAR_WORK_START": "08:30",
        "HRBOT_CALENDAR_PUBLIC_HOLIDAYS": "false", "HRBOT_TIMEOUTS_LEADER_APPROVAL": "reassign",
    })
    settings = settings_from_config(config)
    assert (settings.sla_time, settings.work_start, settings.work_end) == (
        "working_hours", time(8, 30), time(18))
    assert settings.public_holidays is False
    assert settings.timeouts["leader_approval"] == "reassign"
    assert settings.timeouts["hr_review"] == "escalate"
    with pytest.raises(ConfigError, match=r"calendar\.work_start: must be earlier"):
        load_config(env={"HRBOT_CALENDAR_WORK_START": "18:30"})
    with pytest.raises(ConfigError, match=r"calendar\.sla_time"):
        load_config(env={"HRBOT_CALENDAR_SLA_TIME": "business"})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("colour = 1", "unknown key 'colour'"),
        ("[[holiday]]\nname = \"x\"\nday = \"2027-01-01\"", "without quotes"),
        ("[[holiday]]\nday = 2027-01-01\n[[workday]]\nday = 2027-01-01", "listed twice"),
        ("[[holiday]]\nfrom = 2027-01-05\nto = 2027-01-01", "not a range"),
        ("years = [2027]\n[[holiday]]\nday = 2028-01-01", "outside the years"),
        ("[[holiday]]\nname = \"x\"", "needs day, or from and to"),
        ("[[holiday]\n", "invalid TOML"),
    ],
)
def test_bad_calendar_files_are_refused(text: str, problem: str) -> None:
    with pytest.raises(CalendarFileError, match=problem):
        parse_calendar(text)


async def test_deadlines_in_working_hours_through_the_chat(demo: SessionFactory) -> None:
    clock = FakeClock(at(9, 30, 17).astimezone(UTC))
    settings = Settings(sla_time="working_hours")
    chat = LocalChat(session_factory=demo, settings=settings, clock=clock)
    rid = await submit(chat)
    row = await db.referral(demo, rid)
    # 24 working hours: Sep 30 1h, Oct 9 9h, Oct 10 9h, Sat Oct 11 5h.
    assert row.stage_due_at == at(10, 11, 14)
    due = [(d.kind, d.due_at) for d in await db.pending_due(demo, rid)]
    assert due == [("sla.remind", at(10, 10, 11)), ("sla.remind", at(10, 11, 14)),
                   ("sla.escalate", at(10, 11, 14))]


async def test_the_half_way_reminder_waits_out_the_holiday(demo: SessionFactory) -> None:
    clock = FakeClock(at(9, 30, 9, 30).astimezone(UTC))
    chat = LocalChat(session_factory=demo, settings=Settings(), clock=clock)
    await submit(chat)  # wall-clock SLA: the 50 % reminder is due 21:30, a holiday eve
    clock.now = at(10, 1, 8, 30).astimezone(UTC)
    assert [m.card.title for m in await chat.tick() if m.card.title.startswith("⏰")] == []
    clock.now = at(10, 8, 20).astimezone(UTC)
    assert [m.card.title for m in await chat.tick() if m.card.title.startswith("⏰")] == []
    clock.now = at(10, 9, 8, 30).astimezone(UTC)
    titles = [m.card.title for m in await chat.tick()]
    # Issue 16: the 50 % and 100 % reminders held over the holiday meet at delivery as one
    # card, which says what is true then: overdue.
    reminders = [t for t in titles if t.startswith("⏰")]
    assert reminders == ["⏰ 催办 · 已超时 · 推荐审核 · 张三 · 店长"]


async def test_no_digest_on_a_holiday_but_on_the_make_up_saturday(
    demo: SessionFactory,
) -> None:
    clock = FakeClock(at(9, 30, 9, 30).astimezone(UTC))
    chat = LocalChat(session_factory=demo, settings=Settings(), clock=clock)
    await submit(chat)
    clock.now = at(10, 3, 9, 30).astimezone(UTC)
    assert not [m for m in await chat.tick() if m.card.title.startswith("今日待办")]
    clock.now = at(10, 11, 9, 30).astimezone(UTC)
    assert [m.target for m in await chat.tick() if m.card.title.startswith("今日待办")] == [
        "E011"]


CORRECTED_2026 = """
years = [2026]
[[holiday]]
name = "国庆节"
from = 2026-10-01
to = 2026-10-04
[[closure]]
name = "年会"
day = 2026-03-06
"""


def test_calendar_import_replaces_the_year_and_adds_closures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("HRBOT_CONFIG", raising=False)
    url = f"sqlite+aiosqlite:///{tmp_path / 'cal.db'}"
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{url}"\n')
    data = tmp_path / "cn_2026_fix.toml"
    data.write_text(CORRECTED_2026, encoding="utf-8")

    assert cli.main(["--config", str(config), "calendar", "import", str(data)]) == 0
    assert capsys.readouterr().out.strip() == (
        "calendar (2026): 4 holidays, 0 make-up working days, 1 closures; "
        "0 earlier days replaced")
    assert cli.main(["--config", str(config), "calendar", "import", str(data)]) == 0
    assert "5 earlier days replaced" in capsys.readouterr().out

    import asyncio

    async def effective() -> tuple[bool, ...]:
        engine = make_engine(url)
        try:
            async with make_session_factory(engine)() as session:
                calendar = await load_work_calendar(session, Settings())
        finally:
            await engine.dispose()
        return (
            calendar.is_working_day(date(2026, 10, 5)),  # the import replaced 2026
            calendar.is_working_day(date(2026, 10, 10)),  # no make-up day in the import
            calendar.is_working_day(date(2026, 3, 6)),  # the company closure
            calendar.is_working_day(date(2025, 10, 5)),  # 2025 still from the shipped file
        )

    assert asyncio.run(effective()) == (True, False, False, False)

    bad = tmp_path / "bad.toml"
    bad.write_text("[[holiday]]\nday = 2026-13-01\n", encoding="utf-8")
    assert cli.main(["--config", str(config), "calendar", "import", str(bad)]) == 1
    assert "invalid TOML" in capsys.readouterr().err
