"""HTTP mode: the card callback URL is registered at start, under a route key of this app.

Request body and answer: POST /v1.0/card/callbacks/register {"callbackUrl",
"callbackRouteKey", "apiSecret", "forceUpdate"} →
{"success": true, "result": {"callbackUrl", "apiSecret"}}
(https://open.dingtalk.com/document/orgapp/register-card-callback-address; field names as in
alibabacloud-dingtalk 2.2.65 card_1_0 RegisterCallbackRequest).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from bot.adapters.dingtalk.assemble import assemble
from bot.adapters.dingtalk.card_callbacks import card_route_key
from bot.config.schema import DingTalkConfig
from tests._support.clock import FakeClock

API = "https://api.dingtalk.com"
REGISTER = "/v1.0/card/callbacks/register"
CONFIG = DingTalkConfig(app_key="dingappkey1", app_secret="app-secret", robot_code="robot",
                        mode="http", public_url="https://hr.example.com/")


async def sink(_: object) -> bool:
    return True


@pytest.fixture
async def router() -> AsyncIterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        mock.post("/v1.0/oauth2/accessToken").respond(
            json={"accessToken": "tok", "expireIn": 7200})
        yield mock


async def test_http_mode_registers_the_card_callback_at_start(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    route = router.post(REGISTER).mock(side_effect=[
        httpx.Response(503, json={"code": "system.busy", "message": "busy"}),
        httpx.Response(200, json={"success": True, "result": {
            "callbackUrl": "https://hr.example.com/dingtalk/callback/card",
            "apiSecret": "app-secret"}}),
    ])
    async with httpx.AsyncClient() as http:
        parts = assemble(CONFIG, sink=sink, http=http, clock=clock)
        registration = parts.card_callbacks
        assert registration is not None
        registration.first_delay = 0.01
        registration.start()
        await asyncio.wait_for(registration.registered.wait(), 5)
        await registration.stop()
    assert route.call_count == 2  # the busy answer was retried
    body = json.loads(route.calls[-1].request.content)
    assert body == {"callbackUrl": "https://hr.example.com/dingtalk/callback/card",
                    "callbackRouteKey": card_route_key("dingappkey1"),
                    "apiSecret": "app-secret", "forceUpdate": True}
    assert parts.messenger.callback_route_key == body["callbackRouteKey"]


def test_route_keys_differ_per_app_and_stay_stable() -> None:
    assert card_route_key("dingappkey1") == card_route_key("dingappkey1")
    assert card_route_key("dingappkey1") != card_route_key("dingappkey2")
    assert len(card_route_key("x")) <= 32


async def test_a_refusal_is_logged_once_with_the_fix(
    router: respx.MockRouter, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    router.post(REGISTER).respond(
        403, json={"code": "Forbidden.AccessDenied.AccessTokenPermissionDenied",
                   "message": "没有调用该接口的权限"})
    async with httpx.AsyncClient() as http:
        parts = assemble(CONFIG, sink=sink, http=http, clock=clock)
        registration = parts.card_callbacks
        assert registration is not None
        with caplog.at_level(logging.ERROR, "hrbot.adapter.dingtalk"):
            assert not await registration.register_once()
            assert not await registration.register_once()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "hrbot doctor" in errors[0]
    assert "app-secret" not in errors[0]


async def test_http_mode_without_public_url_says_taps_cannot_arrive(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    config = DingTalkConfig(app_key="k", app_secret="s", robot_code="r", mode="http")
    async with httpx.AsyncClient() as http:
        with caplog.at_level(logging.ERROR, "hrbot.adapter.dingtalk"):
            parts = assemble(config, sink=sink, http=http, clock=clock)
    assert parts.card_callbacks is None and parts.http_adapter is not None
    assert any("public_url" in r.getMessage() for r in caplog.records)


async def test_stream_mode_registers_nothing(clock: FakeClock) -> None:
    config = DingTalkConfig(app_key="k", app_secret="s", robot_code="r")
    async with httpx.AsyncClient() as http:
        parts = assemble(config, sink=sink, http=http, clock=clock)
    assert parts.card_callbacks is None
