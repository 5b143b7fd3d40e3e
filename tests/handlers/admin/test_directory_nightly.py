"""The nightly directory sync as a clock job: when it runs, and that a failed read changes
nothing and is tried again an hour later."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from bot.core.context import JobContext, Settings
from bot.core.errors import PlatformError
from bot.pipeline.directory import Member, OrgSnapshot, OrgUnit
from handlers.admin.directory_sync import NightlySync, SyncPolicy
from storage.db import SessionFactory, session_scope
from storage.repo.people import list_people

SHANGHAI_0100 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 03-03 01:00 in Shanghai
ORG = OrgSnapshot("wecom", (OrgUnit("1", "总部", None),),
                  (Member("newbie", "新同事", ("1",)),), {"/cgi-bin/user/get": 1})


async def beat(factory: SessionFactory, job_sync: NightlySync, at: datetime) -> object:
    async with session_scope(factory) as session:
        return await job_sync(JobContext(session=session, now=at, settings=Settings()))


async def test_runs_once_a_night_after_the_hour_and_not_at_start(
    session_factory: SessionFactory,
) -> None:
    reads: list[object] = []

    async def read() -> OrgSnapshot:
        reads.append(1)
        return ORG

    job = NightlySync()
    started = SHANGHAI_0100 + timedelta(hours=20)  # 21:00: after today's 02:30
    job.configure({"wecom": read}, SyncPolicy(rules={"referrer": ("everyone",)}),
                  time(2, 30), "Asia/Shanghai", started)

    assert await beat(session_factory, job, started) is None
    assert await beat(session_factory, job, started + timedelta(hours=4)) is None  # 01:00
    outcome = await beat(session_factory, job, started + timedelta(hours=5, minutes=31))
    assert outcome is not None and reads == [1]
    assert await beat(session_factory, job, started + timedelta(hours=6)) is None
    async with session_scope(session_factory) as session:
        assert [p.name for p in await list_people(session=session)] == ["新同事"]


async def test_a_whole_day_later_it_runs_whatever_the_hour(
    session_factory: SessionFactory,
) -> None:
    reads: list[object] = []

    async def read() -> OrgSnapshot:
        reads.append(1)
        return ORG

    job = NightlySync()
    job.configure({"wecom": read}, SyncPolicy(rules={}), time(2, 30), "Asia/Shanghai",
                  SHANGHAI_0100)
    # Started at 01:00 and moved straight to 01:00 the next day: 02:30 was never seen.
    assert await beat(session_factory, job, SHANGHAI_0100 + timedelta(days=1)) is not None
    assert reads == [1]


async def test_a_failed_read_changes_nothing_and_waits_an_hour(
    session_factory: SessionFactory,
) -> None:
    calls: list[object] = []

    async def read() -> OrgSnapshot:
        calls.append(1)
        raise PlatformError("wecom", 48002, "api forbidden")

    job = NightlySync()
    job.configure({"wecom": read}, SyncPolicy(rules={}), time(2, 30), "Asia/Shanghai",
                  SHANGHAI_0100)
    night = SHANGHAI_0100 + timedelta(hours=2)  # 03:00
    assert await beat(session_factory, job, night) is None
    assert await beat(session_factory, job, night + timedelta(minutes=30)) is None
    assert await beat(session_factory, job, night + timedelta(minutes=61)) is None
    assert len(calls) == 2
    async with session_scope(session_factory) as session:
        assert await list_people(session=session) == []


async def test_without_platforms_it_does_nothing(session_factory: SessionFactory) -> None:
    assert await beat(session_factory, NightlySync(), SHANGHAI_0100) is None
