"""The fake DingTalk OpenAPI: tokens, robot messages, cards created and updated, to-dos."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.sandbox.conftest import APP_KEY, APP_SECRET, ROBOT, Sandbox, connect_stream

CREATE = "/v1.0/card/instances/createAndDeliver"


def card_body(track: str, space: str, params: dict[str, str], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "cardTemplateId": "tpl.schema", "outTrackId": track, "callbackType": "STREAM",
        "openSpaceId": f"dtv1.card//{space}", "userIdType": 1,
        "cardData": {"cardParamMap": params},
        "imRobotOpenSpaceModel": {"supportForward": False},
        "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": ROBOT},
        "imGroupOpenSpaceModel": {"supportForward": False},
        "imGroupOpenDeliverModel": {"robotCode": ROBOT},
    }
    body.update(extra)
    return body


async def test_access_token_is_reused_while_valid_and_checks_credentials(
    sandbox: Sandbox,
) -> None:
    status, first = await sandbox.call("POST", "/v1.0/oauth2/accessToken",
                                       {"appKey": APP_KEY, "appSecret": APP_SECRET})
    assert status == 200 and first["expireIn"] == 7200 and first["accessToken"]
    _, second = await sandbox.call("POST", "/v1.0/oauth2/accessToken",
                                   {"appKey": APP_KEY, "appSecret": APP_SECRET})
    assert second["accessToken"] == first["accessToken"]
    status, bad = await sandbox.call("POST", "/v1.0/oauth2/accessToken",
                                     {"appKey": APP_KEY, "appSecret": "nope"})
    assert status == 400 and bad["code"] == "invalidClientIdOrSecret"
    status, old = await sandbox.call("GET", "/gettoken",
                                     params={"appkey": APP_KEY, "appsecret": APP_SECRET})
    assert status == 200 and old["errcode"] == 0 and old["expires_in"] == 7200


async def test_calls_without_a_valid_token_get_400_and_tokens_expire_with_the_clock(
    sandbox: Sandbox,
) -> None:
    body = {"robotCode": ROBOT, "userIds": ["dt_zhang"], "msgKey": "sampleText",
            "msgParam": json.dumps({"content": "hi"})}
    status, data = await sandbox.call("POST", "/v1.0/robot/oToMessages/batchSend", body)
    assert status == 400 and data["code"] == "InvalidAuthentication"
    headers = await sandbox.dingtalk_token()
    status, _ = await sandbox.call("POST", "/v1.0/robot/oToMessages/batchSend", body,
                                   headers=headers)
    assert status == 200
    await sandbox.api("POST", "clock/advance", {"hours": 3})
    status, data = await sandbox.call("POST", "/v1.0/robot/oToMessages/batchSend", body,
                                      headers=headers)
    assert status == 400 and data["code"] == "InvalidAuthentication"


async def test_batch_send_lands_in_each_dm_and_reports_unknown_users(sandbox: Sandbox) -> None:
    headers = await sandbox.dingtalk_token()
    status, data = await sandbox.call("POST", "/v1.0/robot/oToMessages/batchSend", {
        "robotCode": ROBOT, "userIds": ["dt_zhang", "ghost"], "msgKey": "sampleMarkdown",
        "msgParam": json.dumps({"title": "提醒", "text": "**请审核**"}, ensure_ascii=False),
    }, headers=headers)
    assert status == 200 and data["invalidStaffIdList"] == ["ghost"]
    assert data["flowControlledStaffIdList"] == [] and data["processQueryKey"]
    _, inbox = await sandbox.api("GET", "inbox", person="E020", platform="dingtalk")
    [message] = inbox["messages"]
    assert message["kind"] == "markdown" and message["title"] == "提醒"
    assert message["text"] == "**请审核**" and message["from_bot"] is True
    status, refused = await sandbox.call("POST", "/v1.0/robot/oToMessages/batchSend", {
        "robotCode": "other", "userIds": ["dt_zhang"], "msgKey": "sampleText",
        "msgParam": "{}"}, headers=headers)
    assert status == 400 and refused["code"] == "invalidParameter.robotCode"


async def test_create_and_deliver_then_update_merges_and_shows_the_card_once(
    sandbox: Sandbox,
) -> None:
    headers = await sandbox.dingtalk_token()
    group = next(g for g in sandbox.world.directory.groups if g.name == "上海一店群")
    params = {"title": "推荐进度", "status": "待审核", "footer": "hrbot"}
    status, created = await sandbox.call(
        "POST", CREATE, card_body("k-p1.x", f"IM_ROBOT.dt_zhang;IM_GROUP.{group.id}", params),
        headers=headers)
    assert status == 200 and created["success"] is True
    results = created["result"]["deliverResults"]
    assert [(r["spaceType"], r["success"]) for r in results] == [
        ("IM_ROBOT", True), ("IM_GROUP", True)]
    status, again = await sandbox.call("POST", CREATE, card_body("k-p1.x", "IM_ROBOT.dt_zhang",
                                                                 params), headers=headers)
    assert status == 400 and again["code"] == "param.cardAlreadyExist"

    status, updated = await sandbox.call("PUT", "/v1.0/card/instances", {
        "outTrackId": "k-p1.x", "cardData": {"cardParamMap": {"status": "已通过"}},
        "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": False},
        "userIdType": 1,
    }, headers=headers)
    assert status == 200 and updated == {"success": True, "result": True}
    _, inbox = await sandbox.api("GET", "inbox", person="E020", platform="dingtalk")
    shown = [m for m in inbox["messages"] if m["card"]]
    # Updated in place: the DM and the group each still show it once, in its new state.
    assert sorted(m["conversation"] for m in shown) == sorted(["dm", group.id])
    assert all(m["card"]["status"] == "已通过" and m["card"]["title"] == "推荐进度"
               and m["card"]["version"] == 2 for m in shown)

    # Without updateCardDataByKey the card data is replaced, as the real API does.
    await sandbox.call("PUT", "/v1.0/card/instances", {
        "outTrackId": "k-p1.x", "cardData": {"cardParamMap": {"title": "新卡片"}},
    }, headers=headers)
    _, inbox = await sandbox.api("GET", "inbox", person="E020", platform="dingtalk",
                                 conversation="dm")
    assert inbox["messages"][0]["card"]["status"] == ""
    assert inbox["messages"][0]["card"]["title"] == "新卡片"


async def test_card_errors_use_dingtalk_codes(sandbox: Sandbox) -> None:
    headers = await sandbox.dingtalk_token()
    cases = [
        (card_body("", "IM_ROBOT.dt_zhang", {}), "param.outTrackIdEmpty"),
        (card_body("t1", "IM_ROBOT.dt_zhang", {}, cardTemplateId="other"),
         "param.templateNotExist"),
        (card_body("t1", "nonsense", {}), "param.openSpaceIdInvalid"),
        (card_body("t1", "IM_ROBOT.dt_zhang", {"n": 1}), "param.invalid"),  # type: ignore[dict-item]
    ]
    for body, code in cases:
        status, data = await sandbox.call("POST", CREATE, body, headers=headers)
        assert (status, data["code"]) == (400, code)
    status, data = await sandbox.call("PUT", "/v1.0/card/instances", {
        "outTrackId": "missing", "cardData": {"cardParamMap": {}}}, headers=headers)
    assert (status, data["code"]) == (400, "param.cardNotExist")
    status, data = await sandbox.call("POST", CREATE, card_body(
        "t2", "IM_ROBOT.nobody", {"title": "x"}), headers=headers)
    assert status == 200
    assert data["result"]["deliverResults"][0]["success"] is False


async def test_throttling_fault_answers_the_real_error_shape_then_recovers(
    sandbox: Sandbox,
) -> None:
    headers = await sandbox.dingtalk_token()
    status, made = await sandbox.api("POST", "faults", {
        "path": "/v1.0/card/instances*", "kind": "throttle", "count": 2})
    assert status == 201 and made["fault"]["count"] == 2
    body = card_body("k-t.1", "IM_ROBOT.dt_zhang", {"title": "x"})
    for _ in range(2):
        status, data = await sandbox.call("POST", CREATE, body, headers=headers)
        assert status == 403
        assert data["code"] == "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
        assert data["requestid"] and data["message"]
    status, _ = await sandbox.call("POST", CREATE, body, headers=headers)
    assert status == 200
    _, recorded = await sandbox.api("GET", "calls", path=CREATE)
    assert [c["status"] for c in recorded["calls"]] == [403, 403, 200]
    assert [c.get("fault") for c in recorded["calls"]] == ["throttle", "throttle", None]
    assert recorded["calls"][0]["body"]["outTrackId"] == "k-t.1"


async def test_flow_control_and_old_api_throttling(sandbox: Sandbox) -> None:
    headers = await sandbox.dingtalk_token()
    await sandbox.api("POST", "faults", {"path": "/v1.0/robot/oToMessages/batchSend",
                                         "kind": "flow_control"})
    status, data = await sandbox.call("POST", "/v1.0/robot/oToMessages/batchSend", {
        "robotCode": ROBOT, "userIds": ["dt_zhang"], "msgKey": "sampleText",
        "msgParam": json.dumps({"content": "hi"})}, headers=headers)
    assert status == 200 and data["flowControlledStaffIdList"] == ["dt_zhang"]
    _, inbox = await sandbox.api("GET", "inbox", person="E020", platform="dingtalk")
    assert inbox["messages"] == []
    await sandbox.api("POST", "faults", {"path": "/gettoken", "kind": "throttle"})
    status, old = await sandbox.call("GET", "/gettoken",
                                     params={"appkey": APP_KEY, "appsecret": APP_SECRET})
    assert status == 200 and old["errcode"] == 90018


async def test_session_webhook_replies_in_the_chat_until_it_expires(sandbox: Sandbox) -> None:
    client = await connect_stream(sandbox)
    said = asyncio.create_task(sandbox.api("POST", "say", {
        "person": "E020", "platform": "dingtalk", "text": "帮助"}))
    frame = await client.frame()
    await client.ack(frame)
    await said
    webhook = json.loads(frame["data"])["sessionWebhook"]
    async with sandbox.http.post(webhook, json={
        "msgtype": "markdown", "markdown": {"title": "帮助", "text": "可用命令：推荐"},
        "at": {"atUserIds": ["dt_zhang"]},
    }) as resp:
        assert await resp.json() == {"errcode": 0, "errmsg": "ok"}
    _, inbox = await sandbox.api("GET", "inbox", person="E020", platform="dingtalk")
    assert [m["text"] for m in inbox["messages"]] == ["帮助", "可用命令：推荐"]
    await sandbox.api("POST", "clock/advance", {"minutes": 91})
    async with sandbox.http.post(webhook, json={"msgtype": "text",
                                                "text": {"content": "x"}}) as resp:
        assert (await resp.json())["errcode"] == 300001
    await client.ws.close()


async def test_group_send_and_todos(sandbox: Sandbox) -> None:
    headers = await sandbox.dingtalk_token()
    group = sandbox.world.directory.groups[0]
    status, _ = await sandbox.call("POST", "/v1.0/robot/groupMessages/send", {
        "robotCode": ROBOT, "openConversationId": group.id, "msgKey": "sampleText",
        "msgParam": json.dumps({"content": "群通知"}, ensure_ascii=False)}, headers=headers)
    assert status == 200
    member = group.members[0]
    _, inbox = await sandbox.api("GET", "inbox", person=member, platform="dingtalk",
                                 conversation=group.id)
    assert inbox["messages"][0]["text"] == "群通知"

    status, todo = await sandbox.call("POST", "/v1.0/todo/users/un_li/tasks", {
        "subject": "审核推荐 #12", "sourceId": "r12-review",
        "detailUrl": {"appUrl": "https://x", "pcUrl": "https://x"}, "priority": 20,
    }, headers=headers, params={"operatorId": "un_li"})
    assert status == 200 and todo["id"] and todo["done"] is False
    status, missing = await sandbox.call("POST", "/v1.0/todo/users/un_li/tasks", {
        "subject": "无链接"}, headers=headers)
    assert status == 400 and missing["code"] == "invalidParameter.detailUrl"
    status, _ = await sandbox.call("PUT", f"/v1.0/todo/users/un_li/tasks/{todo['id']}",
                                   {"done": True}, headers=headers)
    assert status == 200
    _, inbox = await sandbox.api("GET", "inbox", person="E011", platform="dingtalk")
    assert inbox["todos"][0]["subject"] == "审核推荐 #12" and inbox["todos"][0]["done"] is True
