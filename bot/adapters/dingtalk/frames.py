"""DingTalk Stream protocol: registering a connection, and frames turned into stored events.

The frames themselves are decoded and acked by ``dingtalk-stream``'s own classes
(``CallbackMessage``, ``AckMessage``, ``CallbackHandler.raw_process``); what is ours is what a
handler does with a frame: parse it into an :class:`~bot.core.events.Event`, have the sink store
it durably, and only then return the ack. A frame whose event could not be stored raises
:class:`NotStored`, and ``raw_process`` then sends no ack at all.

Card callbacks are acked with ``{"response": {}}``: no immediate card change. The handler's
answer (usually the tapped card replaced by an "action done" card) follows through the
outbox as ``PUT /v1.0/card/instances``, because storing first and rendering later keeps the
ack far below the 2 s limit and the ack never depends on handler code.

Source: https://open.dingtalk.com/document/direction/stream-mode-protocol-access-description
(supplemented by open-dingtalk/developerpedia ``docs/learn/stream/protocol.md``).
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus

import httpx
from dingtalk_stream import AckMessage, CallbackHandler, CallbackMessage, EventHandler
from dingtalk_stream.frames import EventMessage, Headers
from dingtalk_stream.version import VERSION_STRING

from bot.adapters.base import EventSink
from bot.adapters.dingtalk.parse import parse_card_event, parse_robot_message
from bot.core.events import Event

log = logging.getLogger("hrbot.adapter.dingtalk")

OPEN_PATH = "/v1.0/gateway/connections/open"
USER_AGENT = f"hrbot/0.1 (python; asyncio) dingtalk-stream/{VERSION_STRING}"
TOPIC_ROBOT = "/v1.0/im/bot/messages/get"
TOPIC_CARD = CallbackHandler.TOPIC_CARD_CALLBACK  # "/v1.0/card/instances/callback"
CARD_ACK_BUDGET_S = 1.5  # DingTalk shows an error on the card after 2 s


class NotStored(Exception):
    """The frame's event could not be stored, so the frame must not be acked."""


def ack(
    message_id: str, data: Any, *, code: int = AckMessage.STATUS_OK, message: str = "OK"
) -> str:
    """One ack as the SDK encodes it (``data`` becomes a JSON string inside the JSON)."""
    reply = AckMessage()
    reply.code = code
    reply.message = message
    reply.headers.message_id = message_id
    reply.headers.content_type = Headers.CONTENT_TYPE_APPLICATION_JSON
    reply.data = data
    return json.dumps(reply.to_dict())


class StoringHandler(CallbackHandler):
    """A callback topic's handler: parse, store, then ack with ``response``.

    Acks: 200 with ``{"response": response}`` once stored (a redelivery the inbox already
    has counts as stored); 400 for a payload we cannot use (no point in a redelivery); none
    when storing failed (:class:`NotStored`), so DingTalk may push it again. ``not_stored``
    is told of such a frame's payload first (robot messages: DingTalk never pushes them again).
    """

    def __init__(
        self, topic: str, sink: EventSink, parse: Callable[[Any, str], Event],
        response: Any = None,
        not_stored: Callable[[Any], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__()
        self.topic = topic
        self.sink = sink
        self.parse = parse
        self.response = response
        self.not_stored = not_stored

    async def process(self, message: CallbackMessage) -> tuple[int, Any]:
        """The ack's code and ``response`` for one frame (SDK contract).

        Raises:
            NotStored: The sink failed; ``raw_process`` then sends no ack.
        """
        started = time.perf_counter()
        message_id = str(message.headers.message_id or "")
        try:
            event = self.parse(message.data, message_id)
        except ValueError as exc:
            log.warning("unusable %s frame %s: %s", self.topic, message_id, exc)
            return AckMessage.STATUS_BAD_REQUEST, None
        try:
            await self.sink(event)
        except Exception as exc:
            # Not stored: no ack (DingTalk may push it again; the inbox dedupes).
            log.exception("could not store event %s; frame not acked", event.event_id)
            if self.not_stored is not None:
                await self.not_stored(message.data)
            raise NotStored(f"event {event.event_id} not stored") from exc
        elapsed = time.perf_counter() - started
        if self.topic == TOPIC_CARD and elapsed > CARD_ACK_BUDGET_S:
            log.warning("card callback %s stored after %.2f s", message_id, elapsed)
        return AckMessage.STATUS_OK, self.response


def _robot(payload: Any, message_id: str) -> Event:
    return parse_robot_message(payload)


def _card(payload: Any, message_id: str) -> Event:
    if not isinstance(payload, Mapping):
        raise ValueError("card callback is not an object")
    return parse_card_event(payload, message_id=message_id)


def robot_handler(
    sink: EventSink, not_stored: Callable[[Any], Awaitable[None]] | None = None
) -> StoringHandler:
    """Handler for robot messages: acked ``{"response": null}`` once stored."""
    return StoringHandler(TOPIC_ROBOT, sink, _robot, not_stored=not_stored)


def card_handler(sink: EventSink) -> StoringHandler:
    """Handler for card taps: acked ``{"response": {}}`` (card unchanged) once stored."""
    return StoringHandler(TOPIC_CARD, sink, _card, response={})


class EventAcker(EventHandler):
    """EVENT frames (not subscribed, but possible): acked SUCCESS so they are not re-pushed.

    The SDK's ``EventHandler.raw_process`` echoes the event's own data, while the protocol
    wants ``{"status": "SUCCESS" | "LATER"}`` for events.
    """

    async def process(self, event: EventMessage) -> tuple[int, str]:
        return AckMessage.STATUS_OK, "OK"

    async def raw_process(self, event_message: EventMessage) -> AckMessage:
        reply = await super().raw_process(event_message)
        reply.data = {"status": "SUCCESS", "message": "success"}
        return reply


def local_ip() -> str:
    """This host's outbound IPv4 address (a UDP ``connect`` sends no packet), or 127.0.0.1."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only consults the routing table
            return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"


async def open_connection(
    http: httpx.AsyncClient, url: str, *, client_id: str, client_secret: str,
    subscriptions: Sequence[Mapping[str, str]], ip: str,
) -> str:
    """Register for a fresh single-use ticket (valid 90 s); returns the websocket URI.

    Raises:
        httpx.HTTPError: The call failed or was refused.
        ValueError: The answer has no endpoint or ticket.
    """
    body = {
        "clientId": client_id,
        "clientSecret": client_secret,
        "subscriptions": [dict(s) for s in subscriptions],
        "ua": USER_AGENT,
        "localIp": ip,
    }
    response = await http.post(
        url, json=body, headers={"Accept": "application/json"}, timeout=10.0
    )
    response.raise_for_status()
    data = response.json()
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    ticket = data.get("ticket") if isinstance(data, dict) else None
    if not isinstance(endpoint, str) or not isinstance(ticket, str) or not ticket:
        raise ValueError("open-connection answer has no endpoint/ticket")
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}ticket={quote_plus(ticket)}"
