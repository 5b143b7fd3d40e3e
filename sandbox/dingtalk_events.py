"""What a person does in the fake DingTalk client, turned into what DingTalk sends the bot.

Typing in a 1:1 chat, or @-mentioning the robot in a group, becomes a robot-message frame
(``/v1.0/im/bot/messages/get``); a tap on a card button becomes a card-callback frame
(``/v1.0/card/instances/callback``) whose ``content`` carries the button's callback params,
or a signed HTTP callback for cards created with ``callbackType: "HTTP"``.

Sources:
    https://open.dingtalk.com/document/orgapp/receive-message
    https://open.dingtalk.com/document/development/event-callback-card
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from typing import Any

import aiohttp
from aiohttp import web

from sandbox.dingtalk_cards import apply_update
from sandbox.org import Group, Person
from sandbox.state import DINGTALK, CardState, dm_key
from sandbox.stream import GATEWAY, TOPIC_CARD, TOPIC_ROBOT, NotConnected
from sandbox.wire import HTTP, SETTINGS, WORLD, base_url

SESSION_LIFETIME_MS = 5_400_000  # ≈90 min, as observed on DingTalk
_MENTION = re.compile(r"@(\S+)")


class BotUnavailable(Exception):
    """The bot cannot be reached; the message is for people (Chinese)."""


def _lwcp(value: str) -> str:
    return "$:LWCP_v1:$" + base64.b64encode(hashlib.sha256(value.encode()).digest()[:18]).decode()


def robot_code(request: web.Request) -> str:
    settings = request.app[SETTINGS]
    return settings.dingtalk_robot_code or settings.dingtalk_app_key or "dingsandboxrobot"


def robot_message(request: web.Request, person: Person, group: Group | None,
                  text: str) -> dict[str, Any] | None:
    """The ``ChatbotMessage`` DingTalk pushes for this message; None when the robot is not
    addressed (a group message without @robot never reaches it)."""
    settings, world = request.app[SETTINGS], request.app[WORLD]
    bot_id = _lwcp(robot_code(request))
    now = world.now_ms()
    session = uuid.uuid4().hex
    payload: dict[str, Any] = {
        "conversationId": group.id if group else "cid" + hashlib.sha1(
            f"dm:{person.dingtalk_user_id}".encode()).hexdigest()[:20],
        "chatbotCorpId": settings.dingtalk_corp_id, "chatbotUserId": bot_id,
        "msgId": "msg" + uuid.uuid4().hex, "senderNick": person.name,
        "isAdmin": "leader" in person.roles, "senderStaffId": person.dingtalk_user_id,
        "sessionWebhookExpiredTime": now + SESSION_LIFETIME_MS, "createAt": now,
        "senderCorpId": settings.dingtalk_corp_id,
        "conversationType": "2" if group else "1", "senderId": _lwcp(person.dingtalk_user_id),
        "sessionWebhook": f"{base_url(request)}/robot/sendBySession?session={session}",
        "robotCode": robot_code(request), "msgtype": "text", "text": {"content": text},
    }
    if group is not None:
        at_users: list[dict[str, str]] = []
        addressed = False
        members = [p for m in group.members if (p := world.directory.person(m)) is not None]
        for name in _MENTION.findall(text):
            if name.lower() == settings.bot_name.lower():
                addressed = True
                continue
            member = next((p for p in members if p.name == name), None)
            if member is not None and member.dingtalk_user_id:
                at_users.append({"dingtalkId": _lwcp(member.dingtalk_user_id),
                                 "staffId": member.dingtalk_user_id})
        if not addressed:
            return None
        # DingTalk cuts the robot's @name out of the text and keeps the space after it.
        content = re.sub(rf"@{re.escape(settings.bot_name)}", "", text, flags=re.IGNORECASE)
        payload.update(conversationTitle=group.name, isInAtList=True,
                       atUsers=[{"dingtalkId": bot_id}, *at_users], text={"content": content})
    world.sessions[session] = (group.id if group else dm_key(person.id),
                               payload["sessionWebhookExpiredTime"])
    return payload


def bot_reachable(request: web.Request, topic: str) -> None:
    """Raises BotUnavailable unless a Stream connection subscribed to ``topic`` is open."""
    gateway = request.app[GATEWAY]
    if not gateway.connections:
        raise BotUnavailable("机器人未连接（钉钉 Stream 无连接）")
    if not gateway.subscribed(topic):
        raise BotUnavailable(f"机器人未订阅 {topic}")


async def push_message(request: web.Request, payload: dict[str, Any]) -> dict[str, Any]:
    """Push a robot message and wait (bounded) for its ack; returns the delivery record."""
    gateway = request.app[GATEWAY]
    try:
        pending = await gateway.push(TOPIC_ROBOT, payload, "robot_message")
    except NotConnected as exc:
        raise BotUnavailable("机器人未连接（钉钉 Stream 无连接）") from exc
    await gateway.answered_within(pending, request.app[SETTINGS].stream_ack_timeout)
    return pending.delivery


def card_callback(request: web.Request, person: Person, card: CardState,
                  button: dict[str, Any], conversation: str) -> dict[str, Any]:
    """The ``actionCallback`` body for a tap, shaped like the documented example."""
    user_id = person.dingtalk_union_id if card.meta.get("userIdType") == 2 \
        else person.dingtalk_user_id
    group = request.app[WORLD].directory.group(conversation)
    component = button.get("component_id") or f"button_{button.get('index', 0)}"
    content = {"cardPrivateData": {"actionIds": [component], "params": button["params"]}}
    return {
        "type": "actionCallback", "outTrackId": card.id,
        "corpId": request.app[SETTINGS].dingtalk_corp_id, "userId": user_id,
        "content": json.dumps(content, ensure_ascii=False),
        "spaceType": "IM_GROUP" if group else "IM_ROBOT",
        "spaceId": group.id if group else person.dingtalk_user_id,
        "userIdType": card.meta.get("userIdType", 1),
    }


async def send_tap(request: web.Request, person: Person, card: CardState,
                   button: dict[str, Any], conversation: str) -> dict[str, Any]:
    """Deliver a tap over Stream (or HTTP for HTTP cards); returns the delivery record."""
    body = card_callback(request, person, card, button, conversation)
    if card.meta.get("callbackType") == "HTTP":
        return await _post_http_callback(request, card, body)
    bot_reachable(request, TOPIC_CARD)
    gateway = request.app[GATEWAY]
    pending = await gateway.push(TOPIC_CARD, body, "card_callback")
    await gateway.answered_within(pending, request.app[SETTINGS].stream_ack_timeout)
    return pending.delivery


async def _post_http_callback(request: web.Request, card: CardState,
                              body: dict[str, Any]) -> dict[str, Any]:
    world = request.app[WORLD]
    route = world.card_callbacks.get(str(card.meta.get("callbackRouteKey")))
    if route is None:
        raise BotUnavailable("卡片回调地址未注册（callbackRouteKey 未知）")
    delivery = world.add_delivery(DINGTALK, "card_callback_http", card.id)
    stamp = str(world.now_ms())
    signature = base64.b64encode(hmac.new(route["apiSecret"].encode(), stamp.encode(),
                                          hashlib.sha256).digest()).decode()
    headers = {"x-ddpaas-signature-timestamp": stamp, "x-ddpaas-signature": signature}
    attempt: dict[str, Any] = {"time": world.now()}
    delivery["attempts"].append(attempt)
    try:
        async with request.app[HTTP].post(route["callbackUrl"], json=body, headers=headers,
                                          timeout=aiohttp.ClientTimeout(total=5)) as resp:
            attempt["status"] = resp.status
            answer = await resp.json(content_type=None) if resp.status == 200 else None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        attempt["error"] = type(exc).__name__
        delivery["status"] = "failed"
        return delivery
    delivery["status"] = "acked" if attempt["status"] == 200 else "failed"
    if isinstance(answer, dict) and answer.get("cardData"):
        apply_update(world, card, answer["cardData"], {}, answer.get("cardUpdateOptions"))
    return delivery


def install_card_responses(app: web.Application) -> None:
    """A card-callback ack carrying ``cardData`` updates the card at once, as on DingTalk."""
    world = app[WORLD]

    def on_response(data: dict[str, Any], response: dict[str, Any]) -> None:
        card = world.cards.get(str(data.get("outTrackId")))
        if card is None or not isinstance(response, dict):
            return
        private = response.get("userPrivateData")
        privates = {str(data.get("userId")): private} if isinstance(private, dict) else {}
        if response.get("cardData") is not None or privates:
            apply_update(world, card, response.get("cardData"), privates,
                         response.get("cardUpdateOptions"))

    app[GATEWAY].on_card_response = on_response
