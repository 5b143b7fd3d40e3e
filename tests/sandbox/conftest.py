"""A real sandbox server on 127.0.0.1 port 0 per test, with short timeouts, and helpers that
talk to it the way the bot would: HTTP calls, a Stream websocket, a WeCom callback receiver."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from wechatpy.enterprise.crypto import WeChatCrypto

from sandbox import SandboxSettings, start_sandbox, world_of
from sandbox.state import World
from tests._support.paths import DEMO_PEOPLE_CSV

PEOPLE_CSV = DEMO_PEOPLE_CSV
APP_KEY, APP_SECRET, ROBOT = "dingsandboxkey", "sandbox-secret", "dingsandboxrobot"
CORP_ID, AGENT_ID, WECOM_SECRET = "wwtestcorp0001", 1000002, "wecom-secret"
TOKEN, AES_KEY = "testToken123", "c2FuZGJveC1hZXMta2V5LWZvci13ZWNvbS10ZXN0czA"


@dataclass
class Sandbox:
    url: str
    world: World
    http: aiohttp.ClientSession
    settings: SandboxSettings

    async def api(self, method: str, endpoint: str, body: Any = None, /,
                  **params: str) -> tuple[int, Any]:
        async with self.http.request(method, f"{self.url}/sandbox/api/{endpoint}", json=body,
                                     params=params or None) as resp:
            return resp.status, await resp.json()

    async def call(self, method: str, path: str, body: Any = None, *,
                   headers: dict[str, str] | None = None,
                   params: dict[str, str] | None = None) -> tuple[int, Any]:
        """A platform API call, as the bot makes it."""
        async with self.http.request(method, f"{self.url}{path}", json=body, headers=headers,
                                     params=params) as resp:
            return resp.status, await resp.json(content_type=None)

    async def settled_delivery(self, platform: str, timeout: float = 3.0) -> dict[str, Any]:
        """The first delivery on ``platform`` once it stopped retrying."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            _, listed = await self.api("GET", "deliveries", platform=platform)
            delivery = dict(listed["deliveries"][0])
            if delivery["status"] not in ("retrying", "pending") or loop.time() > deadline:
                return delivery
            await asyncio.sleep(0.02)

    async def dingtalk_token(self) -> dict[str, str]:
        _, data = await self.call("POST", "/v1.0/oauth2/accessToken",
                                  {"appKey": APP_KEY, "appSecret": APP_SECRET})
        return {"x-acs-dingtalk-access-token": data["accessToken"]}

    async def wecom_token(self) -> str:
        _, data = await self.call("GET", "/cgi-bin/gettoken",
                                  params={"corpid": CORP_ID, "corpsecret": WECOM_SECRET})
        return str(data["access_token"])


@dataclass
class Receiver:
    """The bot's WeCom callback route, played by the test: verifies, decrypts, records."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200
    delay: float = 0.0
    crypto: WeChatCrypto = field(default_factory=lambda: WeChatCrypto(TOKEN, AES_KEY, CORP_ID))

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        query = request.query
        plain = self.crypto.decrypt_message(body, query["msg_signature"], query["timestamp"],
                                            query["nonce"])
        self.requests.append({"query": dict(query), "body": body, "plain": plain})
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200, text="")


def settings_for(receiver_url: str | None = None, **overrides: Any) -> SandboxSettings:
    values: dict[str, Any] = {
        "people_csv": PEOPLE_CSV, "dingtalk_app_key": APP_KEY, "dingtalk_app_secret": APP_SECRET,
        "dingtalk_robot_code": ROBOT, "dingtalk_card_template_id": "tpl.schema",
        "wecom_corp_id": CORP_ID, "wecom_agent_id": AGENT_ID, "wecom_secret": WECOM_SECRET,
        "wecom_token": TOKEN, "wecom_encoding_aes_key": AES_KEY,
        "wecom_callback_url": receiver_url, "stream_ack_timeout": 0.3,
        "stream_ping_interval": None, "stream_disconnect_grace": 0.1,
        "wecom_callback_timeout": 0.5, "wecom_retry_delay": 0.05,
    }
    values.update(overrides)
    return SandboxSettings(**values)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/wecom/callback", rec.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    rec.url = str(server.make_url("/wecom/callback"))
    yield rec
    await server.close()


SandboxFactory = Callable[..., Awaitable[Sandbox]]


@pytest.fixture
async def make_sandbox(receiver: Receiver) -> AsyncIterator[SandboxFactory]:
    runners: list[web.AppRunner] = []
    http = aiohttp.ClientSession()

    async def make(**overrides: Any) -> Sandbox:
        settings = settings_for(receiver.url, **overrides)
        runner, url = await start_sandbox(settings)
        runners.append(runner)
        return Sandbox(url, world_of(runner.app), http, settings)

    yield make
    for runner in runners:
        await runner.cleanup()
    await http.close()


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    return await make_sandbox()


class StreamClient:
    """The bot's side of the Stream protocol, reduced to what the tests drive by hand."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def frame(self, timeout: float = 2.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        return dict(json.loads(msg.data))

    async def ack(self, frame: dict[str, Any], response: Any = None, *, code: int = 200,
                  data: Any = None) -> None:
        await self.ws.send_str(json.dumps({
            "code": code,
            "headers": {"contentType": "application/json",
                        "messageId": frame["headers"]["messageId"]},
            "message": "OK",
            "data": data if data is not None else json.dumps({"response": response}),
        }))


async def connect_stream(box: Sandbox, topics: tuple[str, ...] = (
    "/v1.0/im/bot/messages/get", "/v1.0/card/instances/callback",
)) -> StreamClient:
    status, opened = await box.call("POST", "/v1.0/gateway/connections/open", {
        "clientId": APP_KEY, "clientSecret": APP_SECRET, "ua": "test", "localIp": "127.0.0.1",
        "subscriptions": [{"type": "CALLBACK", "topic": t} for t in topics],
    })
    assert status == 200, opened
    ws = await box.http.ws_connect(f"{opened['endpoint']}?ticket={opened['ticket']}")
    return StreamClient(ws)
