"""The listener cannot be held open: header/idle and body deadlines, connection caps per
client and in total, quiet aborted requests, per-route body caps, hostile JSON nesting.

Every test talks raw TCP to the real listener (``start_server``) on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.adapters.base import Inbound, RawRequest, RawResponse
from bot.adapters.dingtalk.http_mode import DingTalkHttpAdapter
from bot.adapters.wecom.adapter import MAX_BODY_BYTES as WECOM_CAP
from bot.adapters.wecom.adapter import WeComAdapter
from bot.cli.local_chat import LocalChat
from bot.core.metrics import HTTP_ABORTED, HTTP_REFUSED
from bot.pipeline.intake import EventIntake
from bot.serve.server import HttpLimits, build_app, start_server
from tests.bot.adapters.test_dingtalk_http import VECTOR_SIGN, VECTOR_TS, at_ms
from tests.bot.adapters.test_dingtalk_http import config as dingtalk_config
from tests.bot.adapters.test_wecom_callback import CONFIG as WECOM_CONFIG

FAST = HttpLimits(idle_seconds=0.5, body_seconds=0.5, max_connections=40,
                  max_connections_per_client=8)


class JsonAdapter:
    """Parses the body as JSON with no guard of its own; ``max_body_bytes`` 100."""

    platform = "shell"
    max_body_bytes = 100

    def __init__(self) -> None:
        self.seen: list[RawRequest] = []

    def routes(self) -> list[tuple[str, str]]:
        return [("POST", "/json")]

    async def handle_http(self, request: RawRequest) -> Inbound:
        self.seen.append(request)
        json.loads(request.body)
        return Inbound(RawResponse(200, b"ok"))


Listen = Callable[..., Awaitable[int]]


@pytest.fixture
async def listen(chat: LocalChat) -> AsyncIterator[Listen]:
    stops: list[Callable[[], Awaitable[None]]] = []

    async def start(adapters: list[object], limits: HttpLimits = FAST,
                    max_body_bytes: int = 1_048_576) -> int:
        intake = EventIntake(chat.dispatcher, after_handling=chat.worker.drain)
        app = build_app(adapters, intake, max_body_bytes=max_body_bytes,  # type: ignore[arg-type]
                        body_seconds=limits.body_seconds)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        stops.append(await start_server(app, "127.0.0.1", port, limits))
        return port

    yield start
    while _OPEN:
        writer = _OPEN.pop()
        writer.close()
        with contextlib.suppress(OSError):  # reset by the server: what several tests check
            await writer.wait_closed()
    for stop in stops:
        await stop()


_OPEN: list[asyncio.StreamWriter] = []  # closed after each test, whatever happened


async def _connect(port: int, source: str = "127.0.0.1") -> tuple[
        asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    _OPEN.append(writer)
    return reader, writer


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sends until it closes; fails if it is still open after ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            return await reader.read()
    except ConnectionResetError:
        return b""


async def _get(port: int, path: str, source: str = "127.0.0.1") -> bytes:
    reader, writer = await _connect(port, source)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    answer = await _closed_within(reader, 5)
    writer.close()
    return answer


async def test_partial_headers_and_idle_keepalive_are_closed(listen: Listen) -> None:
    port = await listen([])
    reader, writer = await _connect(port)
    writer.write(b"POST /json HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
    started = time.monotonic()
    assert await _closed_within(reader, 3) == b""
    assert time.monotonic() - started < 2
    reader, writer = await _connect(port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive, then silence
    answer = await _closed_within(reader, 3)
    assert answer.startswith(b"HTTP/1.1 200")
    writer.close()


async def test_slow_body_gets_408(listen: Listen) -> None:
    adapter = JsonAdapter()
    port = await listen([adapter])
    before = HTTP_ABORTED.labels(reason="body_timeout")._value.get()
    reader, writer = await _connect(port)
    writer.write(b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"a\"")
    answer = await _closed_within(reader, 3)
    assert answer.startswith(b"HTTP/1.1 408") and adapter.seen == []
    assert HTTP_ABORTED.labels(reason="body_timeout")._value.get() == before + 1


async def test_per_client_cap_spares_other_clients(listen: Listen) -> None:
    port = await listen([])
    before = HTTP_REFUSED.labels(reason="per_client")._value.get()
    held = [await _connect(port) for _ in range(FAST.max_connections_per_client)]
    await asyncio.sleep(0.05)
    reader, _ = await _connect(port)
    assert await _closed_within(reader, 1) == b""  # closed on arrival, before any request
    assert HTTP_REFUSED.labels(reason="per_client")._value.get() == before + 1
    assert (await _get(port, "/healthz", source="127.0.0.2")).startswith(b"HTTP/1.1 200")
    for _, w in held:
        w.close()
    await asyncio.sleep(0.05)
    assert (await _get(port, "/healthz")).startswith(b"HTTP/1.1 200")  # released again


async def test_total_cap(listen: Listen) -> None:
    limits = HttpLimits(idle_seconds=5, body_seconds=5, max_connections=6,
                        max_connections_per_client=0)
    port = await listen([], limits)
    held = [await _connect(port, f"127.0.0.{2 + n % 2}") for n in range(6)]
    await asyncio.sleep(0.05)
    reader, _ = await _connect(port, "127.0.0.2")
    assert await _closed_within(reader, 1) == b""  # the flooding address: refused
    # An address holding nothing still gets in (a health check during the flood).
    assert (await _get(port, "/healthz", source="127.0.0.9")).startswith(b"HTTP/1.1 200")
    for _, w in held:
        w.close()


async def test_aborted_request_logs_one_quiet_line(
    listen: Listen, caplog: pytest.LogCaptureFixture
) -> None:
    port = await listen([JsonAdapter()])
    before = HTTP_ABORTED.labels(reason="client_gone")._value.get()
    caplog.set_level(logging.DEBUG)
    for _ in range(5):
        _, writer = await _connect(port)
        writer.write(b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 80\r\n\r\n{\"a\"")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()
    await asyncio.sleep(0.3)
    assert HTTP_ABORTED.labels(reason="client_gone")._value.get() == before + 5
    mine = [r for r in caplog.records if "aborted" in r.getMessage()]
    assert len(mine) == 5 and all(r.levelno == logging.INFO and not r.exc_info for r in mine)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info] == []


async def test_route_cap_of_the_adapter_wins(listen: Listen) -> None:
    adapter = JsonAdapter()
    port = await listen([adapter], max_body_bytes=4096)
    chunked = b"c8\r\n" + b"1" * 200 + b"\r\n0\r\n\r\n"
    for headers, body in ((b"Content-Length: 200\r\n", b"1" * 200),
                          (b"Transfer-Encoding: chunked\r\n", chunked)):
        reader, writer = await _connect(port)
        writer.write(b"POST /json HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + body)
        assert (await _closed_within(reader, 3)).startswith(b"HTTP/1.1 413")
    assert adapter.seen == []


async def test_wecom_keeps_its_own_cap_under_a_larger_server_cap(
    listen: Listen, chat: LocalChat
) -> None:
    # bot/adapters/wecom/adapter.py: 64 KiB, whatever [server] max_body_bytes says.
    adapter = WeComAdapter(WECOM_CONFIG, clock=chat.clock)
    port = await listen([adapter], max_body_bytes=1_048_576)
    path = adapter.routes()[0][1]
    reader, writer = await _connect(port)
    size = WECOM_CAP + 1
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode())
    writer.write(b"<" * size)
    assert (await _closed_within(reader, 3)).startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize("real", [False, True], ids=["server-guard", "dingtalk-http"])
async def test_hostile_nesting_is_one_warning(
    listen: Listen, caplog: pytest.LogCaptureFixture, real: bool
) -> None:
    adapter: object = (DingTalkHttpAdapter(dingtalk_config(), at_ms(VECTOR_TS)) if real
                       else JsonAdapter())
    if not real:
        JsonAdapter.max_body_bytes = 1_000_000
    port = await listen([adapter])
    path = "/dingtalk/callback" if real else "/json"
    body = b"[" * 50_000 + b"]" * 50_000
    caplog.set_level(logging.INFO)
    reader, writer = await _connect(port)
    signed = f"timestamp: {VECTOR_TS}\r\nsign: {VECTOR_SIGN}\r\n" if real else ""
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                 f"{signed}Connection: close\r\n\r\n".encode() + body)
    answer = await _closed_within(reader, 5)
    JsonAdapter.max_body_bytes = 100
    assert answer.startswith(b"HTTP/1.1 400")
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1 and loud[0].levelno == logging.WARNING and not loud[0].exc_info
    assert len(loud[0].getMessage().splitlines()) == 1
