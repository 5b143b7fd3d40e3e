"""WeCom template cards (模板卡片): ``message/send`` and ``message/update_template_card`` bodies.

Limits follow WeCom's docs (path/90236, path/94888): main_title.title ≤36 chars and
sub_title_text ≤112 chars recommended, ≤6 horizontal_content_list items (keyname ≤5 chars,
value ≤26 chars recommended), ≤6 buttons whose ``key`` is ≤1024 bytes and unique, and a
``task_id`` of ``[0-9A-Za-z_-@]`` up to 128 bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from cards.models import Card

ELLIPSIS = "…"
MAX_TITLE = 36
MAX_TITLE_DESC = 44
MAX_SUB_TITLE = 112
MAX_KEYNAME = 5
MAX_VALUE = 26
MAX_ROWS = 6
MAX_BUTTONS = 6
MAX_KEY_BYTES = 1024
MAX_TASK_ID = 128
MAX_RECIPIENTS = 1000
# text_notice requires card_action with type 1 (url) or 2 (mini program); the Card model has
# no link, so a tap opens WeCom's site unless the caller passes its own url.
DEFAULT_CARD_URL = "https://work.weixin.qq.com"
# The docs define styles 1-4 only by a picture (not checked here); 1 is the default and the
# docs' own example pairs 1 (main) with 2 (secondary). Using 3 for "danger" is our assumption.
BUTTON_STYLES = {"primary": 1, "default": 2, "danger": 3}

_TASK_ID_BAD = re.compile(r"[^0-9A-Za-z_\-@]")
_ESCAPED = frozenset("%|=")
_ESCAPE_RE = re.compile(r"%(?![0-7][0-9A-Fa-f])|%[0-7][0-9A-Fa-f]")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def sanitize_task_id(task_id: str) -> str:
    """Make ``task_id`` acceptable to WeCom: other characters become ``_``, at most 128 bytes.

    Raises:
        ValueError: ``task_id`` is empty.
    """
    if not task_id:
        raise ValueError("task_id is required")
    return _TASK_ID_BAD.sub("_", task_id)[:MAX_TASK_ID]


def _escape(text: str) -> str:
    # Separators and "%" are escaped; so are control characters, because the key comes back
    # inside the callback XML where a parser would normalise "\r\n".
    return "".join(
        f"%{ord(c):02X}" if c in _ESCAPED or ord(c) < 0x20 or ord(c) == 0x7F else c for c in text
    )


def _unescape(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        if len(match.group()) != 3:
            raise ValueError(f"bad escape in button key segment {text!r}")
        return chr(int(match.group()[1:], 16))

    return _ESCAPE_RE.sub(repl, text)


def encode_button_key(action: str, params: Mapping[str, str]) -> str:
    """Encode a button's action and params as a WeCom button ``key``.

    Format: ``action|name=value|name=value`` with params sorted by name; ``%``, ``|``, ``=``
    and control characters are written as ``%XX``. Example: ``review.pass|rid=12|v=3``.

    Raises:
        ValueError: Empty action, or the key would exceed 1024 bytes.
    """
    if not action:
        raise ValueError("button action is required")
    parts = [_escape(action)]
    parts += [f"{_escape(k)}={_escape(str(v))}" for k, v in sorted(params.items())]
    key = "|".join(parts)
    if len(key.encode()) > MAX_KEY_BYTES:
        raise ValueError(f"button key for {action!r} exceeds {MAX_KEY_BYTES} bytes")
    return key


def decode_button_key(key: str) -> tuple[str, dict[str, str]]:
    """Inverse of :func:`encode_button_key`.

    Raises:
        ValueError: The key was not produced by :func:`encode_button_key`.
    """
    if not isinstance(key, str) or not key:
        raise ValueError("empty button key")
    head, *rest = key.split("|")
    action = _unescape(head)
    if not action:
        raise ValueError(f"button key without action: {key!r}")
    params: dict[str, str] = {}
    for part in rest:
        name, sep, value = part.partition("=")
        if not sep or "=" in value:
            raise ValueError(f"malformed button key segment {part!r}")
        name = _unescape(name)
        if name in params:
            raise ValueError(f"duplicate param {name!r} in button key")
        params[name] = _unescape(value)
    return action, params


def _plain(markdown: str) -> str:
    # WeCom shows sub_title_text verbatim; drop the markdown markers people would otherwise see.
    text = markdown.replace("**", "").replace("__", "")
    return "\n".join(line.lstrip("#> ").rstrip() for line in text.splitlines()).strip()


def _template_card(card: Card, card_url: str | None) -> dict[str, Any]:
    if len(card.buttons) > MAX_BUTTONS:
        raise ValueError(f"WeCom cards take at most {MAX_BUTTONS} buttons")
    rows = card.fields[:MAX_ROWS]
    folded = [f"{f.label}: {f.value}" for f in card.fields[MAX_ROWS:]]
    sub_title = "\n".join(t for t in (card.status, *folded, _plain(card.body)) if t)

    main_title: dict[str, str] = {"title": _cut(card.title, MAX_TITLE)}
    if card.footer:
        main_title["desc"] = _cut(card.footer, MAX_TITLE_DESC)
    result: dict[str, Any] = {
        "card_type": "button_interaction" if card.buttons else "text_notice",
        "main_title": main_title,
    }
    if sub_title:
        result["sub_title_text"] = _cut(sub_title, MAX_SUB_TITLE)
    if rows:
        result["horizontal_content_list"] = [
            {"keyname": _cut(f.label, MAX_KEYNAME), "value": _cut(f.value, MAX_VALUE)}
            for f in rows
        ]
    if not card.buttons:
        result["card_action"] = {"type": 1, "url": card_url or DEFAULT_CARD_URL}
        return result
    if card_url:
        result["card_action"] = {"type": 1, "url": card_url}
    # "type" is left out of each button: omitted means 0, a callback button, and the docs'
    # examples omit it too.
    buttons = [
        {
            "text": b.label,
            "style": BUTTON_STYLES.get(b.style, BUTTON_STYLES["default"]),
            "key": encode_button_key(b.action, b.params),
        }
        for b in card.buttons
    ]
    if len({b["key"] for b in buttons}) != len(buttons):
        raise ValueError("button keys must be unique (same action and params twice)")
    result["button_list"] = buttons
    return result


def template_card(card: Card, *, task_id: str, card_url: str | None = None) -> dict[str, Any]:
    """Build a ``template_card`` object for message/send.

    ``button_interaction`` when the card has buttons (callback buttons), else ``text_notice``.
    Fields beyond six are folded into ``sub_title_text`` as ``label: value`` lines, after the
    status and before the body (markdown markers stripped); the footer becomes
    ``main_title.desc``. Texts longer than WeCom recommends are cut with "…".

    Args:
        card: Card to show.
        task_id: Card instance id; sanitised with :func:`sanitize_task_id`. Only sent for
            ``button_interaction``: a text_notice needs none, and an unneeded task_id would
            still have to be unique per app.
        card_url: Where tapping the card leads; required by text_notice (card_action type 1),
            so it defaults to WeCom's site.

    Raises:
        ValueError: More than six buttons, duplicate or oversized button keys, empty task_id.
    """
    result = _template_card(card, card_url)
    if card.buttons:
        result["task_id"] = sanitize_task_id(task_id)
    return result


def message_send_body(
    *,
    card: Card,
    task_id: str,
    agent_id: int,
    touser: Sequence[str],
    card_url: str | None = None,
) -> dict[str, Any]:
    """Body for ``POST /cgi-bin/message/send`` with a template card.

    Duplicate checking is on so a retried send of the same JSON within 30 minutes is dropped
    by WeCom instead of reaching people twice.

    Raises:
        ValueError: No recipients or more than 1000.
    """
    users = [u for u in touser if u]
    if not users or len(users) > MAX_RECIPIENTS:
        raise ValueError(f"touser must name 1..{MAX_RECIPIENTS} members")
    return {
        "touser": "|".join(users),
        "msgtype": "template_card",
        "agentid": agent_id,
        "template_card": template_card(card, task_id=task_id, card_url=card_url),
        "enable_id_trans": 0,
        "enable_duplicate_check": 1,
        "duplicate_check_interval": 1800,
    }


def update_card_body(
    *,
    card: Card,
    agent_id: int,
    userids: Sequence[str],
    response_code: str,
    task_id: str | None = None,
    card_url: str | None = None,
) -> dict[str, Any]:
    """Body for ``POST /cgi-bin/message/update_template_card``.

    A card without buttons but with a status uses the ``button.replace_name`` form: the
    buttons turn grey and read the status (e.g. "已通过"); the rest of the card stays as
    sent. Any other card replaces the whole ``template_card``.

    Args:
        card: The card after the action.
        agent_id: App agentid.
        userids: Members whose copy is updated (≤1000).
        response_code: From message/send or the click callback; single use, 72 h.
        task_id: Accepted for symmetry with :func:`message_send_body` but not sent: the
            card is identified by ``response_code`` and the documented update
            ``template_card`` has no task_id.
        card_url: Passed to :func:`template_card` for full replacements.

    Raises:
        ValueError: Missing response_code, or no/too many userids.
    """
    if not response_code:
        raise ValueError("response_code is required")
    users = list(userids)
    if not users or len(users) > MAX_RECIPIENTS:
        raise ValueError(f"userids must name 1..{MAX_RECIPIENTS} members")
    body: dict[str, Any] = {"userids": users, "agentid": agent_id, "response_code": response_code}
    if not card.buttons and card.status:
        body["button"] = {"replace_name": card.status}
        return body
    body["template_card"] = _template_card(card, card_url)
    return body
