"""Decrypted WeCom callback XML to platform-neutral events.

Handled: text, image, voice, video and file messages in the app's 1:1 chat, template card
button clicks and menu picks, and a customer adding an employee (客户联系). Anything else
is acknowledged and dropped (``None``). XML goes through :func:`safe_xml`, which refuses
DTDs so no entity is ever expanded (defusedxml is not a dependency).

Sources:
    https://developer.work.weixin.qq.com/document/path/90239 (消息格式: text, image, voice,
        video). File messages are not on that page; callbacks seen in the wild carry a
        MediaId and mostly a FileName, so the name is optional here.
    https://developer.work.weixin.qq.com/document/path/90240 (事件格式: template_card_event)
    https://developer.work.weixin.qq.com/document/path/92130 (change_external_contact)
    https://developer.work.weixin.qq.com/document/path/90238 (dedupe: MsgId / user+time)
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from xml.etree import ElementTree

from bot.adapters.wecom.ids import card_key_of
from bot.core.events import Attachment, CardAction, Conversation, Event, EventKind, Platform
from cards.render_wecom import decode_button_key

CARD_EVENTS = ("template_card_event", "template_card_menu_event")
CONTACT_ADDED_ACTION = "contact.added"
_FIRST_ELEMENT = re.compile(r"<[A-Za-z_:]")
# Message types whose MediaId names a file WeCom holds (for 3 days), each with the extension
# a made-up name gets when the message names no file: the usual format of that kind (voice
# says its own in Format).
MEDIA_EXTENSIONS = {"image": ".jpg", "voice": ".amr", "video": ".mp4", "file": ""}
_EXTENSION = re.compile(r"[A-Za-z0-9]{1,8}")


class MalformedCallback(ValueError):
    """The XML is truncated, not XML, or lacks a field the message type requires."""


def safe_xml(data: str | bytes) -> ElementTree.Element:
    """Parse ``data`` with ElementTree after refusing any DTD (so no entity declarations).

    A DTD can only stand before the root element, so only that prolog is searched for
    ``<!``: message text quoting "<!DOCTYPE" inside CDATA stays acceptable. Bytes must be
    UTF-8 (WeCom's encoding) and are parsed as text, so a declared ``encoding="UTF-16"``
    cannot hide a DTD from the check.

    Raises:
        MalformedCallback: Not UTF-8, not well-formed, or it has a DTD.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise MalformedCallback("not UTF-8") from None
    first = _FIRST_ELEMENT.search(text)
    if "<!" in text[: first.start() if first else len(text)]:
        raise MalformedCallback("DTDs are not accepted")
    try:
        return ElementTree.fromstring(text)
    except (ElementTree.ParseError, ValueError) as err:
        raise MalformedCallback(f"not well-formed XML: {type(err).__name__}") from None


# The envelope exactly as WeCom sends it. Whatever this matches is well-formed XML without a
# DTD, so the value can be taken without building a tree (a fifth of the adapter's time);
# anything else goes through the parser.
_ENVELOPE = re.compile(
    rb"\s*<xml>\s*"
    rb"(?:<ToUserName><!\[CDATA\[[^\]<>&]*\]\]></ToUserName>\s*)?"
    rb"(?:<AgentID>(?:<!\[CDATA\[[0-9]*\]\]>|[0-9]*)</AgentID>\s*)?"
    rb"<Encrypt><!\[CDATA\[([A-Za-z0-9+/=]+)\]\]></Encrypt>\s*"
    rb"(?:<AgentID>(?:<!\[CDATA\[[0-9]*\]\]>|[0-9]*)</AgentID>\s*)?"
    rb"</xml>\s*"
)


def envelope_encrypt(body: bytes) -> str:
    """The ``Encrypt`` value of a POST body ``<xml><ToUserName/><AgentID/><Encrypt/></xml>``.

    Raises:
        MalformedCallback: Bad XML or no ``Encrypt``.
    """
    usual = _ENVELOPE.fullmatch(body)
    if usual is not None:
        return usual.group(1).decode("ascii")
    value = _text(safe_xml(body), "Encrypt")
    if not value:
        raise MalformedCallback("no Encrypt element")
    return value


def _text(root: ElementTree.Element, tag: str) -> str:
    node = root.find(tag)
    return (node.text or "").strip() if node is not None else ""


def _required(root: ElementTree.Element, tag: str) -> str:
    value = _text(root, tag)
    if not value:
        raise MalformedCallback(f"missing {tag}")
    return value


def selected_items(root: ElementTree.Element) -> dict[str, list[str]]:
    """``SelectedItems`` as {QuestionKey: [OptionId, ...]}; empty when absent.

    One ``SelectedItem`` or several parse the same way here (xmltodict would give a dict
    for one and a list for several).
    """
    chosen: dict[str, list[str]] = {}
    for item in root.findall("./SelectedItems/SelectedItem"):
        key = _text(item, "QuestionKey")
        if key:
            options = [(o.text or "").strip() for o in item.findall("./OptionIds/OptionId")]
            chosen[key] = [o for o in options if o]
    return chosen


def _digest(*parts: str) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:32]


def parse_message(xml: str) -> Event | None:
    """Turn a decrypted callback into an :class:`Event`, or None for kinds we ignore.

    Event ids are stable across WeCom's retries: ``msg:<MsgId>`` for messages; for events a
    digest of FromUserName + CreateTime + Event + EventKey/TaskId (or the contact ids). A
    double tap within the same second is therefore handled once, like a retry.

    Raises:
        MalformedCallback: Bad XML, or a known type without its required fields.
    """
    root = safe_xml(xml)
    msg_type = _required(root, "MsgType")
    if msg_type == "text":
        return _text_message(root)
    if msg_type in MEDIA_EXTENSIONS:
        return _media_message(root, msg_type)
    if msg_type != "event":
        return None
    event = _text(root, "Event")
    if event in CARD_EVENTS:
        return _card_event(root, event)
    if event == "change_external_contact" and _text(root, "ChangeType") == "add_external_contact":
        return _contact_added(root)
    return None


def _text_message(root: ElementTree.Element) -> Event:
    sender = _required(root, "FromUserName")
    return Event(
        platform=Platform.WECOM,
        event_id=f"msg:{_required(root, 'MsgId')}",
        kind=EventKind.MESSAGE,
        actor_id=sender,
        # Only the app's 1:1 chat delivers messages here: the conversation is the sender.
        conversation=Conversation(id=sender),
        text=_text(root, "Content"),
        reply_handle={"agentid": _text(root, "AgentID")},
    )


def _media_message(root: ElementTree.Element, kind: str) -> Event:
    """An image, voice, video or file message: one attachment whose ref is the MediaId.

    Voice comes with WeCom's transcript (``Recognition``) when speech recognition is on for
    the app; it becomes the text, as if typed, the way DingTalk's audio messages do.
    """
    sender = _required(root, "FromUserName")
    msg_id = _required(root, "MsgId")
    media_id = _required(root, "MediaId")
    attachment = Attachment(kind=kind, filename=_media_name(root, kind, msg_id), ref=media_id)
    return Event(
        platform=Platform.WECOM,
        event_id=f"msg:{msg_id}",
        kind=EventKind.MESSAGE,
        actor_id=sender,
        conversation=Conversation(id=sender),
        text=_text(root, "Recognition") if kind == "voice" else "",
        attachments=(attachment,),
        reply_handle={"agentid": _text(root, "AgentID")},
    )


def _media_name(root: ElementTree.Element, kind: str, msg_id: str) -> str:
    """The file's own name when WeCom gives one, else ``<kind>-<MsgId><extension>``."""
    given = _text(root, "FileName") or _text(root, "Title")
    # Only the last path component: a name is shown to people and may end up on disk.
    given = given.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if given and given not in (".", ".."):
        return given
    extension = MEDIA_EXTENSIONS[kind]
    declared = _text(root, "Format") if kind == "voice" else _text(root, "FileExt")
    if _EXTENSION.fullmatch(declared):
        extension = f".{declared.lower()}"
    return f"{kind}-{msg_id}{extension}"


def _card_event(root: ElementTree.Element, event: str) -> Event | None:
    user = _required(root, "FromUserName")
    created = _required(root, "CreateTime")
    key, task_id = _required(root, "EventKey"), _text(root, "TaskId")
    try:
        action_id, params = decode_button_key(key)
    except ValueError:
        return None  # not a key we made (our renderer encodes every button)
    chosen = selected_items(root)
    for question, options in chosen.items():
        params.setdefault(question, ",".join(options))
    reply_handle: dict[str, Any] = {
        "event": event,
        "task_id": task_id,
        "response_code": _text(root, "ResponseCode"),
        "card_type": _text(root, "CardType"),
        "agentid": _text(root, "AgentID"),
        "user_id": user,
    }
    if chosen:
        reply_handle["selected"] = chosen
    return Event(
        platform=Platform.WECOM,
        event_id=f"card:{user}:{created}:{_digest(event, key, task_id)}",
        kind=EventKind.CARD_ACTION,
        actor_id=user,
        conversation=Conversation(id=user),
        action=CardAction(action_id=action_id, params=params, card_key=card_key_of(task_id)),
        reply_handle=reply_handle,
    )


def _contact_added(root: ElementTree.Element) -> Event:
    employee = _required(root, "UserID")
    external = _required(root, "ExternalUserID")
    created = _required(root, "CreateTime")
    state = _text(root, "State")
    sender = _text(root, "FromUserName")
    return Event(
        platform=Platform.WECOM,
        event_id=f"contact:{created}:{_digest(sender, employee, external)}",
        kind=EventKind.CONTACT_ADDED,
        actor_id=employee,
        conversation=Conversation(id=employee),
        action=CardAction(
            action_id=CONTACT_ADDED_ACTION,
            params={"external_userid": external, "state": state},
        ),
        # The welcome code is single-use within 20 s of the event (path/92137).
        reply_handle={"welcome_code": _text(root, "WelcomeCode"), "created": created},
    )
