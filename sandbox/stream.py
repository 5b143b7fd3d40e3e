"""Fake DingTalk Stream gateway: tickets, the websocket, frames pushed to the bot, acks.

Frames are exactly what DingTalk sends (``type``/``headers``/``data`` with ``data`` a JSON
*string*); acks are read back and checked (``code``, ``headers.messageId``, ``data`` a JSON
string). A card callback not acked within ``stream_ack_timeout`` is pushed again with the
same ``messageId``; robot messages are not, as DingTalk documents (unless the settings ask
for it). System ``ping`` frames expect their ``data`` echoed; ``disconnect`` rotates.

Source: https://open.dingtalk.com/document/direction/stream-mode-protocol-access-description
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from sandbox.settings import SandboxSettings
from sandbox.state import DINGTALK, World

STREAM_PATH = "/dingtalk/stream"
TOPIC_ROBOT = "/v1.0/im/bot/messages/get"
TOPIC_CARD = "/v1.0/card/instances/callback"
TICKET_LIFETIME = 90.0

CardResponse = Callable[[dict[str, Any], dict[str, Any]], None]


class NotConnected(Exception):
    """No open Stream connection subscribed to the topic."""


@dataclass
class Connection:
    id: int
    ws: web.WebSocketResponse
    client_id: str
    topics: set[str]
    opened: float
    pinger: asyncio.Task[None] | None = None


@dataclass
class Pending:
    delivery: dict[str, Any]
    frame: str
    data: dict[str, Any]
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    timer: asyncio.Task[None] | None = None


class Gateway:
    """The Stream side of the fake DingTalk; one per sandbox."""

    def __init__(self, world: World, settings: SandboxSettings) -> None:
        self.world = world
        self.settings = settings
        self.tickets: dict[str, dict[str, Any]] = {}
        self.connections: dict[int, Connection] = {}
        self.pending: dict[str, Pending] = {}
        self.pings: list[dict[str, Any]] = []
        self.stray_acks: list[dict[str, Any]] = []
        self.on_card_response: CardResponse | None = None
        self._next_id = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def issue_ticket(self, client_id: str, subscriptions: list[Any]) -> str:
        topics = {
            str(s.get("topic")) for s in subscriptions
            if isinstance(s, dict) and s.get("type") == "CALLBACK"
        }
        ticket = str(uuid.uuid4())
        self.tickets[ticket] = {
            "client_id": client_id, "topics": topics,
            "expires": self.world.now() + TICKET_LIFETIME,
        }
        return ticket

    def subscribed(self, topic: str) -> bool:
        return any(topic in c.topics and not c.ws.closed for c in self.connections.values())

    def status(self) -> dict[str, Any]:
        return {
            "connections": [
                {"id": c.id, "client_id": c.client_id, "topics": sorted(c.topics),
                 "opened": c.opened} for c in self.connections.values()
            ],
            "pings": self.pings[-20:], "stray_acks": self.stray_acks[-20:],
        }

    def _message_id(self) -> str:
        # Shaped like DingTalk's, e.g. "212ca9d7_974_1898c159aa6_1783b".
        head, tail = uuid.uuid4().hex[:8], uuid.uuid4().hex[:5]
        return f"{head}_{random.randint(100, 999)}_{self.world.now_ms():x}_{tail}"

    def _frame(self, frame_type: str, topic: str, message_id: str, data: dict[str, Any]) -> str:
        headers = {"contentType": "application/json", "messageId": message_id, "topic": topic}
        if frame_type != "SYSTEM":
            app_id = uuid.uuid5(uuid.NAMESPACE_URL, self.settings.dingtalk_app_key or "sandbox")
            headers.update(appId=str(app_id), time=str(self.world.now_ms()))
        return json.dumps({"specVersion": "1.0", "type": frame_type, "headers": headers,
                           "data": json.dumps(data, ensure_ascii=False)}, ensure_ascii=False)

    async def push(self, topic: str, data: dict[str, Any], kind: str) -> Pending:
        """Push one CALLBACK frame to a random subscribed connection.

        Raises:
            NotConnected: No open connection subscribed to ``topic``.
        """
        if not self.subscribed(topic):
            raise NotConnected(topic)
        message_id = self._message_id()
        pending = Pending(
            self.world.add_delivery(DINGTALK, kind, message_id, topic=topic),
            self._frame("CALLBACK", topic, message_id, data), data,
        )
        self.pending[message_id] = pending
        await self._send(pending)
        if topic == TOPIC_CARD or self.settings.repush_robot_messages:
            pending.timer = self._spawn(self._repush(pending))
        else:
            pending.timer = self._spawn(self._expire(pending))
        return pending

    async def _send(self, pending: Pending) -> bool:
        topic = pending.delivery["topic"]
        open_ = [c for c in self.connections.values() if topic in c.topics and not c.ws.closed]
        if not open_:
            return False
        conn = random.choice(open_)  # DingTalk load-balances pushes over connections
        pending.delivery["attempts"].append({"time": self.world.now(), "connection": conn.id})
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.send_str(pending.frame)
        return True

    async def _repush(self, pending: Pending) -> None:
        # Without a connection at re-push time that round is lost, as on DingTalk.
        for _ in range(self.settings.stream_max_pushes - 1):
            if await self.answered_within(pending, self.settings.stream_ack_timeout):
                return
            await self._send(pending)
        if not await self.answered_within(pending, self.settings.stream_ack_timeout):
            pending.delivery["status"] = "failed"

    async def _expire(self, pending: Pending) -> None:
        if not await self.answered_within(pending, self.settings.stream_ack_timeout):
            pending.delivery["status"] = "unacked"

    async def answered_within(self, pending: Pending, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pending.answered.wait(), timeout)
        return pending.answered.is_set()

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    def _read_ack(text: str) -> tuple[dict[str, Any], Any, list[str]]:
        """(ack, decoded data, problems) of one client message; ``{}`` if not an object."""
        try:
            ack = json.loads(text)
        except ValueError:
            return {}, None, ["not JSON"]
        if not isinstance(ack, dict):
            return {}, None, ["not a JSON object"]
        problems = [] if isinstance(ack.get("code"), int) else ["code must be an integer"]
        raw, data = ack.get("data"), None
        if not isinstance(raw, str):
            problems.append("data must be a JSON string")
        else:
            try:
                data = json.loads(raw)
            except ValueError:
                problems.append("data is not valid JSON")
        return ack, data, problems

    def _on_text(self, conn: Connection, text: str) -> None:
        ack, data, problems = self._read_ack(text)
        headers = ack.get("headers")
        message_id = headers.get("messageId") if isinstance(headers, dict) else None
        ping = next((p for p in self.pings if p["messageId"] == message_id), None)
        if ping is not None:
            ping["echoed"] = ack.get("data") == ping["data"]
            return
        pending = self.pending.get(message_id) if isinstance(message_id, str) else None
        if pending is None:
            self.stray_acks.append({"connection": conn.id, "ack": ack, "problems": problems})
            del self.stray_acks[:-100]
            return
        code = ack.get("code")
        pending.delivery["ack"] = {
            "time": self.world.now(), "code": code, "message": ack.get("message"),
            "data": data, "problems": problems,
        }
        pending.delivery["status"] = "acked" if code == 200 and not problems else "rejected"
        pending.answered.set()
        self.world.touch()
        response = data.get("response") if isinstance(data, dict) else None
        if isinstance(response, dict) and response and self.on_card_response is not None:
            self.on_card_response(pending.data, response)

    async def _pinger(self, conn: Connection, interval: float) -> None:
        while not conn.ws.closed:
            await asyncio.sleep(interval)
            with contextlib.suppress(ConnectionError, RuntimeError):  # closed meanwhile
                await self.ping(conn)

    async def ping(self, conn: Connection) -> str:
        """Send a system ping; the bot must echo its ``data``."""
        message_id = self._message_id()
        frame = self._frame("SYSTEM", "ping", message_id, {"opaque": uuid.uuid4().hex[:12]})
        self.pings.append({"messageId": message_id, "connection": conn.id, "echoed": False,
                           "data": json.loads(frame)["data"]})
        del self.pings[:-100]
        await conn.ws.send_str(frame)
        return message_id

    async def rotate(self) -> int:
        """Ask every connection to reconnect (``disconnect``), then close them after a grace."""
        conns = [c for c in self.connections.values() if not c.ws.closed]
        for conn in conns:
            frame = self._frame("SYSTEM", "disconnect", self._message_id(),
                                {"reason": "connection is expired"})
            await conn.ws.send_str(frame)
            self._spawn(self._close_later(conn))
        return len(conns)

    async def _close_later(self, conn: Connection) -> None:
        await asyncio.sleep(self.settings.stream_disconnect_grace)
        await conn.ws.close(code=WSCloseCode.GOING_AWAY)

    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        """``GET /dingtalk/stream?ticket=``: a single-use ticket, valid 90 s."""
        entry = self.tickets.pop(request.query.get("ticket", ""), None)
        if entry is None or entry["expires"] < self.world.now():
            return web.json_response({"code": "invalidTicket", "message": "ticket无效或已过期"},
                                     status=401)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._next_id += 1
        conn = Connection(self._next_id, ws, entry["client_id"], entry["topics"], self.world.now())
        self.connections[conn.id] = conn
        if self.settings.stream_ping_interval:
            conn.pinger = self._spawn(self._pinger(conn, self.settings.stream_ping_interval))
        self.world.touch()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
        finally:
            self.connections.pop(conn.id, None)
            if conn.pinger is not None:
                conn.pinger.cancel()
            self.world.touch()
        return ws

    async def close(self) -> None:
        """Close every socket and stop timers (server shutdown)."""
        for conn in list(self.connections.values()):
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"sandbox stopping")
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    def reset(self) -> None:
        for pending in self.pending.values():
            if pending.timer is not None:
                pending.timer.cancel()
        self.pending.clear()
        self.pings.clear()
        self.stray_acks.clear()


GATEWAY = web.AppKey("sandbox_gateway", Gateway)
