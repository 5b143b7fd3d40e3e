"""DingTalk cards with no template of the tenant's own: DingTalk's published card template.

Body shape: dingtalk-stream SDK @ 8d8bb1c ``dingtalk_stream/card_instance.py``
(``CarouselCardInstance.reply``: template ``382e4302-551d-4880-bf29-a30acfab2e71.schema``,
``flowStatus``/``msgTitle``/``staticMsgContent``/``sys_full_json_obj`` with ``order`` and
``msgButtons`` ``{"text","color","id","request": true}``, ``callback_type="STREAM"``) and
``card_replier.py`` (``createAndDeliver`` body). Callback shape: the documented
``actionCallback`` (tests/data/platforms/dingtalk_card_callback.json, from
https://open.dingtalk.com/document/development/event-callback-card): ``cardPrivateData``
carries ``actionIds`` (the tapped components' ids) and ``params``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from bot.adapters.dingtalk.builtin_card import (
    BUILTIN_TEMPLATE_ID,
    builtin_param_map,
    decode_action,
    encode_action,
)
from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.dingtalk.ids import out_track_id
from bot.adapters.dingtalk.messenger import DingTalkMessenger
from bot.adapters.dingtalk.parse import parse_card_event
from bot.config.schema import DingTalkConfig
from bot.pipeline.messenger import OutboundMessage
from cards.models import Button, Card, CardField
from tests._support.clock import FakeClock

API = "https://api.dingtalk.com"
TASK = Card(title="推荐审核 · 张三 · 店长", status="待HR审核", key="r1v1-review_task",
            fields=(CardField("岗位", "店长"),), body="曾将社区商场月客流提升30%",
            buttons=(Button(label="通过", action="review.pass", params={"rid": "1", "v": "1"},
                            style="primary"),
                     Button(label="驳回", action="review.reject", params={"rid": "1"},
                            style="danger")))
DONE = Card(title="推荐审核 · 张三 · 店长", status="已通过", key="r1v1-review_task")

Api = tuple[DingTalkMessenger, respx.MockRouter]


@pytest.fixture
async def api(clock: FakeClock) -> AsyncIterator[Api]:
    config = DingTalkConfig(app_key="key", app_secret="secret", robot_code="robot")
    with respx.mock(base_url=API, assert_all_called=False) as router:
        router.post("/v1.0/oauth2/accessToken").respond(
            json={"accessToken": "tok", "expireIn": 7200})
        router.post("/v1.0/card/instances/createAndDeliver").respond(
            json={"success": True, "result": {"deliverResults": [{"success": True}]}})
        router.put("/v1.0/card/instances").respond(json={"success": True, "result": True})
        async with httpx.AsyncClient() as http:
            client = DingTalkClient(config, http, clock)
            yield DingTalkMessenger(client, config.card_template_id, "robot"), router


def message(card: Card, kind: str = "card", handle: dict[str, Any] | None = None
            ) -> OutboundMessage:
    return OutboundMessage(outbox_id=1, idempotency_key="dingtalk:m1:0", platform="dingtalk",
                           target_kind="person", target="dt_li", group=False, kind=kind,
                           card=card, reply_handle=handle or {})


def bodies(router: respx.MockRouter, method: str, path: str) -> list[dict[str, Any]]:
    return [json.loads(c.request.content) for c in router.calls
            if c.request.method == method and c.request.url.path == path]


async def test_card_goes_through_the_published_template_with_callback_buttons(api: Api) -> None:
    messenger, router = api
    await messenger.deliver(message(TASK))
    [body] = bodies(router, "POST", "/v1.0/card/instances/createAndDeliver")
    assert body["cardTemplateId"] == BUILTIN_TEMPLATE_ID
    assert body["callbackType"] == "STREAM"
    assert body["openSpaceId"] == "dtv1.card//IM_ROBOT.dt_li"
    params = body["cardData"]["cardParamMap"]
    assert set(params) == {"flowStatus", "msgTitle", "msgContent", "staticMsgContent",
                           "sys_full_json_obj"}
    assert all(isinstance(v, str) for v in params.values())
    assert params["flowStatus"] == "3" and params["msgTitle"] == TASK.title
    assert params["staticMsgContent"].splitlines()[:2] == ["**待HR审核**", "**岗位**：店长"]
    assert "曾将社区商场月客流提升30%" in params["staticMsgContent"]
    layout = json.loads(params["sys_full_json_obj"])
    assert layout["order"] == ["msgTitle", "staticMsgContent", "msgButtons"]
    buttons = layout["msgButtons"]
    assert [(b["text"], b["color"], b["request"]) for b in buttons] == [
        ("通过", "blue", True), ("驳回", "red", True)]
    assert decode_action(buttons[0]["id"]) == ("review.pass", {"rid": "1", "v": "1"})
    assert buttons[0]["params"] == {"action": "review.pass", "rid": "1", "v": "1"}


async def test_http_mode_cards_name_the_registered_route(clock: FakeClock) -> None:
    config = DingTalkConfig(app_key="key", app_secret="secret", robot_code="robot")
    with respx.mock(base_url=API) as router:
        router.post("/v1.0/oauth2/accessToken").respond(
            json={"accessToken": "tok", "expireIn": 7200})
        create = router.post("/v1.0/card/instances/createAndDeliver").respond(
            json={"success": True, "result": {"deliverResults": [{"success": True}]}})
        async with httpx.AsyncClient() as http:
            messenger = DingTalkMessenger(DingTalkClient(config, http, clock), "", "robot",
                                          callback_route_key="hrbot")
            await messenger.deliver(message(TASK))
    body = json.loads(create.calls[0].request.content)
    assert (body["callbackType"], body["callbackRouteKey"]) == ("HTTP", "hrbot")
    assert body["cardTemplateId"] == BUILTIN_TEMPLATE_ID


async def test_update_replaces_the_same_variables_in_place(api: Api) -> None:
    messenger, router = api
    tapped = out_track_id("r1v1-review_task", "IM_ROBOT", "dt_li")
    await messenger.deliver(message(DONE, kind="card_update",
                                    handle={"outTrackId": tapped, "userId": "dt_li"}))
    [body] = bodies(router, "PUT", "/v1.0/card/instances")
    assert body["cardUpdateOptions"]["updateCardDataByKey"] is True
    params = body["cardData"]["cardParamMap"]
    assert params["staticMsgContent"] == "**已通过**"
    assert json.loads(params["sys_full_json_obj"]) == {
        "order": ["msgTitle", "staticMsgContent"], "msgButtons": []}  # buttons gone


def callback(content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "actionCallback",
            "outTrackId": out_track_id("r1v1-review_task", "IM_ROBOT", "dt_li"),
            "corpId": "dingcorp", "userId": "dt_li",
            "content": json.dumps(content, ensure_ascii=False)}


def test_a_tap_is_read_from_the_tapped_button_id_when_no_params_come_back() -> None:
    button_id = json.loads(builtin_param_map(TASK)["sys_full_json_obj"])["msgButtons"][1]["id"]
    event = parse_card_event(callback({"cardPrivateData": {"actionIds": [button_id],
                                                           "params": {}}}), message_id="m1")
    assert event.action is not None
    assert (event.action.action_id, event.action.params) == ("review.reject", {"rid": "1"})
    assert event.actor_id == "dt_li" and event.action.card_key == "r1v1-review_task"


def test_a_tap_with_params_uses_them() -> None:
    event = parse_card_event(callback({"cardPrivateData": {
        "actionIds": ["x"], "params": {"action": "review.pass", "rid": "1", "v": "1"}}}))
    assert event.action is not None
    assert (event.action.action_id, event.action.params) == (
        "review.pass", {"rid": "1", "v": "1"})


@pytest.mark.parametrize("action_ids", [["1"], ["hb1.bm90LWpzb24"], [], [7]])
def test_a_tap_on_a_button_that_is_not_ours_is_refused(action_ids: list[Any]) -> None:
    with pytest.raises(ValueError):
        parse_card_event(callback({"cardPrivateData": {"actionIds": action_ids}}))


def test_buttons_too_long_for_1_kb_drop_their_params_copy_then_refuse() -> None:
    many = tuple(Button(label=f"选项{i}", action="pick", params={"n": "x" * 20})
                 for i in range(6))
    layout = json.loads(builtin_param_map(Card(title="t", buttons=many))["sys_full_json_obj"])
    assert all("params" not in b and decode_action(b["id"]) for b in layout["msgButtons"])
    too_many = tuple(Button(label=f"选项{i}", action="pick", params={"n": "x" * 90})
                     for i in range(12))
    with pytest.raises(ValueError):
        builtin_param_map(Card(title="t", buttons=too_many))


def test_button_ids_round_trip_and_reject_garbage() -> None:
    assert decode_action(encode_action("a.b", {"k": "值"})) == ("a.b", {"k": "值"})
    assert decode_action("hb1.!!!") is None and decode_action("button_1") is None
