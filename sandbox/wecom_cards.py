"""WeCom template cards held by the fake: one copy per recipient, single-use response codes.

``message/send`` with an interactive card returns one ``response_code`` for its recipients;
every click brings the clicking member a new one. Each code allows one
``update_template_card`` call within 72 hours.

Sources:
    https://developer.work.weixin.qq.com/document/path/90236 (template_card, task_id rules)
    https://developer.work.weixin.qq.com/document/path/94888 (更新模版卡片消息)
"""

from __future__ import annotations

import copy
import re
import uuid
from typing import Any

from sandbox.state import BOT, WECOM, CardState, World, dm_key

CARD_TYPES = ("text_notice", "news_notice", "button_interaction", "vote_interaction",
              "multiple_interaction")
INTERACTIVE = ("button_interaction", "vote_interaction", "multiple_interaction")
CODE_LIFETIME = 72 * 3600
TASK_ID = re.compile(r"[0-9A-Za-z_\-@]{1,128}")
MAX_BUTTONS = 6
MAX_KEY_BYTES = 1024

Error = tuple[int, str]


def card_id(task_or_msgid: str, userid: str) -> str:
    """Id of one recipient's copy of a card."""
    return f"{task_or_msgid}:{userid}"


def issue_response_code(world: World, task_id: str, users: list[str]) -> str:
    code = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    world.response_codes[code] = {"task_id": task_id, "users": list(users),
                                  "issued": world.now(), "used": False}
    return code


def _check(tc: Any) -> Error | None:
    if not isinstance(tc, dict):
        return 40058, "template_card is required"
    card_type = tc.get("card_type")
    if card_type not in CARD_TYPES:
        return 40058, "invalid card_type"
    if card_type == "text_notice" and not isinstance(tc.get("card_action"), dict):
        return 40058, "card_action is required for text_notice"
    if card_type in INTERACTIVE or tc.get("action_menu"):
        task_id = tc.get("task_id")
        if not isinstance(task_id, str) or not TASK_ID.fullmatch(task_id):
            return 42014, "invalid task_id"
    if card_type == "button_interaction":
        buttons = tc.get("button_list")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
            return 40058, f"button_list must have 1..{MAX_BUTTONS} buttons"
        keys = [b.get("key") for b in buttons if isinstance(b, dict) and b.get("type", 0) == 0]
        if any(not isinstance(k, str) or not k or len(k.encode()) > MAX_KEY_BYTES
               for k in keys) or len(set(keys)) != len(keys):
            return 42018, "invalid button key"
    return None


def send_template_card(world: World, tc: Any, userids: list[str],
                       msgid: str) -> tuple[Error | None, dict[str, Any]]:
    """Record a template card for each recipient; (error, extra answer fields)."""
    error = _check(tc)
    if error is not None:
        return error, {}
    assert isinstance(tc, dict)
    task_id = str(tc.get("task_id") or "")
    if task_id and task_id in world.task_ids:
        return (42014, "task_id already exists, it must be unique per app"), {}
    for userid in userids:
        person = world.directory.by_wecom_user(userid)
        if person is None:
            continue
        card = world.add_card(card_id(task_id or msgid, userid), WECOM, copy.deepcopy(tc), {
            "task_id": task_id, "userid": userid, "msgid": msgid,
            "card_type": tc["card_type"],
        })
        world.add_message(WECOM, dm_key(person.id), "card", BOT, card_id=card.id)
    extra: dict[str, Any] = {}
    if task_id:
        world.task_ids.add(task_id)
        if tc["card_type"] in INTERACTIVE:
            extra["response_code"] = issue_response_code(world, task_id, userids)
    return None, extra


def update_template_card(world: World, body: dict[str, Any]) -> tuple[Error | None, list[str]]:
    """Apply ``update_template_card``; (error, invalid userids)."""
    entry = world.response_codes.get(str(body.get("response_code", "")))
    if entry is None or entry["used"] or world.now() - entry["issued"] > CODE_LIFETIME:
        return (60140, "invalid response_code, it is used or expired"), []
    if body.get("atall") == 1:
        targets = list(entry["users"])
    else:
        targets = [str(u) for u in body.get("userids") or []]
    if not targets or len(targets) > 1000:
        return (40058, "userids must list 1..1000 members"), []
    button, tc = body.get("button"), body.get("template_card")
    replace_name = button.get("replace_name") if isinstance(button, dict) else None
    if isinstance(replace_name, str):
        new_content = None
    elif isinstance(tc, dict) and tc.get("card_type") in CARD_TYPES:
        new_content = copy.deepcopy(tc)
    else:
        return (40058, "button.replace_name or template_card is required"), []
    invalid: list[str] = []
    for userid in targets:
        card = world.cards.get(card_id(entry["task_id"], userid))
        if userid not in entry["users"] or card is None:
            invalid.append(userid)
            continue
        if new_content is None:
            card.meta["replace_name"] = replace_name
            world.updated_card(card, card.content)
        else:
            card.meta.pop("replace_name", None)
            card.meta["card_type"] = new_content["card_type"]
            world.updated_card(card, copy.deepcopy(new_content))
    entry["used"] = True
    return None, invalid


def selected_items(card: CardState) -> dict[str, list[str]]:
    """What the member had chosen on the card (button_selection, checkbox) when clicking."""
    tc = card.content
    chosen: dict[str, list[str]] = {}
    selection = tc.get("button_selection")
    if isinstance(selection, dict) and selection.get("question_key"):
        chosen[str(selection["question_key"])] = [str(selection.get("selected_id", ""))]
    checkbox = tc.get("checkbox")
    if isinstance(checkbox, dict) and checkbox.get("question_key"):
        chosen[str(checkbox["question_key"])] = [
            str(o.get("id")) for o in checkbox.get("option_list") or []
            if isinstance(o, dict) and o.get("is_checked")
        ]
    return chosen
