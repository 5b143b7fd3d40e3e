"""Recall messages on WeCom: one mass-send task per confirmed recall in the sender's name
(add_msg_template), then the outbox polls get_groupmsg_send_result until the candidate's
status is known, and records it for the recall job."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
import respx

from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.messenger import WeComMessenger
from bot.core.errors import PlatformError
from bot.pipeline.messenger import OutboundMessage, TransientDeliveryError
from bot.serve.stores import DatabaseStores
from cards.models import Card
from storage.db import SessionFactory, session_scope
from storage.models import Candidate, RecallContact, RecallDelivery, TalentProfile
from tests._support import db
from tests._support.clock import FakeClock
from tests.bot.adapters.test_wecom_client import ADD_TEMPLATE, API, CONFIG, GETTOKEN, GROUPMSG

TEXT = "王五你好，我是李HR。还记得你当时说“团队太年轻”，今年三位资深导师加入了。"
EXTERNAL = "woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA"
REFUSED_EXTERNAL = ADD_TEMPLATE["response"]["fail_list"][0]
MSGID = ADD_TEMPLATE["response"]["msgid"]
RESULT = GROUPMSG["get_groupmsg_send_result"]["response"]
SEND_TIME = datetime.fromtimestamp(RESULT["send_list"][0]["send_time"], UTC)


@dataclass
class Wecom:
    messenger: WeComMessenger
    router: respx.MockRouter
    add: respx.Route
    result: respx.Route
    contact_id: int


@pytest.fixture
async def wecom(clock: FakeClock, session_factory: SessionFactory) -> AsyncIterator[Wecom]:
    async with session_scope(session_factory) as session:
        candidate = Candidate(name="王五", wecom_external_userid=EXTERNAL)
        session.add(candidate)
        await session.flush()
        profile = TalentProfile(candidate_id=candidate.id or 0, category="team", consent=True)
        session.add(profile)
        await session.flush()
        contact = RecallContact(profile_id=profile.id or 0, stage="news", category="team",
                                text=TEXT)
        session.add(contact)
        await session.flush()
        contact_id = contact.id or 0
    with respx.mock(base_url=API, assert_all_called=False) as router:
        router.get("/cgi-bin/gettoken").respond(json=GETTOKEN["response"])
        add = router.post("/cgi-bin/externalcontact/add_msg_template").respond(
            json={**ADD_TEMPLATE["response"], "fail_list": []})
        result = router.post("/cgi-bin/externalcontact/get_groupmsg_send_result")
        async with httpx.AsyncClient() as http:
            client = WeComClient(CONFIG, http, clock)
            messenger = WeComMessenger(
                client, DatabaseStores(session_factory), CONFIG.agent_id, clock=clock
            )
            yield Wecom(messenger, router, add, result, contact_id)


def message(w: Wecom, kind: str, external: str = EXTERNAL, **handle: str) -> OutboundMessage:
    return OutboundMessage(
        outbox_id=1, idempotency_key=f"wecom:e:{kind}", platform="wecom", target_kind="person",
        target="lihr", group=False, kind=kind, card=Card(title="召回 · 王五"),
        reply_handle={"recall_id": w.contact_id, "external_userid": external, "text": TEXT,
                      **handle})


async def delivery(factory: SessionFactory) -> RecallDelivery | None:
    rows = await db.all_rows(factory, RecallDelivery)
    assert len(rows) <= 1
    return rows[0] if rows else None


def send_result(status: int) -> httpx.Response:
    row = {**RESULT["send_list"][0], "external_userid": EXTERNAL, "status": status}
    return httpx.Response(200, json={**RESULT, "next_cursor": "", "send_list": [row]})


async def test_a_confirmed_recall_becomes_one_task_in_the_senders_name(
    wecom: Wecom, session_factory: SessionFactory
) -> None:
    await wecom.messenger.deliver(message(wecom, "recall"))

    assert json.loads(wecom.add.calls[0].request.content) == {
        "chat_type": "single", "external_userid": [EXTERNAL], "sender": "lihr",
        "text": {"content": TEXT}}
    row = await delivery(session_factory)
    assert row is not None
    assert (row.contact_id, row.msgid, row.sender, row.status, row.applied_at) == (
        wecom.contact_id, MSGID, "lihr", "created", None)
    # A retried outbox row must not make the sender confirm a second task.
    await wecom.messenger.deliver(message(wecom, "recall"))
    assert wecom.add.call_count == 1


async def test_a_candidate_in_fail_list_is_recorded_as_not_a_contact(
    wecom: Wecom, session_factory: SessionFactory
) -> None:
    wecom.add.respond(json=ADD_TEMPLATE["response"])
    await wecom.messenger.deliver(message(wecom, "recall", external=REFUSED_EXTERNAL))
    row = await delivery(session_factory)
    assert row is not None and (row.status, row.error) == ("not_friend", "in fail_list")


async def test_no_relationship_is_recorded_and_other_refusals_fail_the_row(
    wecom: Wecom, session_factory: SessionFactory
) -> None:
    wecom.add.respond(json={"errcode": 84061, "errmsg": "not external contact"})
    await wecom.messenger.deliver(message(wecom, "recall"))
    row = await delivery(session_factory)
    assert row is not None and (row.status, row.error) == ("not_friend", "errcode 84061")

    async with session_scope(session_factory) as session:
        await session.delete(await session.get(RecallDelivery, row.id))
    wecom.add.respond(json={"errcode": 48002, "errmsg": "api forbidden"})
    with pytest.raises(PlatformError):
        await wecom.messenger.deliver(message(wecom, "recall"))
    row = await delivery(session_factory)
    assert row is not None and (row.status, row.error) == ("failed", "errcode 48002")


async def test_the_poll_waits_while_wecom_dispatches_and_the_sender_has_not_confirmed(
    wecom: Wecom, session_factory: SessionFactory, clock: FakeClock
) -> None:
    poll = message(wecom, "recall_poll", queued_at=clock.now.isoformat())
    with pytest.raises(TransientDeliveryError) as early:
        await wecom.messenger.deliver(poll)  # the task is not made yet
    assert early.value.retry_after == 60
    await wecom.messenger.deliver(message(wecom, "recall"))

    wecom.result.side_effect = [
        httpx.Response(200, json={"errcode": 41063, "errmsg": "dispatching"}),
        send_result(0),
        send_result(1),
    ]
    waits = []
    for _ in range(2):
        with pytest.raises(TransientDeliveryError) as wait:
            await wecom.messenger.deliver(poll)
        waits.append(wait.value.retry_after)
    assert waits == [60, 600]  # dispatching, then not confirmed by the sender yet
    await wecom.messenger.deliver(poll)

    assert json.loads(wecom.result.calls[0].request.content) == {
        "msgid": MSGID, "userid": "lihr", "limit": 1000, "cursor": ""}
    row = await delivery(session_factory)
    assert row is not None
    assert (row.status, row.send_time, row.applied_at) == ("sent", SEND_TIME, None)
    await wecom.messenger.deliver(poll)  # known now: no more questions to WeCom
    assert wecom.result.call_count == 3


@pytest.mark.parametrize(("status", "recorded"), [(2, "not_friend"), (3, "limited")])
async def test_the_platforms_refusals_are_recorded(
    status: int, recorded: str, wecom: Wecom, session_factory: SessionFactory
) -> None:
    await wecom.messenger.deliver(message(wecom, "recall"))
    wecom.result.mock(return_value=send_result(status))
    await wecom.messenger.deliver(message(wecom, "recall_poll"))
    row = await delivery(session_factory)
    assert row is not None and row.status == recorded


async def test_a_task_nobody_confirms_in_a_week_is_given_up(
    wecom: Wecom, session_factory: SessionFactory, clock: FakeClock
) -> None:
    await wecom.messenger.deliver(message(wecom, "recall"))
    wecom.result.mock(return_value=send_result(0))
    clock.advance(days=6, hours=23)
    with pytest.raises(TransientDeliveryError):
        await wecom.messenger.deliver(message(wecom, "recall_poll"))
    clock.advance(hours=1)
    await wecom.messenger.deliver(message(wecom, "recall_poll"))
    row = await delivery(session_factory)
    assert row is not None and row.status == "unconfirmed"


async def test_a_task_that_was_never_made_is_given_up(
    wecom: Wecom, session_factory: SessionFactory, clock: FakeClock
) -> None:
    queued = clock.now.isoformat()
    clock.advance(days=7)
    await wecom.messenger.deliver(message(wecom, "recall_poll", queued_at=queued))
    row = await delivery(session_factory)
    assert row is not None and (row.status, row.error) == ("failed", "task never created")
    assert wecom.result.call_count == 0


async def test_a_recall_row_without_its_handle_is_refused(wecom: Wecom) -> None:
    broken = OutboundMessage(
        outbox_id=1, idempotency_key="k", platform="wecom", target_kind="person", target="lihr",
        group=False, kind="recall", card=Card(title="x"), reply_handle={})
    with pytest.raises(PlatformError):
        await wecom.messenger.deliver(broken)
    assert wecom.add.call_count == 0
