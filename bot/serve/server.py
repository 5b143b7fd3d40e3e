"""The only module that knows aiohttp's web server: requests in, adapter answers out.

Besides the platforms' callback routes it serves the operator's three: ``/healthz`` (the
process answers), ``/readyz`` (and its database does: send traffic here) and ``/metrics``
(Prometheus text format).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from aiohttp import web

from bot.adapters.base import HttpAdapter, RawRequest
from bot.core.metrics import render, set_queue_gauges
from bot.pipeline.intake import EventIntake
from storage.db import SessionFactory
from storage.repo.ops import ping, read_queues

log = logging.getLogger("hrbot.server")

# A database that takes longer than this to answer "SELECT 1" is as good as down for a
# load balancer deciding where to send callbacks.
READY_TIMEOUT_SECONDS = 3.0


def build_app(
    adapters: Sequence[HttpAdapter], intake: EventIntake, *, max_body_bytes: int = 1_048_576
) -> web.Application:
    """An aiohttp app serving every adapter's callback routes plus the operator routes.

    ``/readyz`` and ``/metrics`` read the database the intake's dispatcher writes to.
    """
    app = web.Application(client_max_size=max_body_bytes)
    for adapter in adapters:
        for method, path in adapter.routes():
            app.router.add_route(method, path, _route(adapter, intake))
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


def _route(
    adapter: HttpAdapter, intake: EventIntake
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()  # aiohttp answers 413 past client_max_size
        raw = RawRequest(
            method=request.method,
            path=request.path,
            query_string=request.rel_url.raw_query_string,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        inbound = await adapter.handle_http(raw)
        try:
            for event in inbound.events:
                await intake.take(event)
        except Exception:
            # Not stored means not acked: the platform retries, nothing is lost.
            log.exception("could not store %s event; answering 503", adapter.platform)
            return web.Response(status=503, text="retry later")
        response = inbound.response
        return web.Response(
            status=response.status, body=response.body, content_type=response.content_type
        )

    return handle


async def start_server(
    app: web.Application, host: str, port: int
) -> Callable[[], Awaitable[None]]:
    """Listen on ``host:port``; returns the coroutine function that stops listening."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("listening on %s:%s", host, port)
    return runner.cleanup
