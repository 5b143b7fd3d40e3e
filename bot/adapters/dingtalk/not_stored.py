"""A robot message that could not be stored is answered at once, never dropped in silence.

DingTalk does not push a robot message again when its Stream frame goes unacked (the Stream
protocol FAQ: robot messages are not re-pushed), so when the database refuses the event the
sender would otherwise never hear of it. The frame still carries the message's
``sessionWebhook`` (valid about 90 minutes, no token needed), so the sender is told right
away that the system is busy, with what they typed quoted back so nothing is lost and they
can send it again.

Why a reply and not a local spool: a spool file lives on one replica's disk, is lost with
that container, and would be stored later out of order with what the person sends next;
the person is in the chat right now and can simply resend.

Sources:
    open-dingtalk/developerpedia docs/learn/stream/protocol.md (FAQ: not re-pushed)
    dingtalk-stream chatbot.py ChatbotHandler.reply_text (sessionWebhook text reply body)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from cards.render import render_text

log = logging.getLogger("hrbot.adapter.dingtalk")

MAX_QUOTED_CHARS = 1500  # the text message's content stays well inside DingTalk's limit


def typed_text(payload: Mapping[str, Any]) -> str:
    """What the person typed: a text message's content or a rich text's text parts."""
    if payload.get("msgtype") == "text":
        text = payload.get("text")
        content = text.get("content") if isinstance(text, Mapping) else None
        return content.strip() if isinstance(content, str) else ""
    content = payload.get("content")
    parts = content.get("richText") if isinstance(content, Mapping) else None
    if isinstance(parts, list):
        words = [p.get("text") for p in parts if isinstance(p, Mapping)]
        return "".join(w for w in words if isinstance(w, str)).strip()
    return ""


class NotStoredReply:
    """Answers an unstored robot message through its sessionWebhook; never raises."""

    def __init__(
        self, http: httpx.AsyncClient, oapi_base: str, *, locale: str = "zh",
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.http = http
        self.oapi_prefix = oapi_base.rstrip("/") + "/"
        self.locale = locale
        self.now_ms = now_ms
        self.sent = 0  # replies DingTalk accepted (observability, tests)

    async def __call__(self, payload: Any) -> None:
        if not isinstance(payload, Mapping):
            return
        message_id = str(payload.get("msgId") or "")
        webhook = payload.get("sessionWebhook")
        expires = payload.get("sessionWebhookExpiredTime")
        # Only DingTalk's own host: the URL comes from a frame.
        if not isinstance(webhook, str) or not webhook.startswith(self.oapi_prefix) or not (
            isinstance(expires, int) and self.now_ms() < expires
        ):
            log.error("robot message %s not stored and its sender cannot be told", message_id)
            return
        text = typed_text(payload)[:MAX_QUOTED_CHARS]
        body: dict[str, Any] = {
            "msgtype": "text",
            "text": {"content": render_text(
                name="stream_not_stored", context={"text": text}, locale=self.locale)},
        }
        staff_id = payload.get("senderStaffId")
        if isinstance(staff_id, str) and staff_id:
            body["at"] = {"atUserIds": [staff_id]}
        try:
            response = await self.http.post(webhook, json=body, timeout=3.0)
            answer = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            log.error("robot message %s not stored; telling its sender failed: %s",
                      message_id, type(exc).__name__)
            return
        if not isinstance(answer, dict) or answer.get("errcode", 0) != 0:
            log.error("robot message %s not stored; DingTalk refused the busy reply (HTTP %s)",
                      message_id, response.status_code)
            return
        self.sent += 1
        log.warning("robot message %s not stored; its sender was asked to send it again",
                    message_id)
