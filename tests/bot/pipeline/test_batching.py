"""One content to many people goes in as few platform calls as the limits allow, and every
recipient's row is still settled on its own (delivered, retried or failed)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.dingtalk.messenger import DingTalkMessenger
from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.messenger import WeComMessenger
from bot.config.schema import DingTalkConfig
from bot.pipeline.messenger import PlatformMessengers
from bot.pipeline.outbox import OutboxWorker
from bot.serve.stores import DatabaseStores
from cards.models import Button, Card
from storage.db import SessionFactory, session_scope
from storage.models import Outbox, OutboxStatus, SendLane
from storage.repo.outbox import enqueue_message
from tests._support.clock import FakeClock
from tests._support.db import all_rows
from tests.bot.adapters.test_wecom_client import API as WECOM_API
from tests.bot.adapters.test_wecom_client import CONFIG as WECOM_CONFIG
from tests.bot.adapters.test_wecom_client import GETTOKEN, SEND_OK

API = "https://api.dingtalk.com"
BATCH = "/v1.0/robot/oToMessages/batchSend"
NOTICE = Card(title="通知", body="周五 18:00 前提交本周推荐").to_dict()


async def _queue_notice(factory: SessionFactory, clock: FakeClock, users: list[str]) -> None:
    async with session_scope(factory) as session:
        for user in users:
            await enqueue_message(
                session=session, idempotency_key=f"notice:{user}", platform="dingtalk",
                target_kind="person", target=user, group=False, kind="card",
                payload={"card": NOTICE}, now=clock(), lane=SendLane.BULK,
            )


@pytest.fixture
async def dingtalk(clock: FakeClock) -> AsyncIterator[tuple[DingTalkMessenger, respx.MockRouter]]:
    config = DingTalkConfig(app_key="k", app_secret="s", robot_code="robot", api_base=API,
                            card_template_id="tpl")
    with respx.mock(base_url=API, assert_all_called=False) as router:
        router.post("/v1.0/oauth2/accessToken").respond(json={"accessToken": "t",
                                                              "expireIn": 7200})
        async with httpx.AsyncClient() as http:
            client = DingTalkClient(config, http, clock)
            yield DingTalkMessenger(client, "tpl", "robot", plain_as_markdown=True), router


async def test_forty_five_identical_notices_are_three_batch_calls_settled_per_person(
    dingtalk: tuple[DingTalkMessenger, respx.MockRouter],
    session_factory: SessionFactory, clock: FakeClock,
) -> None:
    messenger, router = dingtalk
    users = [f"u{n:02d}" for n in range(45)]
    # One user is throttled by DingTalk, one no longer exists: only they are not "sent".
    route = router.post(BATCH).respond(json={
        "processQueryKey": "k", "flowControlledStaffIdList": ["u03"],
        "invalidStaffIdList": ["u41"],
    })
    await _queue_notice(session_factory, clock, users)
    worker = OutboxWorker(session_factory=session_factory,
                          messenger=PlatformMessengers({"dingtalk": messenger}), clock=clock)
    assert await worker.drain() == 43
    sizes = [len(json.loads(call.request.content)["userIds"]) for call in route.calls]
    assert sizes == [20, 20, 5]
    rows = {row.target: row for row in await all_rows(session_factory, Outbox)}
    assert rows["u03"].status == OutboxStatus.PENDING and rows["u03"].attempts == 1
    assert rows["u41"].status == OutboxStatus.FAILED
    assert sum(row.status == OutboxStatus.SENT for row in rows.values()) == 43
    # The throttled one alone goes again later, as a batch of one.
    clock.advance(seconds=5)
    router.post(BATCH).respond(json={"processQueryKey": "k2"})
    assert await worker.drain() == 1
    assert json.loads(router.calls[-1].request.content)["userIds"] == ["u03"]


async def test_cards_with_buttons_are_never_batched(
    dingtalk: tuple[DingTalkMessenger, respx.MockRouter],
    session_factory: SessionFactory, clock: FakeClock,
) -> None:
    messenger, router = dingtalk
    batch = router.post(BATCH).respond(json={"processQueryKey": "k"})
    deliver = router.post("/v1.0/card/instances/createAndDeliver").respond(
        json={"success": True, "result": {"outTrackId": "x", "deliverResults": [
            {"spaceType": "IM_ROBOT", "spaceId": "u", "success": True}]}})
    card = Card(title="推荐审核", key="r1v1-review_task", buttons=(
        Button(label="通过", action="review.pass", params={"rid": "1"}),)).to_dict()
    async with session_scope(session_factory) as session:
        for user in ("u01", "u02"):
            await enqueue_message(
                session=session, idempotency_key=f"task:{user}", platform="dingtalk",
                target_kind="person", target=user, group=False, kind="card",
                payload={"card": card}, now=clock(),
            )
    worker = OutboxWorker(session_factory=session_factory,
                          messenger=PlatformMessengers({"dingtalk": messenger}), clock=clock)
    await worker.drain()
    assert batch.call_count == 0 and deliver.call_count == 2


async def test_wecom_sends_one_message_to_many_members_and_fails_only_the_invalid_one(
    session_factory: SessionFactory, clock: FakeClock
) -> None:
    users = ["User07" if n == 7 else f"user{n:02d}" for n in range(45)]
    async with session_scope(session_factory) as session:
        for user in users:
            await enqueue_message(
                session=session, idempotency_key=f"notice:{user}", platform="wecom",
                target_kind="person", target=user, group=False, kind="card",
                payload={"card": NOTICE}, now=clock(), lane=SendLane.BULK,
            )
    with respx.mock(base_url=WECOM_API, assert_all_called=False) as router:
        router.get("/cgi-bin/gettoken").respond(json=GETTOKEN["response"])
        # WeCom lower-cases user ids in invaliduser (the row says User07).
        send = router.post("/cgi-bin/message/send").respond(
            json={**SEND_OK, "invaliduser": "user07"})
        async with httpx.AsyncClient() as http:
            client = WeComClient(WECOM_CONFIG, http, clock)
            messenger = WeComMessenger(client, DatabaseStores(session_factory),
                                       WECOM_CONFIG.agent_id, clock=clock)
            worker = OutboxWorker(session_factory=session_factory,
                                  messenger=PlatformMessengers({"wecom": messenger}),
                                  clock=clock)
            assert await worker.drain() == 44
    assert send.call_count == 1
    assert json.loads(send.calls[0].request.content)["touser"].split("|") == users
    rows = {row.target: row for row in await all_rows(session_factory, Outbox)}
    assert rows["User07"].status == OutboxStatus.FAILED
