"""DingTalk Stream: the SDK's client (``dingtalk_stream.DingTalkStreamClient``) against a local
fake gateway (HTTP open-connection + websocket) on the test's event loop.

The fake runs on the same loop on purpose: a blocking call in the client (the SDK's own
``requests`` registration, say) would stall the gateway too, so every test here also shows
that nothing blocks. ``requests`` itself is watched and must never be called.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dingtalk_stream
import httpx
import pytest
import requests
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from bot.adapters.dingtalk.frames import local_ip
from bot.adapters.dingtalk.ids import out_track_id
from bot.adapters.dingtalk.stream import DingTalkStream, backoff_delay
from bot.cli.local_chat import LocalChat
from bot.config.schema import DingTalkConfig
from bot.core.events import Event, EventKind
from bot.pipeline.intake import EventIntake
from storage.db import SessionFactory
from tests._support import db
from tests._support.paths import PLATFORM_DATA

DATA = PLATFORM_DATA
FRAMES = json.loads((DATA / "dingtalk_stream_frames.json").read_text(encoding="utf-8"))
OPEN = json.loads((DATA / "dingtalk_stream_open_connection.json").read_text(encoding="utf-8"))
CARD = json.loads((DATA / "dingtalk_card_callback.json").read_text(encoding="utf-8"))
REFER = "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%"
WAIT = 5.0  # upper bound for anything that should happen "now"; never slept


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (a few ms apart) until it holds; fail after ``WAIT`` seconds."""
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.005)


@dataclass
class Conn:
    ws: web.WebSocketResponse
    ticket: str
    received: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def push(self, frame: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(frame, ensure_ascii=False))

    async def ack(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.received.get(), WAIT)


class FakeGateway:
    """Serves ``/v1.0/gateway/connections/open`` and the websocket it points to."""

    def __init__(self) -> None:
        self.opens: list[dict[str, Any]] = []
        self.fail_opens = 0
        self.open_delay = 0.0  # seconds the registration answer takes
        self.conns: asyncio.Queue[Conn] = asyncio.Queue()
        self.replies: list[dict[str, Any]] = []  # bodies posted to a sessionWebhook
        app = web.Application()
        app.router.add_post("/robot/sendBySession", self._session_webhook)
        app.router.add_post("/v1.0/gateway/connections/open", self._open)
        app.router.add_get("/connect", self._connect)
        self.server = TestServer(app, host="127.0.0.1", port=0)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def _open(self, request: web.Request) -> web.Response:
        self.opens.append(await request.json())
        await asyncio.sleep(self.open_delay)
        if self.fail_opens:
            self.fail_opens -= 1
            return web.json_response({"code": "system.busy"}, status=500)
        ticket = f"ticket {len(self.opens)}+/="  # must survive URL encoding
        endpoint = f"ws://127.0.0.1:{self.server.port}/connect"
        return web.json_response({"endpoint": endpoint, "ticket": ticket})

    async def _session_webhook(self, request: web.Request) -> web.Response:
        self.replies.append(await request.json())
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _connect(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = Conn(ws=ws, ticket=request.query.get("ticket", ""))
        self.conns.put_nowait(conn)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    conn.received.put_nowait(json.loads(msg.data))
        finally:  # also when aiohttp cancels the handler on a dropped connection
            conn.closed.set()
        return ws

    async def next_conn(self) -> Conn:
        return await asyncio.wait_for(self.conns.get(), WAIT)


class Sink:
    """Records events; can fail or hold them to test acks and back-pressure."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.fail = False
        self.gate: asyncio.Event | None = None
        self.active = self.peak = 0

    async def __call__(self, event: Event) -> bool:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.fail:
                raise RuntimeError("database unreachable")
            self.events.append(event)
            return True
        finally:
            self.active -= 1


@pytest.fixture(autouse=True)
def blocking_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every ``requests`` call (the SDK's blocking HTTP) is refused and recorded."""
    calls: list[str] = []

    def refuse(self: requests.Session, method: str, url: str, *_: Any, **__: Any) -> None:
        calls.append(f"{method} {url}")
        raise requests.ConnectionError("blocking HTTP call from the event loop")

    monkeypatch.setattr(requests.Session, "request", refuse)
    yield calls
    assert calls == [], "the SDK's blocking requests calls must not be used"


@pytest.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    gw = FakeGateway()
    await gw.server.start_server()
    yield gw
    await gw.server.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


def make_stream(gw: FakeGateway, http: httpx.AsyncClient, sink: Any, **kw: Any) -> DingTalkStream:
    config = DingTalkConfig(app_key="cid", app_secret="csecret", robot_code="robot",
                            card_template_id="tpl", api_base=gw.base)
    options: dict[str, Any] = {"backoff_base": 0.01, **kw}
    return DingTalkStream(config, sink, http=http, local_ip_address="192.0.2.2",
                          rng=lambda: 0.0, ws_options={"proxy": None}, **options)


def robot_frame(message_id: str, **data: Any) -> dict[str, Any]:
    frame = json.loads(json.dumps(FRAMES["bot_message_callback_frame"]))
    frame["headers"]["messageId"] = message_id
    payload = {**json.loads(frame["data"]), **data}
    frame["data"] = json.dumps(payload, ensure_ascii=False)
    return frame


def card_frame(message_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    frame = robot_frame(message_id)
    frame["headers"]["topic"] = "/v1.0/card/instances/callback"
    frame["data"] = json.dumps(body or CARD["http_or_stream_callback_body"], ensure_ascii=False)
    return frame


def ping(message_id: str, opaque: str = "123-dsfs") -> dict[str, Any]:
    frame = json.loads(json.dumps(FRAMES["system_ping"]))
    frame["headers"]["messageId"] = message_id
    frame["data"] = json.dumps({"opaque": opaque})
    return frame


def assert_ack_shape(ack: dict[str, Any], message_id: str, code: int = 200) -> Any:
    assert ack["code"] == code
    assert ack["headers"] == {"contentType": "application/json", "messageId": message_id}
    assert isinstance(ack["data"], str)  # double-encoded, like every frame's data
    return json.loads(ack["data"])


async def test_protocol_frames_and_acks(gateway: FakeGateway, http: httpx.AsyncClient) -> None:
    sink = Sink()
    stream = make_stream(gateway, http, sink)
    assert isinstance(stream.client, dingtalk_stream.DingTalkStreamClient)
    stream.start()
    try:
        conn = await gateway.next_conn()
        # The registration body is the SDK's (subscriptions from its handler registry), with
        # our own user agent.
        body = gateway.opens[0]
        expected = OPEN["sdk_0_24_3_request_body_observed"]
        assert {k: body[k] for k in ("clientId", "clientSecret", "subscriptions", "localIp")} == {
            k: expected[k] for k in ("clientId", "clientSecret", "subscriptions", "localIp")
        }
        assert body["ua"].startswith("hrbot/")
        assert conn.ticket == "ticket 1+/="

        await conn.push(FRAMES["system_ping"])
        ack = await conn.ack()
        expected_ack = FRAMES["system_ping_ack"]
        assert {k: v for k, v in ack.items() if k != "data"} == {
            k: v for k, v in expected_ack.items() if k != "data"
        }
        assert json.loads(ack["data"]) == json.loads(expected_ack["data"])  # opaque echoed

        await conn.push(FRAMES["bot_message_callback_frame"])
        ack = await conn.ack()
        assert assert_ack_shape(ack, "212ca9d7_974_1898c159aa6_1783b") == {"response": None}
        assert [e.event_id for e in sink.events] == ["msgLICYe****HgY4JtMQw=="]

        await conn.push(FRAMES["event_push_example"])
        data = assert_ack_shape(await conn.ack(), "213d841d_972_1898bb26334_70a7")
        assert data == json.loads(FRAMES["event_ack_example"]["data"])  # status SUCCESS

        started = time.perf_counter()
        await conn.push(card_frame("card-1"))
        data = assert_ack_shape(await conn.ack(), "card-1")
        assert time.perf_counter() - started < 2.0  # DingTalk's card callback limit
        assert data == {"response": {}}
        tap = sink.events[-1]
        assert tap.kind == EventKind.CARD_ACTION and tap.event_id == "card:card-1"
        assert tap.action is not None and tap.action.action_id == "accept"
    finally:
        await stream.stop()


async def test_registration_is_ours_and_the_sdks_blocking_calls_are_refused(
    gateway: FakeGateway, http: httpx.AsyncClient
) -> None:
    global_api = dingtalk_stream.DingTalkStreamClient.OPEN_CONNECTION_API
    stream = make_stream(gateway, http, Sink())
    client = stream.client
    # Per client, from [dingtalk] api_base; the SDK's process-wide class attribute is left be.
    assert client.open_connection_api == gateway.base + "/v1.0/gateway/connections/open"
    assert global_api == dingtalk_stream.DingTalkStreamClient.OPEN_CONNECTION_API
    for blocking in (client.open_connection, client.get_access_token,
                     lambda: client.upload_to_dingtalk(b"png")):
        with pytest.raises(RuntimeError, match="blocking"):
            blocking()
    assert sorted(client.callback_handler_map) == [
        "/v1.0/card/instances/callback", "/v1.0/im/bot/messages/get"
    ]


async def test_the_loop_keeps_running_while_registering(
    gateway: FakeGateway, http: httpx.AsyncClient
) -> None:
    gateway.open_delay = 0.3
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    stream = make_stream(gateway, http, Sink())
    stream.start()
    try:
        conn = await gateway.next_conn()
        await conn.push(ping("up"))
        assert_ack_shape(await conn.ack(), "up")
    finally:
        ticker.cancel()
        await stream.stop()
    # The gateway (same loop) took 0.3 s to answer; the loop never stalled meanwhile.
    assert sum(gaps) >= 0.3 and max(gaps) < 0.1


async def test_unusable_frames_get_error_acks(
    gateway: FakeGateway, http: httpx.AsyncClient
) -> None:
    sink = Sink()
    stream = make_stream(gateway, http, sink)
    stream.start()
    try:
        conn = await gateway.next_conn()
        await conn.ws.send_str("not json")  # dropped, connection stays up
        await conn.push(robot_frame("no-sender", senderStaffId=""))
        assert_ack_shape(await conn.ack(), "no-sender", code=400)
        other = robot_frame("other-topic")
        other["headers"]["topic"] = "/v1.0/im/bot/messages/delegate"
        await conn.push(other)
        assert_ack_shape(await conn.ack(), "other-topic", code=404)
        await conn.push(card_frame("no-user", {"type": "actionCallback", "content": "{}"}))
        assert_ack_shape(await conn.ack(), "no-user", code=400)
        assert sink.events == []
    finally:
        await stream.stop()


async def test_event_not_stored_is_not_acked(
    gateway: FakeGateway, http: httpx.AsyncClient
) -> None:
    sink = Sink()
    sink.fail = True
    stream = make_stream(gateway, http, sink)
    stream.start()
    try:
        conn = await gateway.next_conn()
        await conn.push(robot_frame("lost"))
        await until(lambda: stream.in_flight == 0 and stream.frames == 1)
        await conn.push(ping("after"))
        # The next (and only) ack is the ping's: the unstored message got none.
        assert (await conn.ack())["headers"]["messageId"] == "after"
        await asyncio.sleep(0.05)
        assert conn.received.empty()
    finally:
        await stream.stop()


# Robot messages are not pushed again when unacked (developerpedia
# docs/learn/stream/protocol.md FAQ), so the sender is answered through the frame's
# sessionWebhook (body as dingtalk-stream chatbot.py reply_text: msgtype text + at).
@pytest.mark.parametrize("expired", [False, True])
async def test_message_not_stored_gets_a_busy_reply_quoting_it(
    gateway: FakeGateway, http: httpx.AsyncClient, expired: bool
) -> None:
    replies = gateway.replies
    sink = Sink()
    sink.fail = True
    config = DingTalkConfig(app_key="cid", app_secret="csecret", robot_code="robot",
                            api_base=gateway.base, oapi_base=gateway.base)
    stream = DingTalkStream(config, sink, http=http, local_ip_address="192.0.2.2",
                            rng=lambda: 0.0, ws_options={"proxy": None}, backoff_base=0.01)
    expires = int(time.time() * 1000) + (-1000 if expired else 5_400_000)
    stream.start()
    try:
        conn = await gateway.next_conn()
        await conn.push(robot_frame(
            "busy", msgtype="text", text={"content": " " + REFER}, senderStaffId="042297",
            sessionWebhook=f"{gateway.base}/robot/sendBySession?session=s1",
            sessionWebhookExpiredTime=expires))
        await until(lambda: stream.in_flight == 0 and stream.frames == 1)
        if expired:  # nobody left to tell: only the log says it
            assert replies == [] and stream.client.not_stored_reply.sent == 0
            return
        [reply] = replies
        assert reply["msgtype"] == "text" and reply["at"] == {"atUserIds": ["042297"]}
        assert reply["text"]["content"].startswith("系统繁忙")
        assert REFER in reply["text"]["content"]  # what they typed is not lost
        assert stream.client.not_stored_reply.sent == 1
    finally:
        await stream.stop()


async def test_reconnects_after_close_and_after_disconnect(
    gateway: FakeGateway, http: httpx.AsyncClient
) -> None:
    sink = Sink()
    stream = make_stream(gateway, http, sink)
    stream.start()
    try:
        first = await gateway.next_conn()
        await first.ws.close()  # the gateway drops us
        started = time.perf_counter()
        second = await gateway.next_conn()
        assert time.perf_counter() - started < 1.0
        assert second.ticket == "ticket 2+/="  # a fresh ticket per connection
        await second.push(FRAMES["system_disconnect"])  # rotation: the client leaves first
        await asyncio.wait_for(second.closed.wait(), WAIT)
        third = await gateway.next_conn()
        await third.push(robot_frame("after-rotation"))
        assert_ack_shape(await third.ack(), "after-rotation")
        assert stream.connections == 3 and len(gateway.opens) == 3
        assert stream.client.websocket is not None  # the SDK's socket attribute: the newest
    finally:
        await stream.stop()


async def test_disconnect_reconnects_at_once_other_ends_back_off(
    gateway: FakeGateway, http: httpx.AsyncClient
) -> None:
    stream = make_stream(gateway, http, Sink(), backoff_base=30.0)
    task = stream.start()
    first = await gateway.next_conn()
    await first.push(ping("up"))
    await first.ack()
    started = time.perf_counter()
    await first.push(FRAMES["system_disconnect"])
    second = await gateway.next_conn()
    assert time.perf_counter() - started < 1.0  # not the 30 s backoff
    await second.ws.close()  # an unannounced drop: back off (30 s here)
    await asyncio.sleep(0.2)
    assert gateway.conns.empty() and len(gateway.opens) == 2
    started = time.perf_counter()
    await stream.stop()  # ends the backoff wait at once
    assert time.perf_counter() - started < 1.0 and task.done()


async def test_open_failures_back_off_then_connect(
    gateway: FakeGateway, http: httpx.AsyncClient
) -> None:
    gateway.fail_opens = 2
    stream = make_stream(gateway, http, Sink())
    stream.start()
    try:
        await gateway.next_conn()
        assert len(gateway.opens) == 3
    finally:
        await stream.stop()


async def test_backoff_starts_over_after_a_working_connection(
    gateway: FakeGateway, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[int] = []

    def record(attempt: int, **_: Any) -> float:
        attempts.append(attempt)
        return 0.001

    monkeypatch.setattr("bot.adapters.dingtalk.stream.backoff_delay", record)
    gateway.fail_opens = 3
    stream = make_stream(gateway, http, Sink())
    stream.start()
    try:
        first = await gateway.next_conn()
        await first.push(ping("p1"))
        await first.ack()
        await first.ws.close()
        await gateway.next_conn()
        assert attempts == [0, 1, 2, 0]
    finally:
        await stream.stop()


async def test_acks_in_flight_go_out_before_rotating(
    gateway: FakeGateway, http: httpx.AsyncClient
) -> None:
    sink = Sink()
    sink.gate = asyncio.Event()
    stream = make_stream(gateway, http, sink)
    stream.start()
    try:
        old = await gateway.next_conn()
        await old.push(robot_frame("slow"))
        await old.push(FRAMES["system_disconnect"])
        await until(lambda: stream.frames == 2)
        await asyncio.sleep(0.02)
        assert not old.closed.is_set()  # still waiting for the frame being stored
        sink.gate.set()
        assert_ack_shape(await old.ack(), "slow")  # acked on the old socket
        await asyncio.wait_for(old.closed.wait(), WAIT)
        await gateway.next_conn()
    finally:
        await stream.stop()


def test_backoff_doubles_with_jitter_and_caps_at_60() -> None:
    low = [backoff_delay(n, base=1, cap=60, rng=lambda: 0.0) for n in range(9)]
    high = [backoff_delay(n, base=1, cap=60, rng=lambda: 0.999) for n in range(9)]
    assert low == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert all(0 < h - lo < 1 for h, lo in zip(high[:6], low[:6], strict=True))
    assert max(high) == 60 and backoff_delay(10_000, base=1, cap=60, rng=lambda: 0.5) == 60


async def test_stop_is_prompt_and_final(gateway: FakeGateway, http: httpx.AsyncClient) -> None:
    stream = make_stream(gateway, http, Sink())
    task = stream.start()
    conn = await gateway.next_conn()
    await conn.push(ping("ready"))
    await conn.ack()  # serving
    started = time.perf_counter()
    await stream.stop()
    assert time.perf_counter() - started < 1.0
    assert task.done() and not task.cancelled()  # ended by closing, not by force
    await asyncio.wait_for(conn.closed.wait(), WAIT)
    await asyncio.sleep(0.1)  # ten backoff periods: nothing may reconnect
    assert len(gateway.opens) == 1 and gateway.conns.empty()


async def test_stop_while_backing_off(gateway: FakeGateway, http: httpx.AsyncClient) -> None:
    gateway.fail_opens = 10_000
    stream = make_stream(gateway, http, Sink(), backoff_cap=30.0)
    task = stream.start()
    await until(lambda: len(gateway.opens) >= 3)
    started = time.perf_counter()
    await stream.stop()
    assert time.perf_counter() - started < 1.0 and task.done()
    tries = len(gateway.opens)
    await asyncio.sleep(0.1)
    assert len(gateway.opens) == tries


async def test_stop_with_a_store_that_hangs_ends_after_grace(
    gateway: FakeGateway, http: httpx.AsyncClient
) -> None:
    sink = Sink()
    sink.gate = asyncio.Event()  # never set: the database hangs
    stream = make_stream(gateway, http, sink)
    task = stream.start()
    conn = await gateway.next_conn()
    await conn.push(robot_frame("stuck"))
    await until(lambda: sink.active == 1)
    started = time.perf_counter()
    await stream.stop(grace=0.2)
    assert time.perf_counter() - started < 1.0 and task.done()
    assert stream.in_flight == 0 and sink.active == 0  # the store was cancelled
    await asyncio.wait_for(conn.closed.wait(), WAIT)
    assert conn.received.empty()  # never stored, never acked


async def test_one_cancel_stops_the_client(
    gateway: FakeGateway, http: httpx.AsyncClient
) -> None:
    stream = make_stream(gateway, http, Sink())
    task = stream.start()
    conn = await gateway.next_conn()
    task.cancel()  # dingtalk-stream 0.24.3's start() swallows this one; ours must not
    started = time.perf_counter()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, WAIT)
    assert time.perf_counter() - started < 1.0
    await asyncio.wait_for(conn.closed.wait(), WAIT)
    await stream.stop()  # still safe afterwards


async def test_stop_ends_a_loop_that_swallows_one_cancel(
    gateway: FakeGateway, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    swallowed: list[bool] = []

    async def like_sdk_0_24_3() -> None:
        # DingTalkStreamClient.start: a CancelledError is a "network exception": log, sleep
        # 10 s, retry. Only a second cancel (during that sleep) ends it.
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                swallowed.append(True)
                await asyncio.sleep(10)

    stream = make_stream(gateway, http, Sink())
    monkeypatch.setattr(stream.client, "start", like_sdk_0_24_3)
    task = stream.start()
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    await stream.stop()
    assert time.perf_counter() - started < 1.0
    assert task.cancelled() and swallowed == [True]


async def test_frames_in_flight_are_bounded(
    gateway: FakeGateway, http: httpx.AsyncClient
) -> None:
    sink = Sink()
    sink.gate = asyncio.Event()
    stream = make_stream(gateway, http, sink, max_in_flight=2)
    stream.start()
    try:
        conn = await gateway.next_conn()
        for n in range(5):
            await conn.push(robot_frame(f"m{n}", msgId=f"msg-{n}"))
        await until(lambda: sink.active == 2)
        await asyncio.sleep(0.05)
        assert sink.active == 2 and stream.frames == 3  # the rest wait unread on the socket
        assert stream.in_flight == 2
        sink.gate.set()
        acked = {(await conn.ack())["headers"]["messageId"] for _ in range(5)}
        assert acked == {f"m{n}" for n in range(5)}
        assert sink.peak == 2
    finally:
        await stream.stop()


@pytest.mark.parametrize("second_push", ["push-1", "push-2"], ids=["same-frame", "new-push"])
async def test_redelivered_frame_acts_once(
    gateway: FakeGateway, http: httpx.AsyncClient, chat: LocalChat, demo: SessionFactory,
    second_push: str,
) -> None:
    intake = EventIntake(chat.dispatcher, after_handling=chat.worker.drain)
    stream = make_stream(gateway, http, intake.take)
    stream.start()
    try:
        conn = await gateway.next_conn()
        frame = robot_frame(
            "push-1", msgId="msg-refer-1", senderStaffId="dt_zhang", senderNick="张经理",
            conversationType="1", text={"content": REFER},
        )
        await conn.push(frame)
        assert_ack_shape(await conn.ack(), "push-1")
        # The gateway pushes the same message again: the very frame, or a new push of it.
        frame["headers"]["messageId"] = second_push
        await conn.push(frame)
        assert_ack_shape(await conn.ack(), second_push)  # stored already: acked, not redone
        await intake.drain()
    finally:
        await stream.stop()
    assert (await db.counts(demo))["referrals"] == 1
    reviewer = chat.messenger.cards_for("dingtalk", "dt_li")
    assert [c.title for c in reviewer] == ["推荐审核 · 张三 · 店长"]
    replies = chat.messenger.cards_for("dingtalk", "dt_zhang")
    assert [c.title for c in replies] == ["推荐已提交 · 张三"]


async def test_redelivered_card_tap_acts_once(
    gateway: FakeGateway, http: httpx.AsyncClient, chat: LocalChat, demo: SessionFactory
) -> None:
    intake = EventIntake(chat.dispatcher, after_handling=chat.worker.drain)
    stream = make_stream(gateway, http, intake.take)
    stream.start()
    try:
        conn = await gateway.next_conn()
        await conn.push(robot_frame(
            "refer", msgId="msg-refer-2", senderStaffId="dt_zhang", conversationType="1",
            text={"content": REFER},
        ))
        await conn.ack()
        await intake.drain()
        (review,) = chat.messenger.cards_for("dingtalk", "dt_li")
        assert review.key is not None
        approve = next(b for b in review.buttons if b.label == "通过")
        params = {"action": approve.action, **approve.params}
        tap = card_frame("tap-1", {
            "type": "actionCallback", "userId": "dt_li", "corpId": "ding",
            "outTrackId": out_track_id(review.key, "IM_ROBOT", "dt_li"),
            "content": json.dumps(
                {"cardPrivateData": {"actionIds": [approve.action], "params": params}}
            ),
        })
        await conn.push(tap)
        assert assert_ack_shape(await conn.ack(), "tap-1") == {"response": {}}
        await intake.drain()
        after_first = (await db.counts(demo), len(chat.messenger.sent))
        await conn.push(tap)  # the same frame again
        assert assert_ack_shape(await conn.ack(), "tap-1") == {"response": {}}
        await intake.drain()
    finally:
        await stream.stop()
    assert (await db.counts(demo), len(chat.messenger.sent)) == after_first
    (review,) = chat.messenger.cards_for("dingtalk", "dt_li")
    assert "通过" in review.status


def test_local_ip_is_an_address() -> None:
    assert local_ip().count(".") == 3
