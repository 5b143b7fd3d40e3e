"""Transfer test helpers: drive a `调岗` case through the chat and read what it left."""

from __future__ import annotations

from sqlmodel import col, select

from bot.cli.local_chat import LocalChat
from cards.models import Card
from storage.db import SessionFactory
from storage.models import Case, CaseEvent, DueItem, OrgAssignment, Person

# 张经理 (上海一店) to 杭州店 for a term; 03-10 is a Tuesday, the demo clock starts 03-03.
APPLY = "调岗 我 杭州店 2026-03-10 至 2026-06-30 支援杭州新店开业"
# Who holds each step for 张经理: his lead, HR of 华东, and the leader above 赵总 (赵总 decided
# the department review, so he cannot also sign).
STEPS = (("E010", "审核通过"), ("E011", "审批通过"), ("E001", "签字同意"))


async def cases(factory: SessionFactory) -> list[Case]:
    async with factory() as session:
        return list((await session.exec(select(Case).order_by(col(Case.id)))).all())


async def case_row(factory: SessionFactory, case_id: int) -> Case:
    async with factory() as session:
        row = await session.get(Case, case_id)
        assert row is not None
        return row


async def case_events(factory: SessionFactory, case_id: int) -> list[CaseEvent]:
    async with factory() as session:
        result = await session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id)))
        return list(result.all())


async def case_due(factory: SessionFactory, case_id: int) -> list[DueItem]:
    async with factory() as session:
        result = await session.exec(
            select(DueItem).where(DueItem.case_id == case_id).order_by(col(DueItem.id)))
        return list(result.all())


async def person(factory: SessionFactory, employee_no: str) -> Person:
    async with factory() as session:
        row = (await session.exec(select(Person).where(Person.employee_no == employee_no))).one()
        return row


async def org_history(factory: SessionFactory, person_id: int) -> list[OrgAssignment]:
    async with factory() as session:
        result = await session.exec(select(OrgAssignment).where(
            OrgAssignment.person_id == person_id).order_by(col(OrgAssignment.id)))
        return list(result.all())


def live_card(chat: LocalChat, who: str) -> Card:
    """The newest card with buttons in ``who``'s chat (updates applied)."""
    return [c for c in chat.inbox(who) if c.buttons][-1]


async def approve_all(chat: LocalChat) -> None:
    for who, label in STEPS:
        await chat.tap(who, live_card(chat, who), label)
