"""The JSON API's scenario demos: list them, start a run, play one step.

``POST demos/{id}/steps/{n}`` plays step ``n`` (from 0) through this same API over HTTP and
waits for what it must bring; 409 with the reason when it cannot (a visitor who took over may
already have done it: the page offers to skip).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.api import PREFIX, ApiError, api, body_of
from sandbox.demos import DemoError, Player, load_demos, new_run
from sandbox.state import PLATFORMS
from sandbox.wire import HTTP, WORLD, answer


def _demo(request: web.Request) -> dict[str, Any]:
    wanted = request.match_info["demo"]
    found = next((d for d in load_demos() if d["id"] == wanted), None)
    if found is None:
        raise ApiError(404, f"未知演示：{wanted}")
    return found


@api
async def demos(request: web.Request) -> web.Response:
    return answer({"demos": load_demos()})


@api
async def start(request: web.Request) -> web.Response:
    """A new run: the values its steps fill in (a fresh candidate phone number)."""
    return answer({"demo": _demo(request), "run": new_run()})


@api
async def step(request: web.Request) -> web.Response:
    demo = _demo(request)
    body = await body_of(request)
    index = request.match_info["index"]
    if not index.isdigit() or int(index) >= len(demo["steps"]):
        raise ApiError(404, f"演示「{demo['title']}」没有第 {index} 步")
    platform = body.get("platform", demo["platforms"][0])
    if platform not in PLATFORMS:
        raise ApiError(400, "platform 必须是 dingtalk 或 wecom")
    if platform not in demo["platforms"]:
        platform = demo["platforms"][0]
    given = body.get("run")
    run = given if isinstance(given, dict) else new_run()
    world = request.app[WORLD]
    player = Player(request.app[HTTP], f"{world.base_url}{PREFIX}/")
    began = world.now()
    try:
        result = await player.play(demo["steps"][int(index)], platform,
                                   {str(k): str(v) for k, v in run.items()})
    except DemoError as err:
        raise ApiError(409, str(err)) from err
    return answer({"ok": True, "platform": platform, **result,
                   "sandbox_seconds": round(world.now() - began, 1)})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/demos", demos)
    r.add_post(f"{PREFIX}/demos/{{demo}}/start", start)
    r.add_post(f"{PREFIX}/demos/{{demo}}/steps/{{index}}", step)
