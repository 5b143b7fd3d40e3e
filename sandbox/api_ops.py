"""The JSON API's control endpoints: reset, recorded calls, faults, deliveries,
the Stream gateway, and the 客户联系 side (confirming mass sends, candidates).

Shares error handling with :mod:`sandbox.api`.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from aiohttp import web

from sandbox import wecom_events
from sandbox.api import PREFIX, ApiError, api, body_of, person_of, text_of
from sandbox.api_views import candidate_view, task_view
from sandbox.faults import parse_fault
from sandbox.state import WECOM
from sandbox.stream import GATEWAY
from sandbox.wecom_callback import NoCallbackUrl
from sandbox.wire import SETTINGS, WORLD, answer, json_object


@api
async def reset(request: web.Request) -> web.Response:
    request.app[WORLD].reset()
    request.app[GATEWAY].reset()
    return answer({"ok": True})


@api
async def calls(request: web.Request) -> web.Response:
    world, query = request.app[WORLD], request.query
    path = query.get("path", "")
    since = int(query["since"]) if query.get("since", "").isdigit() else 0

    def wanted(call: dict[str, Any]) -> bool:
        if path and not (fnmatch.fnmatchcase(call["path"], path) if "*" in path else
                         call["path"] == path or call["path"].startswith(path.rstrip("/") + "/")):
            return False
        if query.get("method") and call["method"] != query["method"].upper():
            return False
        return call["seq"] > since and query.get("platform") in (None, call["platform"])

    return answer({"calls": [c for c in world.calls if wanted(c)]})


@api
async def faults(request: web.Request) -> web.Response:
    book = request.app[WORLD].faults
    if request.method == "DELETE":
        book.clear()
    elif request.method == "POST":
        try:
            fault = book.add(parse_fault(await json_object(request)))
        except ValueError as err:
            raise ApiError(400, str(err)) from err
        return answer({"fault": fault.to_dict()}, 201)
    return answer({"faults": [f.to_dict() for f in book.faults]})


@api
async def confirm(request: web.Request) -> web.Response:
    body = await body_of(request)
    world = request.app[WORLD]
    person = person_of(world, body.get("person"), WECOM)
    try:
        task = wecom_events.confirm(world, person, text_of(body.get("msgid"), "msgid"))
    except LookupError as err:
        raise ApiError(404, f"{person.name} 没有群发任务 {body.get('msgid')}") from err
    except ValueError as err:
        raise ApiError(400, str(err)) from err
    return answer({"ok": True, "task": task_view(task, world)})


@api
async def candidate(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    found = world.candidates.get(request.query.get("external_userid", ""))
    if found is None:
        raise ApiError(404, f"未知候选人：{request.query.get('external_userid', '')}")
    return answer({"candidate": candidate_view(found)})


@api
async def candidates(request: web.Request) -> web.Response:
    return answer({"candidates": [candidate_view(c)
                                  for c in request.app[WORLD].candidates.values()]})


@api
async def contact_added(request: web.Request) -> web.Response:
    body = await body_of(request)
    world = request.app[WORLD]
    employee = person_of(world, body.get("employee"), WECOM)
    name = text_of(body.get("name"), "name")
    if not request.app[SETTINGS].wecom_callback_url:
        raise NoCallbackUrl
    found = wecom_events.add_candidate(world, employee, name, str(body.get("state") or ""),
                                       str(body.get("mobile") or ""),
                                       str(body.get("external_userid") or ""))
    delivery = await wecom_events.contact_added(request, employee, found)
    return answer({"ok": True, "candidate": candidate_view(found), "delivery": delivery})


@api
async def deliveries(request: web.Request) -> web.Response:
    query = request.query
    return answer({"deliveries": [
        d for d in request.app[WORLD].deliveries
        if query.get("platform") in (None, d["platform"])
        and query.get("kind") in (None, d["kind"])
    ]})


@api
async def stream_status(request: web.Request) -> web.Response:
    return answer(request.app[GATEWAY].status())


@api
async def status(request: web.Request) -> web.Response:
    """Whether the bot can be reached on each platform (the page's status line)."""
    connections = len(request.app[GATEWAY].connections)
    url = request.app[SETTINGS].wecom_callback_url
    return answer({"dingtalk": {"connected": connections > 0, "connections": connections},
                   "wecom": {"configured": bool(url), "callback_url": url}})


@api
async def limits(request: web.Request) -> web.Response:
    """What the platforms' limits refused or silently dropped since the last reset."""
    return answer(request.app[WORLD].limits.counts())


@api
async def rotate(request: web.Request) -> web.Response:
    return answer({"ok": True, "connections": await request.app[GATEWAY].rotate()})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(f"{PREFIX}/reset", reset)
    r.add_get(f"{PREFIX}/calls", calls)
    for method in ("GET", "POST", "DELETE"):
        r.add_route(method, f"{PREFIX}/faults", faults)
    r.add_get(f"{PREFIX}/deliveries", deliveries)
    r.add_get(f"{PREFIX}/stream", stream_status)
    r.add_get(f"{PREFIX}/status", status)
    r.add_get(f"{PREFIX}/limits", limits)
    r.add_post(f"{PREFIX}/dingtalk/rotate", rotate)
    r.add_post(f"{PREFIX}/confirm", confirm)
    r.add_get(f"{PREFIX}/candidate", candidate)
    r.add_get(f"{PREFIX}/candidates", candidates)
    r.add_post(f"{PREFIX}/contact_added", contact_added)
