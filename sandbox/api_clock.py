"""The JSON API's clock: where sandbox time is, moving it, and what the bot has coming.

Moving the clock by whole days keeps the hour, which from an evening start lands every day in
the bot's quiet hours; so the clock can also go to a time of day (``到明天 09:00``) or to the
bot's next due item, and every answer says when messages sent now would really go out.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from sandbox.api import PREFIX, ApiError, api, body_of
from sandbox.state import World
from sandbox.wire import SETTINGS, WORLD, answer

MAX_ADVANCE = 366 * 86400
SHANGHAI = ZoneInfo("Asia/Shanghai")
UPCOMING_LIMIT = 8
NEXT_LOOKAHEAD = 50
_HH_MM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, SHANGHAI).isoformat(timespec="seconds")


async def clock_view(request: web.Request) -> dict[str, Any]:
    """Sandbox time, and until when the bot holds its messages back (None: it does not)."""
    world: World = request.app[WORLD]
    now = world.now()
    view = request.app[SETTINGS].bot_view
    held = await view.held_until(now) if view is not None else None
    return {"offset_seconds": world.clock_offset, "now": _iso(now), "now_ms": world.now_ms(),
            "held_until": _iso(held) if held is not None else None,
            "held_until_ms": int(held * 1000) if held is not None else None}


@api
async def clock(request: web.Request) -> web.Response:
    return answer(await clock_view(request))


def time_of_day_target(now: float, days: int, at: str, working_day: bool) -> float:
    """``days`` after today at ``at`` (China time), the next such moment if that is past,
    moved past Saturday and Sunday when ``working_day``."""
    match = _HH_MM.match(at)
    if match is None:
        raise ApiError(400, "at 必须是 HH:MM，例如 09:00")
    local = datetime.fromtimestamp(now, SHANGHAI)
    moment = time(int(match[1]), int(match[2]))
    target = datetime.combine(local.date() + timedelta(days=days), moment, tzinfo=SHANGHAI)
    if target.timestamp() <= now:
        target += timedelta(days=1)
    while working_day and target.weekday() >= 5:
        target += timedelta(days=1)
    return target.timestamp()


def _delta_of(body: dict[str, Any]) -> float:
    delta = 0.0
    for unit, factor in (("seconds", 1), ("minutes", 60), ("hours", 3600), ("days", 86400)):
        value = body.get(unit, 0)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ApiError(400, f"{unit} 必须是数字")
        delta += value * factor
    return delta


async def _target_delta(request: web.Request, world: World, body: dict[str, Any]) -> float:
    if body.get("next"):
        view = request.app[SETTINGS].bot_view
        items = await view.upcoming(NEXT_LOOKAHEAD) if view is not None else []
        later = [i["due_ms"] / 1000 for i in items if i["due_ms"] / 1000 > world.now()]
        if not later:
            raise ApiError(409, "机器人没有待发生的事件")
        # One second past the due time, so the bot's beat finds the item due.
        return min(later) + 1 - world.now()
    if "at" in body:
        days = body.get("days", 0)
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 366:
            raise ApiError(400, "days 必须是 0 到 366 的整数")
        target = time_of_day_target(world.now(), days, str(body["at"]),
                                    bool(body.get("working_day")))
        return target - world.now()
    return _delta_of(body)


@api
async def advance_clock(request: web.Request) -> web.Response:
    """``POST clock/advance``: by ``seconds/minutes/hours/days``; to ``{"days": 1,
    "at": "09:00", "working_day": true}``; or to the bot's next due item ``{"next": true}``."""
    body = await body_of(request)
    world = request.app[WORLD]
    delta = await _target_delta(request, world, body)
    if not 0 < delta <= MAX_ADVANCE:
        raise ApiError(400, "请给出 seconds/minutes/hours/days，且总计在 0 到 366 天之间")
    world.clock_offset += delta
    world.touch()
    hook = request.app[SETTINGS].on_clock_advance
    if hook is not None:
        try:
            await hook(delta, world.clock_offset)
        except Exception as exc:
            return answer({**await clock_view(request), "error": f"时钟钩子失败：{exc!r}"}, 500)
    return answer({**await clock_view(request), "advanced_seconds": delta})


@api
async def upcoming(request: web.Request) -> web.Response:
    """``GET upcoming``: the bot's next due items (time, what, for whom), soonest first."""
    view = request.app[SETTINGS].bot_view
    items = await view.upcoming(UPCOMING_LIMIT) if view is not None else []
    return answer({"items": [{**item, "due": _iso(item["due_ms"] / 1000)} for item in items],
                   "known": view is not None})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/clock", clock)
    r.add_post(f"{PREFIX}/clock/advance", advance_clock)
    r.add_get(f"{PREFIX}/upcoming", upcoming)
