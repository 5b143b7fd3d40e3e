"""One place that turns ``[dingtalk]`` settings into the adapter's parts, for the composition
root: the messenger always, plus either the Stream client or the HTTP-callback adapter.

Source: https://open.dingtalk.com/document/direction/stream-mode-protocol-access-description
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from bot.adapters.base import EventSink
from bot.adapters.dingtalk.card_callbacks import (
    CardCallbackRegistration,
    card_callback_url,
    card_route_key,
)
from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.dingtalk.http_mode import DingTalkHttpAdapter, ReplayGuard
from bot.adapters.dingtalk.media import DingTalkCardImages
from bot.adapters.dingtalk.messenger import DingTalkMessenger
from bot.adapters.dingtalk.quota import MonthlyQuotaMeter
from bot.adapters.dingtalk.stream import DingTalkStream
from bot.adapters.dingtalk.todos import DingTalkTodos
from bot.config.schema import DingTalkConfig
from bot.pipeline.ports import PlatformStores
from bot.pipeline.send_window import SendWindow

log = logging.getLogger("hrbot.adapter.dingtalk")


@dataclass(frozen=True)
class DingTalkParts:
    client: DingTalkClient
    messenger: DingTalkMessenger
    stream: DingTalkStream | None = None  # mode "stream": start() it, stop() it on shutdown
    http_adapter: DingTalkHttpAdapter | None = None  # mode "http": give it to build_app
    # mode "http": start() it (registers where card taps go), stop() it on shutdown
    card_callbacks: CardCallbackRegistration | None = None


def assemble(
    config: DingTalkConfig,
    *,
    sink: EventSink,
    http: httpx.AsyncClient,
    clock: Callable[[], datetime],
    stores: PlatformStores | None = None,
    window: SendWindow | None = None,
    replay_guard: ReplayGuard | None = None,
) -> DingTalkParts:
    """Build the DingTalk parts for ``config.mode``.

    Args:
        config: The ``[dingtalk]`` section.
        sink: Stores an event durably (``EventIntake.take``); Stream acks wait for it.
        http: Shared HTTP client (closed by the caller).
        clock: Current time, timezone-aware.
        stores: Where metered calls are counted, to-do ids kept and chart pictures read;
            without it none of that happens (tests of the transport alone).
        window: Send windows shared by every replica (per-API limits for the deployment).
        replay_guard: HTTP mode: remembers signatures, shared by all replicas.
    """
    meter = (
        MonthlyQuotaMeter(stores, clock).count
        if stores is not None and config.monthly_quota
        else None
    )
    client = DingTalkClient(config, http, clock, meter=meter, window=window)
    todos = (
        DingTalkTodos(client, stores, config.todo_url)
        if stores is not None and config.todo_url
        else None
    )
    http_mode = config.mode == "http"
    route_key = card_route_key(config.app_key)
    messenger = DingTalkMessenger(
        client, config.card_template_id, config.robot_code,
        callback_route_key=route_key if http_mode else None,
        todos=todos,
        images=DingTalkCardImages(client, stores) if stores is not None else None,
    )
    if http_mode:
        adapter = DingTalkHttpAdapter(config, clock, replay_guard=replay_guard)
        registration = None
        if config.public_url:
            registration = CardCallbackRegistration(
                client, route_key=route_key, api_secret=adapter.card_api_secret,
                callback_url=card_callback_url(config.public_url, config.http_callback_path),
            )
        else:
            log.error("dingtalk mode = \"http\" without [dingtalk] public_url: card taps "
                      "cannot be registered and reach nobody; set public_url to the https "
                      "address DingTalk reaches this server at")
        return DingTalkParts(
            client, messenger, http_adapter=adapter, card_callbacks=registration
        )
    return DingTalkParts(client, messenger, stream=DingTalkStream(config, sink, http=http))
