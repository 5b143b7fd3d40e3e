"""One place that turns ``[dingtalk]`` settings into the adapter's parts, for the composition
root: the messenger always, plus either the Stream client or the HTTP-callback adapter.

Source: https://open.dingtalk.com/document/direction/stream-mode-protocol-access-description
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from bot.adapters.base import EventSink
from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.dingtalk.http_mode import DingTalkHttpAdapter
from bot.adapters.dingtalk.media import DingTalkCardImages
from bot.adapters.dingtalk.messenger import DingTalkMessenger
from bot.adapters.dingtalk.quota import MonthlyQuotaMeter
from bot.adapters.dingtalk.stream import DingTalkStream
from bot.adapters.dingtalk.todos import DingTalkTodos
from bot.config.schema import DingTalkConfig
from bot.pipeline.ports import PlatformStores
from bot.pipeline.send_window import SendWindow

# HTTP mode: cards name this key; register it once with DingTalkClient.register_card_callback
# (callback URL = public base + http_callback_path + "/card", apiSecret = the app secret).
CARD_ROUTE_KEY = "hrbot"


@dataclass(frozen=True)
class DingTalkParts:
    client: DingTalkClient
    messenger: DingTalkMessenger
    stream: DingTalkStream | None = None  # mode "stream": start() it, stop() it on shutdown
    http_adapter: DingTalkHttpAdapter | None = None  # mode "http": give it to build_app


def assemble(
    config: DingTalkConfig,
    *,
    sink: EventSink,
    http: httpx.AsyncClient,
    clock: Callable[[], datetime],
    stores: PlatformStores | None = None,
    window: SendWindow | None = None,
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
    messenger = DingTalkMessenger(
        client, config.card_template_id, config.robot_code,
        callback_route_key=CARD_ROUTE_KEY if http_mode else None,
        todos=todos,
        images=DingTalkCardImages(client, stores) if stores is not None else None,
    )
    if http_mode:
        return DingTalkParts(client, messenger, http_adapter=DingTalkHttpAdapter(config, clock))
    return DingTalkParts(client, messenger, stream=DingTalkStream(config, sink, http=http))
