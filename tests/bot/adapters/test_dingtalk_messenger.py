"""DingTalk messenger: where cards go, which outTrackId they get, and a tap updating its card."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import respx

from bot.adapters.dingtalk.assemble import assemble
from bot.adapters.dingtalk.card_callbacks import card_route_key
from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.dingtalk.ids import card_key_of, out_track_id
from bot.adapters.dingtalk.messenger import DingTalkMessenger
from bot.adapters.dingtalk.parse import parse_card_event, parse_robot_message
from bot.cli.local_chat import LocalChat
from bot.config.schema import DingTalkConfig
from bot.core.errors import PlatformError
from bot.pipeline.messenger import OutboundMessage, TransientDeliveryError
from cards.models import Button, Card
from tests._support.clock import FakeClock

API = "https://api.dingtalk.com"
HOOK = "https://oapi.dingtalk.com/robot/sendBySession?session=s1"
REFER = "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%"
TASK = Card(title="推荐审核", key="r1v1-review_task",
            buttons=(Button(label="通过", action="review.pass", params={"rid": "1"}),))
PLAIN = Card(title="帮助", body="发送 推荐 …")

Api = tuple[DingTalkMessenger, respx.MockRouter]


@pytest.fixture
async def api(clock: FakeClock) -> AsyncIterator[Api]:
    config = DingTalkConfig(app_key="key", app_secret="secret", robot_code="robot",
                            card_template_id="tpl")
    with respx.mock(base_url=API, assert_all_called=False) as router:
        router.post("/v1.0/oauth2/accessToken").respond(
            json={"accessToken": "tok", "expireIn": 7200})
        router.post("/v1.0/card/instances/createAndDeliver").respond(
            json={"success": True, "result": {"deliverResults": [{"success": True}]}})
        router.put("/v1.0/card/instances").respond(json={"success": True, "result": True})
        async with httpx.AsyncClient() as http:
            client = DingTalkClient(config, http, clock)
            yield DingTalkMessenger(client, "tpl", "robot"), router


def message(card: Card, *, kind: str = "card", target_kind: str = "person",
            target: str = "dt_li", group: bool = False, idem: str = "dingtalk:m1:0",
            handle: dict[str, Any] | None = None) -> OutboundMessage:
    return OutboundMessage(outbox_id=1, idempotency_key=idem, platform="dingtalk",
                           target_kind=target_kind, target=target, group=group, kind=kind,
                           card=card, reply_handle=handle or {})


def bodies(router: respx.MockRouter, method: str, path: str) -> list[dict[str, Any]]:
    return [json.loads(c.request.content) for c in router.calls
            if c.request.method == method and c.request.url.path == path]


def created(router: respx.MockRouter) -> list[dict[str, Any]]:
    return bodies(router, "POST", "/v1.0/card/instances/createAndDeliver")


def updated(router: respx.MockRouter) -> list[dict[str, Any]]:
    return bodies(router, "PUT", "/v1.0/card/instances")


@pytest.mark.parametrize(
    ("target_kind", "target", "group", "space"),
    [
        ("person", "dt_li", False, "IM_ROBOT.dt_li"),
        ("conversation", "dt_zhang", False, "IM_ROBOT.dt_zhang"),  # a 1:1 chat
        ("conversation", "cidGroup==", True, "IM_GROUP.cidGroup=="),
    ],
)
async def test_cards_go_to_the_right_space(
    api: Api, target_kind: str, target: str, group: bool, space: str
) -> None:
    messenger, router = api
    await messenger.deliver(message(TASK, target_kind=target_kind, target=target, group=group))
    (body,) = created(router)
    assert body["openSpaceId"] == f"dtv1.card//{space}"
    assert body["outTrackId"] == out_track_id(TASK.key or "", space.split(".")[0], target)
    assert body["cardTemplateId"] == "tpl"


async def test_keyless_cards_resend_with_the_same_id(api: Api) -> None:
    messenger, router = api
    await messenger.deliver(message(PLAIN, idem="dingtalk:m1:0"))
    await messenger.deliver(message(PLAIN, idem="dingtalk:m1:0"))  # outbox retry
    await messenger.deliver(message(PLAIN, idem="dingtalk:m2:0"))
    ids = [b["outTrackId"] for b in created(router)]
    assert ids[0] == ids[1] != ids[2]
    assert card_key_of(ids[0]) is None


async def test_update_targets_the_same_instance(api: Api) -> None:
    messenger, router = api
    await messenger.deliver(message(TASK))
    await messenger.deliver(message(TASK, kind="card_update"))
    assert updated(router)[0]["outTrackId"] == created(router)[0]["outTrackId"]
    assert updated(router)[0]["cardUpdateOptions"]["updateCardDataByKey"] is True


async def test_update_of_a_card_tapped_in_a_group_uses_the_tapped_instance(api: Api) -> None:
    messenger, router = api
    tapped = out_track_id(TASK.key or "", "IM_GROUP", "cidGroup==")
    handle = {"outTrackId": tapped, "userId": "dt_li"}
    # The dispatcher addresses "update the card I tapped" to the tapper as a person.
    await messenger.deliver(message(TASK, kind="card_update", handle=handle))
    assert updated(router)[0]["outTrackId"] == tapped
    # A handle for another card does not redirect this one.
    other = {"outTrackId": out_track_id("r9v1-other", "IM_GROUP", "cidGroup=="), "userId": "u"}
    await messenger.deliver(message(TASK, kind="card_update", handle=other))
    assert updated(router)[1]["outTrackId"] == out_track_id(TASK.key or "", "IM_ROBOT", "dt_li")


async def test_update_without_a_key_or_other_platform_is_refused(api: Api) -> None:
    messenger, _ = api
    with pytest.raises(PlatformError):
        await messenger.deliver(message(PLAIN, kind="card_update"))
    wrong = OutboundMessage(outbox_id=1, idempotency_key="k", platform="wecom",
                            target_kind="person", target="x", group=False, kind="card",
                            card=TASK)
    with pytest.raises(PlatformError):
        await messenger.deliver(wrong)


async def test_plain_cards_as_markdown_prefer_the_session_webhook(
    api: Api, clock: FakeClock
) -> None:
    messenger, router = api
    messenger.plain_as_markdown = True
    hook = router.post(HOOK).respond(json={"errcode": 0})
    batch = router.post("/v1.0/robot/oToMessages/batchSend").respond(json={})
    group = router.post("/v1.0/robot/groupMessages/send").respond(json={"processQueryKey": "q"})
    now_ms = int(clock().timestamp() * 1000)
    handle = {"conversationType": "1", "senderStaffId": "dt_zhang", "sessionWebhook": HOOK,
              "sessionWebhookExpiredTime": now_ms + 60_000}
    reply = message(PLAIN, target_kind="conversation", target="dt_zhang", handle=handle)
    await messenger.deliver(reply)
    assert hook.call_count == 1 and batch.call_count == 0
    assert json.loads(hook.calls[0].request.content)["msgtype"] == "markdown"
    clock.advance(minutes=2)  # the webhook expired: fall back to the OpenAPI
    await messenger.deliver(reply)
    assert hook.call_count == 1 and batch.call_count == 1
    await messenger.deliver(message(PLAIN, target_kind="conversation", target="cidG", group=True))
    assert json.loads(group.calls[0].request.content)["openConversationId"] == "cidG"
    await messenger.deliver(message(TASK))  # buttons: still an interactive card
    assert len(created(router)) == 1


async def test_tap_on_a_delivered_card_updates_that_card(chat: LocalChat, api: Api) -> None:
    messenger, router = api
    chat.worker.messenger = messenger
    payload = {
        "msgId": "msg-r1", "senderStaffId": "dt_zhang", "conversationType": "1",
        "conversationId": "cid-z", "msgtype": "text", "text": {"content": REFER},
    }
    await chat.feed(parse_robot_message(payload))
    task = next(b for b in created(router) if b["openSpaceId"] == "dtv1.card//IM_ROBOT.dt_li")
    assert card_key_of(task["outTrackId"]) is not None
    buttons = json.loads(task["cardData"]["cardParamMap"]["buttons"])
    approve = next(b for b in buttons if b["text"] == "通过")
    callback = {
        "type": "actionCallback", "outTrackId": task["outTrackId"], "userId": "dt_li",
        "corpId": "ding", "content": json.dumps(
            {"cardPrivateData": {"actionIds": ["pass"], "params": approve["params"]}}),
    }
    await chat.feed(parse_card_event(callback, message_id="tap-1"))
    assert chat.last_result is not None and chat.last_result.route == "action:review.pass"
    updates = updated(router)
    (update,) = [u for u in updates if u["outTrackId"] == task["outTrackId"]]  # in place
    assert "审核通过" in update["cardData"]["cardParamMap"]["status"]
    # Issue 16: the referrer's 推荐已提交 card follows the state, the very instance sent.
    submitted = next(b for b in created(router)
                     if "推荐已提交" in json.dumps(b["cardData"], ensure_ascii=False))
    others = [u for u in updates if u is not update]
    assert [u["outTrackId"] for u in others] == [submitted["outTrackId"]]
    assert "待领导审批" in json.dumps(others[0]["cardData"], ensure_ascii=False)


async def test_http_mode_cards_call_back_over_http(api: Api) -> None:
    messenger, router = api
    register = router.post("/v1.0/card/callbacks/register").respond(json={"success": True})
    await messenger.client.register_card_callback(
        callback_url="https://hr.example.com/dingtalk/callback/card", route_key="hrbot",
        api_secret="card-api-secret",
    )
    assert json.loads(register.calls[0].request.content) == {
        "callbackUrl": "https://hr.example.com/dingtalk/callback/card",
        "callbackRouteKey": "hrbot", "apiSecret": "card-api-secret", "forceUpdate": True,
    }
    messenger.callback_route_key = "hrbot"
    await messenger.deliver(message(TASK))
    (body,) = created(router)
    assert (body["callbackType"], body["callbackRouteKey"]) == ("HTTP", "hrbot")


@pytest.mark.parametrize("mode", ["stream", "http"])
async def test_assemble_picks_the_transport(mode: str, clock: FakeClock) -> None:
    config = DingTalkConfig(app_key="key", app_secret="secret", robot_code="robot",
                            card_template_id="tpl", mode=mode)

    async def sink(_: object) -> bool:
        return True

    async with httpx.AsyncClient() as http:
        parts = assemble(config, sink=sink, http=http, clock=clock)
    assert (parts.stream is not None) == (mode == "stream")
    assert (parts.http_adapter is not None) == (mode == "http")
    assert parts.messenger.callback_route_key == (
        card_route_key("key") if mode == "http" else None)


async def test_a_space_that_refused_the_card_gets_it_on_the_retry(api: Api) -> None:
    messenger, router = api
    create = router.post("/v1.0/card/instances/createAndDeliver")
    create.respond(json={"success": True, "result": {"outTrackId": "x", "deliverResults": [
        {"spaceType": "IM_ROBOT", "spaceId": "dt_li", "success": False,
         "errorMsg": "robot not in chat"}]}})
    deliver = router.post("/v1.0/card/instances/deliver").respond(
        json={"success": True, "result": {"deliverResults": [{"success": True}]}})
    with pytest.raises(TransientDeliveryError, match="robot not in chat"):
        await messenger.deliver(message(TASK))
    # The outbox retries; the instance exists now and is delivered to its space again.
    create.respond(400, json={"code": "param.cardAlreadyExist", "message": "exists"})
    await messenger.deliver(replace(message(TASK), attempts=1))
    [again] = bodies(router, "POST", "/v1.0/card/instances/deliver")
    first = created(router)[0]
    assert again["outTrackId"] == first["outTrackId"]
    assert again["openSpaceId"] == "dtv1.card//IM_ROBOT.dt_li"
    assert again["imRobotOpenDeliverModel"] == first["imRobotOpenDeliverModel"]
    assert "cardData" not in again
    assert deliver.call_count == 1


async def test_a_resend_after_a_crash_is_not_delivered_twice(api: Api) -> None:
    messenger, router = api
    router.post("/v1.0/card/instances/createAndDeliver").respond(
        400, json={"code": "param.cardAlreadyExist", "message": "exists"})
    deliver = router.post("/v1.0/card/instances/deliver").respond(json={"success": True})
    await messenger.deliver(message(TASK))  # first attempt on record: the crash lost the mark
    assert not deliver.called


async def test_a_space_refusing_again_stays_retryable(api: Api) -> None:
    messenger, router = api
    router.post("/v1.0/card/instances/createAndDeliver").respond(
        400, json={"code": "param.cardAlreadyExist", "message": "exists"})
    router.post("/v1.0/card/instances/deliver").respond(json={"success": True, "result": {
        "deliverResults": [{"spaceType": "IM_ROBOT", "success": False, "errorMsg": "busy"}]}})
    with pytest.raises(TransientDeliveryError, match="busy"):
        await messenger.deliver(replace(message(TASK), attempts=3))
