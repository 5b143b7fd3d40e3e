"""DingTalk payloads to platform-neutral events: robot messages and card callbacks.

The same JSON arrives over Stream (the frame's ``data``) and over HTTP callbacks.

Sources:
    https://open.dingtalk.com/document/orgapp/receive-message (robot message fields)
    https://open.dingtalk.com/document/development/event-callback-card (card callbacks)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from bot.adapters.dingtalk.builtin_card import action_from_ids
from bot.adapters.dingtalk.ids import card_key_of
from bot.core.events import (
    Attachment,
    CardAction,
    Conversation,
    ConversationKind,
    Event,
    EventKind,
    Platform,
)
from cards.render_dingtalk import parse_card_callback

SINGLE_CHAT = "1"
GROUP_CHAT = "2"
# Message types whose ``content`` carries a file handle (``downloadCode``).
_MEDIA_TYPES = ("picture", "video", "audio", "file")


def _str(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    return value if isinstance(value, str) else ""


def _required(payload: Mapping[str, Any], key: str) -> str:
    value = _str(payload, key)
    if not value:
        raise ValueError(f"robot message has no {key}")
    return value


def _content(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    content = payload.get("content")
    return content if isinstance(content, Mapping) else {}


def _text_and_attachments(payload: Mapping[str, Any]) -> tuple[str, tuple[Attachment, ...]]:
    """Text (rich text parts joined by line breaks, audio transcripts) and file handles."""
    msgtype = _str(payload, "msgtype")
    content = _content(payload)
    if msgtype == "text":
        text = payload.get("text")
        return (_str(text, "content") if isinstance(text, Mapping) else ""), ()
    if msgtype == "richText":
        texts: list[str] = []
        files: list[Attachment] = []
        parts = content.get("richText")
        for part in parts if isinstance(parts, list) else []:
            if not isinstance(part, Mapping):
                continue
            if _str(part, "text"):
                texts.append(_str(part, "text"))
            elif _str(part, "downloadCode"):
                kind = _str(part, "type") or "picture"
                files.append(Attachment(kind=kind, filename="", ref=_str(part, "downloadCode")))
        return "\n".join(texts), tuple(files)
    if msgtype in _MEDIA_TYPES and _str(content, "downloadCode"):
        attachment = Attachment(
            kind=msgtype, filename=_str(content, "fileName"), ref=_str(content, "downloadCode")
        )
        # Voice messages come with DingTalk's own speech-to-text; treat it as typed text.
        return _str(content, "recognition"), (attachment,)
    return "", ()  # unknownMsgType and anything newer: no text, the bot answers with help


def parse_robot_message(payload: Mapping[str, Any]) -> Event:
    """Turn a robot message (``ChatbotMessage`` JSON) into an :class:`Event`.

    Args:
        payload: The decoded message: Stream frame ``data`` or HTTP callback body.

    Returns:
        A MESSAGE event; ``event_id`` is ``msgId`` (the inbox dedupes redeliveries on it),
        ``actor_id`` the sender's staffId, and ``reply_handle`` what a reply needs.

    Raises:
        ValueError: Not a robot message we can attribute (no msgId, sender or chat type).
    """
    if not isinstance(payload, Mapping):
        raise ValueError("robot message is not an object")
    msg_id = _required(payload, "msgId")
    sender = _required(payload, "senderStaffId")
    chat_type = str(payload.get("conversationType", ""))
    if chat_type == GROUP_CHAT:
        conversation = Conversation(
            id=_required(payload, "conversationId"), kind=ConversationKind.GROUP
        )
    elif chat_type == SINGLE_CHAT:
        conversation = Conversation(id=sender)
    else:
        raise ValueError(f"unknown conversationType {chat_type!r}")
    text, attachments = _text_and_attachments(payload)
    bot_id = _str(payload, "chatbotUserId")
    at_users = payload.get("atUsers")
    mentions = tuple(
        _str(user, "staffId")
        for user in (at_users if isinstance(at_users, list) else [])
        if isinstance(user, Mapping)
        and _str(user, "staffId")
        and _str(user, "dingtalkId") != bot_id
    )
    expires = payload.get("sessionWebhookExpiredTime")
    reply_handle: dict[str, Any] = {
        "conversationType": chat_type,
        "conversationId": _str(payload, "conversationId"),
        "senderStaffId": sender,
        "sessionWebhook": _str(payload, "sessionWebhook"),
        "sessionWebhookExpiredTime": expires if isinstance(expires, int) else 0,
        "robotCode": _str(payload, "robotCode"),
        "isInAtList": payload.get("isInAtList") is True,
    }
    # The official group sample spells it "createA"; nothing depends on it, keep it if sent.
    if isinstance(payload.get("createAt"), int):
        reply_handle["createAt"] = payload["createAt"]
    return Event(
        platform=Platform.DINGTALK,
        event_id=msg_id,
        kind=EventKind.MESSAGE,
        actor_id=sender,
        conversation=conversation,
        text=text.strip(),
        mentions=mentions,
        attachments=attachments,
        reply_handle=reply_handle,
    )


def _card_callback(payload: Mapping[str, Any]) -> tuple[str, dict[str, str], str | None, str]:
    """:func:`parse_card_callback`, or for a tap on the published template whose params did
    not come back, the action and params carried by the tapped button's id (``actionIds``)."""
    try:
        return parse_card_callback(payload)
    except ValueError as err:
        raw = payload.get("content") or payload.get("value") if isinstance(payload, Mapping) \
            else None
        try:
            content = json.loads(raw) if isinstance(raw, str | bytes) else raw
        except ValueError:
            raise err from None
        private = content.get("cardPrivateData") if isinstance(content, Mapping) else None
        ids = private.get("actionIds") if isinstance(private, Mapping) else None
        found = action_from_ids(ids) if isinstance(ids, list) else None
        user_id = payload.get("userId")
        if found is None or not isinstance(user_id, str) or not user_id:
            raise
        out_track = payload.get("outTrackId")
        return found[0], found[1], out_track if isinstance(out_track, str) else None, user_id


def parse_card_event(
    payload: Mapping[str, Any], *, message_id: str | None = None, discriminator: str = ""
) -> Event:
    """Turn a card callback (``actionCallback``) into a CARD_ACTION :class:`Event`.

    Event ids: over Stream the frame's ``messageId`` (a redelivered frame keeps it, a new tap
    gets a new one, so "查看进度" can be tapped twice). Over HTTP there is no message id, so
    the id hashes outTrackId, user, action, params and ``discriminator`` (the signed
    timestamp: a retried request repeats it, a new tap does not).

    Args:
        payload: The callback body (``content`` or ``value`` shape, see
            :func:`cards.render_dingtalk.parse_card_callback`).
        message_id: Stream frame ``headers.messageId``, if any.
        discriminator: Per-request value for HTTP callbacks.

    Raises:
        ValueError: Not a usable callback.
    """
    action_id, params, out_track, user_id = _card_callback(payload)
    if message_id:
        event_id = f"card:{message_id}"
    else:
        basis = json.dumps(
            [out_track, user_id, action_id, sorted(params.items()), discriminator],
            ensure_ascii=False,
        )
        event_id = "card:" + hashlib.sha256(basis.encode()).hexdigest()[:32]
    space_type, space_id = _str(payload, "spaceType"), _str(payload, "spaceId")
    if space_type.upper() == "IM_GROUP" and space_id:
        conversation = Conversation(id=space_id, kind=ConversationKind.GROUP)
    else:
        conversation = Conversation(id=user_id)
    return Event(
        platform=Platform.DINGTALK,
        event_id=event_id,
        kind=EventKind.CARD_ACTION,
        actor_id=user_id,
        conversation=conversation,
        action=CardAction(action_id=action_id, params=params, card_key=card_key_of(out_track)),
        # The messenger updates this exact card instance when the answer replaces it.
        reply_handle={"outTrackId": out_track or "", "userId": user_id},
    )
