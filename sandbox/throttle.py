"""DingTalk's per-API QPS limit as an HTTP middleware of the fake (see sandbox.limits)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from sandbox.limits import dingtalk_api_of
from sandbox.wire import WORLD, dingtalk_error

THROTTLED_CODE = "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def throttle_dingtalk(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse the 21st call to one DingTalk API within a second, as DingTalk does."""
    api = dingtalk_api_of(request.path)
    world = request.app[WORLD]
    if api is not None and not world.limits.dingtalk_call_allowed(api, world.now()):
        return dingtalk_error(403, THROTTLED_CODE, "请求过于频繁，请稍后重试")
    return await handler(request)
