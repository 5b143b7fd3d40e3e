"""The fake Stream gateway against the protocol: open, frames, acks, re-push, pings."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from tests.sandbox.conftest import APP_KEY, ROBOT, Sandbox, SandboxFactory, connect_stream

CARD_TOPIC = "/v1.0/card/instances/callback"


async def test_open_connection_answers_a_websocket_endpoint_and_single_use_ticket(
    sandbox: Sandbox,
) -> None:
    status, data = await sandbox.call("POST", "/v1.0/gateway/connections/open", {
        "clientId": APP_KEY, "clientSecret": "wrong", "subscriptions": [],
    })
    assert status == 401 and data["code"] == "invalidClientIdOrSecret"

    client = await connect_stream(sandbox)
    opened = [c for c in sandbox.world.calls if c["path"].endswith("/connections/open")][-1]
    endpoint = opened["response"]["endpoint"]
    assert endpoint == sandbox.url.replace("http", "ws") + "/dingtalk/stream"
    # The ticket was spent by the first connection.
    async with sandbox.http.get(f"{sandbox.url}/dingtalk/stream",
                                params={"ticket": opened["response"]["ticket"]}) as resp:
        assert resp.status == 401
    await client.ws.close()


async def test_say_pushes_a_robot_message_frame_and_records_the_ack(sandbox: Sandbox) -> None:
    client = await connect_stream(sandbox)
    said = asyncio.create_task(sandbox.api("POST", "say", {
        "person": "E020", "platform": "dingtalk", "text": "推荐 张三 店长",
    }))
    frame = await client.frame()
    assert frame["type"] == "CALLBACK" and frame["specVersion"] == "1.0"
    headers = frame["headers"]
    assert headers["topic"] == "/v1.0/im/bot/messages/get"
    assert headers["contentType"] == "application/json"
    assert headers["time"].isdigit() and headers["messageId"]
    assert isinstance(frame["data"], str)  # double-encoded, as DingTalk sends it
    data = json.loads(frame["data"])
    assert data["senderStaffId"] == "dt_zhang" and data["senderNick"] == "张经理"
    assert data["conversationType"] == "1" and data["msgtype"] == "text"
    assert data["text"] == {"content": "推荐 张三 店长"} and data["robotCode"] == ROBOT
    assert data["sessionWebhook"].startswith(f"{sandbox.url}/robot/sendBySession?session=")
    assert data["sessionWebhookExpiredTime"] - data["createAt"] == 5_400_000
    await client.ack(frame)
    status, result = await said
    assert status == 200 and result["pushed"] is True
    assert result["delivery"]["status"] == "acked"
    assert result["delivery"]["ack"]["data"] == {"response": None}
    assert result["message"]["text"] == "推荐 张三 店长"
    await client.ws.close()


async def test_group_message_reaches_the_bot_only_when_it_is_mentioned(sandbox: Sandbox) -> None:
    client = await connect_stream(sandbox)
    group = next(g for g in sandbox.world.directory.groups if g.name == "上海一店群")
    status, result = await sandbox.api("POST", "say", {
        "person": "E020", "platform": "dingtalk", "conversation": group.id, "text": "大家好",
    })
    assert status == 200 and result["pushed"] is False
    said = asyncio.create_task(sandbox.api("POST", "say", {
        "person": "E020", "platform": "dingtalk", "conversation": group.id,
        "text": "@hrbot 进度 @孙店长",
    }))
    frame = await client.frame()
    data = json.loads(frame["data"])
    assert data["conversationType"] == "2" and data["conversationId"] == group.id
    assert data["conversationTitle"] == "上海一店群" and data["isInAtList"] is True
    assert data["text"]["content"] == " 进度 @孙店长"
    assert {"dingtalkId": data["chatbotUserId"]} in data["atUsers"]
    assert any(u.get("staffId") == "dt_sun" for u in data["atUsers"])
    await client.ack(frame)
    assert (await said)[1]["pushed"] is True
    # Both messages are in the group for its members, in order.
    _, inbox = await sandbox.api("GET", "inbox", person="E021", platform="dingtalk",
                                 conversation=group.id)
    assert [m["text"] for m in inbox["messages"]] == ["大家好", "@hrbot 进度 @孙店长"]
    await client.ws.close()


async def test_say_without_a_connected_bot_is_refused(sandbox: Sandbox) -> None:
    status, result = await sandbox.api("POST", "say", {
        "person": "E020", "platform": "dingtalk", "text": "你好",
    })
    assert status == 503 and "机器人未连接" in result["error"]
    _, inbox = await sandbox.api("GET", "inbox", person="E020", platform="dingtalk")
    assert inbox["messages"] == []


async def _card(sandbox: Sandbox) -> str:
    headers = await sandbox.dingtalk_token()
    buttons = [{"text": "通过", "action": "review.pass", "params": {"action": "review.pass",
                                                                  "rid": "12"},
                "style": "primary"}]
    status, _ = await sandbox.call("POST", "/v1.0/card/instances/createAndDeliver", {
        "cardTemplateId": "tpl.schema", "outTrackId": "k-r12.abc", "callbackType": "STREAM",
        "openSpaceId": "dtv1.card//IM_ROBOT.dt_li", "userIdType": 1,
        "imRobotOpenSpaceModel": {"supportForward": False},
        "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": ROBOT},
        "cardData": {"cardParamMap": {"title": "推荐待审核", "status": "待审核",
                                      "buttons": json.dumps(buttons, ensure_ascii=False),
                                      "has_buttons": "true"}},
    }, headers=headers)
    assert status == 200
    return "k-r12.abc"


async def test_tap_pushes_a_card_callback_frame_like_dingtalk(sandbox: Sandbox) -> None:
    client = await connect_stream(sandbox)
    card_id = await _card(sandbox)
    tapped = asyncio.create_task(sandbox.api("POST", "tap", {
        "person": "E011", "platform": "dingtalk", "card_id": card_id, "action": "通过",
    }))
    frame = await client.frame()
    assert frame["headers"]["topic"] == CARD_TOPIC
    data = json.loads(frame["data"])
    assert data["type"] == "actionCallback" and data["outTrackId"] == card_id
    assert data["userId"] == "dt_li"
    content = json.loads(data["content"])
    assert content["cardPrivateData"]["params"] == {"action": "review.pass", "rid": "12"}
    assert content["cardPrivateData"]["actionIds"]
    # An ack carrying cardData changes the card at once, as DingTalk does.
    await client.ack(frame, {"cardData": {"cardParamMap": {"status": "已通过"}},
                             "cardUpdateOptions": {"updateCardDataByKey": True}})
    status, result = await tapped
    assert status == 200 and result["delivery"]["status"] == "acked"
    _, inbox = await sandbox.api("GET", "inbox", person="E011", platform="dingtalk")
    assert inbox["messages"][0]["card"]["status"] == "已通过"
    assert inbox["messages"][0]["card"]["title"] == "推荐待审核"
    await client.ws.close()


async def test_unacked_card_callback_is_pushed_again_with_the_same_message_id(
    sandbox: Sandbox,
) -> None:
    client = await connect_stream(sandbox)
    card_id = await _card(sandbox)
    tapped = asyncio.create_task(sandbox.api("POST", "tap", {
        "person": "E011", "platform": "dingtalk", "card_id": card_id, "action": "review.pass",
    }))
    first = await client.frame()
    second = await client.frame()  # nothing acked within stream_ack_timeout
    assert second["headers"]["messageId"] == first["headers"]["messageId"]
    assert second["data"] == first["data"]
    await client.ack(second)
    _, result = await tapped
    _, listed = await sandbox.api("GET", "deliveries", platform="dingtalk", kind="card_callback")
    delivery = listed["deliveries"][0]
    assert len(delivery["attempts"]) == 2 and delivery["status"] == "acked"
    assert result["delivery"]["status"] in ("pending", "acked")
    await client.ws.close()


async def test_robot_messages_are_not_pushed_again(sandbox: Sandbox) -> None:
    client = await connect_stream(sandbox)
    status, _ = await sandbox.api("POST", "say", {
        "person": "E020", "platform": "dingtalk", "text": "帮助",
    })
    assert status == 200
    await client.frame()
    await asyncio.sleep(0.5)
    try:
        extra = await client.frame(timeout=0.3)
    except TimeoutError:
        extra = None
    assert extra is None
    _, listed = await sandbox.api("GET", "deliveries", kind="robot_message")
    assert listed["deliveries"][0]["status"] == "unacked"
    await client.ws.close()


async def test_malformed_ack_is_recorded_as_rejected(sandbox: Sandbox) -> None:
    client = await connect_stream(sandbox)
    said = asyncio.create_task(sandbox.api("POST", "say", {
        "person": "E020", "platform": "dingtalk", "text": "帮助",
    }))
    frame = await client.frame()
    await client.ack(frame, data={"response": None})  # an object, not a JSON string
    _, result = await said
    assert result["delivery"]["status"] == "rejected"
    assert "data must be a JSON string" in result["delivery"]["ack"]["problems"]
    await client.ws.close()


async def test_ping_expects_its_data_echoed_and_disconnect_rotates(
    make_sandbox: SandboxFactory,
) -> None:
    box = await make_sandbox(stream_ping_interval=0.1)
    client = await connect_stream(box)
    ping = await client.frame()
    assert ping["type"] == "SYSTEM" and ping["headers"]["topic"] == "ping"
    assert "opaque" in json.loads(ping["data"])
    await client.ack(ping, data=ping["data"])
    await asyncio.sleep(0.05)
    _, status = await box.api("GET", "stream")
    assert status["pings"][0]["echoed"] is True
    assert status["connections"][0]["topics"] == ["/v1.0/card/instances/callback",
                                                  "/v1.0/im/bot/messages/get"]
    _, rotated = await box.api("POST", "dingtalk/rotate")
    assert rotated["connections"] == 1
    while True:  # pings may still arrive before the disconnect frame
        frame = await client.frame()
        if frame["headers"]["topic"] == "disconnect":
            break
    closing = await client.ws.receive(timeout=2)
    while closing.type == aiohttp.WSMsgType.TEXT:  # pings until the grace period ends
        closing = await client.ws.receive(timeout=2)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
