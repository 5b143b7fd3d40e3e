"""The fake WeCom: tokens, app messages, template cards with single-use response codes,
encrypted callbacks with retries, and 客户联系 mass sends that wait for the employee."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from tests._support.paths import PLATFORM_DATA
from tests.sandbox.conftest import (
    AGENT_ID,
    CORP_ID,
    WECOM_SECRET,
    Receiver,
    Sandbox,
    SandboxFactory,
)

FIXTURES = PLATFORM_DATA


def button_card(task_id: str, touser: str = "lihr") -> dict[str, Any]:
    body = json.loads((FIXTURES / "wecom_template_card_button_interaction.json").read_text())
    body.update(touser=touser, agentid=AGENT_ID)
    body.pop("toparty"), body.pop("totag")
    body["template_card"]["task_id"] = task_id
    return dict(body)


async def send(box: Sandbox, token: str, body: dict[str, Any]) -> dict[str, Any]:
    status, data = await box.call("POST", "/cgi-bin/message/send", body,
                                  params={"access_token": token})
    assert status == 200
    return dict(data)


async def test_gettoken_checks_corp_and_secret_and_tokens_expire(sandbox: Sandbox) -> None:
    _, bad = await sandbox.call("GET", "/cgi-bin/gettoken",
                                params={"corpid": "other", "corpsecret": WECOM_SECRET})
    assert bad["errcode"] == 40013
    _, bad = await sandbox.call("GET", "/cgi-bin/gettoken",
                                params={"corpid": CORP_ID, "corpsecret": "nope"})
    assert bad["errcode"] == 40001
    token = await sandbox.wecom_token()
    body = {"touser": "zhangjl", "msgtype": "text", "agentid": AGENT_ID,
            "text": {"content": "你好"}}
    assert (await send(sandbox, token, body))["errcode"] == 0
    assert (await send(sandbox, "forged", body))["errcode"] == 40014
    await sandbox.api("POST", "clock/advance", {"hours": 2, "minutes": 1})
    assert (await send(sandbox, token, body))["errcode"] == 42001


async def test_message_send_records_text_markdown_and_reports_invalid_users(
    sandbox: Sandbox,
) -> None:
    token = await sandbox.wecom_token()
    data = await send(sandbox, token, {"touser": "zhangjl|ghost", "msgtype": "markdown",
                                       "agentid": AGENT_ID, "markdown": {"content": "**提醒**"}})
    assert data["errcode"] == 0 and data["invaliduser"] == "ghost" and data["msgid"]
    assert "response_code" not in data
    data = await send(sandbox, token, {"touser": "ghost", "msgtype": "text",
                                       "agentid": AGENT_ID, "text": {"content": "x"}})
    assert data["errcode"] == 81013
    data = await send(sandbox, token, {"touser": "zhangjl", "msgtype": "text", "agentid": 1,
                                       "text": {"content": "x"}})
    assert data["errcode"] == 40056
    _, inbox = await sandbox.api("GET", "inbox", person="zhangjl", platform="wecom")
    assert [(m["kind"], m["text"]) for m in inbox["messages"]] == [("markdown", "**提醒**")]


async def test_duplicate_check_drops_an_identical_resend(sandbox: Sandbox) -> None:
    token = await sandbox.wecom_token()
    body = {**button_card("k-r1@abc"), "enable_duplicate_check": 1,
            "duplicate_check_interval": 1800}
    first = await send(sandbox, token, body)
    again = await send(sandbox, token, body)
    assert again == first
    _, inbox = await sandbox.api("GET", "inbox", person="lihr", platform="wecom")
    assert len(inbox["messages"]) == 1


async def test_template_card_task_id_must_be_unique(sandbox: Sandbox) -> None:
    token = await sandbox.wecom_token()
    assert (await send(sandbox, token, button_card("k-r1@abc")))["errcode"] == 0
    assert (await send(sandbox, token, button_card("k-r1@abc")))["errcode"] == 42014
    assert (await send(sandbox, token, button_card("bad id!")))["errcode"] == 42014


async def test_tap_sends_an_encrypted_card_event_and_response_codes_are_single_use(
    sandbox: Sandbox, receiver: Receiver,
) -> None:
    token = await sandbox.wecom_token()
    sent = await send(sandbox, token, button_card("k-r7@abc"))
    assert sent["errcode"] == 0 and sent["response_code"]
    _, inbox = await sandbox.api("GET", "inbox", person="E011", platform="wecom")
    card = inbox["messages"][0]["card"]
    assert card["title"] == "欢迎使用企业微信"
    assert [b["id"] for b in card["buttons"]] == ["button_key_1", "button_key_2"]

    status, tapped = await sandbox.api("POST", "tap", {
        "person": "E011", "platform": "wecom", "card_id": card["id"], "action": "按钮2"})
    assert status == 200 and tapped["delivery"]["status"] == "acked"
    event = ElementTree.fromstring(receiver.requests[-1]["plain"])
    assert event.findtext("Event") == "template_card_event"
    assert event.findtext("FromUserName") == "lihr"
    assert event.findtext("EventKey") == "button_key_2"
    assert event.findtext("TaskId") == "k-r7@abc"
    assert event.findtext("CardType") == "button_interaction"
    assert event.findtext("AgentID") == str(AGENT_ID)
    assert event.findtext("./SelectedItems/SelectedItem/QuestionKey") == "btn_question_key1"
    click_code = event.findtext("ResponseCode")
    assert click_code and click_code != sent["response_code"]

    update = {"userids": ["lihr"], "agentid": AGENT_ID, "response_code": click_code,
              "button": {"replace_name": "已处理"}}
    _, done = await sandbox.call("POST", "/cgi-bin/message/update_template_card", update,
                                 params={"access_token": token})
    assert done == {"errcode": 0, "errmsg": "ok", "invaliduser": []}
    _, reused = await sandbox.call("POST", "/cgi-bin/message/update_template_card", update,
                                   params={"access_token": token})
    assert reused["errcode"] == 60140
    _, inbox = await sandbox.api("GET", "inbox", person="E011", platform="wecom")
    [message] = inbox["messages"]
    assert message["card"]["status"] == "已处理"
    assert message["card"]["buttons"] == [{"id": "", "label": "已处理", "style": "default",
                                           "enabled": False}]
    status, refused = await sandbox.api("POST", "tap", {
        "person": "E011", "platform": "wecom", "card_id": card["id"], "action": "按钮1"})
    assert status == 400 and "没有可点击的按钮" in refused["error"]


async def test_update_with_a_whole_template_card_replaces_it_in_place(sandbox: Sandbox) -> None:
    token = await sandbox.wecom_token()
    sent = await send(sandbox, token, button_card("k-r8@abc"))
    new_card = {"card_type": "text_notice", "main_title": {"title": "已通过"},
                "card_action": {"type": 1, "url": "https://work.weixin.qq.com"}}
    _, done = await sandbox.call("POST", "/cgi-bin/message/update_template_card", {
        "userids": ["lihr", "zhangjl"], "agentid": AGENT_ID,
        "response_code": sent["response_code"], "template_card": new_card,
    }, params={"access_token": token})
    assert done["errcode"] == 0 and done["invaliduser"] == ["zhangjl"]
    _, inbox = await sandbox.api("GET", "inbox", person="E011", platform="wecom")
    [message] = inbox["messages"]
    assert message["card"]["title"] == "已通过" and message["card"]["buttons"] == []


async def test_say_posts_a_signed_encrypted_text_callback(
    sandbox: Sandbox, receiver: Receiver,
) -> None:
    status, result = await sandbox.api("POST", "say", {
        "person": "E020", "platform": "wecom", "text": "推荐 <张三> ]]> 店长"})
    assert status == 200 and result["delivery"]["status"] == "acked"
    [request] = receiver.requests  # the receiver verified the signature while decrypting
    assert set(request["query"]) == {"msg_signature", "timestamp", "nonce"}
    envelope = ElementTree.fromstring(request["body"])
    assert envelope.findtext("ToUserName") == CORP_ID
    assert envelope.findtext("AgentID") == str(AGENT_ID)
    message = ElementTree.fromstring(request["plain"])
    assert message.findtext("MsgType") == "text"
    assert message.findtext("FromUserName") == "zhangjl"
    assert message.findtext("ToUserName") == CORP_ID
    assert message.findtext("Content") == "推荐 <张三> ]]> 店长"
    assert (message.findtext("MsgId") or "").isdigit()
    assert abs(int(request["query"]["timestamp"]) - sandbox.world.now()) < 5


async def test_callbacks_are_retried_with_the_same_msgid_when_the_bot_fails(
    sandbox: Sandbox, receiver: Receiver,
) -> None:
    receiver.statuses = [500, 503]
    status, result = await sandbox.api("POST", "say", {
        "person": "E020", "platform": "wecom", "text": "进度"})
    assert status == 200 and result["delivery"]["status"] == "retrying"
    delivery = await sandbox.settled_delivery("wecom")
    assert delivery["status"] == "acked"
    assert [a.get("status") for a in delivery["attempts"]] == [500, 503, 200]
    assert len({r["body"] for r in receiver.requests}) == 1  # the very same request
    msg_ids = {ElementTree.fromstring(r["plain"]).findtext("MsgId") for r in receiver.requests}
    assert len(msg_ids) == 1


async def test_slow_bot_is_retried_then_given_up(
    make_sandbox: SandboxFactory, receiver: Receiver,
) -> None:
    box = await make_sandbox(wecom_callback_timeout=0.1, wecom_retries=2)
    receiver.delay = 0.3
    _, result = await box.api("POST", "say", {"person": "E020", "platform": "wecom",
                                              "text": "进度"})
    assert result["delivery"]["attempts"][0]["error"] == "TimeoutError"
    delivery = await box.settled_delivery("wecom")
    assert delivery["status"] == "failed"
    assert [a.get("error") for a in delivery["attempts"]] == ["TimeoutError"] * 3


async def test_mass_send_waits_for_the_employee_to_confirm(
    sandbox: Sandbox, receiver: Receiver,
) -> None:
    status, added = await sandbox.api("POST", "contact_added", {
        "employee": "E020", "name": "张三", "state": "ref-12", "mobile": "13800000001"})
    assert status == 200
    ext = added["candidate"]["external_userid"]
    event = ElementTree.fromstring(receiver.requests[-1]["plain"])
    assert event.findtext("Event") == "change_external_contact"
    assert event.findtext("ChangeType") == "add_external_contact"
    assert event.findtext("UserID") == "zhangjl" and event.findtext("ExternalUserID") == ext
    assert event.findtext("State") == "ref-12" and event.findtext("WelcomeCode")

    token = await sandbox.wecom_token()
    _, contact = await sandbox.call("GET", "/cgi-bin/externalcontact/get",
                                    params={"access_token": token, "external_userid": ext})
    assert contact["external_contact"]["name"] == "张三"
    assert contact["follow_user"][0]["state"] == "ref-12"
    assert contact["follow_user"][0]["remark_mobiles"] == ["13800000001"]

    _, task = await sandbox.call("POST", "/cgi-bin/externalcontact/add_msg_template", {
        "chat_type": "single", "external_userid": [ext, "wmstranger"], "sender": "zhangjl",
        "text": {"content": "张三您好，门店有新岗位"}}, params={"access_token": token})
    assert task["errcode"] == 0 and task["fail_list"] == ["wmstranger"]
    result_body = {"msgid": task["msgid"], "userid": "zhangjl", "limit": 1000, "cursor": ""}
    _, pending = await sandbox.call(
        "POST", "/cgi-bin/externalcontact/get_groupmsg_send_result", result_body,
        params={"access_token": token})
    assert pending["errcode"] == 41063
    _, candidate = await sandbox.api("GET", "candidate", external_userid=ext)
    assert candidate["candidate"]["messages"] == []

    _, inbox = await sandbox.api("GET", "inbox", person="E020", platform="wecom")
    assert inbox["tasks"][0]["status"] == "pending"
    assert inbox["tasks"][0]["candidate_names"] == ["张三"]
    status, wrong = await sandbox.api("POST", "confirm", {"person": "E021",
                                                           "msgid": task["msgid"]})
    assert status == 404 and wrong["error"]
    status, confirmed = await sandbox.api("POST", "confirm", {"person": "E020",
                                                               "msgid": task["msgid"]})
    assert status == 200 and confirmed["task"]["status"] == "sent"

    _, done = await sandbox.call(
        "POST", "/cgi-bin/externalcontact/get_groupmsg_send_result", result_body,
        params={"access_token": token})
    assert done["errcode"] == 0 and done["next_cursor"] == ""
    rows = {r["external_userid"]: r for r in done["send_list"]}
    assert rows[ext]["status"] == 1 and rows[ext]["userid"] == "zhangjl"
    assert rows[ext]["send_time"] > 0 and rows["wmstranger"]["status"] == 2
    _, candidate = await sandbox.api("GET", "candidate", external_userid=ext)
    [received] = candidate["candidate"]["messages"]
    assert received["text"] == "张三您好，门店有新岗位" and received["from_name"] == "张经理"


async def test_wecom_throttling_fault_uses_errcode_45009(sandbox: Sandbox) -> None:
    token = await sandbox.wecom_token()
    await sandbox.api("POST", "faults", {"path": "/cgi-bin/message/send", "kind": "throttle"})
    body = {"touser": "zhangjl", "msgtype": "text", "agentid": AGENT_ID,
            "text": {"content": "x"}}
    assert (await send(sandbox, token, body))["errcode"] == 45009
    await sandbox.api("POST", "faults", {"path": "/cgi-bin/message/send", "kind": "busy"})
    assert (await send(sandbox, token, body))["errcode"] == -1
    assert (await send(sandbox, token, body))["errcode"] == 0


async def test_wecom_say_without_a_callback_url_is_refused(make_sandbox: SandboxFactory) -> None:
    box = await make_sandbox(wecom_callback_url=None)
    status, result = await box.api("POST", "say", {"person": "E020", "platform": "wecom",
                                                   "text": "你好"})
    assert status == 503 and "机器人未连接" in result["error"]
