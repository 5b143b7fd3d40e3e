"""Contract with the real adapters: what the bot renders, the sandbox shows; what the sandbox
sends, the bot parses. (Only this test module reads bot code; ``sandbox`` itself never does.)
"""

from __future__ import annotations

import asyncio
import json

from bot.adapters.dingtalk.parse import parse_card_event, parse_robot_message
from bot.adapters.wecom.crypto import CallbackCrypto
from bot.adapters.wecom.ids import make_task_id
from bot.adapters.wecom.parse import envelope_encrypt, parse_message
from bot.core.events import ConversationKind, EventKind
from cards.models import Button, Card, CardField
from cards.render_dingtalk import create_and_deliver_body, update_body
from cards.render_wecom import message_send_body
from tests.sandbox.conftest import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    ROBOT,
    TOKEN,
    Receiver,
    Sandbox,
    connect_stream,
)

CARD = Card(
    title="推荐待审核：张三",
    status="待审核",
    fields=(CardField("岗位", "店长"), CardField("推荐人", "张经理")),
    body="请在 24 小时内处理。",
    buttons=(Button("通过", "review.pass", {"rid": "12"}, "primary"),
             Button("驳回", "review.reject", {"rid": "12"}, "danger")),
    footer="hrbot",
    key="r12-review",
)


async def test_dingtalk_card_from_the_bot_renders_and_taps_back(sandbox: Sandbox) -> None:
    client = await connect_stream(sandbox)
    headers = await sandbox.dingtalk_token()
    body = create_and_deliver_body(card=CARD, template_id="tpl.schema",
                                   out_track_id="k-r12-review.0123456789ab", robot_code=ROBOT,
                                   space="IM_ROBOT", target="dt_li")
    status, created = await sandbox.call("POST", "/v1.0/card/instances/createAndDeliver",
                                         body, headers=headers)
    assert status == 200 and created["result"]["deliverResults"][0]["success"] is True
    _, inbox = await sandbox.api("GET", "inbox", person="E011", platform="dingtalk")
    card = inbox["messages"][0]["card"]
    assert card["title"] == "推荐待审核：张三" and card["status"] == "待审核"
    assert card["fields"] == [{"label": "岗位", "value": "店长"},
                              {"label": "推荐人", "value": "张经理"}]
    assert card["body"] == "请在 24 小时内处理。" and card["footer"] == "hrbot"
    assert [(b["label"], b["style"]) for b in card["buttons"]] == [
        ("通过", "primary"), ("驳回", "danger")]

    tapped = asyncio.create_task(sandbox.api("POST", "tap", {
        "person": "E011", "platform": "dingtalk", "card_id": card["id"], "action": "驳回"}))
    frame = await client.frame()
    event = parse_card_event(json.loads(frame["data"]), message_id=frame["headers"]["messageId"])
    assert event.actor_id == "dt_li" and event.action is not None
    assert event.action.action_id == "review.reject"
    assert event.action.params == {"rid": "12"}
    assert event.action.card_key == "r12-review"
    await client.ack(frame, {})
    await tapped

    done = Card(title="推荐待审核：张三", status="已驳回", key="r12-review")
    status, _ = await sandbox.call("PUT", "/v1.0/card/instances", update_body(
        card=done, out_track_id=card["id"]), headers=headers)
    assert status == 200
    _, inbox = await sandbox.api("GET", "inbox", person="E011", platform="dingtalk")
    [message] = inbox["messages"]
    assert message["card"]["status"] == "已驳回" and message["card"]["buttons"] == []
    await client.ws.close()


async def test_dingtalk_messages_parse_as_the_bot_expects(sandbox: Sandbox) -> None:
    client = await connect_stream(sandbox)
    group = next(g for g in sandbox.world.directory.groups if g.name == "上海一店群")
    said = asyncio.create_task(sandbox.api("POST", "say", {
        "person": "E021", "platform": "dingtalk", "conversation": group.id,
        "text": "@hrbot 推荐 李四 店长"}))
    frame = await client.frame()
    event = parse_robot_message(json.loads(frame["data"]))
    await client.ack(frame)
    await said
    assert event.kind == EventKind.MESSAGE and event.actor_id == "dt_sun"
    assert event.conversation.kind == ConversationKind.GROUP
    assert event.conversation.id == group.id and event.text == "推荐 李四 店长"
    assert event.reply_handle["sessionWebhook"].startswith(sandbox.url + "/")
    await client.ws.close()


async def test_wecom_card_from_the_bot_renders_and_clicks_back(
    sandbox: Sandbox, receiver: Receiver,
) -> None:
    token = await sandbox.wecom_token()
    task_id = make_task_id(CARD.key, "lihr", "outbox-1")
    body = message_send_body(card=CARD, task_id=task_id, agent_id=AGENT_ID, touser=["lihr"])
    _, sent = await sandbox.call("POST", "/cgi-bin/message/send", body,
                                 params={"access_token": token})
    assert sent["errcode"] == 0 and sent["response_code"]
    _, inbox = await sandbox.api("GET", "inbox", person="E011", platform="wecom")
    card = inbox["messages"][0]["card"]
    assert card["title"] == "推荐待审核：张三" and card["footer"] == "hrbot"
    assert {"label": "岗位", "value": "店长"} in card["fields"]
    assert [b["label"] for b in card["buttons"]] == ["通过", "驳回"]

    status, _ = await sandbox.api("POST", "tap", {
        "person": "E011", "platform": "wecom", "card_id": card["id"], "action": "review.pass"})
    assert status == 200
    request = receiver.requests[-1]
    crypto = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)  # the bot's strict checks
    query = request["query"]
    plain = crypto.decrypt(query["msg_signature"], query["timestamp"], query["nonce"],
                           envelope_encrypt(request["body"].encode()))
    event = parse_message(plain)
    assert event is not None and event.kind == EventKind.CARD_ACTION
    assert event.actor_id == "lihr" and event.action is not None
    assert event.action.action_id == "review.pass" and event.action.params == {"rid": "12"}
    assert event.action.card_key == "r12-review"
    assert event.reply_handle["task_id"] == task_id and event.reply_handle["response_code"]


async def test_wecom_text_and_contact_events_parse(sandbox: Sandbox, receiver: Receiver) -> None:
    await sandbox.api("POST", "say", {"person": "E030", "platform": "wecom", "text": "进度"})
    await sandbox.api("POST", "contact_added", {"employee": "E030", "name": "王五",
                                                "state": "ref-30"})
    text, added = (parse_message(r["plain"]) for r in receiver.requests)
    assert text is not None and text.kind == EventKind.MESSAGE
    assert text.actor_id == "zhoujl" and text.text == "进度"
    assert added is not None and added.kind == EventKind.CONTACT_ADDED
    assert added.actor_id == "zhoujl" and added.action is not None
    assert added.action.params["state"] == "ref-30"
    assert added.action.params["external_userid"].startswith("wm")
