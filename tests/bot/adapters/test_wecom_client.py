"""WeCom API client and messenger with respx: tokens, messages, card updates, 客户联系, errors."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx

from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.ids import card_key_of
from bot.adapters.wecom.messenger import WeComMessenger
from bot.config.schema import WeComConfig
from bot.core.errors import PlatformError
from bot.pipeline.messenger import OutboundMessage, TransientDeliveryError
from bot.serve.stores import DatabaseStores
from cards.models import Button, Card, CardField
from storage.db import SessionFactory, session_scope
from storage.models import CardInstance
from storage.repo.cards import save_card_instance, set_response_code
from tests._support import db
from tests._support.clock import FakeClock
from tests._support.paths import PLATFORM_DATA

API = "https://qyapi.weixin.qq.com"
DATA = PLATFORM_DATA


def fixture(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


GETTOKEN = fixture("wecom_gettoken.json")
SEND_OK = fixture("wecom_message_send_response.json")
BUTTON_CARD = fixture("wecom_template_card_button_interaction.json")
UPDATE = fixture("wecom_update_template_card.json")
ADD_TEMPLATE = fixture("wecom_add_msg_template.json")
GROUPMSG = fixture("wecom_groupmsg_results.json")
CONTACT = fixture("wecom_externalcontact_get.json")
TOKEN = GETTOKEN["response"]["access_token"]
SECRET = "app-secret-do-not-log"
CONFIG = WeComConfig(corp_id="ww1436e0e65a779aee", agent_id=1000002, secret=SECRET,
                     token="t", encoding_aes_key="6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt")
CARD = Card(title="推荐审核 · 张三 · 店长", status="待HR审核", key="r1v1-review_task",
            fields=(CardField("岗位", "店长"),),
            buttons=(Button(label="通过", action="review.pass", params={"rid": "1", "v": "1"}),))
DONE = Card(title="推荐审核 · 张三 · 店长", status="已通过", key="r1v1-review_task")


@dataclass
class Api:
    client: WeComClient
    router: respx.MockRouter
    token: respx.Route


@pytest.fixture
async def api(clock: FakeClock) -> AsyncIterator[Api]:
    # Unmatched routes raise: nothing here can reach the network.
    with respx.mock(base_url=API, assert_all_called=False) as router:
        token = router.get("/cgi-bin/gettoken").respond(json=GETTOKEN["response"])
        async with httpx.AsyncClient() as http:
            yield Api(WeComClient(CONFIG, http, clock), router, token)


def sent_json(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


def token_of(route: respx.Route, index: int = -1) -> str:
    return route.calls[index].request.url.params["access_token"]


async def test_token_is_fetched_once_and_cached_until_near_expiry(
    api: Api, clock: FakeClock
) -> None:
    send = api.router.post("/cgi-bin/message/send").respond(json=SEND_OK)
    await api.client.send_text(["zhangjl"], "a")
    clock.advance(seconds=7200 - 301)
    await api.client.send_text(["zhangjl"], "b")
    assert api.token.call_count == 1
    params = api.token.calls[0].request.url.params
    assert (params["corpid"], params["corpsecret"]) == (CONFIG.corp_id, SECRET)
    assert token_of(send) == TOKEN
    clock.advance(seconds=2)  # within the 5-minute safety margin: refresh
    await api.client.send_text(["zhangjl"], "c")
    assert api.token.call_count == 2


@pytest.mark.parametrize("errcode", [42001, 40014, 40001])
async def test_expired_token_is_refreshed_and_the_call_retried_once(
    api: Api, errcode: int
) -> None:
    api.token.side_effect = [
        httpx.Response(200, json={**GETTOKEN["response"], "access_token": "old-token"}),
        httpx.Response(200, json={**GETTOKEN["response"], "access_token": "new-token"}),
    ]
    send = api.router.post("/cgi-bin/message/send").mock(side_effect=[
        httpx.Response(200, json={"errcode": errcode, "errmsg": "access_token expired"}),
        httpx.Response(200, json=SEND_OK),
    ])
    result = await api.client.send_text(["zhangjl"], "hi")
    assert result.msgid == "xxxx"
    assert [token_of(send, 0), token_of(send, 1)] == ["old-token", "new-token"]


async def test_token_error_twice_is_a_platform_error(api: Api) -> None:
    api.router.post("/cgi-bin/message/send").respond(json={"errcode": 42001, "errmsg": "x"})
    with pytest.raises(PlatformError) as caught:
        await api.client.send_text(["zhangjl"], "hi")
    assert caught.value.errcode == 42001
    assert api.token.call_count == 2


async def test_template_card_body_has_the_documented_keys(api: Api) -> None:
    send = api.router.post("/cgi-bin/message/send").respond(json=SEND_OK)
    result = await api.client.send_template_card(touser=["lihr"], card=CARD, task_id="k-x@1")
    body = sent_json(send)
    assert set(body) == set(BUTTON_CARD) - {"toparty", "totag"}
    assert set(body["template_card"]) <= set(BUTTON_CARD["template_card"])
    assert (body["touser"], body["msgtype"], body["agentid"]) == ("lihr", "template_card", 1000002)
    assert body["enable_duplicate_check"] == 1
    assert body["template_card"]["card_type"] == "button_interaction"
    assert body["template_card"]["task_id"] == "k-x@1"  # '@' is allowed in task ids
    assert result.response_code == "xyzxyz"
    assert result.invalid_users == ("userid1", "userid2")


async def test_text_and_markdown_bodies(api: Api) -> None:
    send = api.router.post("/cgi-bin/message/send").respond(json=SEND_OK)
    await api.client.send_text(["a", "b"], "hello")
    await api.client.send_markdown(["a"], "**hi**")
    text, markdown = sent_json(send, 0), sent_json(send, 1)
    assert text["touser"] == "a|b" and text["text"] == {"content": "hello"}
    assert markdown["msgtype"] == "markdown" and markdown["markdown"] == {"content": "**hi**"}
    assert text["enable_duplicate_check"] == markdown["enable_duplicate_check"] == 1


async def test_update_template_card_body(api: Api) -> None:
    route = api.router.post("/cgi-bin/message/update_template_card").respond(
        json=UPDATE["response"]
    )
    invalid = await api.client.update_template_card("CODE-1", ["lihr"], DONE)
    body = sent_json(route)
    assert set(body) <= set(UPDATE["request_replace_button"])
    assert body == {"userids": ["lihr"], "agentid": 1000002, "response_code": "CODE-1",
                    "button": {"replace_name": "已通过"}}
    assert invalid == ("userid1", "userid2")


@pytest.mark.parametrize("errcode", [-1, 45009, 45033])
async def test_throttling_is_transient(api: Api, errcode: int) -> None:
    api.router.post("/cgi-bin/message/send").respond(json={"errcode": errcode, "errmsg": "busy"})
    with pytest.raises(TransientDeliveryError):
        await api.client.send_text(["zhangjl"], "hi")


@pytest.mark.parametrize(
    "response",
    [httpx.Response(502, text="bad gateway"), httpx.Response(429), httpx.ConnectTimeout("t"),
     httpx.ReadTimeout("t"), httpx.ConnectError("refused")],
)
async def test_5xx_and_network_failures_are_transient(api: Api, response: Any) -> None:
    api.router.post("/cgi-bin/message/send").mock(side_effect=[response])
    with pytest.raises(TransientDeliveryError):
        await api.client.send_text(["zhangjl"], "hi")


@pytest.mark.parametrize("errcode", [81013, 60020, 40058, 48002])
async def test_other_errcodes_are_platform_errors(api: Api, errcode: int) -> None:
    api.router.post("/cgi-bin/message/send").respond(json={"errcode": errcode, "errmsg": "no"})
    with pytest.raises(PlatformError) as caught:
        await api.client.send_text(["zhangjl"], "hi")
    assert caught.value.errcode == errcode and caught.value.platform == "wecom"


async def test_non_json_and_4xx_are_platform_errors(api: Api) -> None:
    api.router.post("/cgi-bin/message/send").mock(side_effect=[
        httpx.Response(200, text="<html>"), httpx.Response(404, text="nope")
    ])
    for _ in range(2):
        with pytest.raises(PlatformError):
            await api.client.send_text(["zhangjl"], "hi")


# gettoken with a wrong secret answers errcode 40001 (https://developer.work.weixin.qq.com/
# document/path/91039 and the global error codes page); an IP that keeps asking with a wrong
# secret is blocked for an hour, so refusals back off 1, 2, 4 … 30 minutes.
async def test_refused_gettoken_backs_off_and_messages_wait(
    api: Api, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    api.token.respond(json={"errcode": 40001, "errmsg": "invalid credential"})
    send = api.router.post("/cgi-bin/message/send").respond(json=SEND_OK)
    with (caplog.at_level(logging.ERROR, "hrbot.adapter.wecom"),
          pytest.raises(TransientDeliveryError) as caught):
        await api.client.send_text(["zhangjl"], "hi")
    assert caught.value.retry_after == 60  # retryable: the message waits for the fix
    assert "hrbot doctor" in caplog.text and SECRET not in caplog.text
    for _ in range(5):  # a burst of sends within the minute asks WeCom nothing
        with pytest.raises(TransientDeliveryError) as caught:
            await api.client.send_text(["zhangjl"], "hi")
        assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 60
    assert api.token.call_count == 1
    waits = []
    for _ in range(7):
        clock.advance(seconds=caught.value.retry_after or 0)
        with pytest.raises(TransientDeliveryError) as caught:
            await api.client.send_text(["zhangjl"], "hi")
        waits.append(caught.value.retry_after)
    assert waits == [120, 240, 480, 960, 1800, 1800, 1800]  # capped at 30 minutes
    assert api.token.call_count == 8 and send.call_count == 0
    api.token.respond(json=GETTOKEN["response"])  # the secret was fixed
    clock.advance(seconds=1800)
    assert (await api.client.send_text(["zhangjl"], "hi")).msgid == "xxxx"
    assert api.client.token_refusals == 0


async def test_gettoken_network_trouble_is_not_a_refusal(api: Api) -> None:
    api.token.mock(side_effect=httpx.ConnectError("down"))
    with pytest.raises(TransientDeliveryError) as caught:
        await api.client.send_text(["zhangjl"], "hi")
    assert caught.value.retry_after is None and api.client.token_refusals == 0


async def test_token_and_secret_stay_out_of_logs(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.router.post("/cgi-bin/message/send").mock(side_effect=[
        httpx.Response(200, json=SEND_OK),
        httpx.Response(200, json={"errcode": 81013, "errmsg": "all invalid"}),
    ])
    await api.client.send_text(["zhangjl"], "hi")
    with pytest.raises(PlatformError) as caught:
        await api.client.send_text(["zhangjl"], "hi")
    assert "access_token=***" in caplog.text  # httpx's request line, redacted
    for secret in (TOKEN, SECRET):
        assert secret not in caplog.text
        assert secret not in str(caught.value)


async def test_add_msg_template_returns_msgid_and_fail_list(api: Api) -> None:
    route = api.router.post("/cgi-bin/externalcontact/add_msg_template").respond(
        json=ADD_TEMPLATE["response"]
    )
    task = await api.client.add_msg_template(
        sender="zhangjl", external_userids=["wmA", "wmB"], text="您好，面试时间已确定"
    )
    body = sent_json(route)
    assert set(body) <= set(ADD_TEMPLATE["request"])
    assert body["chat_type"] == "single" and body["sender"] == "zhangjl"
    assert body["external_userid"] == ["wmA", "wmB"]
    assert task.msgid == "msgGCAAAXtWyujaWJHDDGi0mAAAA"
    assert task.fail_list == ("wmqfasd1e1927831123109rBAAAA",)
    with pytest.raises(ValueError):
        await api.client.add_msg_template(sender="z", external_userids=[], text="x")
    with pytest.raises(ValueError):
        await api.client.add_msg_template(sender="z", external_userids=["a"], text="长" * 1400)


async def test_groupmsg_result_not_ready_is_none_then_rows(api: Api) -> None:
    route = api.router.post("/cgi-bin/externalcontact/get_groupmsg_send_result").mock(
        side_effect=[
            httpx.Response(200, json={"errcode": 41063, "errmsg": "still sending"}),
            httpx.Response(200, json={**GROUPMSG["get_groupmsg_send_result"]["response"],
                                      "next_cursor": ""}),
        ]
    )
    assert await api.client.get_groupmsg_send_result("msg1", "zhangjl") is None
    rows = await api.client.get_groupmsg_send_result("msg1", "zhangjl")
    assert rows == GROUPMSG["get_groupmsg_send_result"]["response"]["send_list"]
    assert sent_json(route)["msgid"] == "msg1" and sent_json(route)["userid"] == "zhangjl"


async def test_external_contact_follows_every_page(api: Api) -> None:
    page2 = {"errcode": 0, "errmsg": "ok", "external_contact": CONTACT["response"][
        "external_contact"], "follow_user": [{"userid": "zhangjl", "state": "cand-7"}],
        "next_cursor": ""}
    route = api.router.get("/cgi-bin/externalcontact/get").mock(side_effect=[
        httpx.Response(200, json=CONTACT["response"]), httpx.Response(200, json=page2)
    ])
    contact = await api.client.get_external_contact("woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA")
    assert contact["external_contact"]["name"] == "李四"
    assert [f["userid"] for f in contact["follow_user"]] == ["rocky", "tommy", "zhangjl"]
    assert contact["follow_user"][0]["remark_mobiles"] == ["13800000001", "13000000002"]
    assert route.calls[1].request.url.params["cursor"] == "NEXT_CURSOR"


# --- messenger --------------------------------------------------------------------------


def message(card: Card, kind: str = "card", target: str = "lihr", n: int = 1) -> OutboundMessage:
    return OutboundMessage(outbox_id=n, idempotency_key=f"wecom:msg:{n}:0", platform="wecom",
                           target_kind="person", target=target, group=False, kind=kind, card=card)


async def instance(factory: SessionFactory) -> CardInstance:
    (row,) = await db.all_rows(factory, CardInstance)
    return row


@pytest.fixture
async def messenger(api: Api, session_factory: SessionFactory, clock: FakeClock) -> WeComMessenger:
    return WeComMessenger(api.client, DatabaseStores(session_factory), 1000002, clock=clock)


async def test_card_goes_as_template_card_and_its_code_is_kept(
    api: Api, messenger: WeComMessenger, session_factory: SessionFactory
) -> None:
    send = api.router.post("/cgi-bin/message/send").respond(json={**SEND_OK, "invaliduser": ""})
    await messenger.deliver(message(CARD))
    body = sent_json(send)
    task_id = body["template_card"]["task_id"]
    assert card_key_of(task_id) == "r1v1-review_task" and len(task_id) <= 128
    row = await instance(session_factory)
    assert (row.card_key, row.recipient, row.response_code, row.platform_ref) == (
        "r1v1-review_task", "lihr", "xyzxyz", task_id)
    await messenger.deliver(message(CARD))  # the outbox resends the same row
    assert sent_json(send) == body  # identical JSON: WeCom's duplicate check drops it


async def test_buttonless_card_goes_as_markdown(api: Api, messenger: WeComMessenger) -> None:
    send = api.router.post("/cgi-bin/message/send").respond(json={**SEND_OK, "invaliduser": ""})
    await messenger.deliver(message(Card(title="帮助", body="发送 推荐 …", footer="HR")))
    body = sent_json(send)
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["content"].startswith("**帮助**")


async def test_update_uses_the_newest_code_once_then_sends_anew(
    api: Api, messenger: WeComMessenger, session_factory: SessionFactory, clock: FakeClock
) -> None:
    async with session_scope(session_factory) as session:
        await save_card_instance(session=session, card_key=CARD.key or "", platform="wecom",
                                 recipient="lihr", platform_ref="k-x@1", response_code="FROM-SEND",
                                 now=clock())
        # A click arrived later with a fresh code: that one must be used.
        await set_response_code(session=session, card_key=CARD.key or "", platform="wecom",
                                recipient="lihr", response_code="FROM-CLICK", now=clock())
    update = api.router.post("/cgi-bin/message/update_template_card").respond(
        json={"errcode": 0, "errmsg": "ok", "invaliduser": []}
    )
    send = api.router.post("/cgi-bin/message/send").respond(json={**SEND_OK, "invaliduser": "",
                                                                  "response_code": ""})
    await messenger.deliver(message(DONE, kind="card_update", n=2))
    assert sent_json(update)["response_code"] == "FROM-CLICK"
    assert (await instance(session_factory)).response_code == ""  # single use
    await messenger.deliver(message(DONE, kind="card_update", n=3))
    assert update.call_count == 1 and send.call_count == 1  # no code left: a new message


async def test_spent_code_falls_back_to_a_new_message(
    api: Api, messenger: WeComMessenger, session_factory: SessionFactory, clock: FakeClock
) -> None:
    async with session_scope(session_factory) as session:
        await save_card_instance(session=session, card_key=CARD.key or "", platform="wecom",
                                 recipient="lihr", platform_ref="", response_code="SPENT",
                                 now=clock())
    api.router.post("/cgi-bin/message/update_template_card").respond(
        json={"errcode": 60140, "errmsg": "invalid response_code"}
    )
    send = api.router.post("/cgi-bin/message/send").respond(json={**SEND_OK, "invaliduser": ""})
    await messenger.deliver(message(CARD, kind="card_update", n=4))
    assert send.call_count == 1
    assert (await instance(session_factory)).response_code == "xyzxyz"  # the new card's code


async def test_code_older_than_72_hours_is_not_tried(
    api: Api, messenger: WeComMessenger, session_factory: SessionFactory, clock: FakeClock
) -> None:
    async with session_scope(session_factory) as session:
        await save_card_instance(session=session, card_key=CARD.key or "", platform="wecom",
                                 recipient="lihr", platform_ref="", response_code="OLD",
                                 now=clock())
    clock.advance(hours=72)
    send = api.router.post("/cgi-bin/message/send").respond(json={**SEND_OK, "invaliduser": ""})
    await messenger.deliver(message(DONE, kind="card_update", n=5))
    assert send.call_count == 1  # no update_template_card route: calling it would fail


async def test_update_errors_other_than_a_spent_code_propagate(
    api: Api, messenger: WeComMessenger, session_factory: SessionFactory, clock: FakeClock
) -> None:
    async with session_scope(session_factory) as session:
        await save_card_instance(session=session, card_key=CARD.key or "", platform="wecom",
                                 recipient="lihr", platform_ref="", response_code="C",
                                 now=clock())
    api.router.post("/cgi-bin/message/update_template_card").respond(
        json={"errcode": 45009, "errmsg": "rate limited"}
    )
    with pytest.raises(TransientDeliveryError):
        await messenger.deliver(message(DONE, kind="card_update", n=6))
    assert (await instance(session_factory)).response_code == "C"  # unused: kept for the retry


async def test_group_targets_and_invalid_users_are_permanent(
    api: Api, messenger: WeComMessenger
) -> None:
    group = OutboundMessage(outbox_id=7, idempotency_key="g", platform="wecom",
                            target_kind="conversation", target="chat1", group=True, kind="card",
                            card=CARD)
    with pytest.raises(PlatformError):
        await messenger.deliver(group)
    api.router.post("/cgi-bin/message/send").respond(json={**SEND_OK, "invaliduser": "lihr"})
    with pytest.raises(PlatformError):
        await messenger.deliver(message(CARD, n=8))


# message/send (https://developer.work.weixin.qq.com/document/path/90236): recipients outside
# the visible range come back in invaliduser, those without an interface licence in
# unlicenseduser; "返回包中的userid，不区分大小写，统一转为小写".
@pytest.mark.parametrize(
    ("answer", "errcode"),
    [
        ({"invaliduser": "lihr", "unlicenseduser": ""}, "invaliduser"),
        ({"invaliduser": "", "unlicenseduser": "someone|lihr"}, "unlicenseduser"),
    ],
)
async def test_mixed_case_recipient_refused_by_wecom_is_not_counted_as_delivered(
    api: Api, messenger: WeComMessenger, answer: dict[str, str], errcode: str
) -> None:
    send = api.router.post("/cgi-bin/message/send").respond(json={**SEND_OK, **answer})
    with pytest.raises(PlatformError) as caught:
        await messenger.deliver(message(CARD, target="LiHR", n=9))
    assert caught.value.errcode == errcode
    assert ("可见范围" if errcode == "invaliduser" else "接口许可") in str(caught.value)
    assert sent_json(send)["touser"] == "LiHR"


async def test_other_unlicensed_users_do_not_fail_this_recipient(
    api: Api, messenger: WeComMessenger
) -> None:
    api.router.post("/cgi-bin/message/send").respond(
        json={**SEND_OK, "invaliduser": "", "unlicenseduser": "userid3|userid4"}
    )
    await messenger.deliver(message(CARD, target="LiHR", n=10))
    sent = await api.client.send_text(["USERID3"], "x")
    assert sent.refusal("USERID3") == "unlicenseduser" and sent.refusal("LiHR") is None
