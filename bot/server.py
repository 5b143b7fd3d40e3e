"""The only module that knows aiohttp's web server: requests in, adapter answers out."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from bot.adapters.base import HttpAdapter, RawRequest
from bot.intake import EventIntake

log = logging.getLogger("hrbot.server")


def build_app(
    adapters: Sequence[HttpAdapter], intake: EventIntake, *, max_body_bytes: int = 1_048_576
) -> web.Application:
    """An aiohttp app serving every adapter's callback routes plus ``/healthz``."""
    app = web.Application(client_max_size=max_body_bytes)
    for adapter in adapters:
        for method, path in adapter.routes():
            app.router.add_route(method, path, _route(adapter, intake))
    app.router.add_get("/healthz", _healthz)
    return app


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def _route(adapter: HttpAdapter, intake: EventIntake):  # type: ignore[no-untyped-def]
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
