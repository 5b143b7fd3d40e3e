"""Platform card payloads → one shape the page draws: title, status, fields, body, buttons.

DingTalk cards are template variables (``cardParamMap``: ``title``, ``status``, ``fields``
and ``buttons`` as JSON strings, ``body`` markdown, ``footer``); WeCom cards are the
``template_card`` JSON. Both are read as the platforms would show them, never through the
bot's own renderers.
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.state import DINGTALK, CardState


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


def dingtalk_card(card: CardState, viewer: str = "") -> dict[str, Any]:
    """A DingTalk card as ``viewer`` (userId) sees it: public data plus their private data."""
    params = {**card.content["params"], **card.content["private"].get(viewer, {})}
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
