"""DingTalk interactive cards ("高级版", ``/v1.0/card/*``): request bodies and callback parsing.

The card template itself is built in DingTalk's card platform and bound to the variables of
:func:`card_param_map`; this module only fills those variables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from cards.models import Card

MAX_KEY_BYTES = 100
MAX_VALUE_BYTES = 1024
ELLIPSIS = "…"
_FIELD_VALUE_CAPS = (200, 80, 30)

Space = Literal["IM_ROBOT", "IM_GROUP"]


def truncate_utf8(text: str, max_bytes: int = MAX_VALUE_BYTES) -> str:
    """Shorten ``text`` so its UTF-8 encoding fits ``max_bytes``, marking the cut with "…".

    Args:
        text: Any string.
        max_bytes: Byte budget for the result, ellipsis included.

    Returns:
        ``text`` unchanged if it fits, else a prefix cut at a character boundary plus "…".
    """
    raw = text.encode()
    if len(raw) <= max_bytes:
        return text
    budget = max_bytes - len(ELLIPSIS.encode())
    # errors="ignore" drops a multi-byte character split by the byte cut.
    return raw[:budget].decode(errors="ignore") + ELLIPSIS


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _fields_json(card: Card) -> str:
    items = [{"label": f.label, "value": f.value} for f in card.fields]
    text = _dumps(items)
    # The list must stay valid JSON, so shrink the values rather than cutting the string;
    # the same facts are also in the markdown body.
    for cap in _FIELD_VALUE_CAPS:
        if len(text.encode()) <= MAX_VALUE_BYTES:
            return text
        items = [{**i, "value": _cut_chars(i["value"], cap)} for i in items]
        text = _dumps(items)
    while items and len(text.encode()) > MAX_VALUE_BYTES:
        items = items[:-1]
        text = _dumps(items)
    return text


def _cut_chars(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def button_params(action: str, params: Mapping[str, str]) -> dict[str, str]:
    """The callback parameters ("回传参数") a button sends back: ``{"action": id, **params}``.

    Raises:
        ValueError: ``params`` uses the reserved key ``"action"``.
    """
    if "action" in params:
        raise ValueError(f"button params must not use the reserved key 'action': {action!r}")
    return {"action": action, **params}


def card_param_map(card: Card) -> dict[str, str]:
    """Card variables for DingTalk's ``cardParamMap``.

    Keys: ``title``, ``status``, ``body`` (markdown: ``**label**：value`` lines, then the body),
    ``fields`` (JSON list of ``{label, value}``), ``buttons`` (JSON list of
    ``{text, action, params, style}``), ``footer`` and ``has_buttons`` (``"true"``/``"false"``).
    Every value is a string of at most 1 KB, as the API requires.

    Raises:
        ValueError: The buttons do not fit into 1 KB (callback params cannot be shortened).
    """
    lines = [f"**{f.label}**：{f.value}" for f in card.fields]
    body = "\n".join(lines)
    if card.body:
        body = f"{body}\n\n{card.body}" if body else card.body
    buttons = _dumps(
        [
            {
                "text": b.label,
                "action": b.action,
                "params": button_params(b.action, b.params),
                "style": b.style,
            }
            for b in card.buttons
        ]
    )
    if len(buttons.encode()) > MAX_VALUE_BYTES:
        raise ValueError(f"buttons of card {card.title!r} exceed {MAX_VALUE_BYTES} bytes")
    result = {
        "title": truncate_utf8(card.title),
        "status": truncate_utf8(card.status),
        "body": truncate_utf8(body),
        "fields": _fields_json(card),
        "buttons": buttons,
        "footer": truncate_utf8(card.footer),
        "has_buttons": "true" if card.buttons else "false",
    }
    return result


def create_and_deliver_body(
    *,
    card: Card,
    template_id: str,
    out_track_id: str,
    robot_code: str,
    space: Space,
    target: str,
    at_user_ids: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Body for ``POST /v1.0/card/instances/createAndDeliver``.

    Args:
        card: Card to show.
        template_id: ``cardTemplateId`` from DingTalk's card platform.
        out_track_id: Unique id of this card instance; later updates use the same id.
        robot_code: Robot code (AppKey for internal apps).
        space: ``"IM_ROBOT"`` (1:1 chat with the robot) or ``"IM_GROUP"``.
        target: userId for ``IM_ROBOT``, openConversationId for ``IM_GROUP``.
        at_user_ids: Group only: ``{userId: name}`` (or ``{"@ALL": "@ALL"}``) to @-mention.

    Raises:
        ValueError: Unknown space, empty ids, or ``at_user_ids`` with ``IM_ROBOT``.
    """
    if not (template_id and out_track_id and target):
        raise ValueError("template_id, out_track_id and target are required")
    body: dict[str, Any] = {
        "cardTemplateId": template_id,
        "outTrackId": out_track_id,
        "callbackType": "STREAM",
        "cardData": {"cardParamMap": card_param_map(card)},
        "openSpaceId": f"dtv1.card//{space}.{target}",
        "userIdType": 1,
    }
    # Forwarding is off: an approval card forwarded to someone else would show live buttons.
    if space == "IM_ROBOT":
        if at_user_ids:
            raise ValueError("at_user_ids only apply to IM_GROUP")
        body["imRobotOpenSpaceModel"] = {"supportForward": False}
        body["imRobotOpenDeliverModel"] = {"spaceType": "IM_ROBOT", "robotCode": robot_code}
    elif space == "IM_GROUP":
        deliver: dict[str, Any] = {"robotCode": robot_code}
        if at_user_ids:
            deliver["atUserIds"] = dict(at_user_ids)
        body["imGroupOpenSpaceModel"] = {"supportForward": False}
        body["imGroupOpenDeliverModel"] = deliver
    else:
        raise ValueError(f"unsupported space {space!r}")
    return body


def update_body(*, card: Card, out_track_id: str) -> dict[str, Any]:
    """Body for ``PUT /v1.0/card/instances``.

    ``updateCardDataByKey`` merges the keys instead of replacing all card data, which the API
    does when the option is missing.
    """
    if not out_track_id:
        raise ValueError("out_track_id is required")
    return {
        "outTrackId": out_track_id,
        "cardData": {"cardParamMap": card_param_map(card)},
        "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": False},
        "userIdType": 1,
    }


def _as_mapping(raw: Any, what: str) -> Mapping[str, Any]:
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"{what} is not valid JSON") from exc
    if not isinstance(raw, Mapping):
        raise ValueError(f"{what} is not an object")
    return raw


def parse_card_callback(payload: Mapping[str, Any]) -> tuple[str, dict[str, str], str | None, str]:
    """Read a card callback (``actionCallback``) pushed over Stream or HTTP.

    Accepts the documented shape (``content`` JSON string with ``cardPrivateData.params``) and
    the variant from another official page (``value`` key, ``params`` next to
    ``cardPrivateData``). Already-decoded objects are accepted as well.

    Args:
        payload: The callback body.

    Returns:
        ``(action_id, params, out_track_id, user_id)``; ``params`` excludes ``action`` and
        holds strings only (non-string form values are JSON-encoded).

    Raises:
        ValueError: Not a usable callback (no content, no action, no user).
    """
    if not isinstance(payload, Mapping):
        raise ValueError("callback payload is not an object")
    raw = payload.get("content")
    if raw is None or raw == "":
        raw = payload.get("value")
    if raw is None or raw == "":
        raise ValueError("callback has neither 'content' nor 'value'")
    content = _as_mapping(raw, "callback content")
    private = content.get("cardPrivateData") or {}
    if not isinstance(private, Mapping):
        raise ValueError("cardPrivateData is not an object")
    merged: dict[str, Any] = {}
    # Params inside cardPrivateData (the documented place) win over the variant's outer ones.
    for source in (content.get("params"), private.get("params")):
        if source is not None and source != "":
            merged.update(_as_mapping(source, "callback params"))
    action = merged.pop("action", None)
    if not isinstance(action, str) or not action:
        raise ValueError("callback params carry no action")
    user_id = payload.get("userId")
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("callback has no userId")
    out_track_id = payload.get("outTrackId") or None
    if out_track_id is not None and not isinstance(out_track_id, str):
        raise ValueError("outTrackId is not a string")
    params = {str(k): v if isinstance(v, str) else _dumps(v) for k, v in merged.items()}
    return action, params, out_track_id, user_id


def callback_response(card: Card) -> dict[str, Any]:
    """Reply to a card callback that updates the card at once (within the 2 s limit)."""
    return {
        "cardData": {"cardParamMap": card_param_map(card)},
        "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
    }
