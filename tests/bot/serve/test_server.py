"""The HTTP seam: raw requests to adapters, events stored before the ack, handled after."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.adapters.base import Inbound, RawRequest, RawResponse
from bot.cli.local_chat import LocalChat
from bot.core.events import Conversation, Event, EventKind, Platform
from bot.pipeline.intake import EventIntake
from bot.serve.server import build_app
from storage.db import SessionFactory
from storage.models import Inbox
from tests._support import db


class EchoAdapter:
    """Turns ?text=... into a message event from E020; ?bad=1 is refused."""

    platform = "shell"

    def __init__(self) -> None:
        self.seen: list[RawRequest] = []

    def routes(self) -> list[tuple[str, str]]:
        return [("POST", "/fake/callback")]

    async def handle_http(self, request: RawRequest) -> Inbound:
        self.seen.append(request)
        if request.query.get("bad"):
            return Inbound(RawResponse(403, b"bad signature"))
        event = Event(platform=Platform.SHELL, event_id=request.query["id"],
                      kind=EventKind.MESSAGE, actor_id="E020",
                      conversation=Conversation(id="E020"), text=request.body.decode())
        return Inbound(RawResponse(200, b""), (event,))


Client = tuple[TestClient, EchoAdapter, EventIntake]  # type: ignore[type-arg]


@pytest.fixture
async def client(chat: LocalChat) -> AsyncIterator[Client]:
    adapter = EchoAdapter()
    intake = EventIntake(chat.dispatcher, after_handling=chat.worker.drain)
    app = build_app([adapter], intake, max_body_bytes=4096)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client, adapter, intake


async def test_event_is_acked_then_handled_once(
    client: Client, chat: LocalChat, demo: SessionFactory
) -> None:
    test_client, _, intake = client
    text = "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%"
    for _ in range(2):  # the platform retries
        response = await test_client.post("/fake/callback?id=e1", data=text.encode())
        assert response.status == 200
    await intake.drain()
    assert (await db.counts(demo))["referrals"] == 1
    assert chat.inbox("E011")[-1].title == "推荐审核 · 张三 · 店长"


async def test_refused_signature_stores_nothing(client: Client, demo: SessionFactory) -> None:
    test_client, _, _ = client
    response = await test_client.post("/fake/callback?id=e2&bad=1", data=b"x")
    assert response.status == 403
    assert await db.all_rows(demo, Inbox) == []


async def test_plus_in_query_stays_a_plus(client: Client) -> None:
    test_client, adapter, intake = client
    await test_client.post("/fake/callback?id=a+b%2Bc&sig=x+y", data=b"help")
    await intake.drain()
    assert adapter.seen[-1].query == {"id": "a+b+c", "sig": "x+y"}


async def test_oversized_body_is_413(client: Client) -> None:
    test_client, _, _ = client
    response = await test_client.post("/fake/callback?id=big", data=b"x" * 5000)
    assert response.status == 413


async def test_database_down_means_503_so_the_platform_retries(
    client: Client, chat: LocalChat
) -> None:
    test_client, _, _ = client

    async def unreachable(event: Event) -> bool:
        raise ConnectionRefusedError("database unreachable")

    chat.dispatcher.accept = unreachable  # type: ignore[method-assign]
    response = await test_client.post("/fake/callback?id=e3", data=b"help")
    assert response.status == 503


async def test_healthz(client: Client) -> None:
    test_client, _, _ = client
    response = await test_client.get("/healthz")
    assert response.status == 200 and await response.json() == {"ok": True}
