"""The only module that knows aiohttp's web server: requests in, adapter answers out.

Besides the platforms' callback routes it serves the operator's three: ``/healthz`` (the
process answers), ``/readyz`` (and its database does: send traffic here) and ``/metrics``
(Prometheus text format).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web, web_exceptions
from aiohttp.web_protocol import RequestPayloadError

from bot.adapters.base import HttpAdapter, RawRequest
from bot.core.metrics import count_http_aborted, render, set_queue_gauges
from bot.pipeline.intake import EventIntake
from bot.serve.connections import ConnectionLimits, LimitedSite
from storage.db import SessionFactory
from storage.repo.ops import ping, read_queues

log = logging.getLogger("hrbot.server")

# A database that takes longer than this to answer "SELECT 1" is as good as down for a
# load balancer deciding where to send callbacks.
READY_TIMEOUT_SECONDS = 3.0
_LINGER_SECONDS = 1.0


@dataclass(frozen=True)
class HttpLimits:
    """How long and how much one client may hold of the listener (``[server]``).

    Attributes:
        idle_seconds: A connection with no complete request (partial headers, idle
            keep-alive) is closed after this long.
        body_seconds: A request whose body has not fully arrived after this long gets 408.
        max_connections: Open connections at once (0: no limit).
        max_connections_per_client: Open connections from one address (0: no limit).
    """

    idle_seconds: float = 15.0
    body_seconds: float = 10.0
    max_connections: int = 4096
    max_connections_per_client: int = 256


_BODY_SECONDS = web.AppKey("body_seconds", float)


def build_app(
    adapters: Sequence[HttpAdapter],
    intake: EventIntake,
    *,
    max_body_bytes: int = 1_048_576,
    body_seconds: float = HttpLimits.body_seconds,
) -> web.Application:
    """An aiohttp app serving every adapter's callback routes plus the operator routes.

    ``/readyz`` and ``/metrics`` read the database the intake's dispatcher writes to. Each
    callback route reads at most its adapter's ``max_body_bytes`` (if smaller than
    ``max_body_bytes``) within ``body_seconds``.
    """
    app = web.Application(client_max_size=max_body_bytes)
    app[_BODY_SECONDS] = body_seconds
    for adapter in adapters:
        # The adapter's own cap wins when it is the smaller: it knows its platform's bodies.
        cap = min(max_body_bytes, getattr(adapter, "max_body_bytes", max_body_bytes))
        for method, path in adapter.routes():
            app.router.add_route(method, path, _route(adapter, intake, cap))
    factory = intake.dispatcher.session_factory
    clock = intake.dispatcher.clock
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz(factory))
    app.router.add_get("/metrics", _metrics(factory, clock))
    return app


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def _readyz(factory: SessionFactory) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def readyz(_: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS), factory() as session:
                await ping(session=session)
        except Exception as err:
            # The class only: driver messages can quote connection strings.
            log.warning("not ready: database did not answer (%s)", type(err).__name__)
            return web.json_response({"ok": False, "database": "unavailable"}, status=503)
        return web.json_response({"ok": True, "database": "ok"})

    return readyz


def _metrics(
    factory: SessionFactory, clock: Callable[[], datetime]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def metrics(_: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS), factory() as session:
                readings = await read_queues(session=session, now=clock())
        except Exception as err:
            # Counters still go out; the queue gauges keep their last reading.
            log.warning("queue gauges not read: %s", type(err).__name__)
        else:
            set_queue_gauges(
                outbox_depth=readings.outbox_depth,
                outbox_oldest_age=readings.outbox_oldest_age,
                due_lag=readings.due_lag,
            )
        body, content_type = render()
        response = web.Response(body=body)
        # aiohttp refuses a content_type argument with parameters; the header takes it whole.
        response.headers["Content-Type"] = content_type
        return response

    return metrics


class _BodyRefused(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


async def _read_body(request: web.Request, cap: int) -> bytes:
    """The whole body, or ``_BodyRefused`` past ``cap`` bytes or the body deadline."""
    declared = request.content_length
    if declared is not None and declared > cap:
        raise _BodyRefused(413, "body too large")
    parts: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(request.app[_BODY_SECONDS]):
            while chunk := await request.content.read(65536):
                size += len(chunk)
                if size > cap:
                    raise _BodyRefused(413, "body too large")
                parts.append(chunk)
    except TimeoutError:
        count_http_aborted("body_timeout")
        raise _BodyRefused(408, "body too slow") from None
    return b"".join(parts)


def _route(
    adapter: HttpAdapter, intake: EventIntake, cap: int
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body = await _read_body(request, cap)
        except _BodyRefused as refused:
            # A body too slow is an abort in all but name: as quiet as one (one INFO line).
            level = logging.INFO if refused.status == 408 else logging.WARNING
            log.log(level, "%s callback refused: status=%d reason=%s", adapter.platform,
                    refused.status, refused.text)
            # Closing matters: the unread rest of the body would be taken for the next request.
            response = web.Response(status=refused.status, text=refused.text)
            response.force_close()
            return response
        except (ConnectionError, web_exceptions.HTTPException, RequestPayloadError) as err:
            # The client went away (or sent a broken chunked body) mid-request: one quiet line.
            count_http_aborted("client_gone")
            log.info("request to %s aborted by the client (%s)", request.path,
                     type(err).__name__)
            response = web.Response(status=400, text="aborted")
            response.force_close()
            return response
        raw = RawRequest(
            method=request.method,
            path=request.path,
            query_string=request.rel_url.raw_query_string,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        try:
            inbound = await adapter.handle_http(raw)
        except RecursionError:
            # Hostile nesting in a body (JSON thousands of levels deep): refused, one line.
            log.warning("%s request to %s nested too deeply; answering 400",
                        adapter.platform, request.path)
            return web.Response(status=400, text="bad payload")
        try:
            for event in inbound.events:
                await intake.take(event)
        except Exception:
            # Not stored means not acked: the platform retries, nothing is lost.
            log.exception("could not store %s event; answering 503", adapter.platform)
            return web.Response(status=503, text="retry later")
        ack = inbound.response
        return web.Response(
            status=ack.status, body=ack.body, content_type=ack.content_type
        )

    return handle


async def start_server(
    app: web.Application, host: str, port: int, limits: HttpLimits | None = None
) -> Callable[[], Awaitable[None]]:
    """Listen on ``host:port``; returns the coroutine function that stops listening."""
    limits = limits or HttpLimits()
    # aiohttp arms keepalive_timeout from the moment a connection opens, so it is also the
    # deadline for a request's headers. Lingering (reading an unread body after answering,
    # so the client sees the answer before the close) is 10 s by default: one second will do.
    runner = web.AppRunner(
        app, keepalive_timeout=limits.idle_seconds, lingering_time=_LINGER_SECONDS
    )
    await runner.setup()
    site = LimitedSite(runner, host, port, ConnectionLimits(
        total=limits.max_connections, per_client=limits.max_connections_per_client,
    ))
    await site.start()
    log.info("listening on %s:%s", host, site.port)
    return runner.cleanup
