"""DingTalk OpenAPI client with respx: tokens, robot messages, cards, to-dos, error mapping."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from bot.adapters.dingtalk.client import DingTalkClient
from bot.config.schema import DingTalkConfig
from bot.core.errors import PlatformError
from bot.pipeline.messenger import TransientDeliveryError
from cards.models import Button, Card
from cards.render_dingtalk import create_and_deliver_body, update_body
from tests._support.clock import FakeClock
from tests._support.paths import PLATFORM_DATA

API = "https://api.dingtalk.com"
DATA = PLATFORM_DATA


def fixture(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


TOKEN = fixture("dingtalk_access_token.json")["new"]
ROBOT = fixture("dingtalk_robot_send.json")
CREATE = fixture("dingtalk_card_create_and_deliver.json")
UPDATE = fixture("dingtalk_card_update.json")
TODO = fixture("dingtalk_todo_create.json")
LIMITS = fixture("dingtalk_rate_limits.json")
SECRET_TOKEN = TOKEN["response"]["accessToken"]
CARD = Card(title="推荐审核 · 张三 · 店长", status="待HR审核", key="r1v1-review_task",
            buttons=(Button(label="通过", action="review.pass", params={"rid": "1"}),))


@pytest.fixture
async def api(clock: FakeClock) -> AsyncIterator[tuple[DingTalkClient, respx.MockRouter]]:
    config = DingTalkConfig(app_key="dingeqqpkv3xxxxxx", app_secret="GT-lsu-taDAxxxsTsxxxx",
                            robot_code="dingrobot", card_template_id="tpl")
    with respx.mock(base_url=API, assert_all_called=False) as router:
        router.post("/v1.0/oauth2/accessToken").respond(json=TOKEN["response"])
        async with httpx.AsyncClient() as http:
            yield DingTalkClient(config, http, clock), router


def sent_json(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


async def test_token_is_cached_until_five_minutes_before_expiry(
    api: tuple[DingTalkClient, respx.MockRouter], clock: FakeClock
) -> None:
    client, router = api
    send = router.post("/v1.0/robot/groupMessages/send").respond(json={"processQueryKey": "q"})
    await client.send_group("cid", "sampleText", {"content": "hi"})
    clock.advance(seconds=7200 - 301)
    await client.send_group("cid", "sampleText", {"content": "hi"})
    token_route = router.routes[0]
    assert token_route.call_count == 1
    assert sent_json(token_route, 0) == TOKEN["request"]["body"]
    assert send.calls[-1].request.headers["x-acs-dingtalk-access-token"] == SECRET_TOKEN
    clock.advance(seconds=2)  # inside the 5-minute margin: fetch a new one
    await client.send_group("cid", "sampleText", {"content": "hi"})
    assert token_route.call_count == 2


async def test_401_refreshes_the_token_once(
    api: tuple[DingTalkClient, respx.MockRouter],
) -> None:
    client, router = api
    route = router.post("/v1.0/robot/groupMessages/send")
    route.side_effect = [httpx.Response(401, json={"code": "InvalidAuthentication"}),
                         httpx.Response(200, json={"processQueryKey": "q"})]
    assert (await client.send_group("cid", "sampleText", {"content": "x"}))["processQueryKey"]
    assert router.routes[0].call_count == 2 and route.call_count == 2
    route.side_effect = [httpx.Response(401, json={"code": "InvalidAuthentication"})] * 2
    with pytest.raises(PlatformError) as err:
        await client.send_group("cid", "sampleText", {"content": "x"})
    assert err.value.errcode == "InvalidAuthentication"
    assert router.routes[0].call_count == 3  # one refresh per call, not a loop


# After an app-secret reset the new API answers HTTP 400, not 401:
# {"code":"InvalidAuthentication","requestid":"…","message":"不合法的access_token"}
# (as reported in https://github.com/satorijs/satori/issues/240 and
# https://github.com/alibabacloud-sdk-php/dingtalk/pull/1; the SDK's reset_access_token()).
INVALID_TOKEN = {"code": "InvalidAuthentication", "requestid": "30EE8654-1AA2-7D88",
                 "message": "不合法的access_token"}


async def test_400_invalid_authentication_refreshes_the_token_once_for_a_burst(
    api: tuple[DingTalkClient, respx.MockRouter], caplog: pytest.LogCaptureFixture,
) -> None:
    client, router = api
    token_route = router.routes[0]
    token_route.side_effect = [
        httpx.Response(200, json={"accessToken": "revoked", "expireIn": 7200}),
        httpx.Response(200, json={"accessToken": "fresh", "expireIn": 7200}),
    ]

    refused: list[str] = []
    all_refused = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["x-acs-dingtalk-access-token"] == "revoked":
            # Revoked mid-burst: all five are in flight with the old token before any answer.
            refused.append(json.loads(request.content)["openConversationId"])
            if len(refused) == 5:
                all_refused.set()
            await all_refused.wait()
            return httpx.Response(400, json=INVALID_TOKEN)
        return httpx.Response(200, json={"processQueryKey": "q"})

    send = router.post("/v1.0/robot/groupMessages/send").mock(side_effect=answer)
    await client.access_token()
    results = await asyncio.gather(
        *(client.send_group(f"cid{i}", "sampleText", {"content": "x"}) for i in range(5))
    )
    assert all(r["processQueryKey"] == "q" for r in results)
    assert token_route.call_count == 2  # one refresh for the whole burst
    refused = [r for r in caplog.records if "refused the access token" in r.getMessage()]
    assert len(refused) == 1  # and one log line
    assert send.call_count == 10  # each message refused once, then sent once: none twice
    delivered = [json.loads(c.request.content)["openConversationId"] for c in send.calls
                 if c.request.headers["x-acs-dingtalk-access-token"] == "fresh"]
    assert sorted(delivered) == [f"cid{i}" for i in range(5)]


async def test_other_400s_do_not_refresh_the_token(
    api: tuple[DingTalkClient, respx.MockRouter],
) -> None:
    client, router = api
    router.post("/v1.0/robot/groupMessages/send").respond(
        400, json={"code": "param.invalid", "message": "bad"})
    with pytest.raises(PlatformError):
        await client.send_group("cid", "sampleText", {"content": "x"})
    assert router.routes[0].call_count == 1


async def test_bad_credentials_are_permanent(
    api: tuple[DingTalkClient, respx.MockRouter],
) -> None:
    client, router = api
    router.routes[0].respond(400, json={"code": "invalidClientIdOrSecret", "message": "bad"})
    with pytest.raises(PlatformError) as err:
        await client.access_token()
    assert err.value.errcode == "invalidClientIdOrSecret"


async def test_batch_send_body_and_lists(api: tuple[DingTalkClient, respx.MockRouter]) -> None:
    client, router = api
    route = router.post("/v1.0/robot/oToMessages/batchSend")
    route.respond(json={"processQueryKey": "q", "invalidStaffIdList": [],
                        "flowControlledStaffIdList": [], "filteredStaffIdList": []})
    await client.batch_send(["manager1234"], "sampleMarkdown", {"text": "t", "title": "h"})
    body = sent_json(route)
    assert set(body) == set(ROBOT["oto_batch_send"]["request"])
    assert body["robotCode"] == "dingrobot" and body["userIds"] == ["manager1234"]
    assert json.loads(body["msgParam"]) == {"text": "t", "title": "h"}  # a JSON string
    for key, error in [("flowControlledStaffIdList", TransientDeliveryError),
                       ("invalidStaffIdList", PlatformError),
                       ("filteredStaffIdList", PlatformError)]:
        route.respond(json={"processQueryKey": "q", key: ["manager1234"]})
        with pytest.raises(error):  # HTTP 200 is not delivery
            await client.batch_send(["manager1234"], "sampleText", {"content": "x"})
    with pytest.raises(ValueError):
        await client.batch_send([f"u{n}" for n in range(21)], "sampleText", {"content": "x"})


async def test_group_send_body(api: tuple[DingTalkClient, respx.MockRouter]) -> None:
    client, router = api
    route = router.post("/v1.0/robot/groupMessages/send").respond(json={"processQueryKey": "q"})
    await client.send_group("cidAsXSBLnA==", "sampleText", {"content": "hi"})
    body = sent_json(route)
    documented = {f.split()[0] for f in ROBOT["group_send"]["request_fields"]}
    assert set(body) <= documented
    assert body["openConversationId"] == "cidAsXSBLnA==" and body["msgKey"] == "sampleText"


async def test_create_and_deliver(api: tuple[DingTalkClient, respx.MockRouter]) -> None:
    client, router = api
    route = router.post("/v1.0/card/instances/createAndDeliver")
    route.respond(json=CREATE["response_official_example"])
    body = create_and_deliver_body(card=CARD, template_id="tpl", out_track_id="ot-1",
                                   robot_code="dingrobot", space="IM_ROBOT", target="dt_li")
    await client.create_and_deliver(body)
    sent = sent_json(route)
    assert set(sent) <= set(CREATE["request_official_example_trimmed"])
    assert sent["callbackType"] == "STREAM" and sent["openSpaceId"] == "dtv1.card//IM_ROBOT.dt_li"
    assert route.calls[-1].request.headers["x-acs-dingtalk-access-token"] == SECRET_TOKEN
    failed = json.loads(json.dumps(CREATE["response_official_example"]))
    failed["result"]["deliverResults"][0].update(success=False, errorMsg="NO_PERMISSION")
    route.respond(json=failed)
    with pytest.raises(PlatformError, match="NO_PERMISSION"):
        await client.create_and_deliver(body)


async def test_card_already_exists_is_success(
    api: tuple[DingTalkClient, respx.MockRouter],
) -> None:
    client, router = api
    route = router.post("/v1.0/card/instances/createAndDeliver")
    route.respond(400, json={"code": "param.cardAlreadyExist", "message": "exists"})
    assert await client.create_and_deliver({"outTrackId": "ot-1"}) == {"alreadyExisted": True}
    route.respond(400, json={"code": "param.templateNotExist", "message": "no template"})
    with pytest.raises(PlatformError) as err:
        await client.create_and_deliver({"outTrackId": "ot-1"})
    assert err.value.errcode == "param.templateNotExist"


async def test_update_merges_by_key(api: tuple[DingTalkClient, respx.MockRouter]) -> None:
    client, router = api
    route = router.put("/v1.0/card/instances").respond(json=UPDATE["response"])
    await client.update_card(update_body(card=CARD, out_track_id="ot-1"))
    sent = sent_json(route)
    assert set(sent) <= set(UPDATE["request"])
    assert sent["cardUpdateOptions"]["updateCardDataByKey"] is True
    assert sent["outTrackId"] == "ot-1"
    route.respond(json={"success": True, "result": False})
    with pytest.raises(PlatformError):
        await client.update_card(update_body(card=CARD, out_track_id="ot-1"))


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(403, json={"code": LIMITS["per_app_per_api_qps"]["new_code"]}),
        httpx.Response(403, json={"code": LIMITS["global_per_api_qps"]["new_code"]}),
        httpx.Response(429, text="slow down"),
        httpx.Response(500, json={"code": "system.busy", "message": "busy"}),
        httpx.Response(504, text="gateway timeout"),
        httpx.Response(200, json=LIMITS["per_ip"]["response"]),
        httpx.Response(403, text="<html>x5sec punish deny</html>"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("refused"),
    ],
)
async def test_retryable_failures_are_transient(
    api: tuple[DingTalkClient, respx.MockRouter], answer: httpx.Response | Exception
) -> None:
    client, router = api
    route = router.put("/v1.0/card/instances")
    if isinstance(answer, Exception):
        route.side_effect = answer
    else:
        route.return_value = answer
    with pytest.raises(TransientDeliveryError):
        await client.update_card(update_body(card=CARD, out_track_id="ot-1"))


async def test_monthly_quota_and_bad_params_are_permanent(
    api: tuple[DingTalkClient, respx.MockRouter],
) -> None:
    client, router = api
    route = router.put("/v1.0/card/instances")
    for code in (LIMITS["monthly_quota_standard_org"]["new_code"], "param.cardNotExist"):
        route.respond(403 if code.startswith("Forbidden") else 400, json={"code": code})
        with pytest.raises(PlatformError) as err:
            await client.update_card(update_body(card=CARD, out_track_id="ot-1"))
        assert err.value.errcode == code


async def test_todo_uses_union_ids_and_detail_url(
    api: tuple[DingTalkClient, respx.MockRouter],
) -> None:
    client, router = api
    route = router.post("/v1.0/todo/users/un_li/tasks").respond(json={"id": "task-1"})
    task_id = await client.create_todo(
        union_id="un_li", subject="审核推荐 · 张三", source_id="referral-1-review",
        app_url="https://hr.example.com/r/1", description="店长", due_ms=1_772_500_000_000,
    )
    assert task_id == "task-1"
    request = route.calls[-1].request
    assert request.url.params["operatorId"] == "un_li"
    body = json.loads(request.content)
    assert set(body) <= set(TODO["request"])
    assert body["detailUrl"] == {"appUrl": "https://hr.example.com/r/1",
                                 "pcUrl": "https://hr.example.com/r/1"}
    assert body["sourceId"] == "referral-1-review"
    assert body["creatorId"] == "un_li" and body["executorIds"] == ["un_li"]
    with pytest.raises(ValueError):
        await client.create_todo(union_id="un_li", subject="x", source_id="s", app_url="")


async def test_session_webhook_reply_and_fallback(
    api: tuple[DingTalkClient, respx.MockRouter], clock: FakeClock
) -> None:
    client, router = api
    hook = "https://oapi.dingtalk.com/robot/sendBySession?session=abc"
    route = router.post(hook).respond(json={"errcode": 0, "errmsg": "ok"})
    now_ms = int(clock().timestamp() * 1000)
    body = ROBOT["session_webhook_reply_as_sent_by_sdk"]
    assert await client.reply_session(hook, now_ms + 1000, body) is True
    assert "x-acs-dingtalk-access-token" not in route.calls[-1].request.headers
    assert json.loads(route.calls[-1].request.content) == body
    assert await client.reply_session(hook, now_ms, body) is False  # expired
    assert await client.reply_session("https://evil.example/robot", now_ms + 1000, body) is False
    assert route.call_count == 1 and router.routes[0].call_count == 0  # no token needed
    route.respond(json={"errcode": 90018, "errmsg": "qps"})
    with pytest.raises(TransientDeliveryError):
        await client.reply_session(hook, now_ms + 1000, body)
    route.respond(json={"errcode": 300001, "errmsg": "session expired"})
    with pytest.raises(PlatformError):
        await client.reply_session(hook, now_ms + 1000, body)


async def test_tokens_never_reach_logs_or_errors(
    api: tuple[DingTalkClient, respx.MockRouter], caplog: pytest.LogCaptureFixture
) -> None:
    client, router = api
    caplog.set_level(logging.DEBUG)
    router.put("/v1.0/card/instances").respond(500, json={"code": "system.busy"})
    with pytest.raises(TransientDeliveryError) as err:
        await client.update_card(update_body(card=CARD, out_track_id="ot-1"))
    router.post("/v1.0/card/instances/createAndDeliver").respond(
        400, json={"code": "param.cardAlreadyExist"})
    await client.create_and_deliver({"outTrackId": "ot-1"})
    assert SECRET_TOKEN not in caplog.text and SECRET_TOKEN not in str(err.value)
    assert "GT-lsu-taDAxxxsTsxxxx" not in caplog.text
