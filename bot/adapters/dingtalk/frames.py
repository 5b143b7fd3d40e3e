"""DingTalk Stream protocol: registering a connection, decoding frames, encoding acks.

Source: https://open.dingtalk.com/document/direction/stream-mode-protocol-access-description
(supplemented by open-dingtalk/developerpedia ``docs/learn/stream/protocol.md``).
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import httpx

from bot.config import DingTalkConfig

OPEN_PATH = "/v1.0/gateway/connections/open"
USER_AGENT = "hrbot/0.1 (python; asyncio)"
TOPIC_ROBOT = "/v1.0/im/bot/messages/get"
TOPIC_CARD = "/v1.0/card/instances/callback"
SUBSCRIPTIONS = (
    {"type": "CALLBACK", "topic": TOPIC_ROBOT},
    {"type": "CALLBACK", "topic": TOPIC_CARD},
)


@dataclass(frozen=True)
class Frame:
    """One server-to-client frame; ``data`` is kept as the JSON string it arrived as."""

    type: str  # SYSTEM | EVENT | CALLBACK
    topic: str
    message_id: str
    data: str

    def payload(self) -> dict[str, Any]:
        """``data`` decoded (it is double-encoded JSON).

        Raises:
            ValueError: ``data`` is not a JSON object.
        """
        value = json.loads(self.data)
        if not isinstance(value, dict):
            raise ValueError("frame data is not an object")
        return value


def decode_frame(text: str | bytes) -> Frame:
    """Parse one websocket message into a :class:`Frame`.

    Raises:
        ValueError: Not JSON, or missing ``type``/``headers``.
    """
    raw = json.loads(text)
    if not isinstance(raw, dict) or not isinstance(raw.get("headers"), dict):
        raise ValueError("frame has no headers")
    headers = raw["headers"]
    data = raw.get("data", "")
    if not isinstance(data, str):
        # Not what the protocol says, but an object is easier to accept than to drop.
        data = json.dumps(data, ensure_ascii=False)
    return Frame(
        type=str(raw.get("type", "")),
        topic=str(headers.get("topic", "")),
        message_id=str(headers.get("messageId", "")),
        data=data,
    )


def encode_ack(message_id: str, data: str, *, code: int = 200, message: str = "OK") -> str:
    """The ack for one frame: ``headers.messageId`` echoed, ``data`` a JSON *string*."""
    return json.dumps(
        {
            "code": code,
            "headers": {"contentType": "application/json", "messageId": message_id},
            "message": message,
            "data": data,
        },
        ensure_ascii=False,
    )


def response_data(response: Any) -> str:
    """Ack data for CALLBACK frames: ``{"response": ...}`` as the SDK sends it."""
    return json.dumps({"response": response}, ensure_ascii=False)


def status_data(status: str) -> str:
    """Ack data for EVENT frames: ``status`` is mandatory (``SUCCESS`` or ``LATER``)."""
    return json.dumps({"status": status, "message": status.lower()})


def local_ip() -> str:
    """This host's outbound IPv4 address (a UDP ``connect`` sends no packet), or 127.0.0.1."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only consults the routing table
            return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"


async def open_connection(http: httpx.AsyncClient, config: DingTalkConfig, ip: str) -> str:
    """Register for a fresh single-use ticket (valid 90 s); returns the websocket URI.

    Raises:
        httpx.HTTPError: The call failed or was refused.
        ValueError: The answer has no endpoint or ticket.
    """
    body = {
        "clientId": config.app_key,
        "clientSecret": config.app_secret,
        "subscriptions": [dict(s) for s in SUBSCRIPTIONS],
        "ua": USER_AGENT,
        "localIp": ip,
    }
    response = await http.post(
        config.api_base.rstrip("/") + OPEN_PATH,
        json=body,
        headers={"Accept": "application/json"},
        timeout=10.0,
    )
    response.raise_for_status()
    data = response.json()
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    ticket = data.get("ticket") if isinstance(data, dict) else None
    if not isinstance(endpoint, str) or not isinstance(ticket, str) or not ticket:
        raise ValueError("open-connection answer has no endpoint/ticket")
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}ticket={quote_plus(ticket)}"
