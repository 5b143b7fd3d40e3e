"""Platform card payloads → one shape the page draws: title, status, fields, body, buttons.

DingTalk cards are template variables (``cardParamMap``: ``title``, ``status``, ``fields``
and ``buttons`` as JSON strings, ``body`` markdown, ``footer``), or the variables of the
template DingTalk publishes for every app (``msgTitle``, ``staticMsgContent`` markdown,
``sys_full_json_obj`` with ``msgButtons``; see dingtalk-stream's ``card_instance.py``),
whose markdown is shown as the page's status, fields and body; WeCom cards are the
``template_card`` JSON. Both are read as the platforms would show them, never through the
bot's own renderers.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sandbox.state import DINGTALK, CardState

# The card template DingTalk publishes for every app (no card builder needed).
PUBLISHED_TEMPLATE = "382e4302-551d-4880-bf29-a30acfab2e71.schema"


def _json_list(text: Any) -> list[Any]:
    if not isinstance(text, str):
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def _unique(ids: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for button_id in ids:
        seen[button_id] = seen.get(button_id, 0) + 1
        result.append(button_id if seen[button_id] == 1 else f"{button_id}#{seen[button_id]}")
    return result


_BOLD_LINE = re.compile(r"\*\*(.+?)\*\*")
_FIELD_LINE = re.compile(r"\*\*(.+?)\*\*：(.*)")


def _published_template_card(params: dict[str, str]) -> dict[str, Any]:
    """The published template's card: its markdown read back into status/fields/body."""
    lines = str(params.get("staticMsgContent") or params.get("msgContent") or "").splitlines()
    status, fields, body, footer = "", [], [], ""
    if lines and (bold := _BOLD_LINE.fullmatch(lines[0])):
        status, lines = bold.group(1), lines[1:]
    while lines and (field := _FIELD_LINE.fullmatch(lines[0])):
        fields.append({"label": field.group(1), "value": field.group(2)})
        lines = lines[1:]
    if lines and lines[-1].startswith("> "):
        footer, lines = lines[-1][2:], lines[:-1]
    try:
        layout = json.loads(params.get("sys_full_json_obj") or "{}")
    except ValueError:
        layout = {}
    raw = layout.get("msgButtons") if isinstance(layout, dict) else None
    raw_buttons = [b for b in raw or [] if isinstance(b, dict) and b.get("request")]
    ids = _unique([str((b.get("params") or {}).get("action") or b.get("id") or i)
                   for i, b in enumerate(raw_buttons)])
    buttons: list[dict[str, Any]] = [
        {"id": ids[i], "label": str(b.get("text", "")),
         "style": {"blue": "primary", "red": "danger"}.get(str(b.get("color")), "default"),
         "enabled": True, "index": i, "component_id": str(b.get("id", "")),
         "params": b.get("params") if isinstance(b.get("params"), dict) else {}}
        for i, b in enumerate(raw_buttons)
    ]
    body.extend(lines)
    return {
        "title": params.get("msgTitle") or "互动卡片", "status": status, "fields": fields,
        "body": "\n".join(body).strip(), "footer": footer, "source": "",
        "buttons": buttons, "card_type": "interactive",
    }


def dingtalk_card(card: CardState, viewer: str = "") -> dict[str, Any]:
    """A DingTalk card as ``viewer`` (userId) sees it: public data plus their private data."""
    params = {**card.content["params"], **card.content["private"].get(viewer, {})}
    if card.meta.get("cardTemplateId") == PUBLISHED_TEMPLATE:
        return _published_template_card(params)
    fields = [
        {"label": str(f.get("label", "")), "value": str(f.get("value", ""))}
        for f in _json_list(params.get("fields")) if isinstance(f, dict)
    ]
    body = params.get("body") or params.get("markdown") or params.get("content") or ""
    # The body repeats the fields as "**label**：value" lines; the page shows them once.
    shown = {f"**{f['label']}**：{f['value']}" for f in fields}
    body = "\n".join(line for line in body.splitlines() if line not in shown).strip()
    raw_buttons = [b for b in _json_list(params.get("buttons")) if isinstance(b, dict)]
    if params.get("has_buttons") == "false":
        raw_buttons = []
    ids = _unique([str(b.get("action") or i) for i, b in enumerate(raw_buttons)])
    buttons = [
        {"id": ids[i], "label": str(b.get("text", "")), "style": str(b.get("style", "default")),
         "enabled": True, "index": i,
         "params": b.get("params") if isinstance(b.get("params"), dict)
         else {"action": str(b.get("action", ""))}}
        for i, b in enumerate(raw_buttons)
    ]
    known = {"title", "status", "fields", "body", "markdown", "content", "buttons",
             "footer", "has_buttons"}
    if not fields and not body:  # a template we do not know: show its variables
        fields = [{"label": k, "value": v} for k, v in params.items() if k not in known]
    return {
        "title": params.get("title") or "互动卡片", "status": params.get("status", ""),
        "fields": fields, "body": body, "footer": params.get("footer", ""), "source": "",
        "buttons": buttons, "card_type": "interactive",
    }


def wecom_card(card: CardState) -> dict[str, Any]:
    """A WeCom ``template_card`` as its recipient sees it."""
    tc = card.content
    main = title if isinstance(title := tc.get("main_title"), dict) else {}
    fields = [
        {"label": str(row.get("keyname", "")), "value": str(row.get("value", ""))}
        for row in tc.get("horizontal_content_list") or [] if isinstance(row, dict)
    ]
    emphasis = tc.get("emphasis_content")
    if isinstance(emphasis, dict) and emphasis.get("title"):
        fields.insert(0, {"label": str(emphasis.get("desc", "")),
                          "value": str(emphasis["title"])})
    selection = tc.get("button_selection")
    if isinstance(selection, dict):
        chosen = next((o.get("text") for o in selection.get("option_list") or []
                       if isinstance(o, dict) and o.get("id") == selection.get("selected_id")),
                      "")
        fields.append({"label": str(selection.get("title", "")), "value": str(chosen)})
    quote = area if isinstance(area := tc.get("quote_area"), dict) else {}
    body = "\n".join(t for t in (quote.get("quote_text"), tc.get("sub_title_text")) if t)
    raw = [b for b in tc.get("button_list") or [] if isinstance(b, dict)]
    submit = tc.get("submit_button")
    if isinstance(submit, dict):
        raw.append(submit)
    replaced = card.meta.get("replace_name")
    if replaced:  # update_template_card with button.replace_name: one grey label
        buttons = [{"id": "", "label": str(replaced), "style": "default", "enabled": False}]
    else:
        buttons = [
            {"id": str(b.get("key", "")), "label": str(b.get("text", "")),
             "style": {1: "primary", 3: "danger"}.get(b.get("style", 1), "default"),
             "enabled": b.get("type", 0) == 0}
            for b in raw
        ]
    source = src if isinstance(src := tc.get("source"), dict) else {}
    return {
        "title": str(main.get("title", "")), "status": str(replaced or ""), "fields": fields,
        "body": body, "footer": str(main.get("desc", "")), "source": str(source.get("desc", "")),
        "buttons": buttons, "card_type": str(tc.get("card_type", "")),
    }


def page_card(card: CardState, viewer: str = "") -> dict[str, Any]:
    """The page's view of ``card``; ``viewer`` is the DingTalk userId for private data."""
    shape = dingtalk_card(card, viewer) if card.platform == DINGTALK else wecom_card(card)
    shape.update(id=card.id, version=card.version, platform=card.platform)
    return shape


def find_button(shape: dict[str, Any], wanted: str) -> dict[str, Any] | None:
    """A clickable button by id, else by label, else by action name (WeCom key head)."""
    buttons = [b for b in shape["buttons"] if b["enabled"]]
    for match in (
        lambda b: b["id"] == wanted,
        lambda b: b["label"] == wanted,
        lambda b: b["id"].split("|", 1)[0] == wanted,
    ):
        found = [b for b in buttons if match(b)]
        if len(found) == 1:
            return found[0]
    return None
