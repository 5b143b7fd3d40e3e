"""The welcome message to a candidate who just added an employee: sent with the event's
single-use welcome_code as plain text, and refused clearly when there is no code."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.messenger import WeComMessenger
from bot.errors import PlatformError
from bot.messenger import OutboundMessage
from cards.models import Card
from storage.db import SessionFactory
from tests._support.clock import FakeClock
from tests.adapters.test_wecom_client import API, CONFIG, GETTOKEN

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
            yield WeComMessenger(client, session_factory, CONFIG.agent_id, clock=clock), router


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
