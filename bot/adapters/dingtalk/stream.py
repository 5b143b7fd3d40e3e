"""DingTalk Stream mode on ``dingtalk-stream``'s ``DingTalkStreamClient``.

:class:`StreamClient` *is* the SDK's client: its credential, its topic registry (what we
subscribe to), its websocket (``self.websocket``, opened with the same ``websockets.connect``),
its routing (``background_task`` → ``route_message`` → handler ``raw_process``) and the acks
its classes build. The handlers that store events before acking live in ``frames.py``.

Why some of the SDK (0.24.3) is replaced rather than used:

* ``open_connection`` is a blocking ``requests.post`` without a timeout, called on the event
  loop, to a process-wide class attribute (``DingTalkStreamClient.OPEN_CONNECTION_API``).
  Registration here is an httpx call to ``api_base`` from our config (so a fake gateway or
  the sandbox can stand in), and the blocking method raises so nothing calls it by mistake.
  So do ``get_access_token`` and ``upload_to_dingtalk``: tokens come from ``client.py``.
* ``start`` calls that blocking ``open_connection`` inline, swallows the first
  cancellation, sleeps a fixed 10 s or 3 s after failures, starts one unbounded task per
  frame and a keepalive task that outlives its socket. Nothing outside the method can change
  that, so :meth:`StreamClient.start` is a new loop of the same shape (register, connect,
  read, route each frame with ``background_task``, reconnect) that awaits registration,
  routes at most ``max_in_flight`` frames at once (then stops reading: back-pressure),
  backs off with capped jitter (1…60 s), reconnects at once on "disconnect" after the acks
  in flight went out, leaves keepalive to websockets' pings and lets cancellation through.
* System frames are answered in the read loop by the SDK's ``SystemHandler``:
  ``route_message`` would log each ping as an "unknown topic" warning and close on
  "disconnect" before pending acks are sent. Callbacks on topics we did not subscribe to get
  a 404 ack instead of the SDK's silence and a warning that logs the whole frame.

Source: https://open.dingtalk.com/document/direction/stream-mode-protocol-access-description
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from typing import Any, NoReturn

import httpx
import websockets
from dingtalk_stream import (
    AckMessage,
    CallbackMessage,
    Credential,
    DingTalkStreamClient,
    EventMessage,
    SystemMessage,
)
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import WebSocketException

from bot.adapters.base import EventSink
from bot.adapters.dingtalk.frames import (
    OPEN_PATH,
    TOPIC_CARD,
    TOPIC_ROBOT,
    EventAcker,
    ack,
    card_handler,
    local_ip,
    open_connection,
    robot_handler,
)
from bot.adapters.dingtalk.not_stored import NotStoredReply
from bot.config.schema import DingTalkConfig

log = logging.getLogger("hrbot.adapter.dingtalk")

ROTATION_GRACE_S = 5.0  # the server closes a rotated socket 10 s after "disconnect"


def backoff_delay(attempt: int, *, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Delay before reconnect ``attempt`` (0-based): ``base·2^n`` plus up to ``base`` jitter.

    With ``base=1`` and ``cap=60``: 1–2, 2–3, 4–5, … seconds, never above 60.
    """
    return min(cap, base * 2 ** min(attempt, 30) + base * rng())


class StreamClient(DingTalkStreamClient):
    """The SDK's Stream client for one app, subscribed to robot messages and card taps."""

    def __init__(
        self,
        config: DingTalkConfig,
        sink: EventSink,
        *,
        http: httpx.AsyncClient,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        max_in_flight: int = 32,
        local_ip_address: str | None = None,
        rng: Callable[[], float] = random.random,
        ws_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(Credential(config.app_key, config.app_secret), logger=log)
        self.open_connection_api = config.api_base.rstrip("/") + OPEN_PATH
        self.http = http
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.local_ip = local_ip_address or local_ip()
        self.rng = rng
        # The SDK's websockets defaults, plus a 2 s close handshake.
        self.ws_options: dict[str, Any] = {
            "open_timeout": 10, "ping_interval": 20, "ping_timeout": 20, "close_timeout": 2,
            "max_size": 1_048_576, **(ws_options or {}),
        }
        self.not_stored_reply = NotStoredReply(http, config.oapi_base)
        self.register_callback_handler(TOPIC_ROBOT, robot_handler(sink, self.not_stored_reply))
        self.register_callback_handler(TOPIC_CARD, card_handler(sink))
        # Assigned, not register_all_event_handler(): that would subscribe to every event.
        self.event_handler = EventAcker()
        self.event_handler.dingtalk_client = self
        self.connections = 0  # websockets opened so far (observability, tests)
        self.frames = 0  # frames received so far
        self._slots = asyncio.Semaphore(max_in_flight)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._live: ClientConnection | None = None  # the socket being read, if any

    @property
    def in_flight(self) -> int:
        """Frames being routed (stored, then acked) right now."""
        return len(self._in_flight)

    def subscriptions(self) -> list[dict[str, str]]:
        """What to register for, from the SDK's registry as its ``open_connection`` does."""
        topics = [{"type": "EVENT", "topic": "*"}] if self._is_event_required else []
        return topics + [{"type": "CALLBACK", "topic": t} for t in self.callback_handler_map]

    def open_connection(self) -> NoReturn:
        raise RuntimeError("blocking; StreamClient registers with the awaitable register()")

    def get_access_token(self) -> NoReturn:
        raise RuntimeError("blocking; access tokens come from DingTalkClient")

    def upload_to_dingtalk(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise RuntimeError("blocking; not used by the bot")

    async def register(self) -> str:
        """A fresh single-use ticket: the websocket URI (see :func:`frames.open_connection`)."""
        return await open_connection(
            self.http, self.open_connection_api,
            client_id=self.credential.client_id, client_secret=self.credential.client_secret,
            subscriptions=self.subscriptions(), ip=self.local_ip,
        )

    async def start(self) -> None:
        """Connect, serve and reconnect until :meth:`stop`; cancelling it stops it too."""
        self.pre_start()
        attempt, frames_before = 0, self.frames
        while not self._stopping.is_set():
            delay: float | None = None
            try:
                uri = await self.register()
                async with websockets.connect(uri, **self.ws_options) as ws:
                    # route_message acks on self.websocket: the socket of the moment.
                    self.websocket = self._live = ws
                    self.connections += 1
                    if self._stopping.is_set():  # stop() came during the handshake
                        break
                    log.info("stream connected (connection %d)", self.connections)
                    # The server rotates connections with a "disconnect" frame: come back
                    # at once; after any other end, back off.
                    delay = 0.0 if await self._serve(ws) else None
            except (OSError, TimeoutError, ValueError, httpx.HTTPError, WebSocketException) as exc:
                log.warning("stream connection failed: %s", type(exc).__name__)
            except Exception:  # anything else must not end the loop either
                log.exception("stream connection failed unexpectedly")
            finally:
                self._live = None
            if self.frames > frames_before:  # the last connection worked: start over at 1 s
                attempt, frames_before = 0, self.frames
            if self._stopping.is_set():
                break
            if delay is None:
                delay = backoff_delay(
                    attempt, base=self.backoff_base, cap=self.backoff_cap, rng=self.rng
                )
                attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)

    async def stop(self, grace: float = 2.0) -> None:
        """End the loop: frames being stored get ``grace`` s for their acks, then the socket
        closes. :meth:`start` returns soon after (at once if it was backing off)."""
        self._stopping.set()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=grace)
        for pending in set(self._in_flight):
            pending.cancel()
        ws = self._live
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), timeout=grace)

    def resume(self) -> None:
        """Undo :meth:`stop`, so that :meth:`start` runs again."""
        self._stopping.clear()

    @property
    def connected(self) -> bool:
        """True while a socket is open and being read."""
        return self._live is not None

    async def _serve(self, ws: ClientConnection) -> bool:
        """Read frames until the socket closes; True when the server asked us to rotate."""
        async for raw in ws:
            self.frames += 1
            try:
                frame = json.loads(raw)
                kind, headers = frame.get("type"), frame["headers"]
                topic, message_id = headers.get("topic"), str(headers.get("messageId", ""))
            except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
                log.warning("dropping an undecodable stream frame")
                continue
            if kind == SystemMessage.TYPE:
                if topic == SystemMessage.TOPIC_DISCONNECT:
                    log.info("stream rotation requested by the server")
                    if self._in_flight:
                        # Acks of frames still being stored must go out on this socket.
                        await asyncio.wait(set(self._in_flight), timeout=ROTATION_GRACE_S)
                    return True
                await self._answer_system(ws, frame)
                continue
            if kind == CallbackMessage.TYPE and topic not in self.callback_handler_map:
                await ws.send(ack(message_id, {"response": None}, message="topic not supported",
                                  code=AckMessage.STATUS_NOT_IMPLEMENT))
                continue
            if kind not in (CallbackMessage.TYPE, EventMessage.TYPE):
                log.warning("dropping a stream frame of type %r", kind)
                continue
            # Back-pressure: with every slot busy we stop reading; websockets still answers
            # protocol pings meanwhile.
            await self._slots.acquire()
            if self._stopping.is_set():
                self._slots.release()
                break
            task = asyncio.create_task(self.background_task(frame))
            self._in_flight.add(task)
            task.add_done_callback(self._done)
        return False

    async def _answer_system(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        """ping (and any other system topic): the SDK's SystemHandler echoes ``data``."""
        try:
            message = SystemMessage.from_dict(frame)
        except (ValueError, TypeError):
            log.warning("dropping an undecodable system frame")
            return
        reply = await self.system_handler.raw_process(message)
        await ws.send(json.dumps(reply.to_dict()))

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slots.release()


class DingTalkStream:
    """Runs a :class:`StreamClient` in a task: :meth:`start` it, :meth:`stop` it on shutdown."""

    def __init__(
        self, config: DingTalkConfig, sink: EventSink, *, http: httpx.AsyncClient,
        **options: Any,
    ) -> None:
        """``options`` are :class:`StreamClient`'s (backoff, frames in flight, test hooks)."""
        self.client = StreamClient(config, sink, http=http, **options)
        self._task: asyncio.Task[None] | None = None

    @property
    def connections(self) -> int:
        """Websockets opened so far."""
        return self.client.connections

    @property
    def frames(self) -> int:
        """Frames received so far."""
        return self.client.frames

    @property
    def in_flight(self) -> int:
        """Frames being stored and acked right now."""
        return self.client.in_flight

    def start(self) -> asyncio.Task[None]:
        """Run the client in a task (idempotent) and return it."""
        if self._task is None or self._task.done():
            self.client.resume()
            self._task = asyncio.create_task(self.client.start(), name="dingtalk-stream")
        return self._task

    async def stop(self, grace: float = 2.0) -> None:
        """Let frames being stored get their acks (up to ``grace`` s), close, and return."""
        task, self._task = self._task, None
        was_connected = self.client.connected
        await self.client.stop(grace)
        if task is None or task.done():
            return
        if was_connected:
            await asyncio.wait({task}, timeout=grace)
        # Registering, handshaking or backing off: nothing to finish. Cancelled until it
        # ends, so that a loop which swallows a cancellation (as the SDK's own start() does
        # with the first one) still stops; asyncio.wait rather than "await task" under
        # suppress(CancelledError), which would also swallow a cancellation of our caller.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.1)
