"""Fake DingTalk OpenAPI, part 1: tokens, the Stream open-connection call, robot messages.

Mounted at the root of the sandbox server: the bot's ``api_base`` and ``oapi_base`` both
point here. New-style APIs (``/v1.0/…``) need ``x-acs-dingtalk-access-token`` and answer
errors as HTTP 4xx/5xx with ``code``/``message``; old-style ones answer HTTP 200 with
``errcode``. Cards and to-dos are in :mod:`sandbox.dingtalk_cards`.

Sources:
    https://open.dingtalk.com/document/orgapp/obtain-the-access_token-of-an-internal-app
    https://open.dingtalk.com/document/direction/stream-mode-protocol-access-description
    https://open.dingtalk.com/document/orgapp/chatbots-send-one-on-one-chat-messages-in-batches
    https://open.dingtalk.com/document/orgapp/query-user-details (topapi/v2/user/get, 60121)
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from sandbox.state import BOT, DINGTALK, World, dm_key
from sandbox.stream import GATEWAY, STREAM_PATH
from sandbox.wire import (
    SETTINGS,
    WORLD,
    answer,
    base_url,
    dingtalk_error,
    json_object,
)

TOKEN_LIFETIME = 7200
MAX_BATCH_USERS = 20


def _credentials_ok(request: web.Request, key: Any, secret: Any) -> bool:
    settings = request.app[SETTINGS]
    if not isinstance(key, str) or not key or not isinstance(secret, str) or not secret:
        return False
    return (settings.dingtalk_app_key in (None, key)
            and settings.dingtalk_app_secret in (None, secret))


def _token(world: World) -> str:
    """The app's token: the same one while valid (DingTalk extends it), else a new one."""
    for token, (platform, expires) in world.tokens.items():
        if platform == DINGTALK and expires > world.now():
            world.issue_token(DINGTALK, token, TOKEN_LIFETIME)
            return token
    token = uuid.uuid4().hex
    world.issue_token(DINGTALK, token, TOKEN_LIFETIME)
    return token


async def access_token(request: web.Request) -> web.Response:
    """``POST /v1.0/oauth2/accessToken {appKey, appSecret}``."""
    body = await json_object(request) or {}
    if not _credentials_ok(request, body.get("appKey"), body.get("appSecret")):
        return dingtalk_error(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
    return answer({"accessToken": _token(request.app[WORLD]), "expireIn": TOKEN_LIFETIME})


async def old_token(request: web.Request) -> web.Response:
    """``GET /gettoken?appkey=&appsecret=`` (old API)."""
    query = request.query
    if not _credentials_ok(request, query.get("appkey"), query.get("appsecret")):
        return answer({"errcode": 40089, "errmsg": "不合法的corpid或corpsecret"})
    return answer({"errcode": 0, "access_token": _token(request.app[WORLD]), "errmsg": "ok",
                   "expires_in": TOKEN_LIFETIME})


def unauthorised(request: web.Request) -> web.Response | None:
    """A missing, unknown or expired token: HTTP 400 ``InvalidAuthentication``.

    DingTalk answers 400, not 401 (``{"code":"InvalidAuthentication","message":
    "不合法的access_token"}``, as seen in https://github.com/satorijs/satori/issues/240).
    """
    token = request.headers.get("x-acs-dingtalk-access-token", "")
    if request.app[WORLD].token_state(DINGTALK, token) == "valid":
        return None
    return dingtalk_error(400, "InvalidAuthentication", "不合法的access_token")


async def open_connection(request: web.Request) -> web.Response:
    """``POST /v1.0/gateway/connections/open``: a single-use ticket and our websocket URL."""
    body = await json_object(request)
    if body is None:
        return dingtalk_error(400, "param.invalid", "body must be a JSON object")
    if not _credentials_ok(request, body.get("clientId"), body.get("clientSecret")):
        return dingtalk_error(401, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
    subscriptions = body.get("subscriptions")
    if not isinstance(subscriptions, list) or not subscriptions:
        return dingtalk_error(400, "param.subscriptionsEmpty", "subscriptions is required")
    ticket = request.app[GATEWAY].issue_ticket(str(body["clientId"]), subscriptions)
    endpoint = base_url(request).replace("http", "ws", 1) + STREAM_PATH
    return answer({"endpoint": endpoint, "ticket": ticket})


def robot_code_error(request: web.Request, body: dict[str, Any]) -> web.Response | None:
    expected = request.app[SETTINGS].dingtalk_robot_code
    code = body.get("robotCode")
    if not isinstance(code, str) or not code or expected not in (None, code):
        return dingtalk_error(400, "invalidParameter.robotCode", "robotCode不存在或无权限")
    return None


def message_fields(msg_key: Any, msg_param: Any) -> dict[str, str] | None:
    """(kind, title, text) of a robot message from ``msgKey``/``msgParam``; None if unusable."""
    if not isinstance(msg_key, str) or not isinstance(msg_param, str):
        return None
    try:
        params = json.loads(msg_param)
    except ValueError:
        return None
    if not isinstance(params, dict):
        return None
    if msg_key == "sampleImageMsg":
        return {"kind": "image", "text": "", "media": str(params.get("photoURL", ""))}
    if msg_key == "sampleText":
        return {"kind": "text", "text": str(params.get("content", ""))}
    if msg_key.startswith(("sampleMarkdown", "sampleActionCard", "sampleLink")):
        text = str(params.get("text", ""))
        links = [str(v) for k, v in sorted(params.items())
                 if k.lower().startswith(("singletitle", "actiontitle", "buttontitle"))]
        if links:
            text += "\n\n" + " | ".join(f"[{label}]" for label in links)
        return {"kind": "markdown", "title": str(params.get("title", "")), "text": text}
    return {"kind": "text", "text": f"[{msg_key}]"}


async def batch_send(request: web.Request) -> web.Response:
    """``POST /v1.0/robot/oToMessages/batchSend``: 1:1 robot messages to ≤20 users."""
    refused = unauthorised(request)
    body = await json_object(request) or {}
    refused = refused or robot_code_error(request, body)
    if refused is not None:
        return refused
    user_ids = body.get("userIds")
    if not isinstance(user_ids, list) or not 0 < len(user_ids) <= MAX_BATCH_USERS:
        return dingtalk_error(400, "param.userIds", f"userIds must list 1..{MAX_BATCH_USERS}")
    fields = message_fields(body.get("msgKey"), body.get("msgParam"))
    if fields is None:
        return dingtalk_error(400, "param.msgParam", "msgKey/msgParam invalid (JSON string)")
    world = request.app[WORLD]
    result: dict[str, Any] = {"processQueryKey": uuid.uuid4().hex, "invalidStaffIdList": [],
              "flowControlledStaffIdList": [], "filteredStaffIdList": []}
    if world.faults.take(request.path, kind="flow_control") is not None:
        result["flowControlledStaffIdList"] = list(user_ids)
        return answer(result)
    for user_id in user_ids:
        person = world.directory.by_dingtalk_user(str(user_id))
        if person is None:
            result["invalidStaffIdList"].append(user_id)
            continue
        kind = fields["kind"]
        world.add_message(DINGTALK, dm_key(person.id), kind, BOT, text=fields["text"],
                          title=fields.get("title", ""), media=fields.get("media", ""))
    return answer(result)


async def group_send(request: web.Request) -> web.Response:
    """``POST /v1.0/robot/groupMessages/send``."""
    refused = unauthorised(request)
    body = await json_object(request) or {}
    refused = refused or robot_code_error(request, body)
    if refused is not None:
        return refused
    world = request.app[WORLD]
    group = world.directory.group(str(body.get("openConversationId", "")))
    if group is None:
        return dingtalk_error(400, "invalidParameter.openConversationId", "群会话不存在")
    fields = message_fields(body.get("msgKey"), body.get("msgParam"))
    if fields is None:
        return dingtalk_error(400, "param.msgParam", "msgKey/msgParam invalid (JSON string)")
    world.add_message(DINGTALK, group.id, fields["kind"], BOT, text=fields["text"],
                      title=fields.get("title", ""), media=fields.get("media", ""))
    return answer({"processQueryKey": uuid.uuid4().hex})


async def send_by_session(request: web.Request) -> web.Response:
    """``POST /robot/sendBySession?session=``: the sessionWebhook of a pushed message."""
    world = request.app[WORLD]
    entry = world.sessions.get(request.query.get("session", ""))
    if entry is None or entry[1] <= world.now_ms():
        return answer({"errcode": 300001, "errmsg": "session 不存在"})
    body = await json_object(request) or {}
    msgtype = body.get("msgtype")
    content = body.get(msgtype) if isinstance(msgtype, str) else None
    if msgtype not in ("text", "markdown") or not isinstance(content, dict):
        return answer({"errcode": 40035, "errmsg": "缺少参数 msgtype 或内容"})
    if msgtype == "text":
        world.add_message(DINGTALK, entry[0], "text", BOT, text=str(content.get("content", "")))
    else:
        world.add_message(DINGTALK, entry[0], "markdown", BOT,
                          title=str(content.get("title", "")), text=str(content.get("text", "")))
    return answer({"errcode": 0, "errmsg": "ok"})


async def user_get(request: web.Request) -> web.Response:
    """``POST /topapi/v2/user/get?access_token=`` (old API): a member by userid, or 60121."""
    world = request.app[WORLD]
    if world.token_state(DINGTALK, request.query.get("access_token", "")) != "valid":
        return answer({"errcode": 40014, "errmsg": "不合法的access_token"})
    body = await json_object(request) or {}
    person = world.directory.by_dingtalk_user(str(body.get("userid", "")))
    if person is None:
        return answer({"errcode": 60121, "errmsg": "找不到该用户", "request_id": uuid.uuid4().hex})
    return answer({"errcode": 0, "errmsg": "ok", "request_id": uuid.uuid4().hex, "result": {
        "userid": person.dingtalk_user_id, "unionid": person.dingtalk_union_id,
        "name": person.name, "active": True}})


def add_routes(app: web.Application) -> None:
    gateway = app[GATEWAY]
    app.router.add_post("/topapi/v2/user/get", user_get)
    app.router.add_post("/v1.0/oauth2/accessToken", access_token)
    app.router.add_get("/gettoken", old_token)
    app.router.add_post("/v1.0/gateway/connections/open", open_connection)
    app.router.add_get(STREAM_PATH, gateway.handle_ws)
    app.router.add_post("/v1.0/robot/oToMessages/batchSend", batch_send)
    app.router.add_post("/v1.0/robot/groupMessages/send", group_send)
    app.router.add_post("/robot/sendBySession", send_by_session)
