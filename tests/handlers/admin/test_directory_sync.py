"""The directory sync end to end: the real contact clients read the sandbox's fake DingTalk
and WeCom (the demo org), the plan is applied to the demo database, and a hire, a move and a
leaver on the platforms take effect. The fakes follow the official API pages cited in
``sandbox/contacts.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from aiohttp import web

from bot.adapters.dingtalk import contacts as dingtalk_contacts
from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.wecom import contacts as wecom_contacts
from bot.adapters.wecom.client import WeComClient
from bot.cli.local_chat import LocalChat
from bot.config.schema import DingTalkConfig, WeComConfig
from bot.core.context import JobContext, Settings
from bot.pipeline.directory import OrgSnapshot
from handlers.admin.directory_apply import SyncOutcome
from handlers.admin.directory_sync import SyncPolicy, read_all, sync_snapshots
from sandbox import start_sandbox
from storage.db import SessionFactory, session_scope
from storage.models import AuditRecord, Person
from storage.repo.people import get_person_by_employee_no, list_people
from tests._support.clock import FakeClock
from tests._support.referrals import act, referral_row, submit
from tests.sandbox.conftest import (
    AES_KEY,
    AGENT_ID,
    APP_KEY,
    APP_SECRET,
    CORP_ID,
    TOKEN,
    WECOM_SECRET,
    settings_for,
)

RULES = {"referrer": ("everyone",), "leader": ("leaders",), "hr": ("dept:人力资源部",),
         "hr_lead": ("head:人力资源部",)}


@dataclass
class Platforms:
    url: str
    http: httpx.AsyncClient
    dingtalk: DingTalkClient
    wecom: WeComClient

    async def fetch(self, *names: str) -> list[OrgSnapshot]:
        async def dt() -> OrgSnapshot:
            return await dingtalk_contacts.fetch_org(self.dingtalk)

        async def wx() -> OrgSnapshot:
            return await wecom_contacts.fetch_org(self.wecom)

        sources = {"dingtalk": dt, "wecom": wx}
        return await read_all({n: sources[n] for n in names or sources})

    async def change(self, what: str, **body: str) -> dict[str, object]:
        response = await self.http.post(f"{self.url}/sandbox/api/contacts/{what}", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture
async def platforms(clock: FakeClock) -> AsyncIterator[Platforms]:
    runner: web.AppRunner
    runner, url = await start_sandbox(settings_for())
    async with httpx.AsyncClient(timeout=10) as http:
        dt = DingTalkClient(DingTalkConfig(app_key=APP_KEY, app_secret=APP_SECRET,
                                           robot_code="r", card_template_id="t", api_base=url,
                                           oapi_base=url), http, clock)
        wx = WeComClient(WeComConfig(corp_id=CORP_ID, agent_id=AGENT_ID, secret=WECOM_SECRET,
                                     token=TOKEN, encoding_aes_key=AES_KEY, api_base=url),
                         http, clock)
        yield Platforms(url, http, dt, wx)
    await runner.cleanup()


async def sync(
    factory: SessionFactory, clock: FakeClock, snapshots: list[OrgSnapshot], **kw: bool
) -> tuple[SyncOutcome, JobContext]:
    async with session_scope(factory) as session:
        job = JobContext(session=session, now=clock(), settings=Settings())
        outcome = await sync_snapshots(job, snapshots, SyncPolicy(rules=RULES), **kw)
    return outcome, job


async def person(factory: SessionFactory, employee_no: str) -> Person:
    async with session_scope(factory) as session:
        found = await get_person_by_employee_no(session=session, employee_no=employee_no)
    assert found is not None
    return found


async def test_the_fakes_serve_the_demo_org_through_both_contact_apis(
    platforms: Platforms,
) -> None:
    dingtalk, wecom = await platforms.fetch()

    assert {u.name for u in dingtalk.units} == {"总部", "华东", "华南", "上海一店", "杭州店",
                                                "深圳店"}
    assert len(dingtalk.members) == len(wecom.members) == 10
    zhang = next(m for m in wecom.members if m.user_id == "zhangjl")
    assert zhang.direct_leaders == ("zhaozong",) and zhang.employee_no == "E020"
    zhao = next(m for m in dingtalk.members if m.user_id == "dt_zhao")
    assert zhao.leads_units and zhao.union_id == "un_zhao" and zhao.mobile
    # One call per department on DingTalk; one user/get per member on WeCom.
    assert dingtalk.api_calls["/topapi/v2/department/listsub"] == 6
    assert wecom.api_calls["/cgi-bin/user/get"] == 10


async def test_first_sync_of_the_demo_keeps_leads_and_hand_set_roles_and_the_second_writes_nothing(
    demo: SessionFactory, platforms: Platforms, clock: FakeClock
) -> None:
    before = {p.employee_no: p for p in await _people(demo)}

    first, _ = await sync(demo, clock, await platforms.fetch())
    second, _ = await sync(demo, clock, await platforms.fetch())

    assert first.applied and first.created == 0 and first.deactivated == 0
    after = {p.employee_no: p for p in await _people(demo)}
    for number, old in before.items():
        new = after[number]
        assert new.lead_id == old.lead_id, number  # WeCom direct_leader = the CSV's lead
        assert set(old.roles) <= set(new.roles), number  # roles set by hand stay
        assert "referrer" in new.roles and new.mobile_hash
    assert after["E001"].synced_roles == ["leader", "referrer"]
    assert second.applied and second.plan.changes == [] and second.updated == 0
    assert await _audits(demo, "directory.update") == first.updated


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)
async def test_a_hire_a_move_and_a_leaver_take_effect_and_the_leavers_tasks_go_to_the_lead(
    demo: SessionFactory, platforms: Platforms, clock: FakeClock, chat: LocalChat
) -> None:
    await sync(demo, clock, await platforms.fetch())
    referral_id = await submit(chat)  # 张经理's referral waits on 李HR's review
    assert (await referral_row(demo, referral_id)).assignee_id == (await person(demo, "E011")).id
    hired = await platforms.change("hire", name="新同事", org_path="总部/华东/杭州店", lead="E030")
    await platforms.change("move", person="E050", org_path="总部/华东/杭州店", lead="E010")
    await platforms.change("leave", person="E011")

    outcome, job = await sync(demo, clock, await platforms.fetch())

    assert (outcome.created, outcome.deactivated, outcome.tasks_moved) == (1, 1, 1)
    newcomer = next(p for p in await _people(demo) if p.name == "新同事")
    assert newcomer.employee_no == hired["hired"]["id"]  # type: ignore[index]
    assert newcomer.roles == ["referrer"] and newcomer.org_path == "总部/华东/杭州店"
    assert newcomer.lead_id == (await person(demo, "E030")).id
    moved = await person(demo, "E050")
    assert moved.org_path == "总部/华东/杭州店"
    assert moved.lead_id == (await person(demo, "E010")).id
    leaver, lead = await person(demo, "E011"), await person(demo, "E002")  # her lead
    assert not leaver.active
    assert (await referral_row(demo, referral_id)).assignee_id == lead.id
    # The lead gets the task card; the leaver is told nothing.
    assert any(o.to_person and o.to_person.id == lead.id for o in job.outgoing)
    assert not any(o.to_person and o.to_person.id == leaver.id for o in job.outgoing)
    assert await _audits(demo, "directory.leave") == 1
    assert await _audits(demo, "directory.create") == 1


async def test_a_sync_that_would_deactivate_too_many_stops_unless_forced(
    demo: SessionFactory, platforms: Platforms, clock: FakeClock
) -> None:
    await sync(demo, clock, await platforms.fetch())
    for number in ("E020", "E021"):
        await platforms.change("leave", person=number)

    refused, _ = await sync(demo, clock, await platforms.fetch())
    assert refused.blocked == "too_many_leavers" and not refused.applied
    assert (await person(demo, "E020")).active  # nothing changed
    forced, _ = await sync(demo, clock, await platforms.fetch(), force=True)
    assert forced.applied and forced.deactivated == 2
    assert not (await person(demo, "E020")).active


async def test_dry_run_writes_nothing(
    demo: SessionFactory, platforms: Platforms, clock: FakeClock
) -> None:
    await platforms.change("hire", name="新同事", org_path="总部/华南/深圳店")
    outcome, _ = await sync(demo, clock, await platforms.fetch(), dry_run=True)

    assert not outcome.applied and len(outcome.plan.changes) == 11
    assert len(await _people(demo)) == 10 and await _audits(demo, "directory.create") == 0


async def _people(factory: SessionFactory) -> list[Person]:
    async with session_scope(factory) as session:
        return await list_people(session=session)


async def _audits(factory: SessionFactory, action: str) -> int:
    from sqlmodel import select

    async with session_scope(factory) as session:
        rows = (await session.exec(select(AuditRecord).where(AuditRecord.action == action))).all()
    return len(rows)


async def test_a_leaver_is_told_nothing_further_about_their_referral(
    demo: SessionFactory, platforms: Platforms, clock: FakeClock, chat: LocalChat
) -> None:
    referral_id = await submit(chat)  # by 张经理 (E020)
    seen_before = len(chat.inbox("E020"))
    await platforms.change("leave", person="E020")
    outcome, _ = await sync(demo, clock, await platforms.fetch())
    assert outcome.deactivated == 1

    await act(chat, demo, referral_id, "E011", "通过")

    assert (await referral_row(demo, referral_id)).state == "leader_approval"
    assert len(chat.inbox("E020")) == seen_before
