"""A candidate who just added an employee: the welcome message (the event's single-use
welcome_code, plain text; refused clearly without a code) and the lookup of the mobiles the
employee noted for them (externalcontact/get, recorded for the clock to link)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.messenger import WeComMessenger
from bot.core.errors import PlatformError
from bot.pipeline.messenger import OutboundMessage
from bot.serve.stores import DatabaseStores
from cards.models import Card
from storage.db import SessionFactory
from storage.models import ContactLookup
from tests._support import db
from tests._support.clock import FakeClock
from tests.bot.adapters.test_wecom_client import API, CONFIG, CONTACT, GETTOKEN

WELCOME = Card(title="王五您好，我是张经理，感谢添加！", body="之后面试安排会在这里联系。")
Api = tuple[WeComMessenger, respx.MockRouter]


@pytest.fixture
async def api(clock: FakeClock, session_factory: SessionFactory) -> AsyncIterator[Api]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        router.get("/cgi-bin/gettoken").respond(json=GETTOKEN["response"])
        router.post("/cgi-bin/externalcontact/send_welcome_msg").respond(
            json={"errcode": 0, "errmsg": "ok"})
        async with httpx.AsyncClient() as http:
            client = WeComClient(CONFIG, http, clock)
            stores = DatabaseStores(session_factory)
            yield WeComMessenger(client, stores, CONFIG.agent_id, clock=clock), router


def welcome(code: str) -> OutboundMessage:
    return OutboundMessage(
        outbox_id=1, idempotency_key="wecom:contact:1:0", platform="wecom",
        target_kind="conversation", target="zhangjl", group=False, kind="welcome",
        card=WELCOME, reply_handle={"welcome_code": code} if code else {})


async def test_welcome_goes_with_the_events_code_as_text(api: Api) -> None:
    messenger, router = api
    await messenger.deliver(welcome("CODE-20S"))
    [call] = [c for c in router.calls if c.request.url.path.endswith("send_welcome_msg")]
    body = json.loads(call.request.content)
    text = "王五您好，我是张经理，感谢添加！\n\n之后面试安排会在这里联系。"
    assert body == {"welcome_code": "CODE-20S", "text": {"content": text}}


async def test_an_expired_code_is_a_permanent_failure(api: Api) -> None:
    messenger, router = api
    router.post("/cgi-bin/externalcontact/send_welcome_msg").respond(
        json={"errcode": 41051, "errmsg": "welcome code expired"})
    with pytest.raises(PlatformError):
        await messenger.deliver(welcome("OLD"))


async def test_no_code_no_call(api: Api) -> None:
    messenger, router = api
    with pytest.raises(PlatformError, match="welcome"):
        await messenger.deliver(welcome(""))
    assert not any(c.request.url.path.endswith("send_welcome_msg") for c in router.calls)


async def test_a_contact_lookup_records_the_mobiles_the_employee_noted(
    api: Api, session_factory: SessionFactory
) -> None:
    messenger, router = api
    external = CONTACT["response"]["external_contact"]["external_userid"]
    router.get("/cgi-bin/externalcontact/get").respond(json=CONTACT["response"])
    lookup = OutboundMessage(
        outbox_id=2, idempotency_key="wecom:contact:2:0", platform="wecom",
        target_kind="person", target="rocky", group=False, kind="contact_lookup",
        card=Card(title="contact lookup"), reply_handle={"external_userid": external})
    await messenger.deliver(lookup)
    calls = [c for c in router.calls if c.request.url.path.endswith("externalcontact/get")]
    # Every page of follow_user is read (the fixture answers with a next_cursor).
    assert calls and all(c.request.url.params["external_userid"] == external for c in calls)
    [row] = await db.all_rows(session_factory, ContactLookup)
    # Only what "rocky" (the employee who was added) noted; "tommy" noted nothing.
    assert (row.external_userid, row.employee_userid, row.mobiles) == (
        external, "rocky", ["13800000001", "13000000002"])
    assert row.applied_at is None
    assert not [c for c in router.calls if c.request.url.path.endswith("message/send")]
