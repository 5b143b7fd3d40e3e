"""DingTalk Stream mode: our own small asyncio client for the Stream gateway.

We do not run ``dingtalk-stream`` 0.24.3's client: it opens connections with a blocking
``requests.post`` on the event loop, swallows the first cancellation, handles every frame in
an unbounded task, and its async chatbot handler acks before the message is processed. Here a
frame is acked only after the sink has stored its event, at most ``max_in_flight`` frames are
handled at once, reconnects back off exponentially (jittered, capped), and :meth:`stop`
returns promptly (cancellation propagates, never swallowed).

Card callbacks are acked with ``{"response": {}}``: no immediate card change. The handler's
answer (usually the tapped card replaced by an "action done" card) follows through the outbox
as ``PUT /v1.0/card/instances``, because storing first and rendering later keeps the ack far
below the 2 s limit and the ack never depends on handler code.

Source: https://open.dingtalk.com/document/direction/stream-mode-protocol-access-description
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from bot.adapters.base import EventSink
from bot.adapters.dingtalk.frames import (
    TOPIC_CARD,
    TOPIC_ROBOT,
    Frame,
    decode_frame,
    encode_ack,
    local_ip,
    open_connection,
    response_data,
    status_data,
)
from bot.adapters.dingtalk.parse import parse_card_event, parse_robot_message
from bot.config import DingTalkConfig

log = logging.getLogger("hrbot.adapter.dingtalk")

CARD_ACK_BUDGET_S = 1.5  # DingTalk shows an error on the card after 2 s


def backoff_delay(attempt: int, *, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Delay before reconnect ``attempt`` (0-based): ``base·2^n`` plus up to ``base`` jitter.

    With ``base=1`` and ``cap=60``: 1–2, 2–3, 4–5, … seconds, never above 60.
    """
    return min(cap, base * 2 ** min(attempt, 30) + base * rng())


class DingTalkStream:
    """Keeps one Stream connection open and feeds robot messages and card taps to ``sink``."""

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
        self.config = config
        self.sink = sink
        self.http = http
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.local_ip = local_ip_address or local_ip()
        self.rng = rng
        # websockets' defaults plus a 2 s close handshake; ping_interval keeps NATs awake.
        self.ws_options: dict[str, Any] = {
            "open_timeout": 10, "ping_interval": 20, "ping_timeout": 20, "close_timeout": 2,
            "max_size": 1_048_576, **(ws_options or {}),
        }
        self.connections = 0  # websockets opened so far (observability, tests)
        self.frames = 0  # frames received so far
        self._slots = asyncio.Semaphore(max_in_flight)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        """Run :meth:`run` in a task (idempotent) and return it."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self.run(), name="dingtalk-stream")
        return self._task

    async def stop(self, grace: float = 2.0) -> None:
        """Let frames being stored get their acks (up to ``grace`` s), close, and return."""
        self._stopping.set()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=grace)
        for pending in set(self._in_flight):
            pending.cancel()
        ws, task, self._task = self._ws, self._task, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), timeout=grace)
        if task is None or task.done():
            return
        if ws is not None:
            await asyncio.wait({task}, timeout=grace)
        # Registering, handshaking or backing off: nothing to finish. A no-op if it ended.
        task.cancel()
        # asyncio.wait, not "await task" under suppress(CancelledError): that would also
        # swallow a cancellation of our caller.
        await asyncio.wait({task})

    async def run(self) -> None:
        """Connect, serve and reconnect until :meth:`stop`; cancelling it stops it too."""
        attempt, frames_before = 0, self.frames
        while not self._stopping.is_set():
            delay: float | None = None
            try:
                uri = await open_connection(self.http, self.config, self.local_ip)
                async with connect(uri, **self.ws_options) as ws:
                    self._ws = ws
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
                self._ws = None
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

    async def _serve(self, ws: ClientConnection) -> bool:
        """Read frames until the socket closes; True when the server asked us to rotate."""
        async for raw in ws:
            self.frames += 1
            try:
                frame = decode_frame(raw)
            except ValueError:
                log.warning("dropping an undecodable stream frame")
                continue
            if frame.type == "SYSTEM":
                if frame.topic == "disconnect":
                    log.info("stream rotation requested by the server")
                    if self._in_flight:
                        # Acks of frames still being stored must go out on this socket;
                        # the server keeps it open for 10 s after "disconnect".
                        await asyncio.wait(set(self._in_flight), timeout=5.0)
                    return True
                # ping (and any other system topic): echo data, e.g. {"opaque": ...}
                await ws.send(encode_ack(frame.message_id, frame.data))
                continue
            # Back-pressure: with every slot busy we stop reading; websockets still answers
            # protocol pings meanwhile.
            await self._slots.acquire()
            task = asyncio.create_task(self._handle(ws, frame))
            self._in_flight.add(task)
            task.add_done_callback(self._done)
        return False

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slots.release()

    async def _handle(self, ws: ClientConnection, frame: Frame) -> None:
        started = time.perf_counter()
        try:
            ack = await self._answer(frame)
            if ack is not None:
                await ws.send(ack)
        except ConnectionClosed:
            log.warning("stream closed before frame %s was acked", frame.message_id)
            return
        except Exception:
            log.exception("frame %s failed; not acked", frame.message_id)
            return
        elapsed = time.perf_counter() - started
        if frame.topic == TOPIC_CARD and elapsed > CARD_ACK_BUDGET_S:
            log.warning("card callback %s acked after %.2f s", frame.message_id, elapsed)

    async def _answer(self, frame: Frame) -> str | None:
        """The ack for one EVENT/CALLBACK frame, or None to send none."""
        if frame.type == "EVENT":
            # Not subscribed; acked so the gateway does not push it again.
            return encode_ack(frame.message_id, status_data("SUCCESS"))
        if frame.topic not in (TOPIC_ROBOT, TOPIC_CARD):
            return encode_ack(frame.message_id, response_data(None), code=404,
                              message="topic not supported")
        try:
            payload = frame.payload()
            if frame.topic == TOPIC_ROBOT:
                event = parse_robot_message(payload)
            else:
                event = parse_card_event(payload, message_id=frame.message_id)
        except ValueError as exc:
            log.warning("unusable %s frame %s: %s", frame.topic, frame.message_id, exc)
            return encode_ack(frame.message_id, response_data(None), code=400,
                              message="bad payload")
        try:
            await self.sink(event)
        except Exception:
            # Not stored: no SUCCESS ack (DingTalk may push it again; the inbox dedupes).
            log.exception("could not store event %s; frame not acked", event.event_id)
            return None
        return encode_ack(
            frame.message_id, response_data({} if frame.topic == TOPIC_CARD else None)
        )
