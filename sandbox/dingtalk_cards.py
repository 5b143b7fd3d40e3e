"""Fake DingTalk OpenAPI, part 2: interactive cards ("高级版") and to-dos.

A card is stored once under its ``outTrackId`` and shown in every space it was delivered
to; ``PUT /v1.0/card/instances`` changes that one copy, so each chat shows the new state in
place. ``cardUpdateOptions.updateCardDataByKey`` merges keys; without it the card data is
replaced, as the real API does.

Sources:
    https://open.dingtalk.com/document/development/create-and-deliver-cards
    https://open.dingtalk.com/document/development/interactive-card-update-interface
    https://open.dingtalk.com/document/development/add-dingtalk-to-do-task
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from sandbox.fake_dingtalk import robot_code_error, unauthorised
from sandbox.normalise import PUBLISHED_TEMPLATE
from sandbox.state import BOT, DINGTALK, CardState, World, dm_key
from sandbox.wire import SETTINGS, WORLD, answer, dingtalk_error, json_object

SPACE_PREFIX = "dtv1.card//"
DELIVER_MODELS = {"IM_ROBOT": "imRobotOpenDeliverModel", "IM_GROUP": "imGroupOpenDeliverModel"}


def _param_map(value: Any) -> dict[str, str] | None:
    """A ``cardParamMap`` (every value a string), or None when it is not one."""
    params = value.get("cardParamMap") if isinstance(value, dict) else None
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        return None
    return dict(params)


def parse_spaces(open_space_id: str) -> list[tuple[str, str]] | None:
    """``dtv1.card//IM_ROBOT.u1;IM_GROUP.cid…`` → ``[("IM_ROBOT", "u1"), …]``; None if bad."""
    if not open_space_id.startswith(SPACE_PREFIX):
        return None
    spaces = []
    for part in open_space_id[len(SPACE_PREFIX):].split(";"):
        kind, dot, space_id = part.partition(".")
        if not dot or not kind or not space_id:
            return None
        spaces.append((kind.upper(), space_id))
    return spaces


def apply_update(world: World, card: CardState, card_data: Any,
                 private: dict[str, Any], options: Any) -> None:
    """Merge or replace public and per-user data, as ``cardUpdateOptions`` says."""
    options = options if isinstance(options, dict) else {}
    params = dict(card.content["params"])
    new = _param_map(card_data)
    if new is not None:
        params = {**params, **new} if options.get("updateCardDataByKey") else new
    privates = {k: dict(v) for k, v in card.content["private"].items()}
    for user, value in private.items():
        new_private = _param_map(value) or {}
        merged = privates.get(user, {}) if options.get("updatePrivateDataByKey") else {}
        privates[user] = {**merged, **new_private}
    world.updated_card(card, {"params": params, "private": privates})


def _deliver_one(world: World, card: CardState, body: dict[str, Any],
                 kind: str, space_id: str) -> dict[str, Any]:
    result: dict[str, Any] = {"spaceType": kind, "spaceId": space_id, "success": False}
    model = body.get(DELIVER_MODELS.get(kind, ""))
    if kind == "IM_ROBOT":
        lookup = world.directory.by_union_id if body.get("userIdType") == 2 \
            else world.directory.by_dingtalk_user
        person = lookup(space_id)
        if person is None:
            return {**result, "errorMsg": "USER_NOT_EXIST"}
        conversation, visible = dm_key(person.id), None
    elif kind == "IM_GROUP":
        group = world.directory.group(space_id)
        if group is None:
            return {**result, "errorMsg": "OPEN_CONVERSATION_NOT_EXIST"}
        recipients = model.get("recipients") if isinstance(model, dict) else None
        visible = None
        if isinstance(recipients, list) and recipients:
            people = [world.directory.by_dingtalk_user(str(r)) for r in recipients]
            visible = tuple(p.id for p in people if p is not None)
        conversation = group.id
    else:
        return {**result, "errorMsg": "UNSUPPORTED_SPACE_TYPE"}
    world.add_message(DINGTALK, conversation, "card", BOT, card_id=card.id, visible_to=visible)
    card.meta["spaces"].append({"spaceType": kind, "spaceId": space_id})
    return {**result, "success": True, "carrierId": uuid.uuid4().hex}


async def create_and_deliver(request: web.Request) -> web.Response:
    """``POST /v1.0/card/instances/createAndDeliver``."""
    refused = unauthorised(request)
    if refused is not None:
        return refused
    body = await json_object(request) or {}
    world, settings = request.app[WORLD], request.app[SETTINGS]
    template, track = body.get("cardTemplateId"), body.get("outTrackId")
    if not template:
        return dingtalk_error(400, "param.cardTemplateIdEmpty", "cardTemplateId为空")
    # DingTalk's published template exists for every app; others only once built.
    if template != PUBLISHED_TEMPLATE and settings.dingtalk_card_template_id not in (
        None, template
    ):
        return dingtalk_error(400, "param.templateNotExist", "模板不存在")
    if not isinstance(track, str) or not track:
        return dingtalk_error(400, "param.outTrackIdEmpty", "outTrackId为空")
    if not body.get("openSpaceId"):
        return dingtalk_error(400, "param.openSpaceIdEmpty", "openSpaceId为空")
    spaces = parse_spaces(str(body["openSpaceId"]))
    if spaces is None:
        return dingtalk_error(400, "param.openSpaceIdInvalid", "openSpaceId格式错误")
    if track in world.cards:
        return dingtalk_error(400, "param.cardAlreadyExist", "卡片已存在")
    for kind, _ in spaces:
        if kind in DELIVER_MODELS and not isinstance(body.get(DELIVER_MODELS[kind]), dict):
            return dingtalk_error(400, "param.openDeliverModelEmpty",
                                  f"{DELIVER_MODELS[kind]}为空")
        if kind == "IM_GROUP":
            refused = robot_code_error(request, body[DELIVER_MODELS[kind]])
            if refused is not None:
                return refused
    params = _param_map(body.get("cardData"))
    callback_type = body.get("callbackType", "STREAM")
    if params is None or callback_type not in ("STREAM", "HTTP"):
        return dingtalk_error(400, "param.invalid",
                              "cardData.cardParamMap值须为字符串; callbackType须为STREAM或HTTP")
    private = given if isinstance(given := body.get("privateData"), dict) else {}
    card = world.add_card(track, DINGTALK, {"params": params, "private": {
        str(user): _param_map(value) or {} for user, value in private.items()
    }}, {"callbackType": callback_type, "callbackRouteKey": body.get("callbackRouteKey"),
         "userIdType": body.get("userIdType", 1), "cardTemplateId": template, "spaces": []})
    results = [_deliver_one(world, card, body, kind, space_id) for kind, space_id in spaces]
    return answer({"success": True, "result": {"outTrackId": track, "deliverResults": results}})


async def update_card(request: web.Request) -> web.Response:
    """``PUT /v1.0/card/instances``."""
    refused = unauthorised(request)
    if refused is not None:
        return refused
    body = await json_object(request) or {}
    world = request.app[WORLD]
    track = body.get("outTrackId")
    if not isinstance(track, str) or not track:
        return dingtalk_error(400, "param.outTrackIdEmpty", "outTrackId为空")
    card = world.cards.get(track)
    if card is None or card.platform != DINGTALK:
        return dingtalk_error(400, "param.cardNotExist", "卡片不存在")
    private = given if isinstance(given := body.get("privateData"), dict) else {}
    if body.get("cardData") is None and not private:
        return dingtalk_error(400, "param.cardDataAndPrivateDataBothEmpty", "卡片数据为空")
    if body.get("cardData") is not None and _param_map(body["cardData"]) is None:
        return dingtalk_error(400, "param.invalid", "cardData.cardParamMap值须为字符串")
    apply_update(world, card, body.get("cardData"), private, body.get("cardUpdateOptions"))
    return answer({"success": True, "result": True})


async def register_callback(request: web.Request) -> web.Response:
    """``POST /v1.0/card/callbacks/register``: recorded; taps on HTTP cards go there."""
    refused = unauthorised(request)
    if refused is not None:
        return refused
    body = await json_object(request) or {}
    key, url = body.get("callbackRouteKey"), body.get("callbackUrl")
    if not isinstance(key, str) or not key or not isinstance(url, str) or not url:
        return dingtalk_error(400, "param.invalid", "callbackRouteKey/callbackUrl为空")
    world = request.app[WORLD]
    existing = world.card_callbacks.get(key)
    if existing is None or body.get("forceUpdate"):
        existing = {"callbackUrl": url, "apiSecret": body.get("apiSecret") or "",
                    "callbackRouteKey": key}
        world.card_callbacks[key] = existing
    return answer({"success": True, "result": {"callbackUrl": existing["callbackUrl"],
                                               "apiSecret": existing["apiSecret"]}})


def _todo_answer(todo: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in todo.items() if k not in ("person_id", "deleted")}


async def create_todo(request: web.Request) -> web.Response:
    """``POST /v1.0/todo/users/{unionId}/tasks?operatorId=``: ids are unionIds."""
    refused = unauthorised(request)
    if refused is not None:
        return refused
    world = request.app[WORLD]
    person = world.directory.by_union_id(request.match_info["unionId"])
    if person is None:
        return dingtalk_error(400, "invalidParameter.unionId", "unionId不存在")
    body = await json_object(request) or {}
    detail = body.get("detailUrl")
    if not isinstance(body.get("subject"), str) or not body["subject"]:
        return dingtalk_error(400, "invalidParameter.subject", "subject为空")
    if not isinstance(detail, dict) or not detail.get("appUrl") or not detail.get("pcUrl"):
        return dingtalk_error(400, "invalidParameter.detailUrl", "detailUrl.appUrl/pcUrl为必填")
    source = body.get("sourceId")
    for todo in world.todos.values():
        if source and todo.get("sourceId") == source and todo["person_id"] == person.id:
            return answer(_todo_answer(todo))  # sourceId is the caller's idempotency key
    now = world.now_ms()
    todo = {"id": "task" + uuid.uuid4().hex[:16], **body, "done": False, "createdTime": now,
            "modifiedTime": now, "creatorId": body.get("creatorId", person.dingtalk_union_id),
            "executorIds": body.get("executorIds") or [person.dingtalk_union_id],
            "requestId": uuid.uuid4().hex, "person_id": person.id}
    world.todos[todo["id"]] = todo
    world.touch()
    return answer(_todo_answer(todo))


async def todo_item(request: web.Request) -> web.Response:
    """``GET/PUT/DELETE /v1.0/todo/users/{unionId}/tasks/{taskId}``."""
    refused = unauthorised(request)
    if refused is not None:
        return refused
    world = request.app[WORLD]
    todo = world.todos.get(request.match_info["taskId"])
    if todo is None or todo.get("deleted"):
        return dingtalk_error(400, "invalidParameter.taskId", "待办不存在")
    if request.method == "GET":
        return answer(_todo_answer(todo))
    if request.method == "DELETE":
        todo["deleted"] = True
    else:
        body = await json_object(request) or {}
        for key in ("subject", "description", "dueTime", "done", "executorIds",
                    "participantIds", "priority"):
            if key in body:
                todo[key] = body[key]
    todo["modifiedTime"] = world.now_ms()
    world.touch()
    return answer({"result": True, "requestId": uuid.uuid4().hex})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1.0/card/instances/createAndDeliver", create_and_deliver)
    app.router.add_put("/v1.0/card/instances", update_card)
    app.router.add_post("/v1.0/card/callbacks/register", register_callback)
    app.router.add_post("/v1.0/todo/users/{unionId}/tasks", create_todo)
    for method in ("GET", "PUT", "DELETE"):
        app.router.add_route(method, "/v1.0/todo/users/{unionId}/tasks/{taskId}", todo_item)
