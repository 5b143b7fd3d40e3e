"""Building and starting the sandbox server: fake DingTalk, fake WeCom, the API and the page.

The fake platform APIs sit at the root (point the bot's ``api_base``/``oapi_base`` and the
WeCom ``api_base`` at this server); the page is at ``/sandbox/`` and the JSON API at
``/sandbox/api/``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from sandbox import (
    api,
    api_clock,
    api_demos,
    api_ops,
    contacts,
    dingtalk_cards,
    fake_dingtalk,
    fake_wecom,
    media,
    page,
)
from sandbox.dingtalk_events import install_card_responses
from sandbox.org import Directory, default_groups, load_people
from sandbox.settings import ClockHook, SandboxSettings
from sandbox.state import World
from sandbox.stream import GATEWAY, Gateway
from sandbox.throttle import throttle_dingtalk
from sandbox.wecom_callback import CALLBACKS, CallbackSender
from sandbox.wire import HTTP, SETTINGS, WORLD, record_calls

__all__ = ["SandboxSettings", "build_sandbox_app", "set_clock_hook", "start_sandbox",
           "world_of"]


async def _http_session(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as session:
        app[HTTP] = session
        yield


async def _close_connections(app: web.Application) -> None:
    # Open websockets would otherwise hold the server's shutdown for its full timeout.
    await app[GATEWAY].close()
    await app[CALLBACKS].close()


def build_sandbox_app(settings: SandboxSettings | None = None) -> web.Application:
    """The sandbox as an aiohttp application (not yet listening).

    Raises:
        ValueError: The people CSV is unusable.
        OSError: The people CSV cannot be read.
    """
    settings = settings or SandboxSettings()
    people = load_people(settings.people_csv)
    groups = list(settings.groups) if settings.groups is not None else default_groups(people)
    world = World(Directory(people, groups))
    app = web.Application(middlewares=[record_calls, throttle_dingtalk])
    app[WORLD] = world
    app[SETTINGS] = settings
    app[GATEWAY] = Gateway(world, settings)
    app[CALLBACKS] = CallbackSender(world, settings)
    app.cleanup_ctx.append(_http_session)
    app.on_shutdown.append(_close_connections)
    for module in (fake_dingtalk, dingtalk_cards, fake_wecom, contacts, media, api, api_clock,
                   api_demos, api_ops, page):
        module.add_routes(app)
    install_card_responses(app)
    return app


def world_of(app: web.Application) -> World:
    """The sandbox's state, for launchers and tests that run in the same process."""
    return app[WORLD]


def set_clock_hook(app: web.Application, hook: ClockHook | None) -> None:
    """Register ``hook(delta_seconds, offset_seconds)``, awaited after each clock advance."""
    app[SETTINGS].on_clock_advance = hook


async def start_sandbox(
    settings: SandboxSettings | None = None, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, str]:
    """Start the sandbox server; returns the runner (``await runner.cleanup()`` to stop)
    and its base URL (the port filled in when ``port`` was 0)."""
    app = build_sandbox_app(settings)
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    url = f"http://[{shown}]:{bound}" if ":" in shown else f"http://{shown}:{bound}"
    app[WORLD].base_url = url
    return runner, url
