"""Shared plumbing of the fakes: app keys, JSON helpers and the call-recording middleware.

Every call to a fake platform API (anything outside ``/sandbox/`` and the Stream socket) is
recorded with its body and answer, for tests, after any injected fault had its say.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from sandbox.faults import error_answer, platform_of
from sandbox.settings import SandboxSettings
from sandbox.state import World

WORLD = web.AppKey("sandbox_world", World)
SETTINGS = web.AppKey("sandbox_settings", SandboxSettings)
HTTP = web.AppKey("sandbox_http", aiohttp.ClientSession)

# The browser asks every site for /favicon.ico: that is not a platform call.
UNRECORDED_PREFIXES = ("/sandbox", "/dingtalk/stream", "/favicon.ico")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def base_url(request: web.Request) -> str:
    """This server's URL as the bot reaches it: configured, else bound, else this request's."""
    configured = request.app[SETTINGS].public_url or request.app[WORLD].base_url
    return (configured or str(request.url.origin())).rstrip("/")


def request_id() -> str:
    return uuid.uuid4().hex[:24]


def answer(payload: Any, status: int = 200) -> web.Response:
    """A JSON answer that keeps Chinese text readable in recordings and curl output."""
    return web.json_response(
        payload, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False)
    )


def dingtalk_error(status: int, code: str, message: str) -> web.Response:
    """A DingTalk new-API error: HTTP 4xx/5xx with ``code``/``message``/``requestid``."""
    return answer({"requestid": request_id(), "code": code, "message": message}, status)


def wecom_answer(errcode: int = 0, errmsg: str = "ok", **fields: Any) -> web.Response:
    """WeCom answers HTTP 200 whatever happened; ``errcode`` says what did."""
    return answer({"errcode": errcode, "errmsg": errmsg, **fields})


async def json_object(request: web.Request) -> dict[str, Any] | None:
    """The request body as a JSON object, or None when it is not one."""
    try:
        data = json.loads(await request.read() or b"null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _decoded(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


def _body(request: web.Request, raw: bytes) -> Any:
    """The recorded body; an upload is recorded by its size, not as mangled bytes."""
    if request.content_type.startswith("multipart/"):
        return {"multipart_bytes": len(raw)}
    return _decoded(raw)


@web.middleware
async def record_calls(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply injected faults, then record method, path, query, body and the answer."""
    path = request.path
    if path == "/" or path.startswith(UNRECORDED_PREFIXES):
        return await handler(request)
    world = request.app[WORLD]
    call: dict[str, Any] = {
        "time": world.now(), "platform": platform_of(path), "method": request.method,
        "path": path, "query": dict(request.query), "body": _body(request, await request.read()),
        "token_header": request.headers.get("x-acs-dingtalk-access-token"),
    }
    fault = world.faults.take(path)
    if fault is not None:
        call["fault"] = fault.kind
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay)
            fault = None
    try:
        if fault is not None:
            status, payload = error_answer(fault, path, request_id())
            response: web.StreamResponse = answer(payload, status)
        else:
            response = await handler(request)
    except web.HTTPException as exc:
        call.update(status=exc.status, response=exc.text)
        world.record_call(call)
        raise
    body = response.body if isinstance(response, web.Response) else None
    call.update(
        status=response.status,
        response=_decoded(body) if isinstance(body, bytes) else None,
    )
    world.record_call(call)
    return response
