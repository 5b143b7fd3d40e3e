"""Cards on a fresh DingTalk tenant: DingTalk's own published card template, no card builder.

``createAndDeliver`` needs a ``cardTemplateId``. Instead of one the tenant must build and
publish in the card platform, the default is the card template DingTalk publishes for
every app (``382e4302-551d-4880-bf29-a30acfab2e71.schema``), the one the official
dingtalk-stream SDK sends through the same API with ``callbackType: "STREAM"``
(``card_instance.py``: ``AIMarkdownCardInstance``, ``CarouselCardInstance``). Its variables:
``flowStatus`` ("3" = finished, shown as is), ``msgTitle``, ``staticMsgContent`` (markdown)
and ``sys_full_json_obj`` (JSON: ``order`` of the parts, ``msgButtons``). A button with
``"request": true`` is a callback button: a tap arrives as an ordinary card callback
(``/v1.0/card/instances/callback`` over Stream, or the registered URL in HTTP mode) whose
``cardPrivateData.actionIds`` names the tapped button's ``id``.

Why not the "普通版" ``StandardCard`` (``/v1.0/im/v1.0/robot/interactiveCards/send``, the
SDK's ``reply_card``): its taps are never pushed over Stream (developerpedia
``docs/learn/card/intro.md``: "互动卡片普通版是否支持 Stream 模式回调？暂不支持"), and it has no
idempotent ``outTrackId``.

So a tap carries everything it needs in the button id itself (``hb1.`` + base64url of
``[action, params]``), and the same values again as the button's ``params`` for a template
that passes them through ``cardPrivateData.params``; :func:`action_from_ids` reads the id
back. In-place updates are ``PUT /v1.0/card/instances`` with the same variables.

Sources:
    github.com/open-dingtalk/dingtalk-stream-sdk-python @ 8d8bb1c dingtalk_stream/card_instance.py,
        card_replier.py (create_and_send_card, callback_type="STREAM")
    github.com/open-dingtalk/developerpedia docs/learn/card/intro.md
    https://open.dingtalk.com/document/development/event-callback-card (actionIds, params)
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any

from cards.models import Card
from cards.render_dingtalk import MAX_VALUE_BYTES, truncate_utf8

BUILTIN_TEMPLATE_ID = "382e4302-551d-4880-bf29-a30acfab2e71.schema"
FINISHED = "3"  # flowStatus: the card is complete (not streaming)
ACTION_PREFIX = "hb1."
ORDER = ("msgTitle", "staticMsgContent", "msgButtons")
_COLOURS = {"primary": "blue", "danger": "red"}


def is_builtin(template_id: str) -> bool:
    """True when cards go through DingTalk's published template (no template configured)."""
    return not template_id or template_id == BUILTIN_TEMPLATE_ID


def encode_action(action: str, params: Mapping[str, str]) -> str:
    """A button id that carries the action and its parameters."""
    raw = json.dumps([action, dict(params)], ensure_ascii=False, separators=(",", ":"))
    return ACTION_PREFIX + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_action(button_id: str) -> tuple[str, dict[str, str]] | None:
    """``(action, params)`` from a button id made by :func:`encode_action`; None otherwise."""
    if not button_id.startswith(ACTION_PREFIX):
        return None
    encoded = button_id[len(ACTION_PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
            and value[0] and isinstance(value[1], dict)):
        return None
    return value[0], {str(k): str(v) for k, v in value[1].items()}


def action_from_ids(action_ids: Iterable[Any]) -> tuple[str, dict[str, str]] | None:
    """The first of a callback's ``actionIds`` that is one of our buttons."""
    for button_id in action_ids:
        if isinstance(button_id, str) and (found := decode_action(button_id)) is not None:
            return found
    return None


def card_markdown(card: Card) -> str:
    """The card's status, fields, body and footer as the template's markdown part."""
    lines = [f"**{card.status}**"] if card.status else []
    lines += [f"**{f.label}**：{f.value}" for f in card.fields]
    if card.body:
        lines += ["", card.body] if lines else [card.body]
    if card.footer:
        lines += ["", f"> {card.footer}"]
    return "\n".join(lines)


def _buttons(card: Card, *, with_params: bool) -> list[dict[str, Any]]:
    buttons = []
    for b in card.buttons:
        if "action" in b.params:
            raise ValueError(f"button params must not use the reserved key 'action': {b.action}")
        button: dict[str, Any] = {
            "text": b.label, "color": _COLOURS.get(b.style, "gray"),
            "id": encode_action(b.action, b.params), "request": True,
        }
        if with_params:
            button["params"] = {"action": b.action, **b.params}
        buttons.append(button)
    return buttons


def _layout(card: Card) -> str:
    order = [part for part in ORDER if part != "msgButtons" or card.buttons]
    for with_params in (True, False):
        text = json.dumps(
            {"order": order, "msgButtons": _buttons(card, with_params=with_params)},
            ensure_ascii=False, separators=(",", ":"),
        )
        if len(text.encode()) <= MAX_VALUE_BYTES:
            return text
    raise ValueError(f"buttons of card {card.title!r} exceed {MAX_VALUE_BYTES} bytes")


def builtin_param_map(card: Card) -> dict[str, str]:
    """``cardParamMap`` for the published template; every value a string of at most 1 KB.

    Raises:
        ValueError: The buttons do not fit into 1 KB even without their ``params`` copy.
    """
    return {
        "flowStatus": FINISHED,
        "msgTitle": truncate_utf8(card.title),
        "msgContent": "",
        "staticMsgContent": truncate_utf8(card_markdown(card)),
        "sys_full_json_obj": _layout(card),
    }


def use_builtin(body: dict[str, Any], card: Card) -> dict[str, Any]:
    """A create or update body (built for a custom template) switched to the published one."""
    body["cardData"] = {"cardParamMap": builtin_param_map(card)}
    if "cardTemplateId" in body:
        body["cardTemplateId"] = BUILTIN_TEMPLATE_ID
    return body
