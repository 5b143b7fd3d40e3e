"""A candidate who adds an employee on WeCom is linked by QR-code state or by the mobile the
employee noted, and greeted in the employee's name; nobody else is touched."""

from __future__ import annotations

from bot.cli.local_chat import LocalChat
from bot.core.events import CardAction, Conversation, Event, EventKind, Platform
from storage.db import SessionFactory, session_scope
from storage.models import Candidate, ContactLookup
from storage.repo.contact_lookups import record_lookup
from tests._support import db


def added(n: int, *, state: str = "", mobiles: str = "", welcome: str = "WC-1",
          external: str = "wmNEW") -> Event:
    params = {"external_userid": external, "state": state}
    if mobiles:
        params["mobiles"] = mobiles
    return Event(
        platform=Platform.WECOM, event_id=f"contact:{n}", kind=EventKind.CONTACT_ADDED,
        actor_id="zhangjl", conversation=Conversation(id="zhangjl"),
        action=CardAction("contact.added", params),
        reply_handle={"welcome_code": welcome} if welcome else {},
    )


async def candidates(factory: SessionFactory, *rows: Candidate) -> list[int]:
    async with session_scope(factory) as session:
        for row in rows:
            session.add(row)
        await session.flush()
        return [r.id or 0 for r in rows]


async def test_a_linked_candidate_is_greeted_in_the_employees_name(
    chat: LocalChat, demo: SessionFactory
) -> None:
    [cid] = await candidates(demo, Candidate(name="王五", phone="13900139000"))
    [sent] = await chat.feed(added(1, state=f"cand-{cid}"))
    assert (sent.kind, sent.platform) == ("welcome", "wecom")
    assert sent.reply_handle["welcome_code"] == "WC-1"
    assert sent.card.title == "王五您好，我是张经理，感谢添加！"
    (row,) = await db.all_rows(demo, Candidate)
    assert row.wecom_external_userid == "wmNEW"


async def test_linked_by_the_mobile_the_employee_noted(
    chat: LocalChat, demo: SessionFactory
) -> None:
    await candidates(demo, Candidate(name="王五", phone="13900139000"),
                     Candidate(name="赵六", phone="13700137000"))
    await chat.feed(added(2, mobiles="+86 139-0013-9000", welcome=""))
    rows = {r.name: r.wecom_external_userid for r in await db.all_rows(demo, Candidate)}
    assert rows == {"王五": "wmNEW", "赵六": None}


async def test_an_ambiguous_or_unknown_mobile_links_nobody(
    chat: LocalChat, demo: SessionFactory
) -> None:
    await candidates(demo, Candidate(name="王五", phone="13900139000"),
                     Candidate(name="赵六", phone="13700137000"))
    assert await chat.feed(added(3, mobiles="13900139000,13700137000")) == []
    assert await chat.feed(added(4, mobiles="13600136000")) == []
    assert await chat.feed(added(5, mobiles="not a phone")) == []
    assert {r.wecom_external_userid for r in await db.all_rows(demo, Candidate)} == {None}


async def test_no_welcome_without_a_code_or_a_candidate(
    chat: LocalChat, demo: SessionFactory
) -> None:
    [cid] = await candidates(demo, Candidate(name="王五", phone="13900139000"))
    assert await chat.feed(added(6, state=f"cand-{cid}", welcome="")) == []
    assert await chat.feed(added(7, state="someone-elses-qr")) == []


async def test_without_a_state_wecom_is_asked_and_a_noted_mobile_links_later(
    chat: LocalChat, demo: SessionFactory
) -> None:
    await candidates(demo, Candidate(name="王五", phone="13900139000"))
    [lookup] = await chat.feed(added(8, welcome=""))
    assert (lookup.kind, lookup.platform, lookup.target) == ("contact_lookup", "wecom", "zhangjl")
    assert lookup.reply_handle == {"external_userid": "wmNEW"}
    assert {r.wecom_external_userid for r in await db.all_rows(demo, Candidate)} == {None}
    # The WeCom adapter records what externalcontact/get said; the clock links the candidate.
    async with session_scope(demo) as session:
        await record_lookup(session=session, external_userid="wmNEW",
                            employee_userid="zhangjl", mobiles=["139 0013 9000"], now=chat.clock())
        await record_lookup(session=session, external_userid="wmOTHER",
                            employee_userid="zhangjl", mobiles=["13600136000"], now=chat.clock())
    await chat.tick()
    rows = {r.name: r.wecom_external_userid for r in await db.all_rows(demo, Candidate)}
    assert rows == {"王五": "wmNEW"}
    assert all(r.applied_at is not None for r in await db.all_rows(demo, ContactLookup))
