"""The sandbox's JSON API under ``/sandbox/api/``: used by the page, tests and scripts.

Errors are ``{"error": "…"}`` (Chinese, shown by the page as is): 400 for bad input, 404 for
an unknown person/group/card/task, 503 when the bot cannot be reached.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox import dingtalk_events, wecom_events
from sandbox.api_views import (
    conversations_view,
    counts_view,
    inbox_view,
    message_view,
)
from sandbox.normalise import find_button, page_card
from sandbox.org import Group, Person
from sandbox.state import DINGTALK, PLATFORMS, WECOM, World, dm_key
from sandbox.stream import TOPIC_ROBOT
from sandbox.wecom_callback import NoCallbackUrl
from sandbox.wire import SETTINGS, WORLD, answer, json_object

PREFIX = "/sandbox/api"
MAX_TEXT = 4000


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Route = Callable[[web.Request], Awaitable[web.Response]]


def api(handler: Route) -> Route:
    """Turn ApiError and unreachable bots into JSON errors."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ApiError as err:
            return answer({"error": err.message}, err.status)
        except dingtalk_events.BotUnavailable as err:
            return answer({"error": str(err)}, 503)
        except NoCallbackUrl:
            return answer({"error": "机器人未连接（未配置企业微信回调地址）"}, 503)

    return wrapped


async def body_of(request: web.Request) -> dict[str, Any]:
    body = await json_object(request)
    if body is None:
        raise ApiError(400, "请求体必须是 JSON 对象")
    return body


def text_of(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"缺少参数 {name}")
    return value


def person_of(world: World, alias: Any, platform: str | None = None) -> Person:
    person = world.directory.person(text_of(alias, "person"))
    if person is None:
        raise ApiError(404, f"未知人员：{alias}")
    if platform is not None and not person.on(platform):
        label = "钉钉" if platform == DINGTALK else "企业微信"
        raise ApiError(400, f"{person.name} 没有{label}账号")
    return person


def _platform(value: Any) -> str:
    if value not in PLATFORMS:
        raise ApiError(400, "platform 必须是 dingtalk 或 wecom")
    return str(value)


def _conversation(world: World, person: Person, platform: str,
                  value: Any) -> tuple[str, Group | None]:
    """(conversation key, group) for ``value`` (``dm``/None: the person's chat with the bot)."""
    if value in (None, "", "dm"):
        return dm_key(person.id), None
    group = world.directory.group(str(value))
    if group is None:
        raise ApiError(404, f"未知群：{value}")
    if platform == WECOM:
        raise ApiError(400, "企业微信应用消息只有单聊，没有群聊")
    if person.id not in group.members:
        raise ApiError(400, f"{person.name} 不是「{group.name}」的成员")
    return group.id, group


@api
async def people(request: web.Request) -> web.Response:
    directory = request.app[WORLD].directory
    return answer({"people": [p.to_dict() for p in directory.people],
                   "groups": [g.to_dict() for g in directory.groups]})


@api
async def conversations(request: web.Request) -> web.Response:
    world, platform = request.app[WORLD], _platform(request.query.get("platform"))
    person = person_of(world, request.query.get("person"), platform)
    bot = request.app[SETTINGS].bot_name
    return answer({"conversations": conversations_view(world, person, platform, bot)})


@api
async def inbox(request: web.Request) -> web.Response:
    world, platform = request.app[WORLD], _platform(request.query.get("platform"))
    person = person_of(world, request.query.get("person"), platform)
    since = request.query.get("since")
    if since is not None and since == str(world.revision):
        return answer({"revision": world.revision, "changed": False})
    conversation = request.query.get("conversation")
    key = _conversation(world, person, platform, conversation)[0] if conversation else None
    return answer({**inbox_view(world, person, platform, key), "changed": True})


@api
async def say(request: web.Request) -> web.Response:
    body = await body_of(request)
    world, platform = request.app[WORLD], _platform(body.get("platform"))
    person = person_of(world, body.get("person"), platform)
    text = text_of(body.get("text"), "text")
    if len(text) > MAX_TEXT:
        raise ApiError(400, f"消息太长（最多 {MAX_TEXT} 字）")
    key, group = _conversation(world, person, platform, body.get("conversation"))
    delivery = None
    if platform == DINGTALK:
        payload = dingtalk_events.robot_message(request, person, group, text)
        if payload is not None:
            dingtalk_events.bot_reachable(request, TOPIC_ROBOT)
        message = world.add_message(platform, key, "text", person.id, text=text,
                                    pushed=payload is not None)
        if payload is not None:
            delivery = await dingtalk_events.push_message(request, payload)
    else:
        if not request.app[SETTINGS].wecom_callback_url:
            raise NoCallbackUrl
        message = world.add_message(platform, key, "text", person.id, text=text, pushed=True)
        delivery = await wecom_events.say(request, person, text)
    return answer({"ok": True, "message": message_view(world, person, message),
                   "pushed": delivery is not None, "delivery": delivery})


@api
async def tap(request: web.Request) -> web.Response:
    body = await body_of(request)
    world, platform = request.app[WORLD], _platform(body.get("platform"))
    person = person_of(world, body.get("person"), platform)
    card = world.cards.get(text_of(body.get("card_id"), "card_id"))
    if card is None or card.platform != platform:
        raise ApiError(404, f"未知卡片：{body.get('card_id')}")
    shown = [m for m in world.inbox(person, platform) if m.card_id == card.id]
    if body.get("conversation"):
        key = _conversation(world, person, platform, body["conversation"])[0]
        shown = [m for m in shown if m.conversation == key]
    if not shown:
        raise ApiError(404, f"{person.name} 看不到这张卡片")
    viewer = person.dingtalk_user_id if platform == DINGTALK else person.wecom_userid
    shape = page_card(card, viewer)
    action = text_of(body.get("action"), "action")
    button = find_button(shape, action)
    if button is None:
        choices = "、".join(b["label"] for b in shape["buttons"] if b["enabled"]) or "无"
        raise ApiError(400, f"卡片上没有可点击的按钮「{action}」（可点：{choices}）")
    if platform == DINGTALK:
        delivery = await dingtalk_events.send_tap(request, person, card, button,
                                                  shown[-1].conversation)
    else:
        delivery = await wecom_events.tap(request, person, card, button)
    return answer({"ok": True, "card_id": card.id, "button": button, "delivery": delivery})


@api
async def counts(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    return answer({"revision": world.revision, "counts": counts_view(world)})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/counts", counts)
    r.add_get(f"{PREFIX}/people", people)
    r.add_get(f"{PREFIX}/conversations", conversations)
    r.add_get(f"{PREFIX}/inbox", inbox)
    r.add_post(f"{PREFIX}/say", say)
    r.add_post(f"{PREFIX}/tap", tap)
