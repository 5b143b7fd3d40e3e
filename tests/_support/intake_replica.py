"""The bot's intake as a real process, for tests that SIGKILL it in the middle of a burst.

    python -m tests._support.intake_replica --database-url URL --sink URL --port N

It serves ``POST /events`` (JSON ``{"id", "actor", "text"}``, one chat message each) through
the production server (``build_app``/``start_server``), ``EventIntake`` and ``Dispatcher``:
each event is stored before its 200, handled after. Replies go through the outbox to an HTTP
sink (``tests._support.replica.SinkMessenger``), and the clock runs with redelivery, as in
``hrbot serve``. It stops cleanly on SIGTERM; the tests kill it with SIGKILL instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import time, timedelta

import httpx

from bot.adapters.base import Inbound, RawRequest, RawResponse
from bot.core.context import Settings
from bot.core.dispatch import Dispatcher
from bot.core.events import Conversation, Event, EventKind, Platform
from bot.pipeline.clock import DueRunner
from bot.pipeline.intake import EventIntake
from bot.pipeline.outbox import OutboxWorker
from bot.pipeline.runtime import Runtime
from bot.serve.lifecycle import run_until_signalled
from bot.serve.server import build_app, start_server
from handlers.capabilities import REGISTRY
from storage.db import make_engine, make_session_factory
from tests._support.replica import SinkMessenger

log = logging.getLogger("hrbot.replica")


class JsonEventsAdapter:
    """``POST /events`` with ``{"id", "actor", "text"}``: a chat message from ``actor``."""

    platform = "shell"

    def routes(self) -> list[tuple[str, str]]:
        return [("POST", "/events")]

    async def handle_http(self, request: RawRequest) -> Inbound:
        try:
            body = json.loads(request.body)
            event = Event(platform=Platform.SHELL, event_id=str(body["id"]),
                          kind=EventKind.MESSAGE, actor_id=str(body["actor"]),
                          conversation=Conversation(id=str(body["actor"])),
                          text=str(body["text"]))
        except (ValueError, KeyError, TypeError):
            return Inbound(RawResponse(400, b"bad event"))
        return Inbound(RawResponse(200, b"ok"), (event,))


async def serve(args: argparse.Namespace) -> None:
    engine = make_engine(args.database_url)
    factory = make_session_factory(engine)
    client = httpx.AsyncClient(timeout=10)
    lease = timedelta(seconds=args.claim_seconds)
    midnight = time(0, 0)
    settings = Settings(
        platforms=("shell",), quiet_start=midnight, quiet_end=midnight, quiet_weekends=False
    )
    dispatcher = Dispatcher(
        session_factory=factory, routers=REGISTRY.routers, settings=settings,
        pending_input=REGISTRY.answer_pending, kind_handlers=REGISTRY.kind_handlers,
        fallback=REGISTRY.fallback,
    )
    outbox = OutboxWorker(session_factory=factory,
                          messenger=SinkMessenger(client, args.sink, args.owner), lease=lease)
    intake = EventIntake(dispatcher, after_handling=outbox.drain)
    stop_listening = await start_server(
        build_app([JsonEventsAdapter()], intake), "127.0.0.1", args.port)
    runtime = Runtime(
        runner=DueRunner(session_factory=factory, handlers=REGISTRY.due_handlers,
                         settings=settings, owner=args.owner, lease=lease),
        outbox=outbox, redeliver=dispatcher.redeliver, sweep_seconds=0.2,
    )

    async def close() -> None:
        await stop_listening()
        await intake.drain()
        await client.aclose()
        await engine.dispose()

    log.info("intake replica %s listening on %s", args.owner, args.port)
    await run_until_signalled(runtime, on_stop=close)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests._support.intake_replica")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--sink", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--owner", default="intake")
    parser.add_argument("--claim-seconds", type=float, default=3.0,
                        help="lease on claimed messages: a dead process's claims expire after it")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format=f"%(asctime)s {args.owner} %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
