"""`hrbot serve`: the whole bot for real platforms, assembled from the configuration.

Order on start: migrate, then listen and stream (events are stored before their ack), then
the clock. Order on SIGTERM: the clock finishes its beat, listening and streaming stop, events
already stored are handled, connections close.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from bot.adapters.base import HttpAdapter
from bot.adapters.dingtalk.assemble import assemble as assemble_dingtalk
from bot.adapters.dingtalk.leave import fetch_leave_status
from bot.adapters.wecom.adapter import WeComAdapter
from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.messenger import WeComMessenger
from bot.config.schema import Config
from bot.config.settings import open_database, settings_from_config
from bot.core.dispatch import Dispatcher
from bot.pipeline.clock import DueRunner
from bot.pipeline.intake import EventIntake
from bot.pipeline.messenger import PlatformMessengers
from bot.pipeline.outbox import OutboxWorker
from bot.pipeline.runtime import Runtime
from bot.serve.callback_signatures import signature_guard
from bot.serve.contact_sources import contact_sources, sync_policy
from bot.serve.lifecycle import run_until_signalled
from bot.serve.send_windows import DatabaseSendWindow
from bot.serve.server import HttpLimits, build_app, start_server
from bot.serve.stores import DatabaseStores
from handlers.admin.directory_sync import NIGHTLY
from handlers.capabilities import REGISTRY
from handlers.delegation.leave_sync import PlatformLeaveSync
from storage.migrate import upgrade_database

log = logging.getLogger("hrbot.serve")

Stop = Callable[[], Awaitable[None]]


@dataclass
class RunningBot:
    """A started bot: its clock's runtime, and how to stop everything else."""

    runtime: Runtime
    shut_down: Stop


async def serve(config: Config) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code."""
    if not config.platforms():
        print(
            "hrbot serve: no platform configured: set up [dingtalk] or [wecom] (see "
            "config.example.toml), or run `hrbot serve --sandbox`",
            file=sys.stderr,
        )
        return 2
    bot = await start_bot(config)
    await run_until_signalled(bot.runtime, on_stop=bot.shut_down)
    return 0


async def start_bot(
    config: Config, *, clock: Callable[[], datetime] | None = None
) -> RunningBot:
    """Migrate, listen and stream; the caller starts the returned runtime (the clock).

    Args:
        config: Platforms, database and server settings.
        clock: Current time (the sandbox's can be advanced); default the real one.
    """
    await upgrade_database(config.database.url)
    database = open_database(config)
    factory = database.session_factory
    stores = DatabaseStores(factory)
    settings = settings_from_config(config)
    clock = clock or _real_clock

    lease = timedelta(seconds=config.scheduler.claim_seconds)
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
    messengers = PlatformMessengers()
    # Documented platform limits hold for the deployment: every replica counts in one place.
    window = DatabaseSendWindow(factory, clock)
    dispatcher = Dispatcher(
        session_factory=factory,
        routers=REGISTRY.routers,
        settings=settings,
        clock=clock,
        pending_input=REGISTRY.answer_pending,
        fallback=REGISTRY.fallback,
        kind_handlers=REGISTRY.kind_handlers,
    )
    outbox = OutboxWorker(session_factory=factory, messenger=messengers, clock=clock, lease=lease)
    intake = EventIntake(dispatcher, after_handling=outbox.drain)
    adapters: list[HttpAdapter] = []
    stops: list[Stop] = []
    recurring = REGISTRY.recurring
    dingtalk_limiter = None
    if config.dingtalk is not None:
        parts = assemble_dingtalk(
            config.dingtalk, sink=intake.take, http=http, clock=clock, stores=stores,
            window=window,
            replay_guard=signature_guard(factory, "dingtalk", clock),
        )
        messengers.by_platform["dingtalk"] = parts.messenger
        dingtalk_limiter = parts.client.limiter
        if parts.http_adapter is not None:
            adapters.append(parts.http_adapter)
        if parts.card_callbacks is not None:
            parts.card_callbacks.start()
            stops.append(parts.card_callbacks.stop)
        if parts.stream is not None:
            parts.stream.start()
            stops.append(parts.stream.stop)
        if config.dingtalk.leave_sync:
            client = parts.client
            recurring = (*recurring, PlatformLeaveSync(
                platform="dingtalk",
                fetch=lambda users, start, end: fetch_leave_status(client, users, start, end),
            ))
    if config.wecom is not None:
        wecom = WeComClient(config.wecom, http, clock)
        messengers.by_platform["wecom"] = WeComMessenger(
            wecom, stores, config.wecom.agent_id, clock=clock, window=window
        )
        adapters.append(
            WeComAdapter(
                config.wecom,
                clock=clock,
                cards=stores,
            )
        )
    if config.directory.nightly and config.platforms():
        NIGHTLY.configure(
            contact_sources(config, http, clock, dingtalk_limiter=dingtalk_limiter),
            sync_policy(config),
            config.directory.nightly_at, config.timezone, clock(),
        )
    runtime = Runtime(
        runner=DueRunner(
            session_factory=factory,
            handlers=REGISTRY.due_handlers,
            settings=settings,
            clock=clock,
            lease=lease,
        ),
        outbox=outbox,
        recurring=recurring,
        redeliver=dispatcher.redeliver,
        sweep_seconds=config.scheduler.sweep_seconds,
    )
    server = config.server
    app = build_app(adapters, intake, max_body_bytes=server.max_body_bytes,
                    body_seconds=server.body_timeout_seconds)
    limits = HttpLimits(
        idle_seconds=server.idle_timeout_seconds, body_seconds=server.body_timeout_seconds,
        max_connections=server.max_connections,
        max_connections_per_client=server.max_connections_per_client,
    )
    stops.insert(0, await start_server(app, server.host, server.port, limits))

    async def shut_down() -> None:
        NIGHTLY.reset()  # its platform clients close with this bot
        for stop in stops:
            await stop()
        await intake.drain()
        await http.aclose()
        await database.close()

    log.info(
        "serving %s on %s:%s",
        ", ".join(config.platforms()),
        config.server.host,
        config.server.port,
    )
    return RunningBot(runtime=runtime, shut_down=shut_down)


def _real_clock() -> datetime:
    return datetime.now(UTC)
